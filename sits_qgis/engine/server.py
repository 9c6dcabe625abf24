"""The engine process: ``python -m sits_qgis.engine.server``, started by the client.

It reads requests from its standard input, runs each in a thread of its own (two
Processing runs may overlap), and writes progress, log lines, streamed results and the
result or error of each request to a private copy of its standard output; what
libraries print goes to standard error instead, so it can never corrupt a message.
The end of standard input (QGIS quit, the plugin unloaded, or QGIS died) stops the
backend's workers and the process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from ..errors import Cancelled, SitsError
from . import protocol

#: Progress messages are sent at most this often (a run may report thousands of tiles).
PROGRESS_INTERVAL_S = 0.1


class Channel:
    """What an operation may say while it runs, for one request."""

    def __init__(self, request_id: int, send: Callable[[dict[str, Any]], None]) -> None:
        self.request_id = request_id
        self._send = send
        self.cancelled = threading.Event()
        self._last_progress = 0.0

    def emit(self, event: str, data: Any) -> None:
        """A streamed result or notice (``outcome``, ``plan``...), delivered in order."""
        self._send({"id": self.request_id, "event": event, "data": data})

    def progress(self, percent: float) -> None:
        """The run's progress in percent (``sits_qgis.progress``), sent at most every
        ``PROGRESS_INTERVAL_S`` and always at 100."""
        now = time.monotonic()
        if percent >= 100 or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.emit("progress", float(percent))

    def log(self, text: str, level: str = "info") -> None:
        """A line for the Processing log (``info`` or ``warning``)."""
        self.emit("log", {"level": level, "text": text})

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


def error_message(exc: BaseException) -> dict[str, Any]:
    """An exception as the client shows it: the user's words, never a traceback."""
    if isinstance(exc, Cancelled):
        return {"kind": "cancelled", "message": "Cancelled."}
    if isinstance(exc, SitsError):
        return {"kind": "user", "message": str(exc), "parameter": exc.parameter}
    return {"kind": "unexpected", "message": f"{type(exc).__name__}: {exc}"}


class Server:
    """Requests in, messages out; one thread per request."""

    def __init__(self, requests: BinaryIO, messages: BinaryIO) -> None:
        self.requests = requests
        self.messages = messages
        self.write_lock = threading.Lock()
        self.channels: dict[int, Channel] = {}

    def send(self, message: dict[str, Any]) -> None:
        data = protocol.encode(message)
        with self.write_lock:
            self.messages.write(data)
            self.messages.flush()

    def serve(self) -> None:
        """Answer requests until standard input ends."""
        from .operations import ready_info

        self.send({"ready": ready_info()})
        for line in self.requests:
            if not line.strip():
                continue
            try:
                message = protocol.decode(line)
            except ValueError as exc:
                print(f"engine: ignored a malformed request: {exc}", file=sys.stderr)
                continue
            request_id = message.get("id")
            if message.get("cancel"):
                channel = self.channels.get(request_id)
                if channel is not None:
                    channel.cancelled.set()
                continue
            channel = Channel(request_id, self.send)
            self.channels[request_id] = channel
            threading.Thread(
                target=self.answer, args=(channel, message), name=f"request-{request_id}",
                daemon=True,
            ).start()  # fmt: skip
        self.stop()

    def answer(self, channel: Channel, message: dict[str, Any]) -> None:
        """Run one request and send its result or error."""
        from .operations import OPERATIONS

        try:
            operation = OPERATIONS.get(message.get("op", ""))
            if operation is None:
                raise SitsError(f"The engine has no operation '{message.get('op')}'.")
            result = operation(message.get("params") or {}, channel)
            reply = {"id": channel.request_id, "result": result}
        except BaseException as exc:  # every failure must reach the client as a message
            if not isinstance(exc, (SitsError, Cancelled)):
                traceback.print_exc(file=sys.stderr)
            reply = {"id": channel.request_id, "error": error_message(exc)}
        finally:
            self.channels.pop(channel.request_id, None)
        with contextlib.suppress(OSError, ValueError):  # the client may be gone
            self.send(reply)

    def stop(self) -> None:
        """Cancel what runs and stop the backend's workers."""
        for channel in list(self.channels.values()):
            channel.cancelled.set()
        from ..backend.session import shutdown

        shutdown()


def main() -> None:
    """Keep a private copy of standard output for messages; send fd 1 to standard error."""
    messages = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    Server(sys.stdin.buffer, messages).serve()
    sys.stderr.flush()
    os._exit(0)  # no waiting on threads of libraries that linger (dask's, GDAL's)


if __name__ == "__main__":
    main()
