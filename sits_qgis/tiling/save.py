"""Apply a function with overlap to every tile and write the results as a new raster.

GeoUtils' ``map_overlap_multiproc_save`` done right: workers read their own tiles (with
``depth`` pixels of overlap), results are written as soon as they arrive while a
bounded number of tiles is in flight, the output is a tiled, compressed GeoTIFF
(ZSTD, BigTIFF when needed, optionally a Cloud-Optimized GeoTIFF), and it is written to a
temporary file in the destination's folder and renamed at the end: a failed or
cancelled run leaves nothing at the destination.

Why not ``dask.array.map_overlap`` and ``dask.array.store``: map_overlap builds its halos
by exchanging chunk borders between tasks, so neighbouring tiles' pixels travel between
workers and stay in their memory until every neighbour is done, and the graph covers
the whole raster at once; ``store`` into one GeoTIFF needs a lock around GDAL and writes
in the workers. Here a worker reads its tile with the halo itself (``read_tile``, one
windowed read clipped to the raster and padded as missing), the halo is trimmed in the
worker, and only the main process writes, so memory is bounded by the tasks in flight.
Reading and writing windows is rasterio's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.windows import Window

from ..backend import Backend
from ..backend.runner import IsCancelled
from ..errors import SitsError
from ..partials import partial_name, remove_stale_partials
from ..progress import Progress
from .engine import run_tiles
from .reader import GDAL_CACHE_MIB, RasterInfo, check_bands, raster_info, read_tile
from .tiles import TileWindow, tile_grid

#: Output block size in pixels (GeoTIFF blocks must be multiples of 16); tile edges are
#: placed on block edges so that every block is written once, whole.
OUTPUT_BLOCK = 256


def output_block(chunk_size: int) -> int:
    """The output's block size: 256, or the chunk rounded down to 16 for small chunks."""
    return OUTPUT_BLOCK if chunk_size >= OUTPUT_BLOCK else max(16, chunk_size // 16 * 16)


def apply_with_overlap(
    tile: TileWindow,
    path: str,
    bands: Sequence[int],
    depth: int,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> np.ndarray:
    """Worker side: (bands, rows, columns) results of ``func`` on each band's tile."""
    core = (tile.height, tile.width)
    layers = []
    for band in bands:
        data = read_tile(path, [band], tile, depth)[0]
        result = np.asarray(func(data, *args, **kwargs))
        if depth and result.shape == data.shape:
            result = result[depth:-depth, depth:-depth]
        if result.shape != core:
            raise ValueError(
                f"the function returned shape {result.shape} for a tile of {core} pixels"
                f" with {depth} pixels of overlap: return the tile's shape, with or"
                " without the overlap"
            )
        layers.append(result)
    return np.stack(layers)


def check_destination(source: str, destination: str) -> Path:
    """Refuse a destination that would overwrite the input or cannot be written."""
    target = Path(destination).expanduser().resolve()
    if target == Path(source).expanduser().resolve():
        raise SitsError(
            "The output is the input raster: choose another file (the input is read"
            " while the output is written).",
            parameter="OUTPUT",
        )
    folder = target.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SitsError(
            f"The output folder '{folder}' does not exist or cannot be written to:"
            " choose a folder you can write in.",
            parameter="OUTPUT",
        )
    return target


def _profile(info: RasterInfo, count: int, dtype: np.dtype, nodata: float, block: int) -> dict:
    predictor = 3 if dtype.kind == "f" else 2
    return {
        "driver": "GTiff",
        "height": info.height,
        "width": info.width,
        "count": count,
        "dtype": dtype.name,
        "nodata": nodata,
        "crs": info.crs_wkt,
        "transform": rasterio.Affine(*info.transform),
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        # ZSTD level 1: the main process compresses every block while the workers
        # compute, and deflate took 3.7 s per 256 MiB of float32 there (ZSTD: 1.3 s)
        # for files 1% smaller. GDAL reads ZSTD since 2.3 (QGIS 3.22 ships 3.x).
        "compress": "zstd",
        "zstd_level": 1,
        "predictor": predictor,
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "1",
    }


def map_overlap_save(
    func: Callable[..., Any],
    raster_path: str,
    output_path: str,
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    dtype: Any,
    nodata: float,
    depth: int = 0,
    bands: Sequence[int] | None = None,
    chunk_size: int = 512,
    cog: bool = False,
    backend: Backend | None = None,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
) -> Path:
    """Write ``func(tile, *args, **kwargs)`` of every tile and band to ``output_path``.

    ``tile`` is a 2-D masked array with ``depth`` pixels of overlap (masked beyond the
    raster's edge); ``func`` returns the tile's core or the whole padded tile (then
    trimmed). The output has the input's size, CRS, geotransform and band descriptions,
    ``dtype`` and ``nodata``. Returns the output's path.
    """
    info = raster_info(raster_path)
    band_list = list(bands) if bands else list(range(1, info.count + 1))
    check_bands(info, band_list)
    target = check_destination(raster_path, output_path)
    dtype = np.dtype(dtype)
    block = output_block(chunk_size)
    tiles = tile_grid(info.height, info.width, chunk_size, (block, block))
    remove_stale_partials(target.parent)  # what a killed run left in this folder
    partial = partial_name(target, ".tif")
    finished = partial.with_suffix(".cog.tif") if cog else partial
    try:
        with rasterio.open(raster_path) as source:
            descriptions = [source.descriptions[b - 1] for b in band_list]
        profile = _profile(info, len(band_list), dtype, nodata, block)
        # A small block cache: GDAL's default (5% of RAM) would hold up to a gigabyte
        # of written blocks in the main process before flushing them.
        with (
            rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MIB),
            rasterio.open(partial, "w", **profile) as out,
        ):
            for index, description in enumerate(descriptions, start=1):
                if description:
                    out.set_band_description(index, description)
            for tile, layers in run_tiles(
                apply_with_overlap,
                tiles,
                (info.path, band_list, depth, func, tuple(args), dict(kwargs or {})),
                backend=backend,
                progress=progress,
                is_cancelled=is_cancelled,
            ):
                out.write(
                    layers.astype(dtype, copy=False),
                    window=Window(tile.col, tile.row, tile.width, tile.height),
                )
        if cog:
            rasterio.shutil.copy(
                partial, finished, driver="COG", COMPRESS="ZSTD", LEVEL=1, BIGTIFF="IF_SAFER"
            )
            partial.unlink()
        os.replace(finished, target)
    except BaseException:
        for leftover in (partial, finished):
            leftover.unlink(missing_ok=True)
        raise
    return target
