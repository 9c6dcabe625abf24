"""A static file server with HTTP Range support that logs every request to a file.

RangeHTTPServer gives the Range support GDAL needs to read COGs; the log (method,
path, Range header, status, one line each) lets benchmarks count the HTTP requests a
run makes per feature, date and band. Connections are kept alive (HTTP/1.1) and the
log stays open, as a cloud object store would not open a connection per request:
with a connection and a file open per request, this server was the bottleneck of
every benchmark client at about 400 requests per second.

An optional latency (milliseconds, slept before each answer, concurrently for
concurrent requests) makes it behave like a remote object store, where the time of a
request is the network's, not the server's.

Usage: ``python range_file_server.py ROOT PORT LOG [LATENCY_MS]``.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from RangeHTTPServer import RangeRequestHandler


class LoggingRangeHandler(RangeRequestHandler):
    """Range requests, with a one-line log per request in ``log_path``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    log: IO[str]
    log_lock = threading.Lock()
    latency_seconds = 0.0

    def send_head(self) -> Any:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return super().send_head()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        line = f"{self.command}\t{self.path}\t{self.headers.get('Range', '')}\t{code}\n"
        with self.log_lock:
            self.log.write(line)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet on stderr: the log file has every request."""


def main() -> None:
    root, port, log = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    LoggingRangeHandler.latency_seconds = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.0
    LoggingRangeHandler.log = log.open("a", buffering=1)  # a line at a time
    handler = functools.partial(LoggingRangeHandler, directory=str(root))
    ThreadingHTTPServer.daemon_threads = True
    # socketserver's default backlog of 5 drops connections when more clients open at
    # once (32 threads: 2 effective at 20 ms), and they retry a second later
    ThreadingHTTPServer.request_queue_size = 256
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
