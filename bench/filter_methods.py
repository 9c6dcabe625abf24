"""The filter benchmark's methods, each run alone in a fresh process by ``bench_filter.py``.

``python filter_methods.py METHOD RASTER OUTPUT_TIF REPORT_JSON --filter maximum ...``
filters band 1 of RASTER into OUTPUT_TIF and writes ``{"seconds": ..., "extra": ...}``.
``compare`` reads two filtered rasters strip by strip and counts the pixels that differ.
The GeoUtils method runs under the GeoUtils venv, which has neither the project nor
psutil: every import is local to its method, and the engine's ``filters.py`` (numpy
only) is loaded there from its file so that GeoUtils applies the very same function.
Times are taken inside the process around the filtering only (interpreter start,
imports and worker start excluded); set-up costs are reported apart.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILTERS_FILE = ROOT / "sits_qgis" / "tiling" / "filters.py"
#: GDAL block cache of the single-process methods' reads and writes (the engine's
#: workers use the same), so that no method carries a cache of blocks it uses once.
CACHE_MIB = 64
STRIP_ROWS = 512

Result = dict[str, Any]


def load_filters() -> Any:
    """The engine's ``filters`` module, loaded from its file (it needs numpy only)."""
    name = "sits_filters_for_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FILTERS_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def output_profile(source: Any, block: int = 256) -> dict[str, Any]:
    """The engine's output layout (``sits_qgis.tiling.save._profile``): tiled 256 x 256,
    ZSTD level 1 with the floating-point predictor, one compression thread."""
    profile = source.profile.copy()
    profile.update(
        driver="GTiff",
        count=1,
        dtype="float32",
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="zstd",
        zstd_level=1,
        predictor=3,
        BIGTIFF="IF_SAFER",
        NUM_THREADS="1",
    )
    profile.pop("interleave", None)
    return profile


# -- methods ---------------------------------------------------------------------------
def run_engine(path: str, output: str, args: argparse.Namespace) -> Result:
    """This project's ``raster_filter`` on local dask worker processes."""
    from sits_qgis.backend import Backend, BackendConfig, BackendMode
    from sits_qgis.tiling.rasterfilter import raster_filter

    start = time.perf_counter()
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=args.workers))
    backend.start()
    start_seconds = time.perf_counter() - start
    try:
        start = time.perf_counter()
        raster_filter(
            path,
            output,
            args.filter,
            size=args.size,
            sigma=args.sigma,
            band=1,
            chunk_size=args.chunk_size,
            backend=backend,
        )
        seconds = time.perf_counter() - start
    finally:
        backend.close()
    return {"seconds": seconds, "extra": {"backend_start_seconds": start_seconds}}


def geoutils_tile_filter(tile: Any, kind: str, size: int, sigma: float | None) -> Any:
    """GeoUtils side: the engine's ``apply_filter`` on one GeoUtils tile.

    GeoUtils crops tiles with ``depth`` pixels of overlap, but none beyond the raster's
    edge, and wants back a Raster of the tile's shape (it trims the overlap itself): the
    tile is padded with masked pixels (outside the raster is missing, as in the engine),
    so that ``apply_filter`` returns exactly the tile's shape.
    """
    import geoutils as gu
    import numpy as np

    filters = load_filters()
    depth = filters.radius(filters.Filter(kind), size, sigma)
    data = tile.data
    if data.ndim == 3:
        data = data[0]
    padded = np.ma.masked_all((data.shape[0] + 2 * depth, data.shape[1] + 2 * depth), data.dtype)
    padded[depth : depth + data.shape[0], depth : depth + data.shape[1]] = data
    result = filters.apply_filter(padded, kind, size, sigma, tile.nodata)
    masked = np.ma.masked_equal(result, tile.nodata)  # masked already: no GeoUtils warning
    return gu.Raster.from_array(masked, tile.transform, tile.crs, nodata=tile.nodata)


def run_geoutils(path: str, output: str, args: argparse.Namespace) -> Result:
    """GeoUtils 0.2.5's ``map_overlap_multiproc_save`` with the engine's filter per tile.

    GeoUtils' ``MpCluster`` forks its pool (``maxtasksperchild=10``, so workers are
    re-forked all along) from a process that reads and writes with GDAL: at 1 GiB a
    re-forked worker inherited a held GDAL lock and the run hung at 0 % CPU (GeoUtils
    issue 934). Its pool is therefore replaced by the same pool (2 processes,
    ``maxtasksperchild=10``) from a ``forkserver`` context that preloads GeoUtils, so
    new workers start from a clean, single-threaded server. GeoUtils writes its output
    with GDAL's defaults (striped, uncompressed): it takes no creation options, so it
    does not pay for compression, unlike the engine.
    """
    import geoutils
    from geoutils.raster.distributed_computing import (
        ClusterGenerator,
        MultiprocConfig,
        map_overlap_multiproc_save,
    )

    filters = load_filters()
    depth = filters.radius(filters.Filter(args.filter), args.size, args.sigma)
    start = time.perf_counter()
    cluster = ClusterGenerator("multi", nb_workers=args.workers)
    cluster.pool.terminate()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["numpy", "rasterio", "geoutils", "__main__"])
    cluster.pool = context.Pool(processes=args.workers, maxtasksperchild=10)
    start_seconds = time.perf_counter() - start
    try:
        config = MultiprocConfig(chunk_size=args.chunk_size, outfile=output, cluster=cluster)
        start = time.perf_counter()
        map_overlap_multiproc_save(
            geoutils_tile_filter,
            path,
            config,
            args.filter,
            args.size,
            args.sigma,
            depth=depth,
        )
        seconds = time.perf_counter() - start
    finally:
        cluster.close()
    return {
        "seconds": seconds,
        "extra": {
            "pool_start_seconds": start_seconds,
            "pool": "forkserver, maxtasksperchild=10",
            "depth": depth,
            "geoutils_version": geoutils.__version__,
        },
    }


def scipy_filter(data: Any, valid: Any, kind: str, size: int, sigma: float | None) -> Any:
    """SciPy on the whole array, NaN-aware the way GeoUtils' ``filters`` module does it
    (missing pixels as -inf for the maximum; a normalised convolution for the gaussian),
    with pixels outside the raster missing (``mode="constant"``)."""
    import numpy as np
    import scipy.ndimage

    if kind == "maximum":
        filled = np.where(valid, data, np.float32(-np.inf))
        result = scipy.ndimage.maximum_filter(filled, size=size, mode="constant", cval=-np.inf)
        missing = ~valid | np.isneginf(result)
    elif kind == "gaussian":
        filled = np.where(valid, data, np.float32(0))
        numerator = scipy.ndimage.gaussian_filter(filled, sigma, mode="constant", cval=0.0)
        weights = scipy.ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            result = (numerator / weights).astype(np.float32)
        missing = ~valid | (weights == 0)
    else:
        raise ValueError(f"the SciPy method has no {kind} filter")
    return result, missing


def _read_whole(path: str) -> tuple[Any, Any, Any, float]:
    """Band 1 and its validity mask, the open profile, and the nodata value."""
    import numpy as np
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=CACHE_MIB), rasterio.open(path) as ds:
        data = ds.read(1)
        nodata = ds.nodata
        profile = output_profile(ds)
    valid = ~np.isnan(data)
    if nodata is not None:
        valid &= data != nodata
    return data, valid, profile, nodata


def _write_whole(output: str, result: Any, profile: dict[str, Any]) -> None:
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=CACHE_MIB), rasterio.open(output, "w", **profile) as out:
        out.write(result, 1)


def run_scipy(path: str, output: str, args: argparse.Namespace) -> Result:
    """SciPy in one process on the whole array: read, filter, write (each timed)."""
    import scipy

    start = time.perf_counter()
    data, valid, profile, nodata = _read_whole(path)
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result, missing = scipy_filter(data, valid, args.filter, args.size, args.sigma)
    result[missing] = nodata
    compute_seconds = time.perf_counter() - start
    del data, valid, missing
    start = time.perf_counter()
    _write_whole(output, result, profile)
    write_seconds = time.perf_counter() - start
    return {
        "seconds": read_seconds + compute_seconds + write_seconds,
        "extra": {
            "read_seconds": read_seconds,
            "compute_seconds": compute_seconds,
            "write_seconds": write_seconds,
            "scipy_version": scipy.__version__,
        },
    }


def run_reference(path: str, output: str, args: argparse.Namespace) -> Result:
    """The engine's ``apply_filter`` on the whole array in one process (what every tile
    must reproduce bit for bit), written like the engine's output."""
    import numpy as np

    filters = load_filters()
    start = time.perf_counter()
    data, valid, profile, nodata = _read_whole(path)
    read_seconds = time.perf_counter() - start
    depth = filters.radius(filters.Filter(args.filter), args.size, args.sigma)
    start = time.perf_counter()
    padded = np.ma.masked_all((data.shape[0] + 2 * depth, data.shape[1] + 2 * depth), data.dtype)
    padded[depth:-depth, depth:-depth] = np.ma.masked_array(data, ~valid)
    del data, valid
    result = filters.apply_filter(padded, args.filter, args.size, args.sigma, nodata)
    compute_seconds = time.perf_counter() - start
    del padded
    start = time.perf_counter()
    _write_whole(output, result, profile)
    write_seconds = time.perf_counter() - start
    return {
        "seconds": read_seconds + compute_seconds + write_seconds,
        "extra": {
            "read_seconds": read_seconds,
            "compute_seconds": compute_seconds,
            "write_seconds": write_seconds,
        },
    }


def run_gdal_copy(path: str, output: str, args: argparse.Namespace) -> Result:
    """GDAL copies the raster into the engine's output layout: the I/O part of the ideal."""
    from osgeo import gdal

    gdal.UseExceptions()
    gdal.SetConfigOption("GDAL_PAM_ENABLED", "NO")
    gdal.SetCacheMax(CACHE_MIB * 1024 * 1024)
    options = [
        "TILED=YES",
        "BLOCKXSIZE=256",
        "BLOCKYSIZE=256",
        "COMPRESS=ZSTD",
        "ZSTD_LEVEL=1",
        "PREDICTOR=3",
        "BIGTIFF=IF_SAFER",
        "NUM_THREADS=1",
    ]
    start = time.perf_counter()
    copy = gdal.Translate(output, path, bandList=[1], creationOptions=options)
    del copy  # flush and close inside the timing
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "extra": {"gdal_version": gdal.__version__}}


def compare(first: str, second: str) -> Result:
    """Pixels that differ between two filtered rasters (read strip by strip).

    Equal means the same float32 bits or both nodata/NaN; the largest absolute
    difference is over the pixels valid in both.
    """
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    start = time.perf_counter()
    differing = valid_mismatch = 0
    largest = 0.0
    with (
        rasterio.Env(GDAL_CACHEMAX=CACHE_MIB),
        rasterio.open(first) as a_ds,
        rasterio.open(second) as b_ds,
    ):
        if (a_ds.height, a_ds.width) != (b_ds.height, b_ds.width):
            raise ValueError(f"shapes differ: {a_ds.shape} vs {b_ds.shape}")
        for row in range(0, a_ds.height, STRIP_ROWS):
            window = Window(0, row, a_ds.width, min(STRIP_ROWS, a_ds.height - row))
            a, b = a_ds.read(1, window=window), b_ds.read(1, window=window)
            a_valid = ~np.isnan(a) & (a != a_ds.nodata)
            b_valid = ~np.isnan(b) & (b != b_ds.nodata)
            both = a_valid & b_valid
            equal = np.where(both, a.view(np.uint32) == b.view(np.uint32), a_valid == b_valid)
            differing += int(equal.size - np.count_nonzero(equal))
            valid_mismatch += int(np.count_nonzero(a_valid != b_valid))
            if both.any():
                diff = np.abs(a[both].astype(np.float64) - b[both].astype(np.float64))
                largest = max(largest, float(diff.max()))
        pixels = a_ds.width * a_ds.height
    return {
        "seconds": time.perf_counter() - start,
        "stats": {
            "pixels": pixels,
            "differing_pixels": differing,
            "validity_mismatches": valid_mismatch,
            "max_abs_difference": largest,
            "identical": differing == 0,
        },
    }


METHODS: dict[str, Callable[[str, str, argparse.Namespace], Result]] = {
    "engine": run_engine,
    "geoutils": run_geoutils,
    "scipy": run_scipy,
    "reference": run_reference,
    "gdal_copy": run_gdal_copy,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one filter method once.")
    parser.add_argument("method", choices=[*sorted(METHODS), "compare"])
    parser.add_argument("raster", help="input raster (compare: the first filtered raster)")
    parser.add_argument("output", help="output raster (compare: the second filtered raster)")
    parser.add_argument("report", help="JSON file for the result")
    parser.add_argument("--filter", default="maximum", choices=("maximum", "gaussian"))
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--sigma", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=512)
    args = parser.parse_args(argv)
    if args.method == "compare":
        result = compare(args.raster, args.output)
    else:
        Path(args.output).unlink(missing_ok=True)
        result = METHODS[args.method](args.raster, args.output, args)
    result.update(method=args.method, python=sys.executable)
    with open(args.report, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1, default=float)
    return 0


if __name__ == "__main__":  # worker processes (dask spawn) import this module too
    sys.exit(main())
