"""Time series at real scale (issue 15): full-size Sentinel-2 files behind a link like a
desktop user's, each run measured against the bytes its answer must move.

The catalogue is ``realscale_catalogue.py``'s (real file sizes and layout, cached under
``bench/data/realscale``), served on 127.0.0.1 by the object-store stand-in
(``scripts/range_file_server.py``: ``--latency-ms`` per request, ``--mbit`` shared by
every connection, every request and its bytes logged). Cases: the SITS tutorial's image
and patch cubes (24 points, 4 bands + SCL, 73 dates) and point pixels at 100, 1,000 and
10,000 points (4 bands + SCL, until ``--points-end``). Each run is a fresh process whose
process tree is sampled for memory; this engine, SITS 0.7.5 (the cubes) and a plain
odc-stac extraction (``odc_reference.py``, the points) in the same run. The limit of each
case comes from the catalogue (``realscale_limit.py``).

    .venv/bin/python bench/bench_realscale.py [--sites 24] [--points-counts 100 1000 10000]
        [--latency-ms 40] [--mbit 200] [--skip-sits] [--skip-odc]

Writes bench/results/realscale.md and realscale.json (a list of cases with ``case``,
``wall_s``, ``limit_s``, ``bytes``, ``needed_bytes``, ``requests``, ``peak_mib``,
``sits_wall_s`` and ``odc_wall_s``, null where a tool was not run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

from bench_timeseries import (
    BANDS,
    RESULTS,
    SITS_PYTHON,
    measure,
    ours,
    read_report,
    scattered_points,
    sits,
    write_points,
)
from harness import HERE, PROJECT_PYTHON, ROOT, environment, write_results
from realscale_catalogue import make
from realscale_limit import needed

sys.path.insert(0, str(ROOT / "scripts"))
from local_stac import serve_folder
from sample_catalogue import europe_sites

DATA = HERE / "data" / "realscale"
#: The tutorial's buffer (0.01 degree, about 1113 m) and patch (10 x 10 at 20 m).
HALF_M = {"image": 1113.0, "patch": 100.0}
#: Reads in flight: the engine's two workers with their read threads each.
CONCURRENCY = 32
YEAR = (date(2023, 1, 1), date(2023, 12, 31))
#: What realscale.json says of the runs with the block cache: (its name, the run's).
CACHE_FIELDS = (("wall_s", "wall_seconds"), ("bytes", "bytes"), ("requests", "http_requests"))


def run_logged(command: list[str], http_log: Path, timeout: float) -> dict:
    """``measure`` and the bytes the file server sent for the run."""
    result = measure(command, http_log, timeout)
    lines = [line.split("\t") for line in http_log.read_text().splitlines()]
    result["bytes"] = sum(int(parts[4]) for parts in lines if len(parts) > 4)
    return result


def odc(url: str, points: Path, out: Path, end: date) -> list[str]:
    return [
        str(PROJECT_PYTHON), str(HERE / "odc_reference.py"), "--stac-url", url,
        "--points", str(points), "--start", "2023-01-01", "--end", str(end),
        "--bands", BANDS, "--out", str(out.with_suffix(".csv")),
        "--report", str(out.with_suffix(".json")),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=24)
    parser.add_argument("--points-counts", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--points-end", default="2023-03-31")
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--mbit", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-sits", action="store_true")
    parser.add_argument("--skip-odc", action="store_true")
    parser.add_argument("--skip-cubes", action="store_true", help="only the point cases")
    parser.add_argument(
        "--skip-cache", action="store_true", help="no runs with the block cache (cold, rerun)"
    )
    parser.add_argument("--timeout", type=float, default=7200)
    args = parser.parse_args()
    sites = europe_sites()[: args.sites]
    out = DATA / "out"
    out.mkdir(parents=True, exist_ok=True)
    points_end = date.fromisoformat(args.points_end)
    cases: list[dict] = []

    def catalogue(files_url: str) -> dict[str, Path]:
        make(DATA, args.sites, files_url)
        return {"realscale": DATA / "collection"}

    with serve_folder(
        DATA, catalogue, args.latency_ms, mbit=args.mbit, paths=DATA / "paths.json"
    ) as served:
        url = served.stac_urls["realscale"]
        tutorial = write_points([(s.lon, s.lat) for s in sites], out / "tutorial.geojson")
        for mode in () if args.skip_cubes else ("image", "patch"):
            print(f"== tutorial {mode} cubes", flush=True)
            command = ours(url, tutorial, mode, out / f"ours_{mode}", args.workers, "2023-12-31")
            run = run_logged(command, served.http_log, args.timeout)
            cache = None if args.skip_cache else cached_runs(
                command, out / "block-cache", served.http_log, args.timeout
            )  # fmt: skip
            sits_run = None
            if not args.skip_sits and SITS_PYTHON.exists():
                sits_run = run_logged(
                    sits(url, tutorial, mode, out / f"sits_{mode}", args.workers),
                    served.http_log, args.timeout,
                )  # fmt: skip
            need = needed(DATA / "collection", DATA, [(s.lon, s.lat) for s in sites], *YEAR,
                          BANDS.split(","), half_m=HALF_M[mode])  # fmt: skip
            cases.append(case(f"tutorial {mode} cubes", run, need, args, sits_run, None, cache))
            save(cases, args)
        for count in args.points_counts:
            print(f"== {count} points", flush=True)
            coordinates = scattered_points(count)[:count]
            points = write_points(coordinates, out / f"points_{count}.geojson")
            command = ours(url, points, "points", out / f"ours_points_{count}", args.workers,
                           args.points_end)  # fmt: skip
            run = run_logged(command, served.http_log, args.timeout)
            run["report"] = read_report((out / f"ours_points_{count}").with_suffix(".json"))
            cache = None if args.skip_cache else cached_runs(
                command, out / "block-cache", served.http_log, args.timeout
            )  # fmt: skip
            odc_run = None
            if not args.skip_odc:
                odc_run = run_logged(
                    odc(url, points, out / f"odc_points_{count}", points_end),
                    served.http_log, args.timeout,
                )  # fmt: skip
            need = needed(DATA / "collection", DATA, coordinates, YEAR[0], points_end,
                          BANDS.split(","))  # fmt: skip
            cases.append(case(f"{count} points", run, need, args, None, odc_run, cache))
            save(cases, args)
    print((RESULTS / "realscale.md").read_text())


def cached_runs(command: list[str], folder: Path, http_log: Path, timeout: float) -> dict:
    """The same run with the block cache: into an empty cache, then again (a rerun)."""
    shutil.rmtree(folder, ignore_errors=True)
    command = [*command, "--block-cache", str(folder)]
    return {
        "cold": run_logged(command, http_log, timeout),
        "rerun": run_logged(command, http_log, timeout),
    }


def case(name: str, run: dict, need, args, sits_run: dict | None, odc_run: dict | None,
         cache: dict | None) -> dict:  # fmt: skip
    """One case as realscale.json lists it, with the runs kept in full beside it."""
    return {
        "case": name,
        "wall_s": run["wall_seconds"] if run["ok"] else None,
        "limit_s": need.limit_seconds(args.mbit, args.latency_ms, CONCURRENCY),
        "bytes": run["bytes"],
        "needed_bytes": need.bytes,
        "requests": run["http_requests"],
        "needed_requests": need.requests,
        "peak_mib": run["peak_pss_mib"],
        "sits_wall_s": sits_run["wall_seconds"] if sits_run and sits_run["ok"] else None,
        "odc_wall_s": odc_run["wall_seconds"] if odc_run and odc_run["ok"] else None,
        **{
            f"cache_{when}_{what}": (cache[when][key] if cache and cache[when]["ok"] else None)
            for when in ("cold", "rerun")
            for what, key in CACHE_FIELDS
        },
        "runs": {"ours": run, "sits": sits_run, "odc": odc_run, "cache": cache},
    }


def save(cases: list[dict], args: argparse.Namespace) -> None:
    listed = [{k: v for k, v in c.items() if k != "runs"} for c in cases]
    write_results("realscale", listed, report(listed, args))
    (RESULTS / "realscale_runs.json").write_text(json.dumps({
        "environment": environment(), "latency_ms": args.latency_ms, "mbit": args.mbit,
        "sites": args.sites, "cases": cases,
    }, indent=2, default=str))  # fmt: skip


def report(cases: list[dict], args: argparse.Namespace) -> str:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    lines = [
        "# Time series at real scale",
        "",
        f"Real-size Sentinel-2 L2A files ({args.sites} sites, `realscale_catalogue.py`)"
        f" behind a link of {args.mbit:g} Mbit/s shared by every connection and"
        f" {args.latency_ms:g} ms per request. Limit = needed bytes / bandwidth + needed"
        f" requests x latency / {CONCURRENCY} (`realscale_limit.py`).",
        "",
        "| Case | Wall | Limit | Wall / limit | Bytes | Needed | Bytes / needed | Requests"
        " | Needed | Peak PSS | SITS | odc-stac |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        ratio = c["wall_s"] / c["limit_s"] if c["wall_s"] and c["limit_s"] else None
        lines.append(
            f"| {c['case']} | {seconds(c['wall_s'])} | {seconds(c['limit_s'])}"
            f" | {'-' if ratio is None else f'{ratio:.2f}'}"
            f" | {c['bytes'] / 1e6:,.0f} MB | {c['needed_bytes'] / 1e6:,.0f} MB"
            f" | {c['bytes'] / max(c['needed_bytes'], 1):.2f}"
            f" | {c['requests']:,} | {c['needed_requests']:,} | {c['peak_mib']:.0f} MiB"
            f" | {seconds(c['sits_wall_s'])} | {seconds(c['odc_wall_s'])} |"
        )
    cached = [c for c in cases if c["cache_cold_wall_s"] is not None]
    if cached:
        lines += [
            "",
            "With the block cache (`--block-cache`): a first run into an empty cache, then"
            " the same run again.",
            "",
            "| Case | Without cache | Into an empty cache | Bytes | Rerun | Bytes | Requests |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for c in cached:
            lines.append(
                f"| {c['case']} | {seconds(c['wall_s'])} | {seconds(c['cache_cold_wall_s'])}"
                f" | {c['cache_cold_bytes'] / 1e6:,.0f} MB | {seconds(c['cache_rerun_wall_s'])}"
                f" | {c['cache_rerun_bytes'] / 1e6:,.1f} MB | {c['cache_rerun_requests']:,} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
