"""The statistics methods being compared, each run alone in a fresh process.

``bench_statistics.py`` starts ``python methods.py METHOD RASTER OUT.json`` once per
method and measures that process tree from outside, so the peak memory of one method
never includes another's. The GeoUtils method runs under the GeoUtils venv, which has
neither the project nor psutil: every import here is therefore local to its method.
Times are taken inside the process around the computation only (interpreter start and
imports excluded), with set-up costs (starting workers) reported apart.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

NMAD_FACTOR = 1.4826
#: GDAL block cache for the rasterio reads of the numpy method: the same as the engine's
#: workers use, so that neither carries a cache of blocks it reads only once.
READ_CACHE_MIB = 64

Result = dict[str, Any]


def run_engine(path: str, workers: int, chunk_size: int) -> Result:
    """This project's exact tiled statistics on local dask worker processes.

    The first call is the headline time (workers still import their modules); a second
    call on the same workers shows the cost once the backend is warm, as it is for the
    second run of an algorithm in a QGIS session. Each pass over the raster is timed by
    wrapping the engine's ``run_tiles`` from outside (the engine is not modified).
    """
    from sits_qgis.backend import Backend, BackendConfig, BackendMode
    from sits_qgis.tiling import raster_statistics
    from sits_qgis.tiling import statistics as statistics_module

    passes: list[dict[str, Any]] = []
    original = statistics_module.run_tiles

    def timed_run_tiles(per_tile: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        yield from original(per_tile, *args, **kwargs)
        passes.append({"pass": per_tile.__name__, "seconds": time.perf_counter() - start})

    statistics_module.run_tiles = timed_run_tiles  # type: ignore[assignment]

    start = time.perf_counter()
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=workers))
    backend.start()
    start_seconds = time.perf_counter() - start
    try:
        start = time.perf_counter()
        stats = raster_statistics(path, band=1, chunk_size=chunk_size, backend=backend)
        seconds = time.perf_counter() - start
        first_passes = list(passes)
        passes.clear()
        start = time.perf_counter()
        raster_statistics(path, band=1, chunk_size=chunk_size, backend=backend)
        second_seconds = time.perf_counter() - start
    finally:
        backend.close()
    return {
        "seconds": seconds,
        "stats": dict(stats.values),
        "extra": {
            "backend_start_seconds": start_seconds,
            "second_call_seconds": second_seconds,
            "passes": first_passes,
            "second_call_passes": list(passes),
            "pass_count": stats.passes,
        },
    }


def run_numpy(path: str, workers: int, chunk_size: int) -> Result:
    """The whole band in memory with numpy: what the engine must equal, bit for bit.

    Sums and moments in float64 (as the engine computes them); order statistics on the
    float32 values with numpy's own median and percentile (as the engine promises).
    """
    import numpy as np
    import rasterio

    start = time.perf_counter()
    with rasterio.Env(GDAL_CACHEMAX=READ_CACHE_MIB), rasterio.open(path) as ds:
        data = ds.read(1)
        nodata = ds.nodata
    read_seconds = time.perf_counter() - start
    total_count = int(data.size)
    valid_mask = ~np.isnan(data)
    if nodata is not None:
        valid_mask &= data != nodata
    values = data[valid_mask]
    del data, valid_mask
    count = int(values.size)
    as64 = values.astype(np.float64)
    total = float(as64.sum())
    sum_squares = float(np.dot(as64, as64))
    mean = total / count
    as64 -= mean
    m2 = float(np.dot(as64, as64))
    del as64
    minimum, maximum = values.min(), values.max()
    median = np.median(values)
    p25, p75, p90 = np.percentile(values, [25, 75, 90])
    mad = np.median(np.abs(values - median))
    seconds = time.perf_counter() - start
    stats = {
        "MEAN": mean,
        "MEDIAN": median.item(),
        "MIN": minimum.item(),
        "MAX": maximum.item(),
        "SUM": total,
        "SUM_SQUARES": sum_squares,
        "STD": math.sqrt(m2 / count),
        "COUNT": count,
        "TOTAL_COUNT": total_count,
        "VALID_PERCENT": 100.0 * count / total_count,
        "P90": p90.item(),
        "IQR": (p75 - p25).item(),
        "NMAD": NMAD_FACTOR * mad.item(),
        "RMSE": math.sqrt(sum_squares / count),
    }
    return {"seconds": seconds, "stats": stats, "extra": {"read_seconds": read_seconds}}


def run_gdal(path: str, workers: int, chunk_size: int) -> Result:
    """GDAL's exact statistics (``approx_ok=False``), the time reference.

    PAM is switched off so that no ``.aux.xml`` with cached statistics is written next
    to the raster (later runs and other methods must not find one). GDAL's block cache
    keeps its default size, as ``gdalinfo -stats`` would use it.
    """
    from osgeo import gdal

    gdal.UseExceptions()
    gdal.SetConfigOption("GDAL_PAM_ENABLED", "NO")
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    start = time.perf_counter()
    minimum, maximum, mean, std = band.ComputeStatistics(False)
    seconds = time.perf_counter() - start
    stats = {"MIN": minimum, "MAX": maximum, "MEAN": mean, "STD": std}
    extra = {"gdal_version": gdal.__version__, "gdal_cachemax_bytes": gdal.GetCacheMax()}
    band = ds = None
    return {"seconds": seconds, "stats": stats, "extra": extra}


def tile_mean_count(tile: Any) -> tuple[float, int]:
    """GeoUtils side: a tile's mean (in float64) and its number of valid pixels."""
    import numpy as np

    values = tile.data.compressed()
    if values.size == 0:
        return 0.0, 0
    return float(values.mean(dtype=np.float64)), int(values.size)


def run_geoutils(path: str, workers: int, chunk_size: int) -> Result:
    """GeoUtils 0.2.5's ``map_multiproc_collect``: per-tile mean and count, combined.

    Its pool is forked before the raster is opened in this process, which avoids the
    GDAL lock inherited by forked workers (GeoUtils issue 934) at the first fork;
    ``maxtasksperchild=10`` still re-forks workers later, the harness's timeout covers
    a hang.
    """
    import geoutils
    from geoutils.raster.distributed_computing import (
        ClusterGenerator,
        MultiprocConfig,
        map_multiproc_collect,
    )

    start = time.perf_counter()
    cluster = ClusterGenerator("multi", nb_workers=workers)
    start_seconds = time.perf_counter() - start
    try:
        config = MultiprocConfig(chunk_size=chunk_size, cluster=cluster)
        start = time.perf_counter()
        results = map_multiproc_collect(tile_mean_count, path, config)
        count = sum(c for _, c in results)
        mean = math.fsum(m * c for m, c in results) / count if count else float("nan")
        seconds = time.perf_counter() - start
    finally:
        cluster.close()
    return {
        "seconds": seconds,
        "stats": {"MEAN": mean, "COUNT": count},
        "extra": {
            "pool_start_seconds": start_seconds,
            "tiles": len(results),
            "geoutils_version": geoutils.__version__,
        },
    }


METHODS: dict[str, Callable[[str, int, int], Result]] = {
    "engine": run_engine,
    "numpy": run_numpy,
    "gdal": run_gdal,
    "geoutils": run_geoutils,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one statistics method once.")
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("raster")
    parser.add_argument("output", help="JSON file for the result")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=512)
    args = parser.parse_args(argv)
    result = METHODS[args.method](args.raster, args.workers, args.chunk_size)
    result.update(method=args.method, python=sys.executable)
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1, default=float)
    return 0


if __name__ == "__main__":  # worker processes (dask spawn) import this module too
    sys.exit(main())
