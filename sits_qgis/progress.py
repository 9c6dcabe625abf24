"""Progress has one unit across the engine: percent, from 0 to 100.

QGIS's ``QgsProcessingFeedback.setProgress`` takes a percentage, and so does every
callback here (the tiled raster runs, the engine's ``progress`` event, the set-up): a
function that counts in fractions converts them where it counts (``percent``), so that
no caller has to know which unit a callee speaks (the raster filter's bar once stopped
at 1 % because a fraction reached a callback that expected percent).
"""

from __future__ import annotations

from collections.abc import Callable

#: A progress callback: it receives percent (0 to 100).
Progress = Callable[[float], None]


def percent(done: float, total: float) -> float:
    """``done`` of ``total`` as percent (100 when there is nothing to do)."""
    return 100.0 * done / total if total > 0 else 100.0
