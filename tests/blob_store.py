"""An object store on 127.0.0.1 that behaves as Planetary Computer's does for the
engine: blobs at Azure's path-style addresses (``/account/container/blob``, as
Azure's storage emulator serves them) readable only with a shared access signature
whose ``se`` (signed expiry) has not passed (or, unsigned, with NASA Earthdata's
bearer token), a token service at
``/api/sas/v1/token/account/container`` answering as PC's does (``token`` and
``msft:expiry``), and, on demand, a 429 with ``Retry-After`` on the first request of
every blob. It runs in a thread of the test process.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from RangeHTTPServer import RangeRequestHandler

TOKEN_PATH = "/api/sas/v1/token/"


@dataclass
class StoreRules:
    """How the store hands out and checks tokens, and what it refuses."""

    #: How long a token really works, and how long the token service says it does
    #: (more than it works: a token revoked early, or a clock ahead of the store's).
    token_seconds: float = 3600.0
    claimed_seconds: float | None = None
    #: Answer 429 with Retry-After: 1 to the first request of each blob.
    throttle_first: bool = False
    #: Seconds before each blob answer, as a remote store takes (so a run lasts).
    latency_s: float = 0.0
    #: Blobs need a signature (Planetary Computer) or not; a bearer token (NASA
    #: Earthdata's LP DAAC), or not.
    signed: bool = True
    bearer: str | None = None
    #: An S3-compatible endpoint (path style, ``/bucket/key``) whose bucket is private:
    #: requests must be signed (AWS SigV4) with this access key id; the signature itself
    #: is not verified (the engine's part ends with GDAL signing with the right key).
    s3_key: str | None = None
    s3_keys_seen: set[str] = field(default_factory=set)
    #: Every Authorization header received (None when a request had none).
    authorizations: list[str | None] = field(default_factory=list)
    #: Faults, each on the first request of a blob whose path hashes into the given
    #: fraction: "truncate" sends half the body and closes, "reset" closes at once.
    fault: str | None = None
    fault_fraction: float = 0.0
    faulted: set[str] = field(default_factory=set)
    #: Unsigned blobs are served at /<any name>/<path> (a name per catalogue keeps
    #: GDAL's memory of one test's files out of the next).
    named: bool = False
    tokens_issued: int = 0
    refused: list[str] = field(default_factory=list)
    throttled: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BlobHandler(RangeRequestHandler):
    protocol_version = "HTTP/1.1"
    rules: StoreRules

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, code: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, fault: str) -> None:
        """A dropped connection, or an answer cut short after half its body."""
        self.close_connection = True
        if fault == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b"\0" * 2048)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        return None

    def send_head(self) -> Any:
        rules = self.rules
        parts = urlsplit(self.path)
        if parts.path.startswith(TOKEN_PATH):
            now = datetime.now(timezone.utc)
            with rules.lock:
                rules.tokens_issued += 1
                number = rules.tokens_issued
            works = now + timedelta(seconds=rules.token_seconds)
            claims = now + timedelta(seconds=rules.claimed_seconds or rules.token_seconds)
            token = f"se={quote(_iso(works))}&sp=rl&sig=token{number}"
            body = json.dumps({"msft:expiry": _iso(claims), "token": token}).encode()
            self._send(200, body, "application/json")
            return None
        time.sleep(rules.latency_s)
        with rules.lock:
            rules.authorizations.append(self.headers.get("Authorization"))
        if rules.bearer and self.headers.get("Authorization") != f"Bearer {rules.bearer}":
            with rules.lock:
                rules.refused.append(parts.path)
            self._send(401, b"HTTP Basic: Access denied.", "text/plain")
            return None
        if rules.s3_key is not None:
            authorization = self.headers.get("Authorization", "")
            key = authorization.partition("Credential=")[2].split("/", 1)[0]
            with rules.lock:
                rules.s3_keys_seen.add(key)
            if key != rules.s3_key:
                body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                with rules.lock:
                    rules.refused.append(parts.path)
                self._send(403, body, "application/xml")
                return None
        expiry = parse_qs(parts.query).get("se", [""])[0]
        valid = not rules.signed or (
            bool(expiry)
            and datetime.fromisoformat(expiry.replace("Z", "+00:00")) > datetime.now(timezone.utc)
        )
        if not valid:
            with rules.lock:
                rules.refused.append(parts.path)
            body = b"<Error><Code>AuthenticationFailed</Code></Error>"
            self._send(403, body, "application/xml")
            return None
        if rules.throttle_first:
            with rules.lock:
                first = parts.path not in rules.throttled
                rules.throttled.add(parts.path)
            if first:
                self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
                return None
        if rules.fault and zlib.crc32(parts.path.encode()) % 1000 < rules.fault_fraction * 1000:
            with rules.lock:
                first = parts.path not in rules.faulted
                rules.faulted.add(parts.path)
            if first:
                return self._fail(rules.fault)
        if rules.signed:
            segments = parts.path.split("/", 3)  # '', account, container, blob
            self.path = "/" + segments[3]
        elif rules.s3_key is not None or rules.named:
            self.path = "/" + parts.path.split("/", 2)[2]  # '', bucket or name, key
        return super().send_head()


@contextmanager
def blob_store(root: Path, rules: StoreRules) -> Iterator[str]:
    """Serve ``root``'s files as blobs of any account and container; yields the base URL."""
    handler = functools.partial(
        type("Handler", (BlobHandler,), {"rules": rules}), directory=str(root)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
