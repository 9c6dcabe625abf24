"""Files being written are named ``.<name>.<pid>-<tag>.partial...`` next to their
destination and renamed when complete; this module names them, and removes those that
a killed run left behind.

A run killed while it writes (SIGKILL of ``qgis_process``, a worker that dies, the
machine that stops) cannot clean up after itself. The next run on the same folder does
it: a partial file whose writer process no longer exists is removed. One still being
written by a live process (another QGIS session on the same folder) is left alone.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

#: ``.<destination name>.<pid>-<tag>.partial`` and any suffix after it.
PARTIAL = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.partial(\..*)?$")


def partial_name(target: Path, suffix: str = "") -> Path:
    """Where ``target`` is written before it is complete (this process's, unique)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial{suffix}")


def _alive(pid: int) -> bool:
    import psutil

    return pid == os.getpid() or psutil.pid_exists(pid)


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove the partial files in ``folder`` whose writer no longer runs; the removed."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        match = PARTIAL.match(path.name)
        if match is None or _alive(int(match.group("pid"))):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed
