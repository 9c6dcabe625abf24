"""Tiled raster processing that never holds a whole raster in memory.

Public functions:

- ``map_collect``: apply a picklable function to every tile (optionally with overlap,
  trimmed before anything is returned) and collect one result per tile;
- ``raster_statistics``: exact statistics of a band (median and percentiles included).

They are loaded on first use (PEP 562): the QGIS plugin imports small modules of this
package at start-up, which must not import rasterio and numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "map_collect": "collect",
    "raster_statistics": "statistics",
    "RasterStatistics": "statistics",
    "TileWindow": "tiles",
    "tile_grid": "tiles",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
