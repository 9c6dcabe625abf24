"""Every choice list of the plugin, defined once, as plain data.

The engine computes with the values; the Processing provider and the dialogs (in
QGIS's process, which must not import the engine's heavy packages) show the labels,
in this order, which is the order of the algorithms' enum parameters. The engine's
enums are checked against these tables by the tests, so the two cannot drift.
"""

from __future__ import annotations

import json
from pathlib import Path

#: ``sits:rasterfilter``'s FILTER: (engine name, label).
FILTERS: tuple[tuple[str, str], ...] = (
    ("maximum", "Maximum"),
    ("minimum", "Minimum"),
    ("mean", "Mean"),
    ("median", "Median"),
    ("gaussian", "Gaussian (SIGMA)"),
    ("std", "Standard deviation (population)"),
)

#: ``sits:rasterstatistics``'s outputs: (output name, description).
RASTER_STATISTICS: tuple[tuple[str, str], ...] = (
    ("MEAN", "Mean"),
    ("MEDIAN", "Median"),
    ("MIN", "Minimum"),
    ("MAX", "Maximum"),
    ("SUM", "Sum"),
    ("SUM_SQUARES", "Sum of squares"),
    ("STD", "Standard deviation (population)"),
    ("COUNT", "Number of valid pixels"),
    ("TOTAL_COUNT", "Number of pixels"),
    ("VALID_PERCENT", "Percentage of valid pixels"),
    ("P90", "90th percentile"),
    ("IQR", "Interquartile range (P75 - P25)"),
    ("NMAD", "Normalised median absolute deviation"),
    ("RMSE", "Root mean square"),
)

#: ``sits:extracttimeseries``' STATISTICS over areas: (engine name, label).
ZONAL_STATISTICS: tuple[tuple[str, str], ...] = (
    ("mean", "mean"),
    ("median", "median"),
    ("std", "std"),
    ("min", "min"),
    ("max", "max"),
    ("count", "count"),
)

#: GAPFILL of the time-series algorithms: (engine name, label).
GAPFILL: tuple[tuple[str, str], ...] = (
    ("none", "None"),
    ("linear", "Linear interpolation in time"),
    ("nearest", "Nearest date"),
)

#: VALUES of the time-series algorithms: (engine name, label).
VALUES: tuple[tuple[str, str], ...] = (
    ("stored", "Digital numbers, as stored in the files"),
    ("physical", "Physical values (the catalogue's scale and offset applied)"),
)

#: ``sits:extractcubes``' MODE: (engine name, label).
CUBE_MODES: tuple[tuple[str, str], ...] = (
    ("image", "image (feature envelope)"),
    ("patch", "patch (fixed size)"),
)

#: Where the backend runs (the Processing option's list): (engine mode, label).
BACKEND_MODES: tuple[tuple[str, str], ...] = (
    ("processes", "Local worker processes (dask.distributed)"),
    ("threads", "Threads in the engine process"),
    ("sequential", "In the engine process, one task at a time (debugging)"),
    ("scheduler", "An existing dask scheduler (at the 'Dask scheduler address')"),
)

#: MASK_BAND's default: the collection's own cloud mask (its profile's, see
#: ``profiles.json``, or a quality band known by its name), with the classes or bits
#: that its convention masks unless MASK_VALUES or MASK_BITS say otherwise.
AUTO_MASK_BAND = "auto"


def labels(choices: tuple[tuple[str, str], ...]) -> list[str]:
    """The labels of a choice list, in order (an enum parameter's options)."""
    return [label for _, label in choices]


def values(choices: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The engine's names of a choice list, in order."""
    return tuple(value for value, _ in choices)


#: The Awesome Spectral Indices catalogue as spyndex has it, shipped as data so that the
#: dialogs list it without spyndex (written by ``scripts/make_index_list.py``).
INDICES_FILE = Path(__file__).with_name("spectral_indices.json")


def spectral_indices() -> dict[str, dict[str, str]]:
    """Index name -> ``long_name``, ``formula``, ``reference``, ``bands``."""
    return json.loads(INDICES_FILE.read_text(encoding="utf-8"))
