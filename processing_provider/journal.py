"""A time-series run's journal, next to its table: what the run is (its parameters and
features, as a fingerprint) and every finished feature's outcome, one JSON line each,
written and flushed as the feature finishes.

It is what RESUME continues from: a run killed (even with SIGKILL), cancelled or
failed keeps it, and the same run with RESUME writes the finished features' rows from
it and asks the engine only for the others. A finished run removes it. A line cut short
by a kill is ignored (that feature is simply read again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sits_qgis.redact import shown_url

SUFFIX = ".sits-journal.jsonl"
#: Parameters that say nothing about the result (credentials, network settings).
NOT_IN_FINGERPRINT = (
    "headers", "s3", "http", "credential_hosts", "local_files", "block_cache",
)  # fmt: skip


def journal_path(destination: str) -> Path | None:
    """The journal's file for a table destination, or ``None`` when it is not a file
    (a temporary or memory output)."""
    path = destination.split("|", 1)[0]
    if not path or path.startswith(("memory:", "postgres:", "ogr:", "TEMPORARY_OUTPUT")):
        return None
    target = Path(path)
    return target.with_name(f".{target.name}{SUFFIX}")


def fingerprint(
    options: dict[str, Any], layer: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """What makes two runs the same run: their series options, their other result
    parameters, and their features (ids, geometries, CRS) as a hash."""
    kept = {k: v for k, v in options.items() if k not in NOT_IN_FINGERPRINT}
    raw_url = str(kept.get("stac_url", ""))
    kept["stac_url"] = shown_url(raw_url)
    kept["stac_url_sha256"] = hashlib.sha256(raw_url.encode()).hexdigest()
    features = json.dumps([layer.get("crs"), layer.get("features")], sort_keys=True)
    kept["features_sha256"] = hashlib.sha256(features.encode()).hexdigest()
    return json.loads(json.dumps({**kept, **extra}, sort_keys=True))  # as read back


@dataclass
class Previous:
    """What an interrupted run's journal holds."""

    fingerprint: dict[str, Any]
    columns: list[str] | None = None
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_journal(path: Path) -> Previous | None:
    """The interrupted run's journal, or ``None`` when there is none (or it is not one)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    previous: Previous | None = None
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the line a kill cut short
        if "fingerprint" in entry:
            previous = Previous(entry["fingerprint"])
        elif previous is not None and "columns" in entry:
            previous.columns = list(entry["columns"])
        elif previous is not None and "outcome" in entry:
            outcome = entry["outcome"]
            previous.outcomes[str(outcome["feature_id"])] = outcome
    return previous


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The fingerprint entries that differ, as parameter names."""
    names = {"features_sha256": "INPUT (features)", "stac_url_sha256": "STAC_URL"}
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    shown = [names.get(k, k.upper()) for k in keys]
    return list(dict.fromkeys(shown))


class Journal:
    """The journal being written by this run (appending to the interrupted one's)."""

    def __init__(self, path: Path, print_: dict[str, Any], resume: Previous | None) -> None:
        self.path = path
        self.file = path.open("a" if resume is not None else "w", encoding="utf-8")
        self.has_columns = resume is not None and resume.columns is not None
        #: Why the journal stopped being written (a full disk...), if it did: the run
        #: goes on, and says so.
        self.failed = ""
        if resume is None:
            self._write({"fingerprint": print_})

    def _write(self, entry: dict[str, Any]) -> None:
        if self.failed:
            return
        try:
            self.file.write(json.dumps(entry) + "\n")
            self.file.flush()
            os.fsync(self.file.fileno())  # a kill of the process loses no finished feature
        except OSError as exc:
            self.failed = str(exc)

    def columns(self, columns: list[str]) -> None:
        if not self.has_columns:
            self._write({"columns": columns})
            self.has_columns = True

    def outcome(self, outcome: dict[str, Any]) -> None:
        self._write({"outcome": outcome})

    def close(self, finished: bool) -> None:
        """Close it; a finished run removes it (there is nothing to resume)."""
        with contextlib.suppress(OSError):
            self.file.close()
        if finished:
            self.path.unlink(missing_ok=True)
