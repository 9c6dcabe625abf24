"""An on-disk cache of the byte ranges read from remote image files, so that a rerun
(more bands, more indices, a resumed run, the next session) fetches nothing twice.

Why our own and not GDAL's: GDAL keeps what it reads over HTTP in memory only, for the
life of one process; a dask worker's cache is gone with the worker. fsspec's block
caches keep whole-file sparse copies with a JSON index that several processes rewrite,
which is not safe with several workers and QGIS sessions sharing a folder.

Layout: one folder per remote file, named by the SHA-256 of its address without the
query (signatures change, the file does not: catalogues publish immutable files),
holding one entry per fetched range, ``<start>-<length>.blk``: the bytes followed by
their BLAKE2b digest, written to a private temporary name and renamed into place, so a
reader sees a whole entry or none, whichever process writes it. An entry whose size or
digest is wrong is removed and fetched again. A ``size`` entry holds the file's size.
The least recently used entries go when the cache outgrows its cap.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

#: The layout's version: a folder of another layout is left alone.
LAYOUT = "v1"
#: Bytes of the digest after each entry's data.
DIGEST_BYTES = 16
#: Below this free space the cache is not used (a nearly full disk is the user's, and
#: their outputs come first).
MIN_FREE_BYTES = 256 * 2**20
#: The errors that mean "this folder cannot take the cache" rather than a bug.
UNUSABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR)


@dataclass(frozen=True)
class CacheSettings:
    """Where the cache is and how large it may grow (plain data: it travels to workers)."""

    folder: str
    max_bytes: int


def file_key(address: str) -> str:
    """The cache's name for a remote file: its address without query or credentials."""
    from ..redact import shown_url

    return hashlib.sha256(shown_url(address.split("?", 1)[0]).encode()).hexdigest()


def check_folder(settings: CacheSettings) -> str | None:
    """Why the cache cannot be used in its folder (in the user's terms), or ``None``:
    the folder is made if missing, written to once, and must have room left."""
    root = Path(settings.folder)
    try:
        (root / LAYOUT).mkdir(parents=True, exist_ok=True)
        probe = root / LAYOUT / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"x")
        probe.unlink()
        free = shutil.disk_usage(root).free
    except OSError as exc:
        return f"the block cache folder {root} cannot be written ({exc.strerror or exc})"
    if free < MIN_FREE_BYTES:
        return (
            f"the disk of the block cache folder {root} is nearly full"
            f" ({free / 2**20:.0f} MiB free, the cache needs at least"
            f" {MIN_FREE_BYTES / 2**20:.0f} MiB)"
        )
    return None


def usable(settings: CacheSettings | None) -> tuple[CacheSettings | None, str | None]:
    """The cache a run uses, and the note that says why it uses none when its folder
    cannot take it (the run goes on without it, said once in the run's log)."""
    if settings is None:
        return None, None
    problem = check_folder(settings)
    if problem is None:
        return settings, None
    return None, (
        f"Block cache: {problem}; the run goes on without it (the folder and size are in"
        " Processing options > Providers > SITS)."
    )


class BlockCache:
    """One process's use of a cache folder: look ranges up, add them, keep the cap.

    A write that fails because the folder cannot take it (full, read-only, removed)
    turns the cache off in this process: the reads go on over the network, and
    ``disabled`` says why.
    """

    def __init__(self, settings: CacheSettings) -> None:
        self.settings = settings
        self.root = Path(settings.folder) / LAYOUT
        self.disabled: str | None = None
        self._lock = threading.Lock()
        self._ranges: dict[str, list[tuple[int, int]]] = {}
        self._total: int | None = None  # bytes in the folder, counted once then kept up

    def _folder(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def _known(self, key: str, refresh: bool = False) -> list[tuple[int, int]]:
        """The (start, length) entries of a file, as this process last listed them;
        listed again on ``refresh`` (another process may have added some)."""
        with self._lock:
            if not refresh and key in self._ranges:
                return self._ranges[key]
        found: list[tuple[int, int]] = []
        try:
            names = os.listdir(self._folder(key))
        except OSError:
            names = []
        for name in names:
            start, _, rest = name.partition("-")
            if rest.endswith(".blk") and start.isdigit() and rest[:-4].isdigit():
                found.append((int(start), int(rest[:-4])))
        found.sort()
        with self._lock:
            self._ranges[key] = found
        return found

    def entry(self, address: str, start: int, length: int) -> tuple[int, bytes] | None:
        """The bytes ``[start, start + length)`` of a file from intact entries: one that
        holds them, or entries that follow one another (GDAL may read a tile in pieces
        in one run and whole in the next), as (their start, their bytes); ``None`` if
        the cache lacks some of them (a damaged entry is removed on the way)."""
        if self.disabled:
            return None
        key = file_key(address)
        end = start + length
        for refresh in (False, True):
            entries = self._known(key, refresh)
            sizes = dict(entries)
            for first, size in entries:
                if not first <= start < first + size:
                    continue
                pieces, here = [], first
                while here in sizes:
                    data = self._read_entry(key, here, sizes[here])
                    if data is None:
                        break
                    pieces.append(data)
                    here += len(data)
                    if here >= end:
                        return first, b"".join(pieces)
        return None

    def _read_entry(self, key: str, start: int, length: int) -> bytes | None:
        path = self._folder(key) / f"{start}-{length}.blk"
        try:
            raw = path.read_bytes()
        except OSError:
            self._forget(key, start, length)
            return None
        data, digest = raw[:-DIGEST_BYTES], raw[-DIGEST_BYTES:]
        if len(raw) != length + DIGEST_BYTES or _digest(data) != digest:
            self._forget(key, start, length)  # damaged: fetched again by the caller
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(path)  # recently used: the last to go when the cap is reached
        return data

    def _forget(self, key: str, start: int, length: int) -> None:
        with self._lock:
            entries = self._ranges.get(key, [])
            if (start, length) in entries:
                entries.remove((start, length))

    def put(self, address: str, start: int, data: bytes) -> None:
        """Keep ``data``, the bytes of a file from ``start``; never fails the read."""
        if self.disabled or not data:
            return
        key = file_key(address)
        name = f"{start}-{len(data)}.blk"
        if self._write(key, name, data + _digest(data)):
            with self._lock:
                entries = self._ranges.setdefault(key, [])
                if (start, len(data)) not in entries:
                    entries.append((start, len(data)))
                    entries.sort()
            self._grew(len(data) + DIGEST_BYTES)

    def file_size(self, address: str) -> int | None:
        """The size of a file, as an earlier fetch learnt it."""
        if self.disabled:
            return None
        try:
            text = (self._folder(file_key(address)) / "size").read_text()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def set_file_size(self, address: str, size: int) -> None:
        if not self.disabled:
            self._write(file_key(address), "size", str(size).encode())

    def _write(self, key: str, name: str, content: bytes) -> bool:
        """Write an entry under a private name, then rename it into place (atomic:
        readers in other processes see all of it or nothing)."""
        folder = self._folder(key)
        temporary = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(content)
            os.replace(temporary, folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a folder gone or read-only holds none
                temporary.unlink(missing_ok=True)
            if exc.errno in UNUSABLE or isinstance(exc, FileNotFoundError):
                self.disabled = (
                    f"the block cache folder {self.settings.folder} stopped taking entries"
                    f" ({exc.strerror or exc})"
                )
                return False
            raise
        return True

    def _grew(self, added: int) -> None:
        """Count what was added; past the cap, remove the least recently used entries
        until the cache is back to 90% of it."""
        with self._lock:
            if self._total is None:
                self._total = sum(size for _, size, _ in _entries(self.root))
            self._total += added
            if self._total <= self.settings.max_bytes:
                return
            entries = sorted(_entries(self.root), key=lambda e: e[2])  # oldest use first
            total = sum(size for _, size, _ in entries)
            goal = 0.9 * self.settings.max_bytes
            for path, size, _ in entries:
                if total <= goal:
                    break
                try:
                    path.unlink()
                except OSError:
                    continue  # another process removed it first, or it is read-only
                total -= size
            self._total = total
            self._ranges.clear()  # listed again when next needed


def _entries(root: Path) -> list[tuple[Path, int, float]]:
    """(path, bytes, last use) of every entry under ``root``."""
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".blk"):
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found.append((path, stat.st_size, stat.st_mtime))
    return found


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


#: This process's caches, by settings: one per folder, shared by its reading threads.
_caches: dict[CacheSettings, BlockCache] = {}
_caches_lock = threading.Lock()


def cache_for(settings: CacheSettings) -> BlockCache:
    """This process's ``BlockCache`` of a folder."""
    with _caches_lock:
        if settings not in _caches:
            _caches[settings] = BlockCache(settings)
        return _caches[settings]
