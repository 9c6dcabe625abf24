"""Apply a user function to every tile of a raster and collect one result per tile.

GeoUtils' ``map_multiproc_collect`` done right: keyword arguments reach the function,
the function only has to be picklable by reference (any module-level function), tiles
are read by the workers, at most a fixed number of tiles is in flight, and with an
overlap (``depth``) the overlap is trimmed before anything is returned or reduced,
so no pixel is ever counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..backend import Backend
from ..backend.runner import IsCancelled
from ..progress import Progress
from .engine import run_tiles
from .reader import check_bands, raster_info, read_tile
from .tiles import TileWindow, tile_grid


def apply_to_tile(
    tile: TileWindow,
    path: str,
    bands: Sequence[int],
    depth: int,
    func: Callable[..., Any],
    reduce: Callable[[Any], Any] | None,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Any:
    """Worker side: read the tile (with overlap), apply ``func``, trim, reduce."""
    data = read_tile(path, bands, tile, depth)
    if len(bands) == 1:
        data = data[0]
    result = func(data, *args, **kwargs)
    if depth:
        result = _trim(result, data.shape, depth)
    return reduce(result) if reduce is not None else result


def _trim(result: Any, shape: tuple[int, ...], depth: int) -> Any:
    """The core of a result computed on a tile with ``depth`` pixels of overlap."""
    if not isinstance(result, np.ndarray) or result.shape[-2:] != shape[-2:]:
        raise ValueError(
            "with an overlap (depth > 0) the function must return an array shaped like"
            f" its input {shape}, got {getattr(result, 'shape', type(result).__name__)}:"
            " the overlap is trimmed from it. Reduce the trimmed result with `reduce=`."
        )
    return result[..., depth:-depth, depth:-depth]


def map_collect(
    func: Callable[..., Any],
    raster_path: str,
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    bands: int | Sequence[int] = 1,
    chunk_size: int = 512,
    depth: int = 0,
    reduce: Callable[[Any], Any] | None = None,
    return_windows: bool = False,
    backend: Backend | None = None,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
) -> list[Any]:
    """``func(tile, *args, **kwargs)`` for every tile, in row-major tile order.

    ``tile`` is a ``numpy.ma.MaskedArray`` (nodata, NaN and pixels beyond the raster's
    edge masked) of shape (rows, columns), or (bands, rows, columns) when several
    ``bands`` are asked for. With ``depth`` > 0 each tile carries that many extra pixels
    on every side; ``func`` must then return an array of the tile's shape, whose
    overlap is trimmed before ``reduce`` (if given) turns it into the collected result.
    With ``return_windows``, each result comes as ``(TileWindow, result)``.
    ``func`` and ``reduce`` must be picklable (module-level functions, not lambdas),
    because they run in worker processes.
    """
    band_list = [bands] if isinstance(bands, int) else list(bands)
    info = raster_info(raster_path)
    check_bands(info, band_list)
    tiles = tile_grid(info.height, info.width, chunk_size, info.block_shape)
    order = {tile: i for i, tile in enumerate(tiles)}
    results: list[Any] = [None] * len(tiles)
    for tile, result in run_tiles(
        apply_to_tile,
        tiles,
        (info.path, band_list, depth, func, reduce, tuple(args), dict(kwargs or {})),
        backend=backend,
        progress=progress,
        is_cancelled=is_cancelled,
    ):
        results[order[tile]] = (tile, result) if return_windows else result
    return results
