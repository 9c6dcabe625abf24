"""The backend with real worker processes, threads, a real dask scheduler."""

from __future__ import annotations

import multiprocessing.spawn
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
import tile_functions as tf

from sits_qgis.backend import Backend, BackendConfig, BackendMode, Task, get_backend, shutdown
from sits_qgis.errors import Cancelled, SitsError, TaskFailed

VENV_BIN = Path(sys.executable).parent


def tasks(func, values, *extra):
    return [Task(f"item {v}", func, (*extra, v)) for v in values]


def test_processes_run_in_other_processes(processes_backend):
    results = [r for _, r in processes_backend.run(tasks(tf.pid_and_value, range(20)))]
    pids = {pid for pid, _ in results}
    assert sorted(v for _, v in results) == list(range(20))
    assert os.getpid() not in pids
    assert pids <= set(processes_backend.worker_pids())
    assert len(processes_backend.worker_pids()) == 2


def test_threads_run_in_this_process_and_sequential_in_this_thread():
    threaded = Backend(BackendConfig(mode=BackendMode.THREADS, workers=2))
    try:
        results = [r for _, r in threaded.run(tasks(tf.thread_and_pid, range(8)))]
    finally:
        threaded.close()
    assert {pid for pid, _ in results} == {os.getpid()}
    assert threading.get_ident() not in {tid for _, tid in results}
    here = Backend(BackendConfig(mode=BackendMode.SEQUENTIAL))
    results = [r for _, r in here.run(tasks(tf.thread_and_pid, range(3)))]
    assert {r for r in results} == {(os.getpid(), threading.get_ident())}


def test_bounded_number_of_tasks_in_flight(processes_backend):
    """Tasks are pulled from the caller's iterator only as results are consumed."""
    pulled = 0

    def source():
        nonlocal pulled
        for value in range(40):
            pulled += 1
            yield Task(f"item {value}", tf.sleep_then, (0.01, value))

    consumed = 0
    for _ in processes_backend.run(source()):
        consumed += 1
        assert pulled - consumed <= processes_backend.config.max_in_flight
    assert consumed == 40


def test_worker_exception_names_the_task(processes_backend):
    with pytest.raises(TaskFailed) as error:
        list(processes_backend.run(tasks(tf.fail_on, range(10), 7)))
    assert error.value.label == "item 7"
    assert "ValueError: value 7 is not allowed" in str(error.value)
    # the backend is still usable afterwards
    assert len(list(processes_backend.run(tasks(tf.pid_and_value, range(4))))) == 4


def test_cancel_returns_fast_and_stops_running_work(processes_backend):
    assert processes_backend.wait_until_idle(30)
    started = time.monotonic()
    flag = threading.Event()
    threading.Timer(0.5, flag.set).start()
    busy_pids = set(processes_backend.worker_pids())
    with pytest.raises(Cancelled):
        list(processes_backend.run(tasks(tf.sleep_then, range(6), 60), flag.is_set))
    assert time.monotonic() - started < 0.5 + 2.0
    # the workers that were sleeping are replaced by fresh processes
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and busy_pids & set(processes_backend.worker_pids()):
        time.sleep(0.2)
    assert not busy_pids & set(processes_backend.worker_pids())
    assert not any(psutil.pid_exists(pid) for pid in busy_pids)
    assert processes_backend.wait_until_idle(30)
    assert len(list(processes_backend.run(tasks(tf.pid_and_value, range(4))))) == 4


def test_a_run_right_after_a_cancel_gets_every_result(processes_backend):
    """A run that starts while the workers a cancel left busy are being restarted waits
    for them, instead of losing its first tasks to the restart."""
    assert processes_backend.wait_until_idle(30)
    flag = threading.Event()
    threading.Timer(0.3, flag.set).start()
    with pytest.raises(Cancelled):
        list(processes_backend.run(tasks(tf.sleep_then, range(6), 60), flag.is_set))
    results = sorted(v for _, (_, v) in processes_backend.run(tasks(tf.pid_and_value, range(8))))
    assert results == list(range(8))
    assert processes_backend.wait_until_idle(30)


def test_close_leaves_no_worker_process():
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=2))
    backend.start()
    pids = backend.worker_pids()
    assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
    backend.close()
    time.sleep(0.5)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert os.fsdecode(multiprocessing.spawn.get_executable()) == sys.executable


def test_a_worker_lost_for_good_is_replaced_by_the_next_run():
    """A worker that stops with its nanny (as one whose connection to the scheduler
    broke does) leaves the cluster a worker short: the next run gets a full cluster."""
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=2))
    try:
        backend.start()
        lost = next(iter(backend.client.scheduler_info()["workers"]))
        backend.client.retire_workers([lost], close_workers=True)
        deadline = time.monotonic() + 30
        while len(backend.client.scheduler_info()["workers"]) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)  # and its nanny does not bring it back
        assert len(backend.client.scheduler_info()["workers"]) == 1
        results = [r for _, r in backend.run(tasks(tf.pid_and_value, range(8)))]
        assert sorted(v for _, v in results) == list(range(8))
        # the client's view of the scheduler is refreshed every 2 s: allow it to catch up
        deadline = time.monotonic() + 30
        while len(backend.client.scheduler_info()["workers"]) < 2:
            assert time.monotonic() < deadline, backend.client.scheduler_info()["workers"]
            time.sleep(0.2)
        assert lost not in backend.client.scheduler_info()["workers"]
    finally:
        backend.close()


def test_session_reuses_backend_and_restarts_on_new_settings():
    config = BackendConfig(mode=BackendMode.THREADS, workers=1)
    try:
        first = get_backend(config)
        assert get_backend(config) is first
        second = get_backend(BackendConfig(mode=BackendMode.THREADS, workers=2))
        assert second is not first and first.client is None
    finally:
        shutdown()


def test_workers_start_with_the_right_python_when_sys_executable_is_wrong(tmp_path):
    """As in QGIS, where sys.executable is another python3 or the QGIS binary."""
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.executable = {str(fake)!r}
            import multiprocessing.spawn
            multiprocessing.spawn.set_executable(sys.executable)
            sys.path.insert(0, {str(Path(tf.__file__).parent)!r})
            import tile_functions as tf
            from sits_qgis.backend import Backend, BackendConfig, Task

            if __name__ == "__main__":
                backend = Backend(BackendConfig(workers=2))
                backend.start()
                print("EXE", os.fsdecode(multiprocessing.spawn.get_executable()))
                pids = {{r[0] for _, r in backend.run(
                    Task(str(i), tf.pid_and_value, (i,)) for i in range(8))}}
                print("OTHER", os.getpid() not in pids and bool(pids))
                backend.close()
                print("RESTORED", os.fsdecode(multiprocessing.spawn.get_executable()))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    ).stdout
    assert "OTHER True" in out
    exe = out.split("EXE ")[1].split()[0]
    assert exe != str(fake) and Path(exe).is_file()
    assert f"RESTORED {fake}" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A real scheduler and worker, started as separate processes like a real cluster."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # Like a real cluster, scheduler and workers need the task functions installed (the
    # engine is, in the venv); the tests' functions come through PYTHONPATH.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(tf.__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    scheduler = subprocess.Popen(
        [
            str(VENV_BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    worker = subprocess.Popen(
        [
            str(VENV_BIN / "dask"),
            "worker",
            address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        yield address, worker
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def test_existing_scheduler(dask_cluster):
    address, worker = dask_cluster
    backend = Backend(BackendConfig(mode=BackendMode.SCHEDULER, scheduler_address=address))
    deadline = time.monotonic() + 60
    while True:  # the scheduler takes a moment to listen
        try:
            backend.start()
            break
        except SitsError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        backend.client.wait_for_workers(1, timeout=60)
        results = [r for _, r in backend.run(tasks(tf.pid_and_value, range(6)))]
    finally:
        backend.close()
    pids = {pid for pid, _ in results}
    assert os.getpid() not in pids
    assert pids <= {p.pid for p in psutil.Process(worker.pid).children(recursive=True)}


def test_unreachable_scheduler_is_a_clear_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    backend = Backend(BackendConfig(mode=BackendMode.SCHEDULER, scheduler_address=address))
    started = time.monotonic()
    with pytest.raises(SitsError, match="Cannot reach the dask scheduler") as error:
        backend.start()
    assert address in str(error.value)
    assert error.value.parameter == "scheduler address"
    assert time.monotonic() - started < 20


def test_start_soon_starts_the_workers_in_the_background_and_warms_their_imports():
    """Two rarely imported standard modules stand for the engine's; a module that does
    not exist only ends the warm-up (the tasks would import and report it)."""
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=1))
    try:
        started = time.monotonic()
        backend.start_soon(["tabnanny", "pyclbr", "no_such_module_anywhere"])
        assert time.monotonic() - started < 0.5  # the caller goes on at once
        results = [r for _, r in backend.run(tasks(tf.pid_and_value, range(4)))]
        assert sorted(v for _, v in results) == list(range(4))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [(_, warm)] = backend.run([Task("look", tf.imported, (["tabnanny", "pyclbr"],))])
            if warm:
                break
            time.sleep(0.1)
        assert warm == ["tabnanny", "pyclbr"]
    finally:
        backend.close()
    assert tf.imported(["tabnanny", "pyclbr"]) == []  # in the worker, not in this process


def test_a_start_soon_that_fails_is_reported_by_the_next_start():
    address = f"tcp://127.0.0.1:{_free_port()}"
    backend = Backend(BackendConfig(mode=BackendMode.SCHEDULER, scheduler_address=address))
    backend.start_soon()
    with pytest.raises(SitsError, match="Cannot reach the dask scheduler"):
        backend.start()


def test_bad_settings_are_refused():
    with pytest.raises(SitsError, match="no scheduler address"):
        BackendConfig(mode=BackendMode.SCHEDULER)
    with pytest.raises(SitsError, match="at least 1"):
        BackendConfig(workers=0)


def test_memory_per_worker_reaches_the_workers():
    backend = Backend(
        BackendConfig(mode=BackendMode.PROCESSES, workers=1, memory_per_worker_mib=300)
    )
    backend.start()
    try:
        workers = backend.client.scheduler_info()["workers"].values()
        assert [w["memory_limit"] for w in workers] == [300 * 2**20]
    finally:
        backend.close()


def test_no_other_process_can_use_the_local_workers(processes_backend, tmp_path):
    """The local cluster speaks TLS with certificates made for it alone: a process
    without them (plain TCP, TLS without certificates, or its own temporary ones)
    cannot connect, so it cannot run code in the workers."""
    import subprocess
    import sys

    address = processes_backend.client.scheduler.address
    assert address.startswith("tls://127.0.0.1:")
    marker = tmp_path / "intruder-ran"
    attempts = {
        "plain tcp": f"Client({address.replace('tls://', 'tcp://')!r}, timeout=5)",
        "tls, no certificate": f"Client({address!r}, timeout=5)",
        "tls, other certificates": (
            f"Client({address!r}, timeout=5, security=Security.temporary())"
        ),
    }
    for name, connect in attempts.items():
        script = (
            "from distributed import Client\nfrom distributed.security import Security\n"
            f"client = {connect}\n"
            f"client.run(lambda: open({str(marker)!r}, 'w').write('x'))\n"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
            )
            assert done.returncode != 0, name
        except subprocess.TimeoutExpired:
            pass  # its handshake never completed (seen on sid): refused all the same
        assert not marker.exists(), name
    results = [r for _, r in processes_backend.run(tasks(tf.pid_and_value, range(4)))]
    assert sorted(v for _, v in results) == [0, 1, 2, 3]  # ours still works
