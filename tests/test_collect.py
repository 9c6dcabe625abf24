"""sits_qgis.tiling.map_collect: user functions over tiles, with and without overlap."""

from __future__ import annotations

import numpy as np
import pytest
import tile_functions as tf
from conftest import write_raster

from sits_qgis.errors import TaskFailed
from sits_qgis.tiling import map_collect, tile_grid
from sits_qgis.tiling.tiles import aligned_step

RNG = np.random.default_rng(7)


def test_positional_and_keyword_arguments_reach_the_function(tmp_path, processes_backend):
    data = RNG.integers(0, 50, (130, 101)).astype("int32")
    path = str(write_raster(tmp_path / "r.tif", data, None, block=32))
    sums = map_collect(
        tf.scaled_sum, path, (2.0,), {"offset": 1.0}, chunk_size=32, backend=processes_backend
    )
    assert sum(sums) == pytest.approx(float((data * 2.0 + 1.0).sum()))


def test_windows_are_returned_in_grid_order_and_cover_the_raster(tmp_path, sequential_backend):
    data = RNG.normal(size=(75, 61)).astype("float32")
    data[10:20, 5:9] = np.nan
    path = str(write_raster(tmp_path / "r.tif", data, None, block=16))
    results = map_collect(
        tf.valid_count, path, chunk_size=16, return_windows=True, backend=sequential_backend
    )
    windows = [w for w, _ in results]
    assert windows == tile_grid(75, 61, 16, (16, 16))
    assert sum(count for _, count in results) == np.count_nonzero(~np.isnan(data))


@pytest.mark.parametrize("chunk", [16, 40, 512])
def test_overlap_is_trimmed_so_no_pixel_counts_twice(tmp_path, processes_backend, chunk):
    """A 3x3 neighbourhood sum needs depth 1; the tiled total equals the untiled one."""
    data = RNG.integers(0, 9, (93, 70)).astype("int16")
    data[0, 0] = -1  # nodata at a corner: counts 0 in every window that sees it
    path = str(write_raster(tmp_path / "r.tif", data, -1, block=16))
    tiled = map_collect(
        tf.box_sum_3x3,
        path,
        chunk_size=chunk,
        depth=1,
        reduce=tf.total,
        backend=processes_backend,
    )
    whole = tf.box_sum_3x3(np.ma.masked_equal(data, -1))
    assert sum(tiled) == whole.sum()
    arrays = map_collect(
        tf.box_sum_3x3,
        path,
        chunk_size=chunk,
        depth=1,
        return_windows=True,
        backend=processes_backend,
    )
    mosaic = np.full(data.shape, np.nan)
    for window, array in arrays:
        mosaic[window.row : window.row_end, window.col : window.col_end] = array
    assert np.array_equal(mosaic, whole)


def test_overlap_with_a_reducing_function_is_refused(tmp_path, sequential_backend):
    path = str(write_raster(tmp_path / "r.tif", np.ones((40, 40), "uint8"), None, block=16))
    with pytest.raises(TaskFailed, match=r"tile rows 0-16, columns 0-16.*shaped like its input"):
        map_collect(tf.total, path, chunk_size=16, depth=2, backend=sequential_backend)


def test_multiband_tiles(tmp_path, sequential_backend):
    data = RNG.integers(0, 255, (3, 40, 50)).astype("uint8")
    path = str(write_raster(tmp_path / "rgb.tif", data, None, block=16))
    counts = map_collect(
        tf.valid_count, path, bands=[1, 3], chunk_size=16, backend=sequential_backend
    )
    assert sum(counts) == 2 * 40 * 50


def test_tile_edges_follow_storage_blocks():
    assert aligned_step(512, 256, 10000) == 512
    assert aligned_step(512, 384, 10000) == 384
    assert aligned_step(100, 64, 10000) == 128
    assert aligned_step(512, 10000, 10000) == 512  # striped rows span the raster
    tiles = tile_grid(1000, 700, 300, (256, 256))
    assert {t.row for t in tiles} == {0, 256, 512, 768}
    assert sum(t.height * t.width for t in tiles) == 1000 * 700
