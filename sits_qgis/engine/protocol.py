"""The messages between QGIS's process and the engine process: one JSON object a line.

Why JSON lines over the engine's standard input and a private copy of its standard
output: pipes are private to the two processes (no port another local process could
connect to, no authentication to get wrong), exist on Linux, Windows and macOS alike,
close by themselves when either side dies (the engine then stops), and JSON carries
everything a request or a result holds (paths, numbers, text, WKB as base64) with
float64 values exact (``repr`` round-trips). Pickle is avoided on purpose: the two
sides run different Pythons' packages, and unpickling is code execution.

Client to engine::

    {"id": 7, "op": "raster_statistics", "params": {...}}   a request
    {"id": 7, "cancel": true}                                 cancel request 7

Engine to client::

    {"ready": {...}}                                 once, when the engine is up
    {"id": 7, "event": "progress", "data": 42.0}     progress in percent (0-100)
    {"id": 7, "event": "log", "data": {"level": "info", "text": "..."}}
    {"id": 7, "event": "outcome", "data": {...}}     any other streamed result
    {"id": 7, "result": {...}}                       the request is done
    {"id": 7, "error": {"kind": "user", "message": "...", "parameter": "BAND"}}

Error kinds: ``user`` (a mistake the user can fix; the message says how),
``cancelled``, ``unexpected`` (a bug or an environment problem: the type and message).
"""

from __future__ import annotations

import base64
import json
from typing import Any

#: Bumped when a message changes meaning; the client refuses an engine that differs.
PROTOCOL_VERSION = 1


def _plain(value: Any) -> Any:
    """numpy scalars and tuples-like values as JSON takes them (the engine's results
    hold numpy numbers; ``item()`` gives the exact Python number)."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not plain data")


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of UTF-8 JSON (NaN and infinities as Python writes them)."""
    return (json.dumps(message, separators=(",", ":"), default=_plain) + "\n").encode("utf-8")


def decode(line: bytes) -> dict[str, Any]:
    """A message from one line; ``ValueError`` when it is not a JSON object."""
    message = json.loads(line.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError(f"not a message: {line[:200]!r}")
    return message


def wkb_text(wkb: bytes | None) -> str | None:
    """A geometry's WKB as text for JSON (``None`` for no geometry)."""
    return None if wkb is None else base64.b64encode(wkb).decode("ascii")


def wkb_bytes(text: str | None) -> bytes | None:
    """WKB back from ``wkb_text``."""
    return None if text is None else base64.b64decode(text)
