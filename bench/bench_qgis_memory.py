"""The memory of QGIS's own process over a large extraction (issue 14: it grew from
318 to 426 MiB over a 4,000-point run).

A fresh PyQGIS process loads the plugin as qgis_process does and runs the same
extraction several times in a row on the generated catalogue (the time-series
benchmark's 24 sites, one year every 5 days) served on 127.0.0.1: ``--points`` points
scattered over the sites, every date, to a GeoPackage and then to a temporary (memory)
layer. After each run it reports its resident memory with the result held and after the
result is dropped; the engine and its workers are other processes and are not counted
(the time-series benchmark measures them).

    .venv/bin/python bench/bench_qgis_memory.py [--points 4000] [--end 2023-12-31]

Writes bench/results/qgis_memory.md and qgis_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_timeseries import DATA, scattered_points, write_points
from harness import HERE, PROJECT_PYTHON, ROOT, environment, write_results

sys.path.insert(0, str(ROOT / "scripts"))
from local_stac import serve_catalogue
from sample_catalogue import default_dates, europe_sites

OUTPUTS = ("gpkg", "gpkg", "gpkg", "memory", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=4000)
    parser.add_argument("--end", default="2023-12-31")
    args = parser.parse_args()
    points = write_points(scattered_points(args.points), DATA / f"points_{args.points}.geojson")
    lines: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        plugins = Path(scratch) / "plugins"
        plugins.mkdir()
        (plugins / "sits_plugin").symlink_to(ROOT, target_is_directory=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env |= {"QT_QPA_PLATFORM": "offscreen", "SITS_ENGINE_PYTHON": str(PROJECT_PYTHON)}
        with serve_catalogue(
            DATA / "catalogue", europe_sites(), default_dates(2023, 5),
            conventions=("earth-search",),
        ) as (served, _):  # fmt: skip
            run = subprocess.run(
                [str(PROJECT_PYTHON), str(HERE / "qgis_memory_run.py"), str(plugins),
                 served.stac_urls["earth-search"], str(points), args.end, scratch, *OUTPUTS],
                env=env, capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
        lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        if run.returncode != 0 or len(lines) != len(OUTPUTS) + 1:
            sys.exit(f"the QGIS process failed: {run.stderr.strip()[-2000:]}")
    payload = {"environment": environment(), "points": args.points, "end": args.end,
               "runs": lines}  # fmt: skip
    write_results("qgis_memory", payload, report(payload))
    print(report(payload))


def report(payload: dict) -> str:
    loaded, *runs = payload["runs"]
    lines = [
        "# Memory of QGIS's process over repeated extractions",
        "",
        f"{payload['points']} points over the generated catalogue's 24 sites, every date"
        f" until {payload['end']}, bands red and nir; one PyQGIS process (the plugin"
        " loaded as qgis_process loads it), runs one after the other. Resident memory of"
        " that process only: the engine and its workers are other processes.",
        "",
        f"After loading QGIS, Processing and the plugin: {loaded['rss_mib']:.0f} MiB.",
        "",
        "| Run | Output | Rows | Time | Peak RSS | RSS, result held | RSS, result dropped |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['phase']} | {run['output']} | {run['rows']} | {run['seconds']:.1f} s"
            f" | {run['peak_rss_mib']:.0f} MiB | {run['rss_with_result_mib']:.0f} MiB"
            f" | {run['rss_after_mib']:.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
