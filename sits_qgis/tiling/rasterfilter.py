"""A neighbourhood filter over a whole raster, tile by tile: the engine of
``sits:rasterfilter``. Validates the request in the user's terms, then runs
``map_overlap_save`` with ``filters.apply_filter``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend import Backend
from ..backend.runner import IsCancelled
from ..errors import SitsError
from ..progress import Progress
from .filters import Filter, apply_filter, default_nodata, output_dtype, radius
from .reader import check_bands, raster_info
from .save import map_overlap_save
from .tiles import check_chunk_size


def check_filter(kind: Filter, size: int, sigma: float | None) -> None:
    """Refuse window sizes and sigmas that do not define a filter."""
    if kind is Filter.GAUSSIAN:
        if sigma is None or not sigma > 0:
            raise SitsError(
                f"SIGMA must be a positive number of pixels for the gaussian filter, not {sigma}.",
                parameter="SIGMA",
            )
    elif size < 3 or size % 2 == 0:
        raise SitsError(
            f"SIZE must be an odd number of pixels, 3 or more (the window is centred on"
            f" its pixel), not {size}.",
            parameter="SIZE",
        )


def raster_filter(
    input_path: str,
    output_path: str,
    kind: Filter | str,
    size: int = 3,
    sigma: float | None = None,
    band: int = 0,
    chunk_size: int = 512,
    *,
    cog: bool = False,
    backend: Backend | None = None,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
) -> Path:
    """Filter band ``band`` (0: every band) of a raster into a new GeoTIFF.

    Output: same size, CRS, geotransform and band order; dtype from
    ``filters.output_dtype``; nodata the input's, or ``filters.default_nodata``.
    """
    kind = Filter(kind)
    check_filter(kind, size, sigma)
    check_chunk_size(chunk_size)
    info = raster_info(input_path)
    bands = list(range(1, info.count + 1)) if band == 0 else [band]
    check_bands(info, bands)
    depth = radius(kind, size, sigma)
    window = 2 * depth + 1
    if window > min(info.height, info.width):
        parameter = "SIGMA" if kind is Filter.GAUSSIAN else "SIZE"
        raise SitsError(
            f"The {window} x {window} pixel window is larger than the raster"
            f" ({info.width} x {info.height} pixels): choose a smaller {parameter}.",
            parameter=parameter,
        )
    dtype = output_dtype(kind, np.dtype(info.dtypes[bands[0] - 1]))
    nodata = info.nodata if info.nodata is not None else default_nodata(dtype)
    return map_overlap_save(
        apply_filter,
        input_path,
        output_path,
        kwargs={"kind": kind, "size": size, "sigma": sigma, "nodata": nodata},
        dtype=dtype,
        nodata=nodata,
        depth=depth,
        bands=bands,
        chunk_size=chunk_size,
        cog=cog,
        backend=backend,
        progress=progress,
        is_cancelled=is_cancelled,
    )
