"""A static file server with HTTP Range support that behaves like a cloud object store
seen from a desktop, and logs every request to a file.

RangeHTTPServer gives the Range support GDAL needs to read COGs. On top of it:

- **a log** of every request (method, path, Range header, status, bytes of the body
  sent, one tab-separated line each), so that benchmarks count the requests and the
  bytes a run moves;
- **keep-alive** (HTTP/1.1) and a log kept open: a cloud object store does not open a
  connection per request, and with one per request this server was the bottleneck of
  every benchmark client at about 400 requests per second;
- **a latency** per request (``--latency-ms``, slept before each answer, concurrently
  for concurrent requests): the time of a request to a remote store is the network's;
- **a bandwidth cap shared by every connection** (``--mbit``): the body goes out in
  64 KiB pieces, each of which waits for its turn on one simulated link, so that ten
  connections share the link as they share a user's real one;
- **path mapping** (``--paths``, a JSON object from URL path to a file under ROOT,
  read again whenever it changes): a few physical files serve many dates, so that a
  catalogue of full-size files fits on the disk.

Usage: ``python range_file_server.py ROOT PORT LOG [LATENCY_MS] [--latency-ms MS]
[--mbit MBIT] [--paths MAP.json]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from RangeHTTPServer import RangeRequestHandler

#: The piece of a body that waits for its turn on the shared link.
PIECE = 64 * 1024


class Link:
    """One network link shared by every connection: at most ``bytes_per_second``.

    A virtual clock: each piece reserves the next free slot of the link, as long as
    its size takes at the link's rate, and its sender sleeps until the slot ends. No
    token bucket burst: what a link of that rate could not have carried is not sent.
    """

    def __init__(self, bytes_per_second: float) -> None:
        self.rate = bytes_per_second
        self._free_at = 0.0
        self._lock = threading.Lock()

    def carry(self, size: int) -> None:
        with self._lock:
            start = max(time.monotonic(), self._free_at)
            self._free_at = start + size / self.rate
            end = self._free_at
        delay = end - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class _Counted:
    """The connection's output as the body goes out: pieces over the link, counted."""

    def __init__(self, output: IO[bytes], link: Link | None) -> None:
        self.output = output
        self.link = link
        self.sent = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        for start in range(0, len(view), PIECE):
            piece = view[start : start + PIECE]
            if self.link is not None:
                self.link.carry(len(piece))
            self.output.write(piece)
            self.sent += len(piece)
        return len(data)


class StoreHandler(RangeRequestHandler):
    """Range requests answered as a remote object store would, each logged."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    log: IO[str]
    log_lock = threading.Lock()
    latency_seconds = 0.0
    link: Link | None = None
    paths_file: Path | None = None
    _paths: tuple[float, dict[str, str]] = (-1.0, {})
    _paths_lock = threading.Lock()
    root = "."
    body_bytes = 0

    @classmethod
    def mapping(cls) -> dict[str, str]:
        """The path mapping as the file says it now: the catalogue that writes it is
        made once the server runs (its items need the server's address)."""
        if cls.paths_file is None:
            return {}
        with cls._paths_lock:
            try:
                changed = cls.paths_file.stat().st_mtime
            except FileNotFoundError:
                return {}
            if changed != cls._paths[0]:
                cls._paths = (changed, json.loads(cls.paths_file.read_text()))
            return cls._paths[1]

    def translate_path(self, path: str) -> str:
        mapped = self.mapping().get(unquote(urlsplit(path).path))
        if mapped is not None:
            return os.path.join(self.root, mapped)
        return super().translate_path(path)

    def send_head(self) -> Any:
        self.body_bytes = 0
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return super().send_head()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        counted = _Counted(outputfile, self.link)
        if not self.range:
            shutil.copyfileobj(source, counted, PIECE)
        else:
            start, stop = self.range
            source.seek(start)
            remaining = None if stop is None else stop + 1 - start
            while remaining is None or remaining > 0:
                piece = source.read(PIECE if remaining is None else min(PIECE, remaining))
                if not piece:
                    break
                counted.write(piece)
                if remaining is not None:
                    remaining -= len(piece)
        self.body_bytes = counted.sent

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Logged when the head is sent; the body's bytes are logged by ``handle_one_request``."""

    def handle_one_request(self) -> None:
        self.body_bytes = 0
        self.command = ""
        super().handle_one_request()
        if self.command:
            line = (
                f"{self.command}\t{self.path}\t{self.headers.get('Range', '')}"
                f"\t{getattr(self, '_status', '-')}\t{self.body_bytes}\n"
            )
            with self.log_lock:
                self.log.write(line)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet on stderr: the log file has every request."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("latency", type=float, nargs="?", default=0.0, help="milliseconds")
    parser.add_argument("--latency-ms", type=float, default=None)
    parser.add_argument("--mbit", type=float, default=0.0, help="shared link, Mbit/s; 0: none")
    parser.add_argument("--paths", type=Path, default=None, help="JSON: URL path -> file")
    args = parser.parse_args()
    latency = args.latency_ms if args.latency_ms is not None else args.latency
    StoreHandler.latency_seconds = latency / 1000
    StoreHandler.link = Link(args.mbit * 1e6 / 8) if args.mbit > 0 else None
    StoreHandler.paths_file = args.paths
    StoreHandler.root = str(args.root)
    StoreHandler.log = args.log.open("a", buffering=1)  # a line at a time
    handler = functools.partial(StoreHandler, directory=str(args.root))
    ThreadingHTTPServer.daemon_threads = True
    # socketserver's default backlog of 5 drops connections when more clients open at
    # once (32 threads: 2 effective at 20 ms), and they retry a second later
    ThreadingHTTPServer.request_queue_size = 256
    with ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
