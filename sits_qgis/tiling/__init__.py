"""Tiled raster processing that never holds a whole raster in memory.

Public functions:

- ``map_collect``: apply a picklable function to every tile (optionally with overlap,
  trimmed before anything is returned) and collect one result per tile;
- ``raster_statistics``: exact statistics of a band (median and percentiles included).
"""

from .collect import map_collect
from .grid import TileWindow, tile_grid
from .statistics import RasterStatistics, raster_statistics

__all__ = ["RasterStatistics", "TileWindow", "map_collect", "raster_statistics", "tile_grid"]
