"""Where the engine's statistics time goes: per pass, per backend, per building block.

The benchmark says how fast; this says why. It runs ``raster_statistics`` on one
raster (default: the 256 MiB benchmark raster) and reports:

1. each pass's wall time and the workers' summed compute time (dask task stream) with
   local worker processes, under several glibc allocator settings. The settings reach
   the workers through the environment they inherit. dask's nanny used to give its
   workers ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes glibc's mmap threshold
   at 128 KiB: every tile-sized temporary array is then a fresh ``mmap`` paid in page
   faults. The table shows the ``MALLOC_`` variables the workers really had;
2. the same in the calling thread (no dask, one core);
3. the cost of the per-tile building blocks (open, read, mask, moments, order keys,
   key histogram), summed over all tiles, with minor page faults, under each setting.

The engine is not modified: its ``run_tiles`` is wrapped to time passes.
Run: ``PYTHONPATH=. .venv/bin/python bench/profile_statistics.py [RASTER]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DEFAULT_RASTER = HERE / "data" / "terrain_8192.tif"
#: Allocator settings compared, as environment variables of the measuring process
#: (its dask workers inherit them).
ALLOCATOR_VARIANTS: dict[str, dict[str, str]] = {
    "engine as it is": {},
    "MALLOC_TRIM_THRESHOLD_=65536 (dask's worker default)": {"MALLOC_TRIM_THRESHOLD_": "65536"},
    "MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=256 MiB": {
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
        "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    },
}


def timed_passes() -> list[dict[str, Any]]:
    """Wrap the engine's ``run_tiles`` so each pass's wall time is recorded."""
    from sits_qgis.tiling import statistics as statistics_module

    passes: list[dict[str, Any]] = []
    original = statistics_module.run_tiles

    def wrapper(per_tile: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        yield from original(per_tile, *args, **kwargs)
        passes.append({"pass": per_tile.__name__, "seconds": time.perf_counter() - start})

    statistics_module.run_tiles = wrapper  # type: ignore[assignment]
    return passes


def worker_state() -> dict[str, Any]:
    """Worker side: its allocator settings and its own peak RSS (VmHWM) in MiB."""
    hwm = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) // 1024
    env = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    return {"env": env, "peak_rss_mib": hwm}


def profile_backend(raster: str, mode: str, workers: int) -> dict[str, Any]:
    """One warm-up call, then one measured call with the dask task stream recorded."""
    from sits_qgis.backend import Backend, BackendConfig, BackendMode
    from sits_qgis.tiling import raster_statistics

    passes = timed_passes()
    backend = Backend(BackendConfig(mode=BackendMode(mode), workers=workers))
    backend.start()
    workers_state: dict[str, Any] = {}
    compute: list[float] = []
    try:
        raster_statistics(raster, backend=backend)
        passes.clear()
        if backend.client is not None:
            from distributed import get_task_stream

            with get_task_stream(client=backend.client) as stream:
                start = time.perf_counter()
                stats = raster_statistics(raster, backend=backend)
                seconds = time.perf_counter() - start
            workers_state = backend.client.run(worker_state)
            compute = [
                s["stop"] - s["start"]
                for task in stream.data
                for s in task["startstops"]
                if s["action"] == "compute"
            ]
        else:
            start = time.perf_counter()
            stats = raster_statistics(raster, backend=backend)
            seconds = time.perf_counter() - start
    finally:
        backend.close()
    return {
        "mode": mode,
        "worker_allocator_env": [w["env"] for w in workers_state.values()],
        "worker_peak_rss_mib": [w["peak_rss_mib"] for w in workers_state.values()],
        "seconds": seconds,
        "passes": list(passes),
        "tasks": len(compute),
        "worker_compute_seconds": sum(compute),
        "stats": stats.values,
    }


def profile_tile_steps(raster: str) -> dict[str, Any]:
    """The per-tile building blocks of a statistics pass, timed over the whole raster.

    Each tile opens the raster here, to show what one open costs (the engine opens it
    once per task).
    """
    import rasterio
    from rasterio.windows import Window

    from sits_qgis.tiling.order_keys import to_keys
    from sits_qgis.tiling.quantiles import Query, evaluate
    from sits_qgis.tiling.reader import GDAL_CACHE_MIB, raster_info, valid_mask
    from sits_qgis.tiling.statistics import Moments
    from sits_qgis.tiling.tiles import tile_grid

    info = raster_info(raster)
    tiles = tile_grid(info.height, info.width, 512, info.block_shape)
    query = [Query(0, 0, False)]
    steps = ("open", "read", "mask", "moments", "keys", "histogram")
    seconds = dict.fromkeys(steps, 0.0)
    faults = dict.fromkeys(steps, 0)

    def clock() -> tuple[float, int]:
        return time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def add(step: str, before: tuple[float, int]) -> tuple[float, int]:
        now = clock()
        seconds[step] += now[0] - before[0]
        faults[step] += now[1] - before[1]
        return now

    for tile in tiles:
        mark = clock()
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MIB), rasterio.open(raster) as ds:
            mark = add("open", mark)
            data = ds.read(1, window=Window(tile.col, tile.row, tile.width, tile.height))
            mark = add("read", mark)
            valid = valid_mask(data, ds.nodata)
            values = data[valid] if not valid.all() else data.ravel()
            mark = add("mask", mark)
        Moments.of(values)
        mark = add("moments", mark)
        to_keys(values)
        mark = add("keys", mark)
        evaluate(values, query)  # computes the keys again, then the histogram
        add("histogram", mark)
    seconds["histogram"] -= seconds["keys"]
    return {
        "allocator_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "tiles": len(tiles),
        "seconds": seconds,
        "minor_faults_per_tile": {k: v / len(tiles) for k, v in faults.items()},
    }


def run_child(args: list[str], allocator: dict[str, str]) -> dict[str, Any]:
    """One measurement in a fresh process whose only ``MALLOC_`` variables are
    ``allocator`` (its dask workers inherit them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(allocator)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(raster: str, workers: int) -> dict[str, Any]:
    """Every variant, each in its own process."""
    runs = {}
    steps = {}
    for name, allocator in ALLOCATOR_VARIANTS.items():
        print(f"{name} ...", flush=True)
        runs[f"processes, {name}"] = run_child(
            ["--child", "processes", raster, str(workers)], allocator
        )
        steps[name] = run_child(["--steps", raster], allocator)
    runs["calling thread (sequential), engine as it is"] = run_child(
        ["--child", "sequential", raster, "1"], {}
    )
    return {"raster": raster, "workers": workers, "runs": runs, "tile_steps": steps}


def _env_text(envs: list[dict[str, str]]) -> str:
    """The workers' ``MALLOC_`` variables in a table cell."""
    distinct = {json.dumps(e, sort_keys=True) for e in envs}
    if not distinct:
        return "-"
    return "; ".join(
        ", ".join(f"{k}={v}" for k, v in json.loads(d).items()) or "none" for d in sorted(distinct)
    )


def render(result: dict[str, Any]) -> str:
    lines = [
        "# Where the engine's statistics time goes",
        "",
        f"Raster `{Path(result['raster']).name}`, {result['workers']} workers, second call"
        " (warm workers). Worker compute: the sum over tasks of their compute time in the"
        " workers (dask task stream).",
        "",
        "| Backend | Workers' MALLOC_ variables | Time (s) | Passes (s) | Tasks |"
        " Worker compute (s) | Worker peak RSS (MiB) |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for name, run in result["runs"].items():
        passes = " + ".join(f"{p['seconds']:.2f}" for p in run["passes"])
        rss = ", ".join(str(r) for r in run["worker_peak_rss_mib"]) or "-"
        lines.append(
            f"| {name} | {_env_text(run['worker_allocator_env'])} | {run['seconds']:.2f} |"
            f" {passes} | {run['tasks']} | {run['worker_compute_seconds']:.2f} | {rss} |"
        )
    reference = next(iter(result["runs"].values()))["stats"]
    differing = sorted(
        {
            name
            for run in result["runs"].values()
            for name, value in run["stats"].items()
            if value != reference[name]
        }
    )
    lines += [
        "",
        "Statistics of every row identical to the first row's: "
        + ("yes" if not differing else "no, differing: " + ", ".join(differing)),
        "",
        "Per-tile building blocks, summed over all tiles (one process, one core; opened"
        " per tile here, once per task in the engine):",
        "",
        "| MALLOC_ variables | " + " | ".join(next(iter(result["tile_steps"].values()))["seconds"]),
        "|---|" + "---:|" * 6,
    ]
    lines[-2] += " |"
    for name, steps in result["tile_steps"].items():
        cells = " | ".join(
            f"{s:.2f} s, {f:.0f} faults"
            for s, f in zip(steps["seconds"].values(), steps["minor_faults_per_tile"].values())
        )
        lines.append(f"| {name} | {cells} |")
    lines += ["", "(faults: minor page faults per tile)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        mode, raster, workers = argv[1:4]
        print(json.dumps(profile_backend(raster, mode, int(workers)), default=float))
        return 0
    if argv and argv[0] == "--steps":
        print(json.dumps(profile_tile_steps(argv[1])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raster", nargs="?", default=str(DEFAULT_RASTER))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "statistics_profile")
    args = parser.parse_args(argv)
    result = report(args.raster, workers=args.workers)
    markdown = render(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    args.output.with_suffix(".json").write_text(
        json.dumps(result, indent=1, default=float), encoding="utf-8"
    )
    print(markdown)
    return 0


if __name__ == "__main__":  # dask spawns workers that import this module
    sys.exit(main())
