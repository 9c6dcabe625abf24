"""What the benchmarks share: each method alone in a fresh process whose whole process
tree is sampled for memory (PSS and RSS every 50 ms), the CPU other processes took
meanwhile, best-of-N repetition, and the environment a report names.

Used by ``bench_statistics.py`` and ``bench_filter.py`` (project venv only: psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import math
import os
import platform
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

RESULTS_DIR = HERE / "results"
TMP_DIR = RESULTS_DIR / "tmp"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
GEOUTILS_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
SAMPLE_SECONDS = 0.05
MIB = 1024 * 1024


def write_results(name: str, payload: Any, markdown: str) -> None:
    """A benchmark's results: ``<name>.json`` (the figures, for other tools) and
    ``<name>.md`` (the report) in ``bench/results``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS_DIR / f"{name}.md").write_text(markdown)


@dataclass
class MemoryPeak:
    """What the sampler saw of one process tree."""

    pss_mib: float = 0.0
    rss_mib: float = 0.0
    processes: int = 0
    samples: int = 0
    #: Largest sum, over the processes alive at a sample, of each one's own peak RSS
    #: (VmHWM): an upper bound that also catches spikes shorter than the sampling
    #: interval (but not in processes that start and end between two samples).
    hwm_sum_mib: float = 0.0


@dataclass
class MethodRun:
    """One method on one raster: its own report plus what was measured from outside."""

    method: str
    size: str
    ok: bool
    seconds: float | None = None
    process_seconds: float = 0.0
    #: CPU used by processes other than the method's during the run, in cores: a run
    #: disturbed by other work on the machine shows here.
    other_load_cores: float = 0.0
    #: CPU this harness process (mostly the memory sampler: reading PSS walks the page
    #: tables) used during the run, in cores; it competes with the method for the cores.
    sampler_cores: float = 0.0
    #: Every repetition's time (the table shows the best: the least disturbed one).
    all_seconds: list[float] = field(default_factory=list)
    memory: MemoryPeak = field(default_factory=MemoryPeak)
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class TreeSampler(threading.Thread):
    """Samples PSS and RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = MemoryPeak()
        self.interval = interval
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.is_set():
            self.sample()
            self._finished.wait(self.interval)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        pss = rss = hwm = 0
        alive = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except psutil.Error:  # ended between listing and reading
                continue
            alive += 1
            pss += info.pss
            rss += info.rss
            hwm += max(_vm_hwm(proc.pid), info.rss)
        peak = self.peak
        peak.samples += 1
        peak.pss_mib = max(peak.pss_mib, pss / MIB)
        peak.rss_mib = max(peak.rss_mib, rss / MIB)
        peak.hwm_sum_mib = max(peak.hwm_sum_mib, hwm / MIB)
        peak.processes = max(peak.processes, alive)

    def stop(self) -> MemoryPeak:
        self._finished.set()
        self.join()
        return self.peak


def _vm_hwm(pid: int) -> int:
    """A process's own peak RSS in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def warm_page_cache(path: Path) -> None:
    """Read the file once so that every method starts from the same warm cache."""
    buffer = bytearray(16 * MIB)
    with open(path, "rb", buffering=0) as raw:
        while raw.readinto(buffer):
            pass


def _kill_tree(pid: int) -> None:
    """Stop a method's process and its descendants (they were started by us)."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


def run_method(
    method: str,
    size: str,
    command: list[str],
    output: Path,
    *,
    geoutils_venv: bool = False,
    warm: Path | None = None,
    timeout: float = 900.0,
) -> MethodRun:
    """Run ``command`` (a script that writes its JSON report to ``output``) in a fresh
    process, sampling its process tree's memory; ``warm`` is read first (page cache).

    The project is put on ``PYTHONPATH`` except for the GeoUtils venv's methods.
    The report needs ``seconds``; ``stats`` and ``extra`` are optional.
    """
    python = GEOUTILS_PYTHON if geoutils_venv else PROJECT_PYTHON
    run = MethodRun(method=method, size=size, ok=False)
    if not python.is_file():
        run.error = f"{python} missing (run bench/setup_geoutils.sh)"
        return run
    TMP_DIR.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    env = dict(os.environ)
    if geoutils_venv:
        env.pop("PYTHONPATH", None)  # its venv knows nothing of the project
    else:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if warm is not None:
        warm_page_cache(warm)
    cpu_before = _busy_cpu_seconds()
    own_before = _own_cpu_seconds()
    self_before = _self_cpu_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), *command], env=env, cwd=str(TMP_DIR), stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        _, stderr = proc.communicate()
        run.error = f"timed out after {timeout:.0f} s (hung?)"
    finally:
        run.memory = sampler.stop()
        run.process_seconds = time.perf_counter() - start
        other = (_busy_cpu_seconds() - cpu_before) - (_own_cpu_seconds() - own_before)
        run.other_load_cores = max(0.0, other / run.process_seconds)
        run.sampler_cores = (_self_cpu_seconds() - self_before) / run.process_seconds
    if not run.error and proc.returncode != 0:
        run.error = f"exit code {proc.returncode}: {stderr.strip().splitlines()[-1:]}"
    if not run.error:
        report = json.loads(output.read_text(encoding="utf-8"))
        run.ok = True
        run.seconds = report["seconds"]
        run.all_seconds = [run.seconds]
        run.stats = report.get("stats", {})
        run.extra = report.get("extra", {})
    return run


def _busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return (
        sum(times)
        - times.idle
        - getattr(times, "iowait", 0.0)
        - getattr(times, "guest", 0.0)
        - getattr(times, "guest_nice", 0.0)
    )


def _self_cpu_seconds() -> float:
    """CPU time of this process alone (the sampler thread, mostly)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _own_cpu_seconds() -> float:
    """CPU time of this process and of its waited-for descendants (the method's tree:
    each process waits for its own children, so the workers are included)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run_repeated(run_once: Callable[[], MethodRun], repeat: int) -> MethodRun:
    """The best (fastest) of ``repeat`` runs, with the largest peak memory of all of them.

    On a shared 2-core machine other work can only slow a run down, so the fastest run is
    the least disturbed one; memory does not get lower by chance, so the worst is kept.
    """
    runs = []
    for _ in range(repeat):
        run = run_once()
        runs.append(run)
        if not run.ok:
            return run
    best = min(runs, key=lambda r: r.seconds or math.inf)
    best.all_seconds = [r.seconds for r in runs if r.seconds is not None]
    best.memory = MemoryPeak(
        pss_mib=max(r.memory.pss_mib for r in runs),
        rss_mib=max(r.memory.rss_mib for r in runs),
        processes=max(r.memory.processes for r in runs),
        samples=sum(r.memory.samples for r in runs),
        hwm_sum_mib=max(r.memory.hwm_sum_mib for r in runs),
    )
    return best


def add_run_arguments(
    parser: argparse.ArgumentParser, *, timeout: float, repeat: int, output: Path
) -> None:
    """The options every benchmark takes: workers, chunk size, time limit, repeats and
    where the report goes."""
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per method")
    parser.add_argument(
        "--repeat", type=int, default=repeat, help="runs per method; the fastest is reported"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=output,
        help="path without suffix for the .md and .json results",
    )


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def environment() -> dict[str, Any]:
    """Machine and versions, so results can be compared across runs."""
    import dask
    import numpy
    import rasterio

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "rasterio": rasterio.__version__,
        "dask": dask.__version__,
        "git_commit": engine_version(),
    }


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False).stdout


def engine_version() -> str:
    """The commit, plus a hash of uncommitted changes to ``sits_qgis`` if there are any,
    so that a result can be tied to the code it measured."""
    commit = _git("rev-parse", "--short", "HEAD").decode().strip() or "unknown"
    digest = hashlib.sha1(_git("diff", "HEAD", "--", "sits_qgis"))
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", "sits_qgis").split()
    for name in sorted(untracked):
        digest.update(name + (ROOT / name.decode()).read_bytes())
    if digest.digest() == hashlib.sha1(b"").digest():
        return commit
    return f"{commit} + uncommitted sits_qgis changes (sha1 {digest.hexdigest()[:10]})"
