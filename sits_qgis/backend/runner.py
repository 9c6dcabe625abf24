"""Run many small tasks on the configured backend and hand back results as they finish.

Every algorithm of the plugin is a stream of independent tasks (a tile, a feature).
``Backend.run`` keeps a bounded number of them in flight, yields each result as soon as
it is ready (so the caller can write it and report progress), stops everything when the
user cancels, and turns a worker's exception into a ``TaskFailed`` that names the task.
"""

from __future__ import annotations

import ast
import importlib
import logging
import multiprocessing.spawn
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from ..errors import Cancelled, SitsError, TaskFailed, WorkItemError
from .config import BackendConfig, BackendMode
from .interpreter import worker_python

#: How often a wait for results looks at the cancel flag; cancel returns within this.
CANCEL_POLL_SECONDS = 0.1
#: How long to try to reach an existing scheduler before telling the user it is down.
SCHEDULER_CONNECT_SECONDS = 5
#: How long the restart of workers a cancel left busy may take.
RESTART_SECONDS = 30

IsCancelled = Callable[[], bool]

#: dask gives its worker processes MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's
#: mmap threshold at 128 KiB: every tile-sized temporary array is then a fresh mmap paid
#: in page faults, which made tiled statistics 2.2 times slower (bench/profile_statistics).
#: Memory here is bounded by the tasks in flight, so the trimming is not needed.
TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


@dataclass(frozen=True)
class Task:
    """One unit of work: a picklable function, its arguments, and a label for messages.

    The label ("tile rows 0-512, columns 512-1024", "feature 'a12'") is what the user
    reads when the task fails, so it says which part of the input it covers.
    """

    label: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Run a task's function in a worker.

    Submitting through this wrapper keeps the user's keyword arguments apart from
    ``Client.submit``'s own (``key``, ``pure``, ``workers``...).
    """
    return func(*args, **kwargs)


def describe_exception(exc: BaseException) -> str:
    """The worker's message in words, without a traceback."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return (
            "the worker process running it died (often: out of memory; lower the chunk"
            " size or raise the memory per worker)"
        )
    text = str(exc).strip()
    if "See previous exception" in text:  # rasterio: GDAL's own words are the cause
        causes = []
        cause = exc.__cause__ or exc.__context__
        while cause is not None and len(causes) < 3:
            causes.append(str(cause).strip())
            cause = cause.__cause__ or cause.__context__
        detail = "; ".join(c for c in causes if c) or text
        return f"the raster cannot be read there ({detail}): the file is damaged or truncated"
    return f"{name}: {text}" if text else name


def _work_item(exc: BaseException) -> WorkItemError | None:
    """The ``WorkItemError`` a task raised, also when dask could not rebuild it on this
    side and sent its text instead (``Exception("WorkItemError('tile ...', '...')")``)."""
    if isinstance(exc, WorkItemError):
        return exc
    text = str(exc)
    if type(exc) is Exception and text.startswith("WorkItemError("):
        try:
            label, message = ast.literal_eval(text[len("WorkItemError") :])
        except (ValueError, SyntaxError, TypeError):
            return None
        return WorkItemError(str(label), str(message))
    return None


def _import_all(modules: Sequence[str]) -> None:
    """Import modules in a worker (``Backend.start_soon``'s warm-up)."""
    for name in modules:
        importlib.import_module(name)


def task_failed(label: str, exc: BaseException) -> TaskFailed:
    """The error to raise for a failed task, naming the item that failed in it."""
    item = _work_item(exc)
    if item is not None:
        return TaskFailed(item.label, item.message)
    return TaskFailed(label, describe_exception(exc))


def _task_error(future: Any) -> BaseException:
    """Why a future did not finish: its exception, or what the cluster did to it."""
    if future.status == "error":
        exception = future.exception()
        if exception is not None:
            return exception
    return RuntimeError(
        f"the dask cluster gave up the task ({future.status}): a worker stopped or left"
        " while it ran it; run again, and check the workers' memory if it recurs"
    )


class Backend:
    """A place to run tasks: local processes, threads, the calling thread, or a cluster.

    Start-up costs one to two seconds for local processes, so one backend is kept per
    QGIS session (see ``session``) and reused by every run.
    """

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._client: Any = None
        self._cluster: Any = None
        self._saved_executable: str | bytes | None = None  # as multiprocessing keeps it
        self._lock = threading.Lock()
        self._start_error: Exception | None = None  # of a start_soon, for start to raise
        # the restart of the workers a cancel left busy: a next run waits for it, or
        # its first tasks would land on workers being restarted and be lost
        self._restarting: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers or connect to the scheduler; does nothing if already done.

        Waits for a ``start_soon`` under way, and raises the error it met, if any.
        """
        with self._lock:
            if self._start_error is not None:
                error, self._start_error = self._start_error, None
                raise error
            self._start_locked()

    def start_soon(self, warm_imports: Sequence[str] = ()) -> None:
        """Start in a background thread and have local workers import ``warm_imports``.

        Why: starting workers and importing what their tasks need takes one to two
        seconds per worker; started this way, it happens while the caller searches the
        catalogue instead of after (the tutorial's cube runs: 1.3 s less, measured).
        """
        if self.config.mode is BackendMode.SEQUENTIAL:
            return
        threading.Thread(
            target=self._start_in_background,
            args=(tuple(warm_imports),),
            name="sits-backend-start",
            daemon=True,
        ).start()

    def _start_in_background(self, warm_imports: tuple[str, ...]) -> None:
        with self._lock:
            try:
                self._start_locked()
            except Exception as exc:  # start() raises it in the caller's thread
                self._start_error = exc
                return
            client = self._client
        if warm_imports and self.config.mode is BackendMode.PROCESSES:
            try:
                client.run(_import_all, warm_imports)
            except Exception:  # only a head start: the tasks import, and report, again
                logging.getLogger(__name__).debug("warm-up imports failed", exc_info=True)

    def _start_locked(self) -> None:
        if self._client is not None or self.config.mode is BackendMode.SEQUENTIAL:
            return
        import dask
        from distributed import Client, LocalCluster

        mode = self.config.mode
        if mode is BackendMode.SCHEDULER:
            self._client = self._connect(Client)
            return
        if mode is BackendMode.PROCESSES:
            # Kept for the cluster's whole life, not only its start: the nanny
            # restarts a dead worker with the same interpreter setting.
            self._saved_executable = multiprocessing.spawn.get_executable()
            multiprocessing.spawn.set_executable(worker_python())
        try:
            with dask.config.set({TRIM_SETTING: None}):
                self._cluster = self._local_cluster(LocalCluster)
            self._client = Client(self._cluster, set_as_default=False)
        except Exception:
            self._close_locked()
            raise

    def _local_cluster(self, cluster_class: Any) -> Any:
        """A LocalCluster of worker processes (one thread each) or of threads."""
        processes = self.config.mode is BackendMode.PROCESSES
        memory = self.config.memory_per_worker_mib
        return cluster_class(
            n_workers=self.config.workers if processes else 1,
            threads_per_worker=1 if processes else self.config.workers,
            processes=processes,
            memory_limit=f"{memory}MiB" if memory else "auto",
            # Workers listen on loopback only (threads talk in-process), with TLS and
            # certificates made for this cluster alone (dask's Security.temporary), so no
            # other local process can connect and run code in the workers: measured,
            # 0.4 s more at the start of two workers, nothing per task.
            **({"host": "127.0.0.1", "security": True} if processes else {}),
            # dask's HTTP server (metrics, dashboard if bokeh is installed) on a free
            # loopback port, not on 8787 where another cluster may be.
            dashboard_address="127.0.0.1:0",
            # dask logs a failed task and a worker stopped by a cancel with tracebacks on
            # stderr; the run says what happened in its own words, so only its crashes
            silence_logs=logging.CRITICAL,
        )

    def _connect(self, client_class: Any) -> Any:
        address = self.config.scheduler_address.strip()
        try:
            return client_class(address, timeout=SCHEDULER_CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SitsError(
                f"Cannot reach the dask scheduler at '{address}' (setting 'Dask scheduler"
                f" address'): {describe_exception(exc)}. Check that the scheduler runs"
                " and the address is right, or choose local worker processes.",
                parameter="scheduler address",
            ) from None

    def close(self) -> None:
        """Stop the workers (or disconnect from the cluster) and release everything."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._saved_executable is not None:
            multiprocessing.spawn.set_executable(self._saved_executable)
            self._saved_executable = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (None in sequential mode or before start)."""
        return self._client

    def worker_pids(self) -> list[int]:
        """Process ids of the local workers (empty for threads and sequential modes)."""
        if self._cluster is None or self.config.mode is not BackendMode.PROCESSES:
            return []
        return [w.process.pid for w in self._cluster.workers.values() if w.process]

    # -- running ----------------------------------------------------------------------
    def run(
        self, tasks: Iterable[Task], is_cancelled: IsCancelled | None = None
    ) -> Iterator[tuple[Task, Any]]:
        """Yield ``(task, result)`` pairs in the order the tasks finish.

        At most ``config.max_in_flight`` tasks are submitted and not yet consumed, so
        memory stays bounded whatever the number of tasks. Raises ``Cancelled`` soon
        after ``is_cancelled()`` turns true and ``TaskFailed`` on the first failing task;
        in both cases, and when the caller stops iterating, the remaining tasks are
        cancelled before control returns.
        """
        cancelled = is_cancelled or (lambda: False)
        if self.config.mode is BackendMode.SEQUENTIAL:
            yield from self._run_here(tasks, cancelled)
            return
        restarting = self._restarting
        if restarting is not None:
            restarting.join(RESTART_SECONDS + 5)
        self.start()
        self._ensure_workers()
        yield from self._run_distributed(tasks, cancelled)

    def _ensure_workers(self) -> None:
        """Start the local cluster anew when it has fewer workers than configured.

        A worker whose connection to the scheduler breaks stops for good, and its nanny
        with it (dask's "worker-handle-scheduler-connection-broken": seen over TLS on a
        loaded machine, just after the worker registered); a nanny whose worker does not
        come back from a restart in time closes itself too. Rather than run one worker
        short, or wait on none, the next run gets a whole new cluster (2-4 s).
        """
        if self.config.mode is not BackendMode.PROCESSES:
            return
        with self._lock:
            client = self._client
            try:
                short = client is not None and (
                    len(client.scheduler_info().get("workers", {})) < self.config.workers
                )
            except Exception:  # the scheduler itself is gone
                short = True
            if short:
                logging.getLogger(__name__).debug("a worker was lost: new cluster")
                self._close_locked()
                self._start_locked()

    @staticmethod
    def _run_here(tasks: Iterable[Task], cancelled: IsCancelled) -> Iterator[tuple[Task, Any]]:
        for task in tasks:
            if cancelled():
                raise Cancelled()
            try:
                result = task.func(*task.args, **task.kwargs)
            except Exception as exc:
                raise task_failed(task.label, exc) from exc
            yield task, result

    def _run_distributed(
        self, tasks: Iterable[Task], cancelled: IsCancelled
    ) -> Iterator[tuple[Task, Any]]:
        client = self._client
        queue = iter(tasks)
        pending: dict[Any, Task] = {}
        # Filled by the client's event loop thread as futures finish: a blocking get
        # with a short timeout wakes up at once for a result and regularly for cancel.
        finished: SimpleQueue[Any] = SimpleQueue()
        resubmitted: set[int] = set()  # ids of the tasks run once more
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.config.max_in_flight:
                    task = next(queue, None)
                    if task is None:
                        exhausted = True
                        break
                    future = client.submit(_call, task.func, task.args, task.kwargs, pure=False)
                    pending[future] = task
                    future.add_done_callback(finished.put)
                if not pending:
                    return
                try:
                    future = finished.get(timeout=CANCEL_POLL_SECONDS)
                except Empty:
                    future = None
                if cancelled():
                    raise Cancelled()
                if future is None:
                    continue
                task = pending.pop(future)
                if future.status == "cancelled" and id(task) not in resubmitted:
                    # cancelled by the cluster, not by us (a worker restarted or left
                    # while it held the task): run it once more
                    resubmitted.add(id(task))
                    future = client.submit(_call, task.func, task.args, task.kwargs, pure=False)
                    pending[future] = task
                    future.add_done_callback(finished.put)
                    continue
                if future.status != "finished":
                    raise task_failed(task.label, _task_error(future))
                result = future.result()
                future.release()
                yield task, result
        finally:
            if pending:
                self._abort(list(pending))

    def _abort(self, futures: list[Any]) -> None:
        """Cancel outstanding tasks and stop those already running in local workers.

        A running Python function cannot be interrupted inside a worker, so local worker
        processes busy with our tasks are restarted (in the background, so that cancel
        returns at once). Workers of a shared cluster are never restarted, and threads
        cannot be: their current task runs to its end.
        """
        client = self._client
        keys = {f.key for f in futures}
        busy: list[str] = []
        if self.config.mode is BackendMode.PROCESSES:
            try:
                busy = [w for w, ks in client.processing().items() if keys.intersection(ks)]
            except Exception:  # the scheduler may be gone already; nothing left to stop
                busy = []
        client.cancel(futures, force=True)
        if busy:
            self._restarting = threading.Thread(
                target=self._restart_workers, args=(busy,), daemon=True, name="sits-restart"
            )
            self._restarting.start()

    def _restart_workers(self, workers: list[str]) -> None:
        """Restart these workers; one that does not come back in time is replaced with
        the whole cluster by the next run (``_ensure_workers``)."""
        client = self._client
        if client is None:
            return
        try:
            client.restart_workers(workers, timeout=RESTART_SECONDS, raise_for_error=False)
        except Exception:  # backend closed meanwhile: the processes are gone anyway
            logging.getLogger(__name__).debug("worker restart after cancel failed", exc_info=True)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Whether all workers are up and idle within ``timeout`` seconds (for tests and
        for a run that follows a cancel)."""
        deadline = time.monotonic() + timeout
        restarting = self._restarting
        if restarting is not None:
            restarting.join(timeout)
        self._ensure_workers()
        while time.monotonic() < deadline:
            client = self._client
            if client is None:  # closed (a restart that lost a worker): the next run starts anew
                return True
            workers = client.scheduler_info().get("workers", {})
            expected = self.config.workers if self.config.mode is BackendMode.PROCESSES else 1
            if len(workers) >= expected and not any(client.processing().values()):
                return True
            time.sleep(0.1)
        return False
