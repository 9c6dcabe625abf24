"""Point time series the way a Python user writes them with odc-stac: what the real-scale
benchmark (issue 15) compares the engine with, besides SITS.

One STAC search over the points' bounding box and the dates; then, per group of items
on one grid (a tile: same CRS and footprint), ``odc.stac.load`` of the bands over the
bounding box of that group's points at the grid's own resolution (dask arrays in
1024 x 1024 chunks, as the files' blocks), the pixel of each point picked with
``isel`` and computed with dask's threads, then the SCL mask applied (masked dates
empty). Writes a CSV (feature, date, bands) and a JSON report with the seconds.

    python bench/odc_reference.py --stac-url URL --points GEOJSON --start D --end D
        --bands red,nir --out FILE.csv --report FILE.json [--threads 16]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

import dask
import numpy as np
import odc.stac
import pystac_client
from pyproj import Transformer

MASKED = (0, 1, 3, 8, 9, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stac-url", required=True)
    parser.add_argument("--points", type=Path, required=True)
    parser.add_argument("--start", default="2023-01-01")
    parser.add_argument("--end", default="2023-12-31")
    parser.add_argument("--bands", default="blue,green,red,nir")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    started = time.perf_counter()
    features = json.loads(args.points.read_text())["features"]
    points = [tuple(f["geometry"]["coordinates"]) for f in features]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    bands = args.bands.split(",")
    catalogue = pystac_client.Client.open(args.stac_url)
    items = list(catalogue.search(
        collections=["sentinel-2-l2a"], bbox=[min(lons), min(lats), max(lons), max(lats)],
        datetime=f"{args.start}/{args.end}T23:59:59Z",
    ).items())  # fmt: skip
    tiles = defaultdict(list)
    for item in items:
        # pystac gives projection v1.1's proj:epsg as proj:code (v2) when it reads items
        crs = item.properties.get("proj:code") or f"EPSG:{item.properties['proj:epsg']}"
        tiles[(crs, tuple(item.bbox))].append(item)
    rows = []
    with dask.config.set(scheduler="threads", num_workers=args.threads):
        for (crs, bbox), group in tiles.items():
            inside = [
                (n, lon, lat) for n, (lon, lat) in enumerate(points)
                if bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]
            ]  # fmt: skip
            if not inside:
                continue
            box = [min(p[1] for p in inside), min(p[2] for p in inside),
                   max(p[1] for p in inside), max(p[2] for p in inside)]  # fmt: skip
            cube = odc.stac.load(
                group, bands=[*bands, "scl"], bbox=box, crs=crs, resolution=10,
                chunks={"x": 1024, "y": 1024}, groupby="solar_day",
            )  # fmt: skip
            to_grid = Transformer.from_crs(4326, crs, always_xy=True)
            xs, ys = to_grid.transform([p[1] for p in inside], [p[2] for p in inside])
            # the pixel whose centre is nearest: the one that contains the point
            col = np.abs(cube.x.values[None, :] - np.array(xs)[:, None]).argmin(axis=1)
            row = np.abs(cube.y.values[None, :] - np.array(ys)[:, None]).argmin(axis=1)
            picked = cube.isel(x=("point", col), y=("point", row)).compute()
            for k, (number, _, _) in enumerate(inside):
                for t, when in enumerate(picked.time.values):
                    clear = int(picked["scl"].values[t, k]) not in MASKED
                    values = [float(picked[b].values[t, k]) if clear else "" for b in bands]
                    rows.append([number, str(when)[:10], *values])
    with args.out.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["feature", "date", *bands])
        writer.writerows(rows)
    args.report.write_text(json.dumps({
        "seconds": time.perf_counter() - started, "rows": len(rows), "items": len(items),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
