"""Benchmark (issue 3): the engine's tiled filter against GeoUtils, SciPy and a GDAL copy.

Maximum (size 5) and gaussian (sigma 2) filters of band 1 of float32 rasters of 1 GiB
and 4 GiB, chunk 512, 2 workers, each method alone in a fresh process
(``filter_methods.py``) after a read of the input (warm page cache), its whole process
tree sampled every 50 ms (``harness.py``):

- engine: ``sits_qgis.tiling.rasterfilter.raster_filter`` on 2 dask worker processes;
- geoutils: GeoUtils 0.2.5 ``map_overlap_multiproc_save``, 2 workers, the same depth,
  applying the engine's own ``filters.apply_filter`` to each tile (same function);
- scipy: ``scipy.ndimage`` on the whole array in one process, NaN-aware as GeoUtils'
  filters are (only where it fits in memory);
- reference: the engine's ``apply_filter`` on the whole array in one process, the
  output every tiling must reproduce bit for bit (only where it fits);
- gdal_copy: GDAL copying the input into the engine's output layout (the I/O cost).

Outputs are compared pixel by pixel (engine vs reference, GeoUtils and SciPy). Targets:
engine <= 1/2 GeoUtils' time; engine <= 1.3 x ideal (SciPy's single-process filter time
/ workers + the GDAL copy); engine peak PSS at 4 GiB <= 1.1 x at 1 GiB. Results go to
``bench/results/filter.md`` and ``.json``.

Run with the project venv: ``PYTHONPATH=. .venv/bin/python bench/bench_filter.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

# bench/ is the script's folder, so its modules import directly
from harness import (
    HERE,
    RESULTS_DIR,
    ROOT,
    TMP_DIR,
    MethodRun,
    add_run_arguments,
    environment,
    fmt,
    run_method,
    run_repeated,
)
from make_rasters import ALL_SPECS, FILTER_SPECS, RasterSpec, ensure_rasters, specs_for

GIB = 1024**3
FILTERS = {"maximum": {"size": 5, "sigma": None}, "gaussian": {"size": 5, "sigma": 2.0}}
FILTER_TITLES = {"maximum": "maximum, size 5", "gaussian": "gaussian, sigma 2"}
METHOD_ORDER = ("engine", "geoutils", "scipy", "reference")
METHOD_TITLES = {
    "engine": "engine raster_filter (2 worker processes)",
    "geoutils": "GeoUtils 0.2.5 map_overlap_multiproc_save + apply_filter (2 workers)",
    "scipy": "SciPy ndimage, whole array, 1 process",
    "reference": "engine apply_filter, whole array, 1 process",
    "gdal_copy": "GDAL copy to the engine's output layout (gdal.Translate)",
}
#: Whole-array methods need this many times the raster's bytes (measured: about 5x for
#: the maximum, 10x for the gaussian's float64 intermediates); run only if that fits.
WHOLE_ARRAY_FACTOR = 12
TIME_VS_GEOUTILS = 0.5
TIME_VS_IDEAL = 1.3
MEMORY_GROWTH = 1.10


def _command(method: str, spec: RasterSpec, kind: str, output: Path, report: Path, args) -> list:
    params = FILTERS[kind]
    command = [
        str(HERE / "filter_methods.py"),
        method,
        str(spec.path),
        str(output),
        str(report),
        "--filter",
        kind,
        "--size",
        str(params["size"]),
        "--workers",
        str(args.workers),
        "--chunk-size",
        str(args.chunk_size),
    ]
    if params["sigma"] is not None:
        command += ["--sigma", str(params["sigma"])]
    return command


def run_filter_method(
    method: str, spec: RasterSpec, kind: str, args: argparse.Namespace, repeat: int
) -> MethodRun:
    output = TMP_DIR / f"filter_{spec.side}_{kind}_{method}.tif"
    report = output.with_suffix(".json")
    run = run_repeated(
        lambda: run_method(
            method,
            spec.label,
            _command(method, spec, kind, output, report, args),
            report,
            geoutils_venv=method == "geoutils",
            warm=spec.path,
            timeout=args.timeout,
        ),
        repeat,
    )
    run.extra["output"] = str(output)
    return run


def compare_outputs(first: Path, second: Path, timeout: float) -> dict[str, Any]:
    """Pixel-by-pixel comparison in a fresh process (strip by strip, bounded memory)."""
    report = first.with_name(f"compare_{first.stem}_{second.stem}.json")
    command = [str(HERE / "filter_methods.py"), "compare", str(first), str(second), str(report)]
    run = run_method("compare", "", command, report, timeout=timeout)
    if not run.ok:
        return {"identical": False, "error": run.error}
    return run.stats


def fits_in_memory(spec: RasterSpec, limit_gib: float) -> bool:
    return spec.data_bytes * WHOLE_ARRAY_FACTOR <= limit_gib * GIB


def _print(run: MethodRun, label: str) -> None:
    state = f"{run.seconds:.2f} s" if run.ok else f"FAILED ({run.error})"
    print(
        f"  {label}: {state}, peak PSS {run.memory.pss_mib:.0f} MiB,"
        f" RSS {run.memory.rss_mib:.0f} MiB, process {run.process_seconds:.1f} s",
        flush=True,
    )


def bench_size(spec: RasterSpec, args: argparse.Namespace) -> dict[str, Any]:
    """Every method and filter on one raster, then the comparisons; outputs deleted."""
    whole = fits_in_memory(spec, args.memory_limit_gib)
    print(f"[{spec.label}] gdal_copy ...", flush=True)
    copy = run_filter_method("gdal_copy", spec, "maximum", args, args.repeat)
    _print(copy, "gdal_copy")
    result: dict[str, Any] = {"gdal_copy": copy, "filters": {}, "checks": {}, "skipped": []}
    for kind in args.filters:
        runs: dict[str, MethodRun] = {}
        for method in args.methods:
            if method in ("scipy", "reference") and not whole:
                result["skipped"].append(
                    f"{kind} {method}: the whole array would need about"
                    f" {spec.data_bytes * WHOLE_ARRAY_FACTOR / GIB:.0f} GiB"
                    f" (limit {args.memory_limit_gib:g} GiB)"
                )
                continue
            print(f"[{spec.label}] {kind} {method} ...", flush=True)
            repeat = 1 if method == "reference" else args.repeat
            runs[method] = run_filter_method(method, spec, kind, args, repeat)
            _print(runs[method], method)
        checks = {}
        engine = runs.get("engine")
        if engine is not None and engine.ok:
            for other in ("reference", "geoutils", "scipy"):
                if other in runs and runs[other].ok:
                    print(f"[{spec.label}] {kind} compare engine vs {other} ...", flush=True)
                    checks[other] = compare_outputs(
                        Path(engine.extra["output"]), Path(runs[other].extra["output"]), 900
                    )
                    print(f"  {checks[other]}", flush=True)
        result["filters"][kind] = runs
        result["checks"][kind] = checks
        if not args.keep_outputs:
            for run in runs.values():
                Path(run.extra["output"]).unlink(missing_ok=True)
    if not args.keep_outputs:
        Path(copy.extra["output"]).unlink(missing_ok=True)
    return result


# -- targets and report ------------------------------------------------------------------
def _scipy_compute(size_result: dict[str, Any], kind: str) -> float | None:
    run = size_result["filters"].get(kind, {}).get("scipy")
    if run is None or not run.ok:
        return None
    return run.extra.get("compute_seconds")


def ideal_seconds(
    results: dict[str, dict[str, Any]], specs: tuple[RasterSpec, ...], kind: str, workers: int
) -> dict[str, tuple[float, str]]:
    """Per size: SciPy's single-process filter time / workers + the GDAL copy, with how
    it was obtained (SciPy's time scaled by the pixel count from a smaller size where
    the whole array did not fit)."""
    ideals = {}
    measured = [(s, _scipy_compute(results[s.label], kind)) for s in specs]
    measured = [(s, t) for s, t in measured if t is not None]
    for spec in specs:
        copy = results[spec.label]["gdal_copy"]
        if not copy.ok:
            continue
        scipy_seconds = _scipy_compute(results[spec.label], kind)
        how = "measured"
        if scipy_seconds is None and measured:
            base, base_seconds = measured[-1]
            scipy_seconds = base_seconds * spec.data_bytes / base.data_bytes
            how = f"SciPy time scaled from {base.label}"
        if scipy_seconds is None:
            continue
        ideals[spec.label] = (scipy_seconds / workers + copy.seconds, how)
    return ideals


def targets(
    results: dict[str, dict[str, Any]], specs: tuple[RasterSpec, ...], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = []
    for kind in args.filters:
        ideals = ideal_seconds(results, specs, kind, args.workers)
        for spec in specs:
            runs = results[spec.label]["filters"].get(kind, {})
            engine, geoutils = runs.get("engine"), runs.get("geoutils")
            if engine is None or not engine.ok:
                continue
            if geoutils is not None and geoutils.ok:
                ratio = engine.seconds / geoutils.seconds
                rows.append(
                    {
                        "size": spec.label,
                        "filter": kind,
                        "target": f"engine time <= {TIME_VS_GEOUTILS:g} x GeoUtils",
                        "measured": f"{ratio:.2f} x ({engine.seconds:.1f} s vs"
                        f" {geoutils.seconds:.1f} s)",
                        "ok": ratio <= TIME_VS_GEOUTILS,
                    }
                )
            if spec.label in ideals:
                ideal, how = ideals[spec.label]
                ratio = engine.seconds / ideal
                rows.append(
                    {
                        "size": spec.label,
                        "filter": kind,
                        "target": f"engine time <= {TIME_VS_IDEAL:g} x ideal",
                        "measured": f"{ratio:.2f} x ({engine.seconds:.1f} s vs ideal"
                        f" {ideal:.1f} s, {how})",
                        "ok": ratio <= TIME_VS_IDEAL,
                    }
                )
        engines = [
            (spec, results[spec.label]["filters"].get(kind, {}).get("engine")) for spec in specs
        ]
        engines = [(s, r) for s, r in engines if r is not None and r.ok]
        if len(engines) >= 2:
            (small, small_run), (large, large_run) = engines[0], engines[-1]
            growth = large_run.memory.pss_mib / small_run.memory.pss_mib
            rows.append(
                {
                    "size": f"{small.label} -> {large.label}",
                    "filter": kind,
                    "target": f"engine peak PSS flat (<= {MEMORY_GROWTH:.2f} x)",
                    "measured": f"{growth:.2f} x ({small_run.memory.pss_mib:.0f} ->"
                    f" {large_run.memory.pss_mib:.0f} MiB)",
                    "ok": growth <= MEMORY_GROWTH,
                }
            )
    return rows


def _notes(run: MethodRun) -> str:
    if not run.ok:
        return f"FAILED: {run.error}"
    notes = "runs: " + ", ".join(f"{t:.2f}" for t in run.all_seconds) + " s"
    extra = run.extra
    if "backend_start_seconds" in extra:
        notes += f"; backend start {extra['backend_start_seconds']:.2f} s (not in time)"
    if "pool_start_seconds" in extra:
        notes += (
            f"; depth {extra['depth']}; output striped, uncompressed (GeoUtils' only way);"
            " pool from a forkserver (GeoUtils' fork pool hung at 1 GiB), whose workers'"
            " CPU shows as other load (they are not reaped by this tree's waits)"
        )
    if "compute_seconds" in extra:
        notes += (
            f"; read {extra['read_seconds']:.2f} + filter {extra['compute_seconds']:.2f}"
            f" + write {extra['write_seconds']:.2f} s"
        )
    return notes


def _row(title: str, run: MethodRun, engine_seconds: float | None) -> str:
    ratio = engine_seconds / run.seconds if engine_seconds and run.ok and run.seconds else None
    m = run.memory
    return (
        f"| {title} | {fmt(run.seconds)} | {fmt(ratio)} | {fmt(m.pss_mib, 0)} |"
        f" {fmt(m.rss_mib, 0)} | {m.processes} | {fmt(run.other_load_cores)} |"
        f" {fmt(run.sampler_cores)} | {_notes(run)} |"
    )


def _check_line(other: str, check: dict[str, Any]) -> str:
    if "error" in check:
        return f"- engine vs {other}: comparison FAILED ({check['error']})"
    verdict = "identical (bit for bit)" if check["identical"] else "DIFFERENT"
    return (
        f"- engine vs {other}: {verdict}; {check['differing_pixels']} of {check['pixels']}"
        f" pixels differ ({check['validity_mismatches']} in validity), largest absolute"
        f" difference {check['max_abs_difference']:.3g}"
    )


def render(
    results: dict[str, dict[str, Any]],
    target_rows: list[dict[str, Any]],
    env: dict[str, Any],
    args: argparse.Namespace,
) -> str:
    lines = [
        "# Neighbourhood filters: engine vs GeoUtils, SciPy and a GDAL copy (issue 3)",
        "",
        f"{env['date']}, {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB;"
        f" Python {env['python']}, numpy {env['numpy']}, rasterio {env['rasterio']},"
        f" dask {env['dask']}; engine at commit {env['git_commit']}.",
        "",
        "Input: float32 GeoTIFF, 512 x 512 tiles, uncompressed, nodata holes; band 1;"
        f" chunk size {args.chunk_size}; {args.workers} workers. Engine, reference, SciPy"
        " and GDAL copy write the engine's output layout (tiled 256 x 256, ZSTD level 1,"
        " predictor 3); GeoUtils writes GDAL's default (striped, uncompressed). Each method"
        " in a fresh process after a read of the input (warm page cache). Time: the"
        " filtering only, measured inside the process (interpreter start, imports and"
        f" worker start excluded), best of {args.repeat} runs (reference: 1 run)."
        " Memory: the whole process tree sampled every 50 ms, largest of the runs (PSS"
        " counts shared pages once). Engine / method: the engine's time divided by the"
        " method's (below 1: the engine is faster). Other load: CPU used by other"
        " processes during the run; Sampler: CPU of the harness itself (reading PSS"
        " every 50 ms), which competes with the method on 2 cores.",
        "",
    ]
    for size, result in results.items():
        lines += [f"## {size}", ""]
        header = [
            "| Method | Time (s) | Engine / method | Peak PSS (MiB) | Peak RSS (MiB) |"
            " Processes | Other load (cores) | Sampler (cores) | Notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        copy = result["gdal_copy"]
        for kind, runs in result["filters"].items():
            engine = runs.get("engine")
            engine_seconds = engine.seconds if engine is not None and engine.ok else None
            lines += [f"### {FILTER_TITLES[kind]}", "", *header]
            for method in METHOD_ORDER:
                if method in runs:
                    lines.append(_row(METHOD_TITLES[method], runs[method], engine_seconds))
            lines.append(_row(METHOD_TITLES["gdal_copy"], copy, engine_seconds))
            lines.append("")
            for other, check in result["checks"].get(kind, {}).items():
                lines.append(_check_line(other, check))
            lines.append("")
        for note in result["skipped"]:
            lines.append(f"- skipped: {note}")
        if result["skipped"]:
            lines.append("")
    lines += [
        "## Targets",
        "",
        "Ideal: SciPy's single-process filter time (without read and write) / workers +"
        " the GDAL copy's time.",
        "",
        "| Size | Filter | Target | Measured | Met |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['size']} | {r['filter']} | {r['target']} | {r['measured']} |"
        f" {'yes' if r['ok'] else 'NO'} |"
        for r in target_rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="*",
        choices=[s.label for s in ALL_SPECS],
        help="default: all (1 GiB and 4 GiB)",
    )
    parser.add_argument("--filters", nargs="*", choices=list(FILTERS), default=list(FILTERS))
    parser.add_argument("--methods", nargs="*", choices=METHOD_ORDER, default=list(METHOD_ORDER))
    add_run_arguments(parser, timeout=1800.0, repeat=2, output=RESULTS_DIR / "filter")
    parser.add_argument(
        "--memory-limit-gib",
        type=float,
        default=16.0,
        help="whole-array methods run only where they need less than this",
    )
    parser.add_argument("--keep-outputs", action="store_true", help="keep the filtered rasters")
    args = parser.parse_args(argv)
    specs = specs_for(args.sizes, FILTER_SPECS)
    ensure_rasters(specs)

    results = {spec.label: bench_size(spec, args) for spec in specs}
    target_rows = targets(results, specs, args)
    env = environment()
    markdown = render(results, target_rows, env, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    payload = {
        "environment": env,
        "settings": {
            "workers": args.workers,
            "chunk_size": args.chunk_size,
            "repeat": args.repeat,
            "filters": {k: FILTERS[k] for k in args.filters},
        },
        "rasters": {
            s.label: {"path": str(s.path.relative_to(ROOT)), "side": s.side} for s in specs
        },
        "results": {
            size: {
                "gdal_copy": asdict(result["gdal_copy"]),
                "filters": {
                    kind: {m: asdict(r) for m, r in runs.items()}
                    for kind, runs in result["filters"].items()
                },
                "checks": result["checks"],
                "skipped": result["skipped"],
            }
            for size, result in results.items()
        },
        "targets": target_rows,
    }
    args.output.with_suffix(".json").write_text(
        json.dumps(payload, indent=1, default=str), encoding="utf-8"
    )
    print()
    print(markdown)
    failed = [
        r
        for result in results.values()
        for runs in result["filters"].values()
        for r in runs.values()
        if not r.ok
    ]
    different = [
        c
        for result in results.values()
        for checks in result["checks"].values()
        for other, c in checks.items()
        if other != "scipy" and not c.get("identical")
    ]
    return 1 if failed or different else 0


if __name__ == "__main__":
    sys.exit(main())
