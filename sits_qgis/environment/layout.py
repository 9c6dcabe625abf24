"""Where an engine environment lives, and what it was made from.

One environment per Python version (``py3.11``...) in a folder the user chooses
(default: the QGIS profile's ``sits_engine``), because a virtual environment only
works with the Python that made it. A stamp file records the digest of the lock it was
installed from: when a plugin update changes the lock, the environment is out of date
and the plugin says so instead of running against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

#: The shipped lock: every package of the engine, pinned, with the hashes of its files.
LOCK = Path(__file__).with_name("engine.lock")
#: Written last into a complete environment.
STAMP = "sits-engine.json"


def lock_digest(lock: Path = LOCK) -> str:
    """SHA-256 of the lock's requirement lines (comments and blank lines ignored)."""
    lines = [
        line.strip()
        for line in lock.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def environment_name() -> str:
    """``py3.11``: the environment of the running Python's version."""
    return f"py{sys.version_info[0]}.{sys.version_info[1]}"


def environment_dir(folder: str | Path) -> Path:
    """The environment for the running Python inside the engine folder."""
    return Path(folder) / environment_name()


def other_pythons(folder: str | Path) -> list[str]:
    """The Python versions ("3.11"...) of the complete environments in ``folder`` made
    for another Python than the running one: left behind when QGIS moved to a newer
    Python (Debian 12 to 13: 3.11 to 3.13), they cannot run here."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError:
        return []
    return [
        entry.name[2:]
        for entry in entries
        if entry.name.startswith("py")
        and entry.name != environment_name()
        and read_stamp(entry) is not None
    ]


def environment_python(env_dir: str | Path) -> Path:
    """The interpreter of a virtual environment."""
    env_dir = Path(env_dir)
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def read_stamp(env_dir: str | Path) -> dict[str, Any] | None:
    """The stamp of a complete environment, or ``None`` (none, or unreadable)."""
    try:
        stamp = json.loads((Path(env_dir) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def write_stamp(env_dir: str | Path, stamp: dict[str, Any]) -> None:
    (Path(env_dir) / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
