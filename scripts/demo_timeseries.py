"""The time-series part of ``make demo``: the SITS multiprocessing tutorial case (24
points over Europe, 4 bands, one year) on a generated Sentinel-2 catalogue served on
127.0.0.1, run through ``qgis_process`` as a user would, then a Landsat C2 L2 run on a
generated catalogue in Planetary Computer's conventions, and a plot of one series.

Run by scripts/demo.sh, which sets up qgis_process's environment (plugin path, profile).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_stac import serve_catalogue, serve_folder
from sample_catalogue import default_dates, europe_sites
from sample_landsat import make_landsat

QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def write_points(sites: list, path: Path) -> Path:
    """The sites as a GeoJSON point layer with an ``id`` field."""
    features = [
        {
            "type": "Feature",
            "properties": {"id": site.name},
            "geometry": {"type": "Point", "coordinates": [site.lon, site.lat]},
        }
        for site in sites
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def qgis_process(algorithm: str, **parameters: object) -> None:
    """Run an algorithm in qgis_process and show its log lines."""
    arguments = [f"{name}={value}" for name, value in parameters.items()]
    started = time.perf_counter()
    done = subprocess.run(
        [QGIS_PROCESS, "run", algorithm, "--", *arguments], capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{algorithm} failed:\n{done.stdout}\n{done.stderr}")
    shown = [line for line in done.stdout.splitlines() if line.strip() and "%" not in line]
    print("\n".join(shown[-12:]))
    print(f"== {algorithm} took {time.perf_counter() - started:.1f} s")


def plot_series(table: Path, feature_id: str, png: Path) -> None:
    """NDVI and red/nir of one feature over the year; masked dates appear as gaps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in csv.DictReader(table.open()) if r["feature_id"] == feature_id]
    dates = np.array([np.datetime64(r["date"].rstrip("Z")) for r in rows])

    def column(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r[name] else np.nan for r in rows])

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(dates, column("NDVI"), "o-", color="tab:green", label="NDVI")
    filled = np.array([r["status"] == "filled" for r in rows])
    top.plot(dates[filled], column("NDVI")[filled], "o", mfc="white", color="tab:green",
             label="gap-filled date")  # fmt: skip
    top.set_ylabel("NDVI")
    top.legend()
    for name, colour in (("red", "tab:red"), ("nir", "tab:purple")):
        bottom.plot(dates, column(name), "o-", color=colour, label=name)
    bottom.set_ylabel("digital number")
    bottom.legend()
    top.set_title(f"Feature {feature_id}: Sentinel-2 L2A time series (generated catalogue)")
    figure.tight_layout()
    figure.savefig(png, dpi=100)


def landsat_run(out: Path, sites: list, points: Path) -> None:
    """Landsat 8 and 9 (Collection 2 Level-2, Planetary Computer's conventions) for the
    first sites: the collection's default qa_pixel mask (MASK_BAND auto), physical
    values (scale 0.0000275, offset -0.2) and NDVI."""
    folder = out / "landsat"
    with serve_folder(
        folder,
        lambda files_url: (
            make_landsat(
                folder, files_url, [(s.name, s.lon, s.lat) for s in sites], date(2023, 5, 1), 12
            ).collections
        ),
    ) as served:
        url = served.stac_urls["landsat-c2-l2"]
        table = out / "landsat_timeseries.csv"
        table.unlink(missing_ok=True)
        print(f"== Landsat C2 L2 series (qa_pixel bits masked, physical values, NDVI) from {url}")
        qgis_process(
            "sits:extracttimeseries", INPUT=points, ID_FIELD="id", STAC_URL=url,
            COLLECTION="landsat-c2-l2", START_DATE="2023-05-01", END_DATE="2023-08-31",
            BANDS="red,nir08", VALUES=1, INDICES="NDVI", OUTPUT=table,
        )  # fmt: skip
        print(f"== Table: {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out.resolve()
    sites = europe_sites()
    points = write_points(sites, out / "europe_points.geojson")
    print(f"== Generating and serving a Sentinel-2-like catalogue for {len(sites)} points")
    dates = default_dates(2023, 5)
    with serve_catalogue(out / "catalogue", sites, dates, conventions=("earth-search",)) as (
        served,
        catalogue,
    ):
        url = served.stac_urls["earth-search"]
        print(f"   STAC API {url}, COGs on {served.files_url}, {catalogue.item_count} items")
        common = {
            "INPUT": points,
            "ID_FIELD": "id",
            "STAC_URL": url,
            "COLLECTION": "sentinel-2-l2a",
            "START_DATE": "2023-01-01",
            "END_DATE": "2023-12-31",
            "BANDS": "blue,green,red,nir",
        }
        table = out / "timeseries.csv"
        table.unlink(missing_ok=True)
        print("== Point time series with cloud mask, linear gap filling and NDVI")
        qgis_process("sits:extracttimeseries", **common, GAPFILL=1, INDICES="NDVI", OUTPUT=table)
        print(f"== Table: {table}")
        for mode, name in ((0, "image"), (1, "patch")):
            print(f"== {name} cubes (netCDF), 64 x 64 pixel patches or a 300 m buffer image")
            qgis_process(
                "sits:extractcubes",
                **common,
                MODE=mode,
                PATCH_X=64,
                PATCH_Y=64,
                BUFFER=300 if mode == 0 else 0,
                OUTPUT_FOLDER=out / f"cubes_{name}",
                OUTPUT_INDEX=out / f"cubes_{name}_index.gpkg",
            )
            print(f"== Cubes: {out / f'cubes_{name}'}")
    landsat_run(out, sites[:6], write_points(sites[:6], out / "landsat_points.geojson"))
    png = out / "timeseries_plot.png"
    plot_series(table, sites[0].name, png)
    print(f"== Plot of feature {sites[0].name}: {png}")


if __name__ == "__main__":
    main()
