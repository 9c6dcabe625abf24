"""Time series: this project's engine side by side with SITS 0.7.5 on the SITS
multiprocessing tutorial case, then point extraction at growing numbers of points.

Everything runs offline on the generated Sentinel-2 catalogue (24 tutorial points over
Europe, one year every 5 days) served on 127.0.0.1 by ``rustac serve`` and a
Range-capable file server whose log counts the HTTP requests of each run. Each method
runs in a fresh process whose whole process tree is sampled for memory.

    .venv/bin/python bench/bench_timeseries.py [--points-counts 24 1000] [--workers 2]

Writes bench/results/timeseries.md and timeseries.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from harness import (
    HERE,
    PROJECT_PYTHON,
    RESULTS_DIR,
    ROOT,
    TreeSampler,
    environment,
    fmt,
    write_results,
)

sys.path.insert(0, str(ROOT / "scripts"))
from local_stac import serve_catalogue
from sample_catalogue import default_dates, europe_sites

SITS_PYTHON = ROOT / ".bench-sits-venv" / "bin" / "python"
DATA = HERE / "data" / "timeseries"
RESULTS = RESULTS_DIR
BANDS = "blue,green,red,nir"
#: Memory sampling period: reading every process's smaps costs CPU on the same two
#: cores (a third of one at 50 ms); runs last tens of seconds and memory ramps slowly.
SAMPLE_SECONDS = 0.25
#: The tutorial case is run a second time with this wait before each answer of the
#: file server: a request to a cloud object store takes tens of milliseconds, and
#: it is the number of requests and how many are in flight that decide the time there.
LATENCY_MS = 20.0
LATENCY_SUFFIX = " remote"
#: Point extraction at scale reads one quarter (18 dates) to keep the run short.
SCALING_END = "2023-03-31"


def write_points(points: list[tuple[float, float]], path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"id": n},
            "geometry": {"type": "Point", "coordinates": p},
        }
        for n, p in enumerate(points)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def scattered_points(count: int, seed: int = 7) -> list[tuple[float, float]]:
    """``count`` points spread over the 24 sites' tiles (within about 1 km of a site)."""
    rng = random.Random(seed)
    sites = europe_sites()
    return [
        (site.lon + rng.uniform(-0.01, 0.01), site.lat + rng.uniform(-0.007, 0.007))
        for site in (sites[n % len(sites)] for n in range(count))
    ]


def measure(command: list[str], http_log: Path, timeout: float) -> dict:
    """Wall time, peak memory of the process tree, HTTP requests, and the run's report."""
    http_log.write_text("")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid, SAMPLE_SECONDS)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        peak = sampler.stop()
    seconds = time.perf_counter() - started
    requests = http_log.read_text().splitlines()
    result = {
        "ok": process.returncode == 0,
        "wall_seconds": seconds,
        "peak_pss_mib": peak.pss_mib,
        "peak_rss_mib": peak.rss_mib,
        "processes": peak.processes,
        "http_requests": len(requests),
        "http_bytes_ranges": sum(1 for line in requests if "bytes=" in line),
    }
    if process.returncode != 0:
        result["error"] = (stderr or "").strip().splitlines()[-3:]
    result["stdout"] = stdout.strip().splitlines()[-1:] if stdout else []
    return result


def read_report(path: Path) -> dict:
    """The run's own report, or an empty one when the run failed before writing it."""
    return json.loads(path.read_text()) if path.exists() else {"extra": {}}


def save(runs: dict) -> None:
    """Keep what was measured so far, so that a later failure loses nothing."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timeseries_partial.json").write_text(json.dumps(runs, indent=2))


def ours(url: str, points: Path, mode: str, out: Path, workers: int, end: str) -> list[str]:
    report = out.with_suffix(".json")
    return [
        str(PROJECT_PYTHON), str(HERE / "timeseries_methods.py"), "--stac-url", url,
        "--points", str(points), "--mode", mode, "--out", str(out), "--report", str(report),
        "--workers", str(workers), "--bands", BANDS, "--end", end,
    ]  # fmt: skip


def sits(url: str, points: Path, mode: str, out: Path, workers: int) -> list[str]:
    return [
        str(SITS_PYTHON), str(HERE / "sits_reference.py"), "--stac-url", url,
        "--points", str(points), "--mode", mode, "--out", str(out), "--workers", str(workers),
        "--bands", BANDS, "--mask",
    ]  # fmt: skip


def median_run(results: list[dict]) -> dict:
    """The run of median wall time, with every run's wall time beside it."""
    ordered = sorted(results, key=lambda r: r["wall_seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["wall_seconds_all"] = [r["wall_seconds"] for r in results]
    chosen["ok"] = all(r["ok"] for r in results)
    return chosen


def tutorial_case(
    served, runs: dict[str, dict], args: argparse.Namespace, points: Path, suffix: str
) -> None:
    """The SITS tutorial case, image then patch, each ``args.repeats`` times with the
    two tools taking turns (the machine's speed drifts by tens of percent over minutes;
    turns and medians keep that out of the ratio)."""
    url = served.stac_urls["earth-search"]
    out = DATA / "out"
    with_sits = not args.skip_sits and SITS_PYTHON.exists()
    for mode in ("image", "patch"):
        mine: list[dict] = []
        theirs: list[dict] = []
        for turn in range(1, args.repeats + 1):
            print(f"== tutorial {mode}{suffix}: this engine, run {turn}", flush=True)
            run = measure(
                ours(url, points, mode, out / f"ours_{mode}", args.workers, "2023-12-31"),
                served.http_log,
                args.timeout,
            )
            run["report"] = read_report(out / f"ours_{mode}.json")
            mine.append(run)
            runs[f"ours {mode}{suffix}"] = median_run(mine)
            save(runs)
            if with_sits:
                print(f"== tutorial {mode}{suffix}: SITS, run {turn}", flush=True)
                theirs.append(
                    measure(
                        sits(url, points, mode, out / f"sits_{mode}", args.workers),
                        served.http_log,
                        args.timeout,
                    )
                )
                runs[f"sits {mode}{suffix}"] = median_run(theirs)
                save(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--points-counts", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=LATENCY_MS,
        help="the tutorial case again with this latency per file request (0: skip it)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each tool per tutorial case (median)"
    )
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--skip-sits", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the Markdown from the JSON"
    )
    args = parser.parse_args()
    if args.report_only:
        payload = json.loads((RESULTS / "timeseries.json").read_text())
        (RESULTS / "timeseries.md").write_text(report(payload, payload["dates"]))
        return
    sites = europe_sites()
    dates = default_dates(2023, 5)
    runs: dict[str, dict] = {}
    (DATA / "out").mkdir(parents=True, exist_ok=True)
    tutorial = write_points([(s.lon, s.lat) for s in sites], DATA / "tutorial_points.geojson")
    with serve_catalogue(DATA / "catalogue", sites, dates, conventions=("earth-search",)) as (
        served,
        catalogue,
    ):
        tutorial_case(served, runs, args, tutorial, "")
        url = served.stac_urls["earth-search"]
        for count in args.points_counts:
            print(f"== {count} points, point pixels, until {SCALING_END}", flush=True)
            points = write_points(scattered_points(count), DATA / f"points_{count}.geojson")
            key = f"ours points {count}"
            out = DATA / "out" / f"points_{count}"
            runs[key] = measure(
                ours(url, points, "points", out, args.workers, SCALING_END),
                served.http_log,
                args.timeout,
            )
            runs[key]["report"] = read_report(out.with_suffix(".json"))
            save(runs)
        item_count = catalogue.item_count
    if args.latency_ms > 0:
        with serve_catalogue(
            DATA / "catalogue",
            sites,
            dates,
            conventions=("earth-search",),
            latency_ms=args.latency_ms,
        ) as (served, _):
            tutorial_case(served, runs, args, tutorial, LATENCY_SUFFIX)
    payload = {
        "environment": environment(),
        "items": item_count,
        "dates": len(dates),
        "latency_ms": args.latency_ms,
        "repeats": args.repeats,
        "runs": runs,
    }
    write_results("timeseries", payload, report(payload, len(dates)))
    print(report(payload, len(dates)))


def tutorial_rows(runs: dict, suffix: str, reads: int) -> list[str]:
    """Table rows of one tutorial scenario; ``reads`` = feature-date-band combinations."""
    lines = []
    for mode in ("image", "patch"):
        mine = runs.get(f"ours {mode}{suffix}", {})
        theirs = runs.get(f"sits {mode}{suffix}", {})
        for name, run in (("this engine", mine), ("SITS 0.7.5", theirs)):
            if not run:
                continue
            ratio = (
                f"{theirs['wall_seconds'] / mine['wall_seconds']:.1f}x"
                if name == "SITS 0.7.5" and theirs.get("ok") and mine.get("ok")
                else ""
            )
            status = "" if run.get("ok") else " (failed)"
            walls = ", ".join(fmt(w, 1) for w in run.get("wall_seconds_all", []))
            lines.append(
                f"| {mode} | {name}{status} | {fmt(run['wall_seconds'], 1)} s ({walls})"
                f" | {fmt(run['peak_pss_mib'], 0)} MiB | {run['http_requests']}"
                f" | {run['http_requests'] / reads:.2f} | {ratio} |"
            )
    return lines


def report(payload: dict, dates: int) -> str:
    runs = payload["runs"]
    bands = len(BANDS.split(",")) + 1  # and the SCL mask
    lines = [
        "# Time series benchmark",
        "",
        f"Generated catalogue: {payload['items']} items (24 sites x {dates} dates), served on",
        "127.0.0.1; wall time from outside the process (imports included), peak PSS of the",
        f"whole process tree sampled every {SAMPLE_SECONDS} s; up to {bands} assets per date",
        "(4 bands + SCL: this engine reads only the SCL of dates that its mask drops).",
        f"Tutorial case: the median of {payload.get('repeats', 1)} runs per tool, the tools taking",
        "turns; every run's wall time in brackets; memory and requests of the median run.",
        "",
    ]
    latency = payload.get("latency_ms", 0)
    scenarios = [("", "127.0.0.1, answers as fast as the server can")]
    if latency:
        scenarios.append((LATENCY_SUFFIX, f"the same server waiting {latency:g} ms per request"))
    for suffix, served in scenarios:
        lines += [
            f"## SITS tutorial case{f', {latency:g} ms per request' if suffix else ''}"
            " (24 points, EPSG:3035, 20 m, SCL mask, netCDF)",
            "",
            f"File server: {served}.",
            "",
            "| Mode | Method | Wall | Peak PSS | HTTP requests | per feature-date-band"
            " | SITS/ours |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += tutorial_rows(runs, suffix, dates * 24 * bands)
        lines.append("")
    lines += [
        f"## Point pixels at scale (until {SCALING_END}: 18 dates)",
        "",
        "| Points | Wall | per point | Peak PSS | searches | HTTP requests | per point-date-band |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, run in runs.items():
        if not key.startswith("ours points"):
            continue
        count = int(key.split()[-1])
        per = run["http_requests"] / (count * 18 * bands)
        lines.append(
            f"| {count} | {fmt(run['wall_seconds'], 1)} s"
            f" | {run['wall_seconds'] / count * 1000:.0f} ms |"
            f" {fmt(run['peak_pss_mib'], 0)} MiB | {run['report']['extra'].get('searches', '?')} |"
            f" {run['http_requests']} | {per:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
