"""Check a Python environment for the engine, in a subprocess, and say the result in words.

Used on an environment the set-up just made, and on an existing one the user points
the settings at (a conda environment, a development ``.venv``). The check imports
every package the engine needs with that Python, so a broken binary package shows up
here and not in the middle of a run.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

from ..engine.client import engine_environment

#: (module to import, distribution, oldest version the engine works with).
REQUIRED: tuple[tuple[str, str, str], ...] = (
    ("numpy", "numpy", "1.23"),
    ("pyproj", "pyproj", "3.4"),
    ("shapely", "shapely", "2.0"),
    ("affine", "affine", "2.3"),
    ("rasterio", "rasterio", "1.3"),
    ("pandas", "pandas", "1.5"),
    ("xarray", "xarray", "2023.1"),
    ("dask.distributed", "distributed", "2024.1"),
    ("netCDF4", "netCDF4", "1.6"),
    ("pystac_client", "pystac-client", "0.7"),
    ("odc.geo", "odc-geo", "0.4"),
    ("spyndex", "spyndex", "0.5"),
    ("sits_qgis.engine.operations", "", ""),
)

PROBE = """
import importlib, json, platform, sys
from importlib import metadata
found = {}
for module, dist, _ in %r:
    try:
        importlib.import_module(module)
        found[module] = {"version": metadata.version(dist) if dist else ""}
    except Exception as exc:
        found[module] = {"error": type(exc).__name__ + ": " + str(exc)}
print(json.dumps({"python": platform.python_version(), "modules": found}))
"""


def _version_key(text: str) -> tuple[int, ...]:
    """``"2026.8.0"`` -> ``(2026, 8, 0)``: leading numbers only (enough for minimums)."""
    parts = []
    for part in text.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass
class ProbeReport:
    """What an environment has, and what is wrong with it (empty ``problems``: usable)."""

    python: str
    versions: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            return "; ".join(self.problems) + "."
        shown = ", ".join(f"{dist} {v}" for dist, v in self.versions.items() if v)
        return f"usable: Python {self.python}, {shown}."


def probe(python: str, timeout: float = 180.0) -> ProbeReport:
    """Import every required package with ``python`` and compare versions."""
    try:
        # The chosen Python runs our own probe.
        done = subprocess.run(  # nosec B603
            [python, "-c", PROBE % (REQUIRED,)],
            capture_output=True,
            env=engine_environment(),
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ProbeReport("", problems=[f"{python} cannot be run: {exc}"])
    try:
        said = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        errors = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return ProbeReport("", problems=[f"{python} failed to start: " + " | ".join(errors[-5:])])
    report = ProbeReport(said["python"])
    for module, dist, minimum in REQUIRED:
        found = said["modules"][module]
        if "error" in found:
            report.problems.append(f"{dist or 'the engine'} cannot be imported ({found['error']})")
            continue
        if dist:
            report.versions[dist] = found["version"]
            if _version_key(found["version"]) < _version_key(minimum):
                report.problems.append(
                    f"{dist} is {found['version']}, the engine needs {minimum} or later"
                )
    return report
