"""Benchmark: the engine's exact tiled statistics against numpy, GDAL and GeoUtils.

For each raster size, every method runs alone in a fresh process (``methods.py``)
after the file was read once (warm page cache), and this process samples the method's
whole process tree every 50 ms: the sum of PSS (proportional set size, which does not
count shared libraries once per worker) and the sum of RSS. The engine's results are
checked against numpy on the whole band (exact) and GDAL's (close). Results go to
``bench/results/statistics.md`` and ``.json``; the Markdown table is printed too.

Run with the project venv: ``PYTHONPATH=. .venv/bin/python bench/bench_statistics.py``
(``bench/run.sh`` also prepares the GeoUtils venv and the rasters).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

# bench/ is the script's folder, so its modules import directly
from harness import (
    HERE,
    MIB,
    RESULTS_DIR,
    ROOT,
    TMP_DIR,
    MethodRun,
    add_run_arguments,
    environment,
    run_method,
    run_repeated,
)
from harness import fmt as _fmt
from make_rasters import SPECS, RasterSpec, ensure_rasters

METHOD_ORDER = ("gdal", "engine", "numpy", "geoutils")
METHOD_TITLES = {
    "engine": "engine, exact statistics (2 worker processes)",
    "numpy": "numpy, whole band in memory",
    "gdal": "GDAL ComputeStatistics(approx_ok=False)",
    "geoutils": "GeoUtils 0.2.5 map_multiproc_collect, mean+count (2 workers)",
}
#: Targets of the engine (design document): memory at the largest size, time vs GDAL.
MEMORY_TARGET_MIB = 600
TIME_TARGET_RATIO = 2.0
#: Statistics compared exactly with numpy, and those compared to a relative tolerance.
EXACT = ("MIN", "MAX", "COUNT", "TOTAL_COUNT", "MEDIAN", "P90", "IQR", "NMAD")
RELATIVE = ("MEAN", "SUM", "SUM_SQUARES", "STD", "RMSE", "VALID_PERCENT")
NUMPY_RTOL = 1e-12
GDAL_RTOL = {"MEAN": 1e-9, "STD": 1e-6}


def run_statistics_method(
    method: str, spec: RasterSpec, workers: int, chunk_size: int, timeout: float
) -> MethodRun:
    """Run one method (``methods.py``) in a fresh process, sampling its process tree."""
    output = TMP_DIR / f"{spec.side}_{method}.json"
    command = [
        str(HERE / "methods.py"),
        method,
        str(spec.path),
        str(output),
        "--workers",
        str(workers),
        "--chunk-size",
        str(chunk_size),
    ]
    return run_method(
        method,
        spec.label,
        command,
        output,
        geoutils_venv=method == "geoutils",
        warm=spec.path,
        timeout=timeout,
    )


# -- checks -------------------------------------------------------------------------------
def _relative(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def check_against(
    engine: dict[str, Any],
    reference: dict[str, Any],
    exact: tuple[str, ...],
    rtol: dict[str, float],
) -> list[dict[str, Any]]:
    """One row per statistic both have: values, relative difference, pass or fail."""
    rows = []
    for name in (*exact, *rtol):
        if name not in engine or name not in reference:
            continue
        a, b = engine[name], reference[name]
        if a is None or b is None:
            rows.append({"name": name, "engine": a, "reference": b, "ok": a == b})
            continue
        diff = _relative(float(a), float(b))
        allowed = 0.0 if name in exact else rtol[name]
        rows.append(
            {
                "name": name,
                "engine": a,
                "reference": b,
                "relative_difference": diff,
                "tolerance": allowed,
                "ok": diff <= allowed,
            }
        )
    return rows


def checks_for_size(runs: dict[str, MethodRun]) -> dict[str, list[dict[str, Any]]]:
    """The engine against numpy (exact, or 1e-12 relative for sums) and GDAL (close)."""
    engine = runs.get("engine")
    if engine is None or not engine.ok:
        return {}
    checks: dict[str, list[dict[str, Any]]] = {}
    numpy_run, gdal_run, geoutils_run = runs.get("numpy"), runs.get("gdal"), runs.get("geoutils")
    if numpy_run is not None and numpy_run.ok:
        checks["numpy"] = check_against(
            engine.stats, numpy_run.stats, EXACT, dict.fromkeys(RELATIVE, NUMPY_RTOL)
        )
    if gdal_run is not None and gdal_run.ok:
        checks["gdal"] = check_against(engine.stats, gdal_run.stats, ("MIN", "MAX"), GDAL_RTOL)
    if geoutils_run is not None and geoutils_run.ok:
        checks["geoutils"] = check_against(
            engine.stats, geoutils_run.stats, ("COUNT",), {"MEAN": NUMPY_RTOL}
        )
    return checks


def _notes(run: MethodRun) -> str:
    if not run.ok:
        return f"FAILED: {run.error}"
    times = "runs: " + ", ".join(f"{t:.2f}" for t in run.all_seconds) + " s; "
    return times + _method_notes(run)


def _method_notes(run: MethodRun) -> str:
    """What else each method reported (set-up times, passes)."""
    extra = run.extra
    if run.method == "engine":
        passes = " + ".join(f"{p['seconds']:.2f}" for p in extra.get("passes", []))
        return (
            f"{extra.get('pass_count')} passes ({passes} s); backend start"
            f" {extra['backend_start_seconds']:.2f} s (not in time); second call on warm"
            f" workers {extra['second_call_seconds']:.2f} s"
        )
    if run.method == "numpy":
        return f"read {extra['read_seconds']:.2f} s included"
    if run.method == "gdal":
        cache = extra.get("gdal_cachemax_bytes", 0) / MIB
        return f"GDAL {extra.get('gdal_version')}, default block cache {cache:.0f} MiB"
    if run.method == "geoutils":
        return (
            f"{extra.get('tiles')} tiles; pool start {extra['pool_start_seconds']:.2f} s"
            " (not in time)"
        )
    return ""


def size_table(runs: dict[str, MethodRun]) -> list[str]:
    """The Markdown table of one raster size."""
    gdal = runs.get("gdal")
    gdal_seconds = gdal.seconds if gdal is not None and gdal.ok else None
    lines = [
        "| Method | Time (s) | Time / GDAL | Peak PSS (MiB) | Peak RSS (MiB) | Processes |"
        " Other load (cores) | Notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for method in METHOD_ORDER:
        run = runs.get(method)
        if run is None:
            continue
        ratio = run.seconds / gdal_seconds if run.seconds and gdal_seconds else None
        m = run.memory
        lines.append(
            f"| {METHOD_TITLES[method]} | {_fmt(run.seconds)} | {_fmt(ratio)} |"
            f" {_fmt(m.pss_mib, 0)} | {_fmt(m.rss_mib, 0)} | {m.processes} |"
            f" {_fmt(run.other_load_cores)} | {_notes(run)} |"
        )
    return lines


def targets(all_runs: dict[str, dict[str, MethodRun]]) -> list[dict[str, Any]]:
    """Whether the engine meets its memory target (largest size) and time target."""
    rows = []
    largest = SPECS[-1].label
    for size, runs in all_runs.items():
        engine, gdal = runs.get("engine"), runs.get("gdal")
        if engine is None or not engine.ok:
            continue
        if size == largest:
            memory = engine.memory
            rows.append(
                {
                    "size": size,
                    "target": f"engine peak PSS < {MEMORY_TARGET_MIB} MiB",
                    "measured": f"{memory.pss_mib:.0f} MiB (RSS {memory.rss_mib:.0f} MiB)",
                    "ok": memory.pss_mib < MEMORY_TARGET_MIB,
                }
            )
        if gdal is not None and gdal.ok and engine.seconds is not None:
            ratio = engine.seconds / gdal.seconds
            second = engine.extra.get("second_call_seconds")
            measured = f"{ratio:.3f} x ({engine.seconds:.2f} s vs {gdal.seconds:.2f} s)"
            if second:
                measured += f"; second call {second / gdal.seconds:.3f} x"
            rows.append(
                {
                    "size": size,
                    "target": f"engine time <= {TIME_TARGET_RATIO:g} x GDAL ComputeStatistics",
                    "measured": measured,
                    "ok": ratio <= TIME_TARGET_RATIO,
                }
            )
    return rows


def render(
    all_runs: dict[str, dict[str, MethodRun]],
    all_checks: dict[str, dict[str, list[dict[str, Any]]]],
    target_rows: list[dict[str, Any]],
    env: dict[str, Any],
    args: argparse.Namespace,
) -> str:
    lines = [
        "# Exact raster statistics: engine vs numpy, GDAL and GeoUtils",
        "",
        f"{env['date']}, {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB;"
        f" Python {env['python']}, numpy {env['numpy']}, rasterio {env['rasterio']},"
        f" dask {env['dask']}; engine at commit {env['git_commit']}.",
        "",
        f"float32 GeoTIFF, 512 x 512 tiles, uncompressed, nodata holes; band 1;"
        f" chunk size {args.chunk_size}; {args.workers} workers. Each method in a fresh"
        " process after a read of the file (warm page cache). Time: the computation"
        " only, measured inside the process (interpreter start, imports and worker start"
        f" excluded), best of {args.repeat} runs. Memory: the whole process tree sampled"
        " every 50 ms, largest of the runs (PSS counts shared pages once; RSS counts"
        " them per process). Other load: CPU used by other processes during the run"
        " (a busy machine slows every method down).",
        "",
    ]
    for size, runs in all_runs.items():
        lines += [f"## {size}", "", *size_table(runs), ""]
        for reference, rows in all_checks.get(size, {}).items():
            bad = [r for r in rows if not r["ok"]]
            worst = max((r.get("relative_difference", 0.0) for r in rows), default=0.0)
            verdict = (
                "all equal"
                if not bad
                else "MISMATCH: "
                + ", ".join(f"{r['name']} {r['engine']} vs {r['reference']}" for r in bad)
            )
            names = " ".join(r["name"] for r in rows)
            lines.append(
                f"- engine vs {reference} ({names}): {verdict}; largest relative"
                f" difference {worst:.1e}"
            )
        lines.append("")
    lines += ["## Targets", "", "| Size | Target | Measured | Met |", "|---|---|---|---|"]
    lines += [
        f"| {r['size']} | {r['target']} | {r['measured']} | {'yes' if r['ok'] else 'NO'} |"
        for r in target_rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", choices=[s.label for s in SPECS], help="default: all")
    parser.add_argument("--methods", nargs="*", choices=METHOD_ORDER, help="default: all")
    add_run_arguments(parser, timeout=900.0, repeat=3, output=RESULTS_DIR / "statistics")
    args = parser.parse_args(argv)
    specs = tuple(s for s in SPECS if not args.sizes or s.label in args.sizes)
    methods = [m for m in METHOD_ORDER if not args.methods or m in args.methods]
    ensure_rasters(specs)

    all_runs: dict[str, dict[str, MethodRun]] = {}
    for spec in specs:
        all_runs[spec.label] = {}
        for method in methods:
            print(f"[{spec.label}] {method} ...", flush=True)
            run = run_repeated(
                lambda method=method, spec=spec: run_statistics_method(
                    method, spec, args.workers, args.chunk_size, args.timeout
                ),
                args.repeat,
            )
            all_runs[spec.label][method] = run
            state = f"{run.seconds:.2f} s" if run.ok else f"FAILED ({run.error})"
            print(
                f"  {state}, peak PSS {run.memory.pss_mib:.0f} MiB,"
                f" RSS {run.memory.rss_mib:.0f} MiB, process {run.process_seconds:.1f} s",
                flush=True,
            )
    all_checks = {size: checks_for_size(runs) for size, runs in all_runs.items()}
    target_rows = targets(all_runs)
    env = environment()
    markdown = render(all_runs, all_checks, target_rows, env, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    payload = {
        "environment": env,
        "settings": {
            "workers": args.workers,
            "chunk_size": args.chunk_size,
            "repeat": args.repeat,
        },
        "rasters": {
            s.label: {"path": str(s.path.relative_to(ROOT)), "side": s.side} for s in specs
        },
        "runs": {size: {m: asdict(r) for m, r in runs.items()} for size, runs in all_runs.items()},
        "checks": all_checks,
        "targets": target_rows,
    }
    args.output.with_suffix(".json").write_text(
        json.dumps(payload, indent=1, default=str), encoding="utf-8"
    )
    print()
    print(markdown)
    failed = [r for runs in all_runs.values() for r in runs.values() if not r.ok]
    mismatched = [
        row
        for checks in all_checks.values()
        for rows in checks.values()
        for row in rows
        if not row["ok"]
    ]
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
