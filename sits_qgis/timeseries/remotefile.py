"""Remote image files read through the block cache: a Python file that GDAL reads
(rasterio's opener), which fetches over HTTP only the ranges the cache lacks.

Why a Python file rather than GDAL's /vsicurl/: GDAL cannot be told to look in a disk
cache first, and a file object can. GDAL reads a tile as one range of its exact length,
so an entry is a tile, and a rerun asks for exactly the entries it has. The header is
fetched as one range of ``HEADER_BYTES``, as GDAL's own ``GDAL_INGESTED_BYTES_AT_OPEN``.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

from .access import Access
from .blockcache import BlockCache

#: The first range fetched of a file: its header, which holds the tile directory of
#: Sentinel-2, Landsat and HLS COGs (2-20 KB).
HEADER_BYTES = 32768
#: Reads smaller than this (TIFF directories of overviews, past the header) fetch this
#: much: one round trip instead of several.
SMALL_READ = 16384
#: Ranges of a file kept in memory while it is open.
PIECES_KEPT = 8
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class FetchError(OSError):
    """A range that could not be fetched; ``reason`` is in GDAL's words, so that the
    read path judges it as it judges GDAL's (retry, renew the token, or say why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_sessions = threading.local()


def _session(retries: int) -> Any:
    """This thread's HTTP session (requests' sessions are not shared between threads):
    429 and 5xx retried with backoff, honouring ``Retry-After``."""
    sessions = getattr(_sessions, "by_retries", None)
    if sessions is None:
        sessions = _sessions.by_retries = {}
    if retries not in sessions:
        import requests
        from requests.adapters import HTTPAdapter

        from ..stac.client import retry_policy

        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry_policy(retries))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        sessions[retries] = session
    return sessions[retries]


def fetch(access: Access, address: str, start: int, length: int) -> tuple[bytes, int]:
    """The bytes ``[start, start + length)`` of a file (fewer at its end) and its size,
    with the catalogue's credentials where they may go."""
    import requests

    headers = {"Range": f"bytes={start}-{start + length - 1}"}
    if access.headers and access.sends_credentials(address):
        headers.update(access.headers)
    try:
        answer = _session(access.http.retries).get(
            address, headers=headers, timeout=access.http.api_timeout
        )
        body = answer.content
    except requests.RequestException as exc:
        # GDAL's code 0: no answer, or the connection dropped (retried by the caller)
        raise FetchError(f"HTTP response code on URL: 0 ({type(exc).__name__})") from None
    if answer.status_code == 404:
        raise FetchError(
            "HTTP 404 (Not Found): the file does not exist at the address the catalogue gives"
        )
    if answer.status_code == 200:  # a server without ranges: the whole file came
        return body[start : start + length], len(body)
    if answer.status_code != 206:
        raise FetchError(f"HTTP response code on URL: {answer.status_code} ({answer.reason})")
    found = CONTENT_RANGE.match(answer.headers.get("Content-Range", ""))
    if found is None or int(found.group(1)) != start:
        raise FetchError("HTTP response code on URL: 0 (an answer for another range)")
    size = int(found.group(3))
    expected = min(length, size - start)
    if len(body) != expected:  # cut short: retried by the caller
        raise FetchError(
            f"HTTP response code on URL: 0 (the answer was cut short: {len(body)} bytes"
            f" of {expected})"
        )
    return body, size


class RemoteRanges:
    """The ranges of one remote file: from memory, the cache, or the network."""

    def __init__(self, address: str, access: Access, cache: BlockCache) -> None:
        self.address, self.access, self.cache = address, access, cache
        self.pieces: list[tuple[int, bytes]] = []
        size = cache.file_size(address)
        if size is None:
            header, size = fetch(access, address, 0, HEADER_BYTES)
            cache.set_file_size(address, size)
            cache.put(address, 0, header)
            self.pieces.append((0, header))
        self.size: int = size

    def bytes_at(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``: kept in memory, else from the cache, else
        fetched (the whole header for a read in it, at least ``SMALL_READ`` bytes)."""
        for first, data in self.pieces:
            if first <= start and start + length <= first + len(data):
                return data[start - first : start - first + length]
        found = self.cache.entry(self.address, start, length)
        if found is None:
            first = 0 if start + length <= HEADER_BYTES else start
            size = HEADER_BYTES if first == 0 else max(length, SMALL_READ)
            data, _ = fetch(self.access, self.address, first, min(size, self.size - first))
            self.cache.put(self.address, first, data)
            found = first, data
        self._keep(*found)
        first, data = found
        return data[start - first : start - first + length]

    def _keep(self, start: int, data: bytes) -> None:
        self.pieces.append((start, data))
        del self.pieces[:-PIECES_KEPT]


class CachedOpener:
    """rasterio's opener for one remote file (and no other: GDAL's looks for side-car
    files such as ``.msk`` or ``.aux.xml`` find none, as with /vsicurl/'s empty
    directory listing). The reason of the last failed fetch is kept in ``error``."""

    def __init__(self, address: str, access: Access, cache: BlockCache) -> None:
        self.address, self.access, self.cache = address, access, cache
        self.error: str | None = None
        self._file: RemoteRanges | None = None

    def _remote(self) -> RemoteRanges:
        if self._file is None:
            try:
                self._file = RemoteRanges(self.address, self.access, self.cache)
            except FetchError as exc:
                self.error = exc.reason
                raise
        return self._file

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if path != self.address:
            raise FileNotFoundError(path)
        return RemoteFile(self._remote(), self)

    def isfile(self, path: str) -> bool:
        return path == self.address

    def isdir(self, path: str) -> bool:
        return False

    def ls(self, path: str) -> list[str]:
        return []

    def mtime(self, path: str) -> int:
        return 0

    def rm(self, path: str) -> None:
        raise PermissionError(path)

    def size(self, path: str) -> int:
        if path != self.address:
            raise FileNotFoundError(path)
        return self._remote().size


class RemoteFile(io.RawIOBase):
    """A remote file as GDAL reads it, with its own position (GDAL may open a file
    twice); the reason of a failed fetch is recorded in its opener."""

    def __init__(self, remote: RemoteRanges, opener: CachedOpener) -> None:
        super().__init__()
        self.remote, self.opener, self.pos = remote, opener, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.remote.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        length = max(0, min(len(buffer), self.remote.size - self.pos))
        if length == 0:
            return 0
        try:
            data = self.remote.bytes_at(self.pos, length)
        except FetchError as exc:
            self.opener.error = exc.reason
            raise
        buffer[:length] = data
        self.pos += length
        return length
