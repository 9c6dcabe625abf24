"""Partial files a killed run left behind are removed by the next run on that folder;
those of a writer still alive (another session) and other files are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from conftest import write_raster

from sits_qgis.partials import PARTIAL, partial_name, remove_stale_partials
from sits_qgis.tiling.rasterfilter import raster_filter


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _leftovers(folder, dead: int) -> dict[str, bool]:
    """Files as runs leave them: True where a next run must remove them."""
    files = {
        f".cube_a.nc.{dead}-0123abcd.partial": True,  # a cube of a killed run
        f".out.tif.{dead}-89abcdef.partial.cog.tif": True,  # a filter's, being converted
        f".cube_b.nc.{os.getpid()}-0123abcd.partial": False,  # a live writer's
        ".notes.txt": False,
        "cube_c.nc": False,
    }
    for name in files:
        (folder / name).write_bytes(b"x")
    return files


def test_partial_names_are_recognised():
    name = partial_name(__import__("pathlib").Path("/x/cube.nc")).name
    assert PARTIAL.match(name) and f".{os.getpid()}-" in name
    assert PARTIAL.match(".cube.nc.123-0123abcd.partial.cog.tif")
    assert not PARTIAL.match("cube.nc") and not PARTIAL.match(".cube.nc.partial")


def test_a_filter_run_removes_what_a_killed_run_left(tmp_path, sequential_backend):
    files = _leftovers(tmp_path, _dead_pid())
    source = write_raster(tmp_path / "in.tif", np.ones((40, 40), "float32"), None, block=16)
    raster_filter(str(source), str(tmp_path / "out.tif"), "mean", 3, None, 1, 16,
                  backend=sequential_backend)  # fmt: skip
    for name, stale in files.items():
        assert (tmp_path / name).exists() is not stale, name
    assert (tmp_path / "out.tif").exists()


def test_stale_partials_are_removed_and_listed(tmp_path):
    files = _leftovers(tmp_path, _dead_pid())
    removed = {p.name for p in remove_stale_partials(tmp_path)}
    assert removed == {name for name, stale in files.items() if stale}
    assert remove_stale_partials(tmp_path / "missing") == []
