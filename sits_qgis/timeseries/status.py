"""The status of a feature's row or cube, as the outputs write it.

Both writers (the table's rows and the cubes' index) and the run's plan use the same
words, so they live here rather than in one of the writers.
"""

from __future__ import annotations

#: A date kept: its values were read.
STATUS_OK = "ok"
#: A date dropped (masked), left empty.
STATUS_MASKED = "masked"
#: A date dropped (masked), its values filled along time.
STATUS_FILLED = "filled"
#: A feature that no image covers (no row or cube of values).
STATUS_NO_DATA = "no data"
#: A feature, or one date of it, that could not be read; the message says why.
STATUS_ERROR = "error"
