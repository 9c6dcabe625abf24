"""Exact tiled statistics against numpy on the whole band in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import (
    SHARED_DATA,
    assert_matches_numpy,
    numpy_statistics,
    valid_values,
    write_raster,
)

from sits_qgis.errors import SitsError
from sits_qgis.tiling import brackets, raster_statistics
from sits_qgis.tiling.brackets import sample_stride
from sits_qgis.tiling.quantiles import Selector, combine, evaluate

RNG = np.random.default_rng(20261121)


def _float_with_holes(shape: tuple[int, int], dtype: str, nodata: float) -> np.ndarray:
    data = RNG.normal(500, 120, shape).astype(dtype)
    data[RNG.random(shape) < 0.05] = nodata
    data[3:40, 7:90] = np.nan
    data[-1, -1] = nodata  # the last pixel of the last (partial) tile
    return data


CASES = {
    # name: (data, nodata, chunk)
    "float32 nodata+NaN, not a multiple of the chunk": (
        _float_with_holes((301, 517), "float32", -9999.0),
        -9999.0,
        64,
    ),
    "float64 NaN nodata": (_float_with_holes((130, 77), "float64", np.nan), np.nan, 32),
    "int16 with nodata": (RNG.integers(-300, 300, (250, 199)).astype("int16"), -300, 48),
    "uint8 without nodata, heavy ties": (RNG.integers(0, 4, (97, 211)).astype("uint8"), None, 16),
    "uint16 nodata 0": (RNG.integers(0, 10000, (64, 64)).astype("uint16"), 0, 16),
    "int32 negative": (RNG.integers(-(2**31), 2**31 - 1, (80, 90)).astype("int32"), None, 32),
    "chunk larger than the raster": (_float_with_holes((40, 33), "float32", -1.0), -1.0, 4096),
    "one pixel": (np.array([[7.25]], dtype="float32"), None, 16),
    "even count, equal middle values": (np.array([[1, 2, 2, 3]], dtype="int16"), None, 16),
    "infinite values": (np.array([[1, np.inf, -np.inf, 4, 2]], dtype="float32"), None, 16),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_numpy_on_generated_rasters(name, tmp_path, sequential_backend):
    data, nodata, chunk = CASES[name]
    path = write_raster(tmp_path / "r.tif", data, nodata, block=16)
    result = raster_statistics(str(path), 1, chunk, backend=sequential_backend)
    values = valid_values(data, nodata)
    expected = numpy_statistics(values)
    if name == "infinite values":  # sums are infinite; numpy says nan for inf - inf
        expected = {
            k: v
            for k, v in expected.items()
            if k not in {"MEAN", "STD", "SUM", "SUM_SQUARES", "RMSE"}
        }
    assert_matches_numpy(result.values, expected)
    assert result["TOTAL_COUNT"] == data.size
    assert result["VALID_PERCENT"] == pytest.approx(100 * values.size / data.size)


def test_large_raster_takes_two_passes_in_worker_processes(tmp_path, processes_backend):
    """Over a million pixels, a sample brackets the order statistics: one more pass."""
    data = RNG.gamma(2.0, 300.0, (2100, 2300)).astype("float32")
    data[RNG.random(data.shape) < 0.01] = -9999
    path = write_raster(tmp_path / "big.tif", data, -9999.0, block=256)
    result = raster_statistics(str(path), 1, 512, backend=processes_backend)
    assert result.passes == 2
    assert_matches_numpy(result.values, numpy_statistics(valid_values(data, -9999.0)))


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_a_misleading_sample_falls_back_to_exact_radix_selection(
    tmp_path, sequential_backend, dtype
):
    """Every sampled value (every 2nd here) is 0, the others are not: the brackets drawn
    from the sample miss, and radix selection still finds the exact values."""
    data = RNG.normal(100, 20, (1100, 1000)).astype(dtype)
    data[:, ::2] = 0
    assert sample_stride(data.size) == 2
    path = write_raster(tmp_path / "odd.tif", data, None, block=256)
    result = raster_statistics(str(path), 1, 256, backend=sequential_backend)
    assert result.passes > 2
    assert_matches_numpy(result.values, numpy_statistics(data.ravel()))


def test_brackets_too_large_for_the_budget_use_radix_selection(
    tmp_path, sequential_backend, monkeypatch
):
    """Brackets hold a fixed share of the values: on huge rasters they would outgrow
    memory, so over the budget radix selection (fixed memory) does the work."""
    data = RNG.normal(0, 1, (1100, 1000)).astype("float32")
    path = str(write_raster(tmp_path / "r.tif", data, None, block=256))
    within = raster_statistics(path, 1, 256, backend=sequential_backend)
    monkeypatch.setattr(brackets, "BRACKET_BUDGET", 1000)  # decided in this process
    over = raster_statistics(path, 1, 256, backend=sequential_backend)
    # moments, then radix: under 4 Mi values one collecting pass each for values and MAD
    assert (within.passes, over.passes) == (2, 3)
    assert within.values == over.values
    assert_matches_numpy(over.values, numpy_statistics(data.ravel()))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8", "int64"])
def test_radix_selection_with_few_values_collected(dtype):
    """Radix selection refining bit by bit (a collect limit of 5 values), ties included."""
    values = (
        RNG.integers(-50, 50, 20000).astype(dtype)
        if dtype != "uint8"
        else (RNG.integers(0, 3, 20000).astype(dtype))
    )
    if dtype.startswith("float"):
        values = values + RNG.normal(0, 1e-3, values.size).astype(dtype)
    tiles = np.array_split(values, 7)
    ranks = [0, 1, 9999, 10000, 17999, 19999]
    selector = Selector(ranks, values.size, values.dtype, collect_limit=5)
    passes = 0
    while not selector.done:
        queries = selector.queries()
        selector.feed(combine(queries, [evaluate(t, queries) for t in tiles], values.dtype))
        passes += 1
    ordered = np.sort(values)
    found = selector.values()
    assert {r: found[r] for r in ranks} == {r: ordered[r] for r in ranks}
    assert all(type(v) is type(ordered[0]) for v in found.values())
    assert passes >= (2 if np.dtype(dtype).itemsize > 2 else 1)  # 16 bits per histogram


def test_processes_and_sequential_give_identical_results(
    tmp_path, processes_backend, sequential_backend
):
    data = _float_with_holes((700, 650), "float32", -9999.0)
    path = str(write_raster(tmp_path / "r.tif", data, -9999.0))
    tiled = raster_statistics(path, 1, 128, backend=processes_backend, with_tile_stats=True)
    here = raster_statistics(path, 1, 128, backend=sequential_backend, with_tile_stats=True)
    assert tiled.values == here.values
    assert [t.tile for t in tiled.tiles] == [t.tile for t in here.tiles]


def test_tile_statistics_cover_the_raster_once(tmp_path, sequential_backend):
    data = _float_with_holes((300, 260), "float32", -9999.0)
    path = str(write_raster(tmp_path / "r.tif", data, -9999.0, block=64))
    result = raster_statistics(path, 1, 100, backend=sequential_backend, with_tile_stats=True)
    covered = np.zeros(data.shape, dtype=int)
    for tile_stats in result.tiles:
        tile = tile_stats.tile
        covered[tile.row : tile.row_end, tile.col : tile.col_end] += 1
        block = data[tile.row : tile.row_end, tile.col : tile.col_end]
        values = valid_values(block, -9999.0)
        assert tile_stats.count == values.size
        assert tile_stats.median == float(np.median(values))
        assert tile_stats.maximum == float(values.max())
    assert (covered == 1).all()
    # chunk 100 moved to the 64-pixel blocks: tiles of 128 pixels
    assert {t.tile.height for t in result.tiles} == {128, 300 - 256}


def test_second_band_and_all_nodata_band(tmp_path, sequential_backend):
    data = np.stack([np.full((50, 60), -1, "int16"), RNG.integers(0, 99, (50, 60), "int16")])
    path = str(write_raster(tmp_path / "two.tif", data, -1))
    empty = raster_statistics(path, 1, 16, backend=sequential_backend)
    assert empty["COUNT"] == 0 and empty["TOTAL_COUNT"] == 3000
    assert empty["VALID_PERCENT"] == 0.0
    assert all(empty[k] is None for k in ("MEAN", "MEDIAN", "MIN", "P90", "NMAD", "STD"))
    second = raster_statistics(path, 2, 16, backend=sequential_backend)
    assert_matches_numpy(second.values, numpy_statistics(valid_values(data[1], -1)))


def test_striped_raster_is_read_in_row_aligned_tiles(tmp_path, sequential_backend):
    data = RNG.normal(0, 1, (90, 70)).astype("float32")
    path = str(write_raster(tmp_path / "striped.tif", data, None, tiled=False))
    result = raster_statistics(path, 1, 32, backend=sequential_backend, with_tile_stats=True)
    assert_matches_numpy(result.values, numpy_statistics(data.ravel()))
    assert max(t.tile.col_end for t in result.tiles) == 70


@pytest.mark.skipif(
    not (SHARED_DATA / "exploradores_aster_dem.tif").exists(), reason="shared data absent"
)
def test_exploradores_dem(processes_backend):
    path = SHARED_DATA / "exploradores_aster_dem.tif"
    with rasterio.open(path) as dataset:
        data, nodata = dataset.read(1), dataset.nodata
    result = raster_statistics(str(path), 1, 128, backend=processes_backend)
    assert_matches_numpy(result.values, numpy_statistics(valid_values(data, nodata)))
    assert result["TOTAL_COUNT"] == 539 * 618


def test_bad_input_is_named(tmp_path: Path, sequential_backend):
    path = str(write_raster(tmp_path / "r.tif", np.zeros((20, 20), "uint8")))
    with pytest.raises(SitsError, match="Band 2 does not exist") as error:
        raster_statistics(path, 2, 16, backend=sequential_backend)
    assert error.value.parameter == "BAND"
    with pytest.raises(SitsError, match="at least 16") as error:
        raster_statistics(path, 1, 8, backend=sequential_backend)
    assert error.value.parameter == "CHUNK_SIZE"
    (tmp_path / "not.tif").write_text("not a raster")
    with pytest.raises(SitsError, match="cannot be opened") as error:
        raster_statistics(str(tmp_path / "not.tif"), 1, 16, backend=sequential_backend)
    assert error.value.parameter == "INPUT"
