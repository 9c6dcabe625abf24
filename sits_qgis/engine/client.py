"""Start the engine process, send it requests and read back what it says.

Imported in QGIS's process: the standard library only. One client per QGIS session
(``session_client``), started on first use with the engine environment's Python,
reused by every run, stopped when the plugin unloads; a client whose process died is
replaced by a fresh one at the next request.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Cancelled, SitsError
from . import protocol

#: The folder that holds the ``sits_qgis`` package: the engine process imports the
#: engine from there, so the engine's code is always the plugin's own.
ENGINE_PATH = str(Path(__file__).resolve().parents[2])
#: Seconds to wait for a new engine to say it is ready (a first start compiles files).
START_TIMEOUT_S = 120.0
#: Seconds the engine has to stop its work after a cancel before it is killed.
CANCEL_GRACE_S = 10.0
#: Variables of QGIS's environment that would make the engine's Python load QGIS's
#: packages, or its wheels' GDAL and PROJ read QGIS's data files (PROJ_DATA set for
#: another PROJ breaks the rasterio wheel's).
DROPPED_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "PROJ_LIB",
    "PROJ_DATA",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "__PYVENV_LAUNCHER__",
)

Event = Callable[[str, Any], None]


class EngineError(SitsError):
    """The engine reported an error, or could not be started or reached."""

    def __init__(self, message: str, parameter: str | None = None, kind: str = "user") -> None:
        super().__init__(message, parameter)
        self.kind = kind


class EngineDied(EngineError):
    """The engine process ended while a request was running."""


def engine_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the engine process: QGIS's, without its Python and data paths,
    with the engine's code on the path."""
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    for name in DROPPED_VARIABLES:
        env.pop(name, None)
    env["PYTHONPATH"] = ENGINE_PATH
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class EngineClient:
    """One engine process and the requests running in it."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.process: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, queue.SimpleQueue] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ready = threading.Event()
        self._first_errors: list[str] = []
        self._last_errors: collections.deque[str] = collections.deque(maxlen=40)

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process and wait until it says it is ready, or say why not."""
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            kwargs["creationflags"] = (
                subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
            )
        else:
            kwargs["start_new_session"] = True  # its own process group: killed as one
        try:
            # The engine's own Python.
            self.process = subprocess.Popen(  # nosec B603
                [self.python, "-m", "sits_qgis.engine.server"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=engine_environment(),
                cwd=ENGINE_PATH,
                **kwargs,
            )
        except OSError as exc:
            raise EngineError(
                f"The engine's Python ({self.python}) cannot be started: {exc}. Set up the"
                " engine again (Plugins > SITS > Set up the engine…)."
            ) from None
        threading.Thread(target=self._read_messages, daemon=True, name="sits-engine-out").start()
        threading.Thread(target=self._read_errors, daemon=True, name="sits-engine-err").start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise EngineError(
                    f"The engine ({self.python}) did not start: "
                    + (self.error_lines(first=True) or "it said nothing.")
                    + " Set up the engine again (Plugins > SITS > Set up the engine…)."
                )
        if self.info.get("protocol") != protocol.PROTOCOL_VERSION:
            self.close()
            raise EngineError(
                f"The engine at {self.python} speaks protocol {self.info.get('protocol')},"
                f" the plugin {protocol.PROTOCOL_VERSION}: restart QGIS."
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self, timeout: float = 10.0) -> None:
        """Stop the engine: the end of its input stops its workers, then it exits."""
        if self.process is None:
            return
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        """Kill the engine and everything it started (its process group), at once."""
        if self.process is None:
            return
        try:
            if os.name == "nt":
                windows = os.environ.get("SYSTEMROOT", r"C:\Windows")
                taskkill = Path(windows, "System32", "taskkill.exe")
                # Windows' own taskkill, by its full path.
                subprocess.run(  # nosec B603
                    [str(taskkill), "/F", "/T", "/PID", str(self.process.pid)],
                    capture_output=True, check=False,
                    creationflags=subprocess.CREATE_NO_WINDOW,
                )  # fmt: skip
            else:
                os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    # -- reading ---------------------------------------------------------------------

    def _read_messages(self) -> None:
        if self.process is None or self.process.stdout is None:
            return
        for line in self.process.stdout:
            try:
                message = protocol.decode(line)
            except ValueError:
                self._last_errors.append(line.decode("utf-8", "replace").rstrip())
                continue
            if "ready" in message:
                self.info = message["ready"]
                self._ready.set()
                continue
            with self._lock:
                target = self._pending.get(message.get("id"))
            if target is not None:
                target.put(message)
        self.process.wait()
        with self._lock:
            for target in self._pending.values():
                target.put(None)  # the process ended: every waiting request fails

    def _read_errors(self) -> None:
        if self.process is None or self.process.stderr is None:
            return
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            if len(self._first_errors) < 20:
                self._first_errors.append(line)
            self._last_errors.append(line)

    def error_lines(self, first: bool = False) -> str:
        """What the engine wrote on its error output (first or last lines), joined."""
        lines = self._first_errors if first else list(self._last_errors)
        return " | ".join(lines[:12] if first else lines[-12:])

    # -- requests --------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if self.process is None or self.process.stdin is None:
            raise EngineDied("The engine process is not running.")
        with self._write_lock:
            self.process.stdin.write(protocol.encode(message))
            self.process.stdin.flush()

    def call(
        self,
        op: str,
        params: dict[str, Any],
        on_event: Event | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        kill_on_cancel: bool = False,
    ) -> Any:
        """Run ``op`` in the engine; ``on_event(event, data)`` gets what it streams, in
        the calling thread. Raises ``Cancelled``, ``EngineError`` or ``EngineDied``.
        ``kill_on_cancel``: a cancel kills the engine at once instead of asking it to stop
        its work (for a process about to exit: no engine is kept for a next run)."""
        request_id = next(self._ids)
        answers: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._pending[request_id] = answers
        try:
            try:
                self._send({"id": request_id, "op": op, "params": params})
            except (OSError, ValueError):
                raise self._died() from None
            if kill_on_cancel and is_cancelled is not None:
                is_cancelled = self._killing(is_cancelled)
            return self._wait(request_id, answers, on_event, is_cancelled)
        except KeyboardInterrupt:
            # Ctrl+C (SIGINT) in qgis_process or a console: the process is to end now,
            # and nothing of the run may outlive it; the engine's whole process group
            # (its workers too) goes at once, instead of a graceful stop of seconds
            self.kill()
            raise
        finally:
            with self._lock:
                self._pending.pop(request_id, None)

    def _killing(self, is_cancelled: Callable[[], bool]) -> Callable[[], bool]:
        """``is_cancelled`` that kills the engine's process group when it turns true (the
        wait then sees the engine gone and raises ``Cancelled``)."""

        def check() -> bool:
            if is_cancelled():
                self.kill()
                return True
            return False

        return check

    def _wait(
        self,
        request_id: int,
        answers: queue.SimpleQueue,
        on_event: Event | None,
        is_cancelled: Callable[[], bool] | None,
    ) -> Any:
        cancel_sent: float | None = None
        while True:
            if cancel_sent is None and is_cancelled is not None and is_cancelled():
                cancel_sent = time.monotonic()
                try:
                    self._send({"id": request_id, "cancel": True})
                except (OSError, ValueError):  # gone (killed on cancel): cancelled all the same
                    raise Cancelled() from None
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                self.kill()  # it does not stop: stop it, the next run starts a fresh one
                raise Cancelled()
            try:
                message = answers.get(timeout=0.05)
            except queue.Empty:
                continue
            if message is None:
                if cancel_sent is not None:
                    raise Cancelled()
                raise self._died()
            if "event" in message:
                if on_event is not None and cancel_sent is None:
                    try:
                        on_event(message["event"], message.get("data"))
                    except BaseException:
                        # The caller can take no more (a sink refused a feature): the
                        # engine's work for this request stops too.
                        with contextlib.suppress(OSError, ValueError):
                            self._send({"id": request_id, "cancel": True})
                        raise
                continue
            if "error" in message:
                error = message["error"]
                if error.get("kind") == "cancelled":
                    raise Cancelled()
                raise EngineError(error.get("message", ""), error.get("parameter"), error["kind"])
            return message.get("result")

    def _died(self) -> EngineDied:
        code = self.process.poll() if self.process else None
        how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        said = self.error_lines()
        return EngineDied(
            f"The engine process stopped during the run ({how})."
            + (f" Its last words: {said}" if said else "")
            + " The next run starts a new engine.",
            kind="died",
        )


_session: EngineClient | None = None
_session_lock = threading.Lock()


def session_client(python: str) -> EngineClient:
    """The session's engine for ``python``, started if it is not running."""
    global _session
    with _session_lock:
        if _session is not None and (_session.python != python or not _session.alive()):
            _session.close()
            _session = None
        if _session is None:
            client = EngineClient(python)
            client.start()
            _session = client
        return _session


def shutdown_session() -> None:
    """Stop the session's engine, if one runs (plugin unload, QGIS exit)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
            _session = None


def running_session() -> EngineClient | None:
    """The session's engine if it runs (the tests look at its processes)."""
    return _session if _session is not None and _session.alive() else None
