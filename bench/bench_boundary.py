"""The cost of the process boundary (issue 11), measured side by side on one machine.

Each case runs the same work two ways, taking turns (this machine's speed drifts over
minutes), ``--repeats`` times, and the report gives medians with every run:

- **in process**: the engine called directly in this Python process, as the plugin did
  before the engine got a process of its own (a backend of local worker processes);
- **engine process**: the same request through ``EngineClient``, as the plugin does now
  (the engine's own process with its backend; requests and results as JSON lines).

Cases: the tiled statistics of the 1 GiB raster of the statistics benchmark, and the
SITS tutorial's patch cubes (24 points, 73 dates, 4 bands + SCL, EPSG:3035 at 20 m) on
the generated catalogue served on 127.0.0.1. Both ways start cold (backend or engine
started inside the timing), as a first run in a QGIS session does, and then run once
more warm. Target: the boundary adds at most 5 % or 0.5 s, whichever is larger.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from harness import HERE, PROJECT_PYTHON, ROOT, environment

sys.path.insert(0, str(ROOT / "scripts"))
from local_stac import serve_catalogue
from make_rasters import SPECS, ensure_rasters, specs_for
from sample_catalogue import default_dates, europe_sites

from sits_qgis.engine.client import EngineClient
from sits_qgis.engine.protocol import wkb_text

RESULTS = HERE / "results"
DATA = HERE / "data" / "timeseries"
WORKERS = 2
BACKEND = {"mode": "processes", "workers": WORKERS}


def statistics_request(path: Path) -> dict[str, Any]:
    return {"path": str(path), "band": 1, "chunk_size": 512, "backend": BACKEND}


def cubes_request(url: str, folder: Path) -> dict[str, Any]:
    import shapely

    features = [
        [str(n), wkb_text(shapely.to_wkb(shapely.Point(s.lon, s.lat))), None]
        for n, s in enumerate(europe_sites())
    ]
    return {
        "layer": {"features": features, "crs": "EPSG:4326"},
        "options": {
            "stac_url": url, "collection": "sentinel-2-l2a",
            "bands": ["blue", "green", "red", "nir"], "start": "2023-01-01",
            "end": "2023-12-31", "resolution": 20.0, "crs": "EPSG:3035",
            "mask_band": "scl", "mask_values": [0, 1, 3, 8, 9, 10],
        },
        "folder": str(folder), "mode": 1, "patch_x": 10, "patch_y": 10, "buffer": 0.0,
        "backend": BACKEND,
    }  # fmt: skip


def in_process(op: str, request: dict[str, Any]) -> list[float]:
    """Cold then warm: a new backend of local workers, the engine called directly."""
    from sits_qgis.backend import shutdown
    from sits_qgis.engine.operations import OPERATIONS
    from sits_qgis.engine.server import Channel

    times = []
    for _ in range(2):
        start = time.perf_counter()
        OPERATIONS[op](request, Channel(0, lambda _message: None))
        times.append(time.perf_counter() - start)
    shutdown()
    return times


def engine_process(op: str, request: dict[str, Any], python: str) -> list[float]:
    """Cold then warm: a new engine process (its start timed too), the same request."""
    times = []
    start = time.perf_counter()
    client = EngineClient(python)
    client.start()
    try:
        for _ in range(2):
            client.call(op, request, lambda _event, _data: None)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
    finally:
        client.close()
    return times


def compare(name: str, op: str, request: dict[str, Any], python: str, repeats: int) -> dict:
    runs: dict[str, list[list[float]]] = {"in process": [], "engine process": []}
    for turn in range(1, repeats + 1):
        print(f"== {name}: in process, run {turn}", flush=True)
        runs["in process"].append(in_process(op, request))
        print(f"== {name}: engine process, run {turn}", flush=True)
        runs["engine process"].append(engine_process(op, request, python))
    return {
        way: {
            "cold": statistics.median(r[0] for r in results),
            "warm": statistics.median(r[1] for r in results),
            "runs": results,
        }
        for way, results in runs.items()
    }


def verdict(case: dict, phase: str) -> tuple[float, bool]:
    before, after = case["in process"][phase], case["engine process"][phase]
    added = after - before
    return added, added <= max(0.05 * before, 0.5)


def report(payload: dict) -> str:
    lines = [
        "# The cost of the process boundary",
        "",
        f"Medians of {payload['repeats']} runs per way, taking turns; {WORKERS} local"
        " workers; cold = backend (or engine and its backend) started inside the timing;"
        f" engine process: `{payload['engine_python']}`.",
        "",
        "| Case | Phase | In process | Engine process | Added | Within 5 % or 0.5 s |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, case in payload["cases"].items():
        for phase in ("cold", "warm"):
            added, ok = verdict(case, phase)
            lines.append(
                f"| {name} | {phase} | {case['in process'][phase]:.2f} s"
                f" | {case['engine process'][phase]:.2f} s | {added:+.2f} s"
                f" | {'yes' if ok else 'no'} |"
            )
    lines += ["", "Every run (cold, warm) in seconds:", ""]
    for name, case in payload["cases"].items():
        for way in ("in process", "engine process"):
            shown = ", ".join(f"({a:.2f}, {b:.2f})" for a, b in case[way]["runs"])
            lines.append(f"- {name}, {way}: {shown}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--engine-python", default=str(PROJECT_PYTHON),
        help="the engine environment's Python (default: the project's .venv, so that only"
        " the boundary differs)",
    )  # fmt: skip
    parser.add_argument(
        "--name", default="boundary", help="results file stem in bench/results (default boundary)"
    )
    args = parser.parse_args()
    cases = {}
    [raster] = ensure_rasters(specs_for(["1 GiB"], SPECS))
    cases["statistics, 1 GiB"] = compare(
        "statistics, 1 GiB", "raster_statistics", statistics_request(raster),
        args.engine_python, args.repeats,
    )  # fmt: skip
    sites, dates = europe_sites(), default_dates(2023, 5)
    with serve_catalogue(DATA / "catalogue", sites, dates, conventions=("earth-search",)) as (
        served,
        _,
    ):
        request = cubes_request(served.stac_urls["earth-search"], DATA / "out" / "boundary")
        cases["tutorial patch cubes"] = compare(
            "tutorial patch cubes", "extract_cubes", request, args.engine_python, args.repeats
        )
    payload = {
        "environment": environment(),
        "date": date.today().isoformat(),
        "repeats": args.repeats,
        "engine_python": args.engine_python,
        "cases": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(payload, indent=2))
    (RESULTS / f"{args.name}.md").write_text(report(payload))
    print(report(payload))


if __name__ == "__main__":
    main()
