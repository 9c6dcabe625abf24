"""One benchmark run of this project's time-series engine, in its own process (the
harness samples the memory of its whole process tree). Writes a JSON report.

    python bench/timeseries_methods.py --stac-url URL --points GEOJSON --mode image|patch|points
        --out DIR --report FILE [--workers 2] [--start ... --end ... --bands ...]

``image`` and ``patch`` are the SITS tutorial's cubes (EPSG:3035, 20 m, a 0.01 degree
buffer as about 1113 m, 10 x 10 patches, SCL mask, netCDF); ``points`` is point-pixel
extraction to a table (native grid).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import shapely

from sits_qgis.backend import Backend, BackendConfig
from sits_qgis.timeseries.blockcache import CacheSettings
from sits_qgis.timeseries.features import Feature, FeatureLayer
from sits_qgis.timeseries.options import CubeMode, CubeOptions, SeriesOptions, TableOptions
from sits_qgis.timeseries.running import extract_cubes, extract_table

#: SITS's tutorial buffer is 0.01 degree; the same distance north-south in metres.
TUTORIAL_BUFFER_M = 1113.0


def read_points(path: Path) -> FeatureLayer:
    features = json.loads(path.read_text())["features"]
    return FeatureLayer(
        tuple(
            Feature(str(n), shapely.to_wkb(shapely.geometry.shape(f["geometry"])))
            for n, f in enumerate(features)
        ),
        "EPSG:4326",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stac-url", required=True)
    parser.add_argument("--points", type=Path, required=True)
    parser.add_argument("--mode", choices=(*(m.value for m in CubeMode), "points"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start", default="2023-01-01")
    parser.add_argument("--end", default="2023-12-31")
    parser.add_argument("--bands", default="blue,green,red,nir")
    parser.add_argument("--block-cache", type=Path, help="the block cache's folder (default: none)")
    args = parser.parse_args()
    started = time.perf_counter()
    layer = read_points(args.points)
    cubes = args.mode != "points"
    options = SeriesOptions(
        stac_url=args.stac_url,
        collection="sentinel-2-l2a",
        bands=tuple(args.bands.split(",")),
        start=date.fromisoformat(args.start),
        end=date.fromisoformat(args.end),
        resolution=20.0 if cubes else 0.0,
        crs="EPSG:3035" if cubes else "",
        block_cache=CacheSettings(str(args.block_cache), 20 * 2**30) if args.block_cache else None,
    )
    backend = Backend(BackendConfig(workers=args.workers))
    ok = failed = rows = 0
    if cubes:  # the entry points start the workers during the search, as the algorithms
        mode = CubeMode(args.mode)
        buffer = TUTORIAL_BUFFER_M if mode is CubeMode.IMAGE else 0.0
        cube = CubeOptions(str(args.out), mode, 10, 10, buffer=buffer)
        cube_run = extract_cubes(layer, options, cube, backend)
        for outcome in cube_run:
            ok, failed = ok + bool(outcome.path), failed + (not outcome.path)
        plan = cube_run.plan
    else:
        table_run = extract_table(layer, options, TableOptions(), backend, points=True)
        for outcome in table_run:
            rows += len(table_run.rows(outcome))
            ok, failed = ok + bool(outcome.rows), failed + (not outcome.rows)
        plan = table_run.plan
    backend.close()
    report = {
        "seconds": time.perf_counter() - started,
        "extra": {
            "features_ok": ok,
            "features_failed": failed,
            "rows": rows,
            "items": len(plan.search.items),
            "searches": plan.search.api_requests.searches(),
            "search_pages": plan.search.api_requests.count("/search"),
        },
    }
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
