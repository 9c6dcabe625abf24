"""Tiled filters: bit-identical to the whole array, written atomically, bad input named."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from conftest import SHARED_DATA, write_raster
from numpy.lib.stride_tricks import sliding_window_view

from sits_qgis.errors import Cancelled, SitsError
from sits_qgis.tiling.filters import Filter, apply_filter, radius
from sits_qgis.tiling.rasterfilter import raster_filter

RNG = np.random.default_rng(31)
SIGMA = 1.5


def whole_array(data, valid, kind: Filter, size: int, nodata: float, sigma: float = SIGMA):
    """The same definition applied to the whole band in memory (the oracle)."""
    r = radius(kind, size, sigma)
    padded = np.ma.MaskedArray(np.pad(data, r), mask=np.pad(~valid, r, constant_values=True))
    return apply_filter(padded, kind, size, sigma, nodata)


def validity(data: np.ndarray, nodata: float | None) -> np.ndarray:
    valid = np.ones(data.shape, bool)
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    if nodata is not None:
        valid &= data != nodata
    return valid


def holes(shape, dtype, nodata):
    data = (RNG.normal(200, 50, shape)).astype(dtype)
    data[RNG.random(shape) < 0.04] = nodata
    data[:6, :9] = nodata  # a corner hole: windows with no valid pixel
    if np.dtype(dtype).kind == "f":
        data[40:47, 20:60] = np.nan
    return data


@pytest.mark.parametrize("kind", list(Filter))
@pytest.mark.parametrize("chunk", [16, 48, 512])
def test_tiled_equals_whole_array_bit_for_bit(tmp_path, sequential_backend, kind, chunk):
    data = holes((157, 203), "float32", -9999.0)
    path = write_raster(tmp_path / "in.tif", data, -9999.0, block=32)
    out = raster_filter(
        str(path), str(tmp_path / "out.tif"), kind, 5, SIGMA, 1, chunk, backend=sequential_backend
    )
    with rasterio.open(out) as ds:
        tiled = ds.read(1)
    expected = whole_array(data, validity(data, -9999.0), kind, 5, -9999.0)
    assert tiled.dtype == expected.dtype
    assert tiled.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kind", list(Filter))
def test_processes_write_the_same_pixels_as_sequential(
    tmp_path, processes_backend, sequential_backend, kind
):
    data = np.stack([holes((190, 170), "int16", -1), holes((190, 170), "int16", -1)])
    path = str(write_raster(tmp_path / "in.tif", data, -1, block=16))
    outputs = []
    for name, backend in (("seq", sequential_backend), ("proc", processes_backend)):
        out = raster_filter(
            path, str(tmp_path / f"{name}.tif"), kind, 3, SIGMA, 0, 32, backend=backend
        )
        with rasterio.open(out) as ds:
            outputs.append(ds.read())
    assert outputs[0].shape == (2, 190, 170)
    assert outputs[0].tobytes() == outputs[1].tobytes()
    for band in range(2):
        expected = whole_array(data[band], validity(data[band], -1), kind, 3, -1)
        assert outputs[1][band].tobytes() == expected.tobytes()


def test_definition_against_brute_force_windows(tmp_path, sequential_backend):
    """max/min/mean/std/median over the valid pixels of each window, computed plainly."""
    data = holes((40, 37), "float32", -5.0)
    valid = validity(data, -5.0)
    path = str(write_raster(tmp_path / "in.tif", data, -5.0, block=16))
    values = np.pad(np.where(valid, data, np.nan).astype(np.float64), 2, constant_values=np.nan)
    windows = sliding_window_view(values, (5, 5)).reshape(40, 37, 25)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        plain = {
            Filter.MAXIMUM: np.nanmax(windows, -1),
            Filter.MINIMUM: np.nanmin(windows, -1),
            Filter.MEAN: np.nanmean(windows, -1),
            Filter.STD: np.nanstd(windows, -1),
            Filter.MEDIAN: np.nanmedian(windows, -1),
        }
    for kind, expected in plain.items():
        out = raster_filter(
            path,
            str(tmp_path / f"{kind.value}.tif"),
            kind,
            5,
            None,
            1,
            16,
            backend=sequential_backend,
        )
        with rasterio.open(out) as ds:
            got = ds.read(1).astype(np.float64)
        keep = valid & ~np.isnan(expected)
        np.testing.assert_allclose(got[keep], expected[keep], rtol=2e-6, atol=1e-4)
        assert (got[~valid] == -5.0).all()


def test_output_keeps_grid_descriptions_and_types(tmp_path, sequential_backend):
    data = RNG.integers(0, 255, (3, 70, 90)).astype("uint8")
    path = tmp_path / "rgb.tif"
    write_raster(path, data, None, block=16)
    with rasterio.open(path, "r+") as ds:
        for i, name in enumerate(("red", "green", "blue"), start=1):
            ds.set_band_description(i, name)
    maximum = raster_filter(
        str(path), str(tmp_path / "max.tif"), "maximum", 3, None, 0, 32, backend=sequential_backend
    )
    mean = raster_filter(
        str(path),
        str(tmp_path / "mean.tif"),
        "mean",
        3,
        None,
        2,
        32,
        backend=sequential_backend,
        cog=True,
    )
    with rasterio.open(path) as src, rasterio.open(maximum) as mx, rasterio.open(mean) as mn:
        assert (mx.count, mx.dtypes[0], mx.nodata) == (3, "uint8", 0.0)  # uint8 lowest
        assert mx.descriptions == ("red", "green", "blue")
        assert (mn.count, mn.dtypes[0], mn.descriptions) == (1, "float32", ("green",))
        assert np.isnan(mn.nodata)
        for out in (mx, mn):
            assert out.crs == src.crs and out.transform == src.transform
            assert out.shape == src.shape
            assert out.compression.name.lower() == "zstd"
        assert mn.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert mx.block_shapes[0] == (32, 32)


def test_cancel_and_failure_leave_nothing_at_the_destination(tmp_path, sequential_backend):
    data = holes((300, 300), "float32", -9999.0)
    path = str(write_raster(tmp_path / "in.tif", data, -9999.0, block=16))
    target = tmp_path / "out.tif"
    calls = []
    with pytest.raises(Cancelled):
        raster_filter(
            path,
            str(target),
            "mean",
            3,
            None,
            1,
            16,
            backend=sequential_backend,
            is_cancelled=lambda: calls.append(1) or len(calls) > 3,
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "in.tif"]
    target.write_bytes(b"previous result")  # an existing output survives a failed run
    with pytest.raises(SitsError):
        raster_filter(path, str(target), "median", 4, None, 1, 16, backend=sequential_backend)
    assert target.read_bytes() == b"previous result"


def test_bad_input_names_the_parameter(tmp_path, sequential_backend):
    path = str(write_raster(tmp_path / "in.tif", holes((40, 50), "float32", -1.0), -1.0))
    out = str(tmp_path / "out.tif")
    cases = [
        (dict(kind="mean", size=4), "SIZE", "odd"),
        (dict(kind="mean", size=1), "SIZE", "odd"),
        (dict(kind="gaussian", sigma=0), "SIGMA", "positive"),
        (dict(kind="mean", chunk_size=8), "CHUNK_SIZE", "at least 16"),
        (dict(kind="mean", size=41), "SIZE", "larger than the raster"),
        (dict(kind="gaussian", sigma=6), "SIGMA", "larger than the raster"),
        (dict(kind="mean", band=2), "BAND", "does not exist"),
    ]
    for arguments, parameter, words in cases:
        with pytest.raises(SitsError, match=words) as error:
            raster_filter(path, out, backend=sequential_backend, **arguments)
        assert error.value.parameter == parameter
    with pytest.raises(SitsError, match="is the input") as error:
        raster_filter(path, path, "mean", backend=sequential_backend)
    assert error.value.parameter == "OUTPUT"
    with pytest.raises(SitsError, match="cannot be written") as error:
        raster_filter(path, str(tmp_path / "missing" / "o.tif"), "mean", backend=sequential_backend)
    assert error.value.parameter == "OUTPUT"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


def test_raster_without_crs_is_kept_as_it_is(tmp_path, sequential_backend):
    data = holes((30, 30), "float32", -1.0)
    path = str(write_raster(tmp_path / "in.tif", data, -1.0, crs=None))
    out = raster_filter(path, str(tmp_path / "o.tif"), "maximum", 3, backend=sequential_backend)
    with rasterio.open(out) as ds:
        assert ds.crs is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [("exploradores_aster_dem.tif", "gaussian"), ("everest_landsat_rgb.tif", "median")],
)
def test_shared_rasters(tmp_path, processes_backend, name, kind):
    source = SHARED_DATA / name
    if not source.exists():
        pytest.skip("shared data absent")
    out = raster_filter(
        str(source), str(tmp_path / "o.tif"), kind, 5, 2.0, 0, 128, backend=processes_backend
    )
    with rasterio.open(source) as src, rasterio.open(out) as ds:
        data, nodata = src.read(), src.nodata
        for band in range(src.count):
            expected = whole_array(
                data[band],
                validity(data[band], nodata),
                Filter(kind),
                5,
                nodata if nodata is not None else ds.nodata,
                2.0,
            )
            assert ds.read(band + 1).tobytes() == expected.tobytes()


@pytest.mark.parametrize(("kind", "size", "sigma"), [("mean", 21, None), ("gaussian", 3, 3.0)])
def test_window_larger_than_the_chunk(tmp_path, processes_backend, kind, size, sigma):
    """Windows of 21 and 25 pixels over 16-pixel tiles: the overlap spans several tiles."""
    data = holes((100, 90), "float64", -9999.0)
    path = str(write_raster(tmp_path / "in.tif", data, -9999.0, block=16))
    out = raster_filter(
        path, str(tmp_path / "o.tif"), kind, size, sigma, 1, 16, backend=processes_backend
    )
    with rasterio.open(out) as ds:
        tiled = ds.read(1)
    assert tiled.dtype == np.float64
    expected = whole_array(
        data, validity(data, -9999.0), Filter(kind), size, -9999.0, sigma or SIGMA
    )
    assert tiled.tobytes() == expected.tobytes()


def test_gaussian_on_a_raster_without_gaps(tmp_path, sequential_backend):
    """Tiles without missing pixels take a shortcut for the weights: same bits."""
    data = RNG.normal(0, 1, (70, 80)).astype("float32")
    path = str(write_raster(tmp_path / "in.tif", data, None, block=16))
    out = raster_filter(
        path, str(tmp_path / "o.tif"), "gaussian", 3, 2.0, 1, 32, backend=sequential_backend
    )
    with rasterio.open(out) as ds:
        tiled = ds.read(1)
    expected = whole_array(data, np.ones(data.shape, bool), Filter.GAUSSIAN, 3, np.nan, 2.0)
    assert tiled.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_medians_of_64_bit_integers_are_exact(tmp_path, sequential_backend, dtype):
    """Values near 2**60 differ in their last bits, which float64 loses: each median
    equals the one computed with Python's integers (rounded half to even, as the float
    path rounds), tiled as whole."""
    big = np.iinfo(dtype).max // 8
    rng = np.random.default_rng(7)
    data = (big + rng.integers(-1000, 1000, (30, 33))).astype(dtype)
    nodata = 0
    data[rng.random(data.shape) < 0.1] = nodata
    data[:4, :4] = nodata
    valid = data != nodata
    path = str(write_raster(tmp_path / "in.tif", data, nodata, block=16))
    out = raster_filter(
        path, str(tmp_path / "median.tif"), "median", 3, None, 1, 16, backend=sequential_backend
    )
    with rasterio.open(out) as ds:
        got = ds.read(1)
    assert got.dtype == np.dtype(dtype)
    padded = np.pad(data, 1)
    padded_valid = np.pad(valid, 1)
    checked = 0
    for row in range(data.shape[0]):
        for col in range(data.shape[1]):
            window = [int(v) for v, ok in zip(padded[row:row + 3, col:col + 3].ravel(),
                                             padded_valid[row:row + 3, col:col + 3].ravel())
                      if ok]  # fmt: skip
            if not valid[row, col] or not window:
                assert got[row, col] == nodata
                continue
            window.sort()
            low, high = window[(len(window) - 1) // 2], window[len(window) // 2]
            expected = (low + high) // 2
            if (low + high) % 2 and expected % 2:
                expected += 1  # half to even
            assert int(got[row, col]) == expected, (row, col)
            checked += 1
    assert checked > 700


def test_a_complex_band_is_refused_naming_the_band(tmp_path, sequential_backend):
    """SAR single-look complex data: statistics and filters are asked of a real band."""
    from sits_qgis.tiling.statistics import raster_statistics

    data = (np.arange(400).reshape(20, 20) * (1 + 1j)).astype("complex64")
    path = tmp_path / "slc.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="complex64") as out:  # fmt: skip
        out.write(data, 1)
    with pytest.raises(SitsError, match="holds complex numbers") as error:
        raster_filter(str(path), str(tmp_path / "o.tif"), "mean", backend=sequential_backend)
    assert error.value.parameter == "BAND"
    with pytest.raises(SitsError, match="holds complex numbers"):
        raster_statistics(str(path), backend=sequential_backend)
