"""Reading one tile of a raster, in the worker that processes it.

Workers read their own windows (tasks carry a path and a window, never pixels), so a
raster is never pickled and the main process never holds more than results.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from ..errors import SitsError
from ..wording import plural
from .tiles import TileWindow

#: GDAL's block cache per worker, in MiB. GDAL's default (5% of the machine's memory per
#: process) would let every worker keep a gigabyte of blocks that are read only once.
GDAL_CACHE_MIB = 64


@dataclass(frozen=True)
class RasterInfo:
    """What the tiling needs to know about a raster, read once in the main process."""

    path: str
    height: int
    width: int
    count: int
    dtypes: tuple[str, ...]
    nodata: float | None
    block_shape: tuple[int, int]
    crs_wkt: str | None
    transform: tuple[float, ...]


def raster_info(path: str) -> RasterInfo:
    """Open ``path`` once to learn its shape, types and blocks, or say why it cannot."""
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MIB), rasterio.open(path) as ds:
            return RasterInfo(
                path=str(path),
                height=ds.height,
                width=ds.width,
                count=ds.count,
                dtypes=tuple(ds.dtypes),
                nodata=ds.nodata,
                block_shape=tuple(ds.block_shapes[0]) if ds.count else (1, 1),
                crs_wkt=ds.crs.to_wkt() if ds.crs else None,
                transform=tuple(ds.transform)[:6],
            )
    except rasterio.errors.RasterioIOError as exc:
        raise SitsError(
            f"The raster '{path}' cannot be opened: {exc}. Check that the file exists and"
            " is a raster GDAL can read.",
            parameter="INPUT",
        ) from None


def check_bands(info: RasterInfo, bands: Sequence[int]) -> None:
    """Refuse band numbers the raster does not have (bands are numbered from 1), and
    bands of complex numbers."""
    for band in bands:
        if not 1 <= band <= info.count:
            raise SitsError(
                f"Band {band} does not exist: the raster has {plural(info.count, 'band')}"
                + (", band 1." if info.count == 1 else f", numbered 1 to {info.count}."),
                parameter="BAND",
            )
        dtype = info.dtypes[band - 1]
        if np.dtype(dtype).kind == "c":
            raise SitsError(
                f"Band {band} holds complex numbers ({dtype}), which have no order, mean or"
                " median as the statistics and filters take them: make a real band first"
                " (its amplitude or phase, e.g. with the Raster calculator) and use that.",
                parameter="BAND",
            )


def valid_mask(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """True where a pixel holds data: not the nodata value and not NaN."""
    if np.issubdtype(data.dtype, np.floating):
        valid = ~np.isnan(data)
        if nodata is not None and not np.isnan(nodata):
            valid &= data != nodata
        return valid
    if nodata is None or not _representable(nodata, data.dtype):
        return np.ones(data.shape, dtype=bool)
    return data != nodata


def _representable(value: float, dtype: np.dtype) -> bool:
    """Whether an integer raster can hold the nodata value at all (else no pixel is it)."""
    if np.isnan(value):
        return False
    limits = np.iinfo(dtype)
    return limits.min <= value <= limits.max and float(value).is_integer()


class _OpenDatasets(threading.local):
    """The datasets this thread opened for the task it is running.

    Opening a GeoTIFF costs about 1.5 ms, as much as reading a 512 x 512 tile from the
    page cache, so the tiles of one task share one open dataset. They are closed when
    the task ends (``close_datasets``): a worker must not keep a user's file open (on
    Windows that forbids overwriting it). Per thread because a GDAL dataset must not be
    read by two threads at once (the threads backend).
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Any, Any]] = {}


_OPEN = _OpenDatasets()


def open_dataset(path: str) -> Any:
    """This thread's open dataset for ``path`` (GDAL block cache: ``GDAL_CACHE_MIB``)."""
    entry = _OPEN.entries.get(path)
    if entry is None:
        env = rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MIB)
        env.__enter__()
        try:
            entry = (env, rasterio.open(path))
        except Exception:
            env.__exit__(None, None, None)
            raise
        _OPEN.entries[path] = entry
    return entry[1]


def close_datasets() -> None:
    """Close the datasets this thread opened (end of a task)."""
    while _OPEN.entries:
        env, dataset = _OPEN.entries.popitem()[1]
        dataset.close()
        env.__exit__(None, None, None)


def read_tile(
    path: str, bands: Sequence[int], tile: TileWindow, depth: int = 0
) -> np.ma.MaskedArray:
    """The tile with ``depth`` extra pixels on each side, as a masked array.

    Shape is (bands, rows, columns). Nodata, NaN and pixels beyond the raster's edge
    are masked; the raster's own dtype is kept.
    """
    ds = open_dataset(path)
    window, padding = tile.expanded(depth, ds.height, ds.width)
    data = ds.read(list(bands), window=Window(window.col, window.row, window.width, window.height))
    valid = valid_mask(data, ds.nodata)
    if depth:
        pad = ((0, 0), *padding)
        data = np.pad(data, pad)
        valid = np.pad(valid, pad, constant_values=False)
    return np.ma.MaskedArray(data, mask=~valid)


def read_valid_values(path: str, band: int, tile: TileWindow) -> np.ndarray:
    """The valid pixels of one band of a tile, flattened (the input of statistics)."""
    ds = open_dataset(path)
    data = ds.read(band, window=Window(tile.col, tile.row, tile.width, tile.height))
    valid = valid_mask(data, ds.nodata)
    return data[valid] if not valid.all() else data.ravel()
