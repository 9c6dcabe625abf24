"""The Python interpreter that worker processes must be started with.

Inside QGIS, ``sys.executable`` is not a usable Python: on Windows and macOS it is the
QGIS binary (spawned workers open new QGIS windows), and on Linux it is whatever
``python3`` comes first on PATH, possibly another Python build whose workers die on
import. Workers must run the interpreter that the running Python belongs to.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import SitsError


def _candidates() -> list[Path]:
    """Interpreters that belong to the running Python, most specific first.

    A virtual environment's own interpreter comes first so that its site-packages are
    used; the base installation's interpreter follows.
    """
    major, minor = sys.version_info[:2]
    if os.name == "nt":
        names = ["python.exe", f"python{major}{minor}.exe"]
        dirs = [Path(sys.prefix), Path(sys.prefix) / "Scripts", Path(sys.base_exec_prefix)]
    else:
        names = [f"python{major}.{minor}", f"python{major}", "python"]
        dirs = [Path(sys.prefix) / "bin", Path(sys.base_exec_prefix) / "bin"]
    return [d / n for d in dirs for n in names]


def worker_python() -> str:
    """Path of the interpreter to start worker processes with.

    ``sys.executable`` is kept when it already is this Python's interpreter (plain
    Python, a notebook, the tests); otherwise the first existing candidate that belongs
    to the running installation is used.
    """
    exe = Path(sys.executable) if sys.executable else None
    if exe is not None and exe.is_file() and _is_own_interpreter(exe):
        return str(exe)
    for candidate in _candidates():
        if candidate.is_file():
            return str(candidate)
    raise SitsError(
        "No Python interpreter was found to start worker processes with (looked for "
        + ", ".join(str(c) for c in _candidates())
        + "). Choose threads or 'in the calling thread' in the backend settings.",
        parameter="backend mode",
    )


def _is_own_interpreter(exe: Path) -> bool:
    """Whether ``exe`` is the running Python (and not another build that is on PATH)."""
    resolved = exe.resolve()
    return any(resolved == c.resolve() for c in _candidates() if c.is_file())


def base_python() -> str:
    """The interpreter of the running Python's base installation, to make the engine's
    virtual environment with (QGIS's own Python on Windows and macOS, where
    ``sys.executable`` is the QGIS binary; Debian's ``/usr/bin/python3.x`` on Linux)."""
    major, minor = sys.version_info[:2]
    if os.name == "nt":
        names = ["python.exe", f"python{major}{minor}.exe"]
        dirs = [Path(sys.base_exec_prefix), Path(sys.base_prefix)]
    else:
        names = [f"python{major}.{minor}", f"python{major}", "python"]
        dirs = [Path(sys.base_exec_prefix) / "bin", Path(sys.base_prefix) / "bin"]
        if sys.executable:  # macOS bundles: QGIS.app/Contents/MacOS/bin next to the binary
            dirs.append(Path(sys.executable).resolve().parent / "bin")
    candidates = [d / n for d in dirs for n in names]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise SitsError(
        f"No Python {major}.{minor} interpreter was found to make the engine's environment"
        " with (looked for " + ", ".join(str(c) for c in candidates) + "). Point the"
        " settings at an existing Python environment instead.",
        parameter="engine Python",
    )
