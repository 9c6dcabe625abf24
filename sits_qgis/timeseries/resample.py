"""Nearest-neighbour resampling as a pixel map: for each pixel of a feature's target
grid, the source pixel that contains its centre.

Why not GDAL's warper (directly or through odc-stac) for every read: a feature reads
one small window from each of hundreds of files that share a handful of grids (a
Sentinel-2 tile has one grid per resolution). Setting up a warp costs about 2.5 ms per
file, odc-stac's bookkeeping around it about 10 ms; the map below is computed once per
(target grid, source grid) pair and cached, after which a read is a window read and
one fancy-indexing copy. Nearest resampling is exactly "the source pixel containing
the target pixel's centre", computed here with PROJ's exact transformation (GDAL's
warper approximates it to 1/8 pixel by default), so a point on the native grid still
gets the original pixel value.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .features import transform_arrays

#: A grid as a hashable key: (CRS as WKT, affine coefficients a, b, c, d, e, f, (rows, cols)).
GridKey = tuple[str, tuple[float, ...], tuple[int, int]]


@dataclass(frozen=True)
class PixelMap:
    """Where each target pixel's value comes from in one source grid.

    ``window`` is ``(row_off, col_off, height, width)`` of the source pixels needed, or
    ``None`` when the target does not overlap the source; ``rows`` and ``cols`` index
    that window for the target pixels where ``covered`` is true.
    """

    window: tuple[int, int, int, int] | None
    covered: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def grid_key(crs_wkt: str, affine: object, shape: tuple[int, int]) -> GridKey:
    """A grid's cache key from a CRS WKT, an ``affine.Affine`` and a (rows, cols) shape."""
    coefficients = tuple(float(v) for v in affine[:6])  # type: ignore[index]
    return crs_wkt, coefficients, (int(shape[0]), int(shape[1]))


@lru_cache(maxsize=64)
def _transformer(target_wkt: str, source_wkt: str) -> Any:
    """PROJ's transformation from the target CRS to the source CRS, or ``None`` if equal."""
    from pyproj import CRS, Transformer

    target, source = CRS.from_wkt(target_wkt), CRS.from_wkt(source_wkt)
    if target == source:
        return None
    return Transformer.from_crs(target, source, always_xy=True)


def _apply(affine: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transformation of coordinate arrays."""
    a, b, c, d, e, f = affine[:6]
    return a * x + b * y + c, d * x + e * y + f


#: Every map is computed in this one thread. pyproj sets a transformation up again in
#: each thread that uses it (about 60 ms for EPSG:3035 to UTM), and the read threads of
#: a batch ask for the same maps at once: one thread sets each up once and computes
#: each map once.
_map_thread = ThreadPoolExecutor(1, thread_name_prefix="sits-pixel-maps")
#: Maps computed so far; a batch of features needs a few dozen.
_maps: dict[tuple[GridKey, GridKey], PixelMap] = {}
MAX_CACHED_MAPS = 512


def pixel_map(target: GridKey, source: GridKey) -> PixelMap:
    """The nearest source pixel of every target pixel (cached: grids repeat)."""
    found = _maps.get((target, source))  # without a trip to the map thread when known
    return found if found is not None else _map_thread.submit(_cached_map, target, source).result()


def _cached_map(target: GridKey, source: GridKey) -> PixelMap:
    """The map from the cache, computed and kept if it is not there (in the map thread)."""
    found = _maps.get((target, source))
    if found is None:
        if len(_maps) >= MAX_CACHED_MAPS:  # a long run moves on to other grids
            _maps.clear()
        found = _maps[(target, source)] = _compute_map(target, source)
    return found


def _compute_map(target: GridKey, source: GridKey) -> PixelMap:
    from affine import Affine

    (target_wkt, target_affine, (height, width)) = target
    (source_wkt, source_affine, (source_height, source_width)) = source
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x, y = _apply(Affine(*target_affine), cols, rows)
    transformer = _transformer(target_wkt, source_wkt)
    if transformer is not None:
        x, y = transform_arrays(transformer, x, y)
    source_col, source_row = _apply(~Affine(*source_affine), x, y)
    with np.errstate(invalid="ignore"):  # points PROJ cannot transform are inf/NaN
        source_col, source_row = np.floor(source_col), np.floor(source_row)
        covered = (
            (source_col >= 0)
            & (source_col < source_width)
            & (source_row >= 0)
            & (source_row < source_height)
        )
    if not covered.any():
        return PixelMap(None, covered, np.empty(0, np.intp), np.empty(0, np.intp))
    needed_rows = source_row[covered].astype(np.intp)
    needed_cols = source_col[covered].astype(np.intp)
    row_off, col_off = int(needed_rows.min()), int(needed_cols.min())
    window = (
        row_off,
        col_off,
        int(needed_rows.max()) - row_off + 1,
        int(needed_cols.max()) - col_off + 1,
    )
    return PixelMap(window, covered, needed_rows - row_off, needed_cols - col_off)
