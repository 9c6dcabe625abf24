"""The pure pieces of the time-series engine, checked against values worked out by hand:
gap filling along time, safe and unique file names, band aliases, search geometry."""

from __future__ import annotations

import numpy as np
import pytest

from sits_qgis.errors import SitsError
from sits_qgis.stac.bands import asset_bands, resolve_bands
from sits_qgis.stac.catalogues import EARTH_SEARCH, PLANETARY_COMPUTER, resolve_catalogue
from sits_qgis.stac.search import search_area
from sits_qgis.timeseries.features import safe_name, unique_names
from sits_qgis.timeseries.gapfill import fill_gaps
from sits_qgis.timeseries.options import GapFill

DAY = 86400.0


def test_linear_fill_interpolates_by_date_and_holds_the_ends() -> None:
    # SITS turns this into [1, 4, 4, 4, 4]; real interpolation gives 2 and 3.
    values = np.array([1.0, np.nan, np.nan, 4.0, np.nan])
    times = np.arange(5) * DAY
    assert fill_gaps(values, times, GapFill.LINEAR).tolist() == [1.0, 2.0, 3.0, 4.0, 4.0]


def test_linear_fill_uses_the_real_time_spacing() -> None:
    values = np.array([np.nan, 10.0, np.nan, 40.0])
    times = np.array([0.0, 5.0, 10.0, 15.0]) * DAY
    times[2] = 14 * DAY  # the gap is 9 days after the first value, 1 day before the next
    filled = fill_gaps(values, times, GapFill.LINEAR)
    assert filled[0] == 10.0  # start held at the first valid value
    assert filled[2] == pytest.approx(10.0 + 30.0 * 9 / 10)


def test_nearest_fill_takes_the_closer_date_and_the_earlier_on_a_tie() -> None:
    values = np.array([1.0, np.nan, np.nan, np.nan, 5.0])
    times = np.array([0.0, 1.0, 2.0, 3.5, 4.0]) * DAY
    assert fill_gaps(values, times, GapFill.NEAREST).tolist() == [1.0, 1.0, 1.0, 5.0, 5.0]


def test_fill_works_per_pixel_and_leaves_valid_and_empty_pixels_alone() -> None:
    cube = np.full((4, 2, 2), np.nan, dtype=np.float32)
    cube[:, 0, 0] = [2, np.nan, 6, 8]
    cube[:, 0, 1] = [np.nan, 3, np.nan, np.nan]
    cube[:, 1, 0] = [1, 2, 3, 4]
    filled = fill_gaps(cube, np.arange(4) * DAY, GapFill.LINEAR)
    assert filled.dtype == np.float32 and filled.shape == cube.shape
    assert filled[:, 0, 0].tolist() == [2, 4, 6, 8]
    assert filled[:, 0, 1].tolist() == [3, 3, 3, 3]
    assert filled[:, 1, 0].tolist() == [1, 2, 3, 4]
    assert np.isnan(filled[:, 1, 1]).all()
    assert fill_gaps(cube, np.arange(4) * DAY, GapFill.NONE) is cube


@pytest.mark.parametrize(
    ("feature_id", "expected"),
    [
        ("plot 12", "plot_12"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b:c*d?e", "a_b_c_d_e"),
        ("..", "feature"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("2016-01-01 00:00:00", "2016-01-01_00_00_00"),
        ("x" * 200, "x" * 80),
    ],
)
def test_safe_name_removes_separators_traversal_and_windows_problems(
    feature_id: str, expected: str
) -> None:
    assert safe_name(feature_id) == expected


def test_unique_names_separate_ids_that_sanitise_alike() -> None:
    names = unique_names(["a/b", "a:b", "A_B", "c"])
    assert names == {"a/b": "a_b", "a:b": "a_b_2", "A_B": "A_B_3", "c": "c"}


EARTH_SEARCH_ASSETS = {
    "red": {"eo:bands": [{"name": "B04", "common_name": "red"}], "gsd": 10},
    "nir": {"eo:bands": [{"name": "B08", "common_name": "nir"}], "gsd": 10},
    "scl": {"raster:bands": [{"nodata": 0, "spatial_resolution": 20}]},
    "visual": {"eo:bands": [{"name": "B04", "common_name": "red"}, {"name": "B03"}]},
}
PLANETARY_ASSETS = {
    "B04": {"eo:bands": [{"name": "B04", "common_name": "red"}], "gsd": 10},
    "B08": {"eo:bands": [{"name": "B08", "common_name": "nir"}], "gsd": 10},
    "SCL": {"eo:bands": [{"name": "SCL"}]},
    "visual": {"eo:bands": [{"name": "B04", "common_name": "red"}, {"name": "B03"}]},
}


def test_band_names_resolve_the_same_way_on_both_catalogues() -> None:
    earth = asset_bands({"item_assets": EARTH_SEARCH_ASSETS})
    planetary = asset_bands({"item_assets": PLANETARY_ASSETS})
    assert "visual" not in earth  # multi-band previews never answer to "red"
    for name, earth_key, planetary_key in [
        ("red", "red", "B04"),
        ("B08", "nir", "B08"),
        ("SCL", "scl", "SCL"),
    ]:
        assert resolve_bands([name], earth, "c", "BANDS")[name].key == earth_key
        assert resolve_bands([name], planetary, "c", "BANDS")[name].key == planetary_key


def test_unknown_band_lists_the_available_ones() -> None:
    with pytest.raises(SitsError) as caught:
        resolve_bands(["B99"], asset_bands({"item_assets": EARTH_SEARCH_ASSETS}), "s2", "BANDS")
    assert caught.value.parameter == "BANDS"
    assert "'B99'" in str(caught.value) and "red (B04, 10 m)" in str(caught.value)


def test_catalogue_presets_and_urls() -> None:
    assert resolve_catalogue("") is EARTH_SEARCH
    assert resolve_catalogue("planetary-computer") is PLANETARY_COMPUTER
    assert resolve_catalogue("http://127.0.0.1:8000/").url == "http://127.0.0.1:8000"
    with pytest.raises(SitsError, match="neither a catalogue preset"):
        resolve_catalogue("ftp://example.org")


def test_search_area_merges_features_into_few_cells() -> None:
    area = search_area(
        [(2.01, 45.01, 2.01, 45.01), (2.02, 45.02, 2.02, 45.02), (10.0, 50.0, 10.1, 50.1)]
    )
    assert area.geom_type == "MultiPolygon" and len(area.geoms) == 2
    assert area.contains(__import__("shapely").Point(2.01, 45.01))
    assert area.area < 0.05  # a few cells, not the box from Spain to Germany


def test_file_grids_are_read_from_the_file_when_the_catalogue_declares_no_crs(tmp_path) -> None:
    """Tiles of neighbouring UTM zones share geotransform and size; only a declared CRS
    lets the engine reuse a grid it has read, and then only for that CRS."""
    import rasterio
    from osgeo import gdal
    from pyproj import CRS

    from sits_qgis.timeseries.load import _file_grid

    transform = rasterio.transform.from_origin(399960.0, 5500020.0, 10.0, 10.0)
    paths = {}
    for epsg in (32631, 32632):
        paths[epsg] = tmp_path / f"tile_{epsg}.tif"
        with rasterio.open(
            paths[epsg], "w", driver="GTiff", width=4, height=4, count=1, dtype="uint16",
            crs=f"EPSG:{epsg}", transform=transform,
        ) as out:  # fmt: skip
            out.write(np.zeros((1, 4, 4), np.uint16))

    def grid_crs(epsg: int, item: dict) -> int:
        dataset = gdal.Open(str(paths[epsg]))
        transform = tuple(dataset.GetGeoTransform())
        shape = (dataset.RasterYSize, dataset.RasterXSize)
        grid = _file_grid(transform, shape, dataset.GetProjection, item, "red")
        return CRS.from_wkt(grid[0]).to_epsg()

    undeclared = {"assets": {"red": {}}, "properties": {}}
    assert [grid_crs(e, undeclared) for e in (32631, 32632, 32631)] == [32631, 32632, 32631]
    declared = {e: {"assets": {"red": {}}, "properties": {"proj:epsg": e}} for e in paths}
    assert [grid_crs(e, declared[e]) for e in (32631, 32632, 32631)] == [32631, 32632, 32631]


def test_http_settings_reach_gdal_and_the_api_client() -> None:
    from sits_qgis.stac.client import HttpSettings, retry_policy
    from sits_qgis.timeseries.access import Access

    access = Access(
        {"Authorization": "Basic x"}, HttpSettings(5.0, 1), credential_hosts=frozenset({"a.org"})
    )
    options = access.gdal_options("https://a.org/x.tif")
    assert (options["GDAL_HTTP_TIMEOUT"], options["GDAL_HTTP_MAX_RETRY"]) == ("5", "1")
    assert options["GDAL_HTTP_HEADERS"] == "Authorization: Basic x"
    # another host never gets the credentials
    assert "GDAL_HTTP_HEADERS" not in access.gdal_options("https://elsewhere.org/x.tif")
    assert HttpSettings(5.0, 1).api_timeout == (5.0, 5.0)
    assert HttpSettings(120.0, 1).api_timeout == (10.0, 120.0)
    assert retry_policy(2).total == 2
    with pytest.raises(SitsError, match="at least 1 second"):
        HttpSettings(0.5, 1)
    with pytest.raises(SitsError, match="retries 0 or more"):
        HttpSettings(30.0, -1)


def test_one_point_is_placed_and_mapped_without_a_numpy_deprecation() -> None:
    """pyproj takes a one-element array for a scalar (``float(array)``, deprecated by
    numpy 1.25): a single point, through every transformation of a run, warned on every
    run. Warnings are errors here; the places are those PROJ gives for plain floats."""
    import warnings

    import shapely
    from affine import Affine
    from pyproj import CRS, Transformer

    from sits_qgis.timeseries.features import Feature, FeatureLayer, place_features
    from sits_qgis.timeseries.pixel_grid import Grid, to_grid_crs
    from sits_qgis.timeseries.resample import _compute_map, grid_key

    point = shapely.Point(448_251.0, 5_411_935.0)  # Paris in UTM 31N
    to_wgs84 = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(point.x, point.y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        [placed] = place_features(FeatureLayer((Feature("a", point.wkb),), "EPSG:32631"))
        back = to_grid_crs(placed.geometry, Grid("EPSG:32631", 10.0))
        laea = CRS.from_epsg(3035).to_wkt()
        utm = CRS.from_epsg(32631).to_wkt()
        mapped = _compute_map(
            grid_key(laea, Affine(10, 0, 3_760_000, 0, -10, 2_890_000), (1, 1)),
            grid_key(utm, Affine(10, 0, 399_960, 0, -10, 5_500_020), (10_980, 10_980)),
        )
    assert (placed.geometry.x, placed.geometry.y) == (lon, lat)
    assert back.x == pytest.approx(point.x, abs=1e-6) and back.y == pytest.approx(point.y, abs=1e-6)
    assert mapped.covered.shape == (1, 1) and mapped.window is not None


def test_table_kinds_and_cube_modes_are_the_words_they_were() -> None:
    """Points without a buffer give pixel values, anything else zonal statistics; both
    enums write the words that files and JSON carried before they were enums."""
    import json

    from sits_qgis.timeseries.options import CubeMode, TableKind
    from sits_qgis.timeseries.planning import table_kind

    assert table_kind(True, 0.0) is TableKind.PIXEL
    assert table_kind(True, 10.0) is table_kind(False, 0.0) is TableKind.AREA
    assert json.dumps([TableKind.PIXEL, TableKind.AREA, CubeMode.IMAGE, CubeMode.PATCH]) == (
        '["pixel", "area", "image", "patch"]'
    )
