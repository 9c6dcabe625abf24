"""Grids however a catalogue states them: a MODIS-like catalogue on the sinusoidal grid
(a CRS without an EPSG code) whose items give the CRS only as ``proj:wkt2`` and the pixel
grid at the item level, as Planetary Computer's MODIS items do, and the same files with
no projection field at all (the grid then comes from each file's header). The oracle is
rasterio reading the pixel under the point straight from the COG."""

from __future__ import annotations

import json
from datetime import date

import pytest
import shapely
from local_stac import serve_folder
from pyproj import CRS
from sample_modis import NDVI, NODATA, SINUSOIDAL_WKT, make_modis, tile_window
from stac_oracle import href, point_value

from sits_qgis.timeseries.features import Feature, FeatureLayer
from sits_qgis.timeseries.options import SeriesOptions, TableOptions
from sits_qgis.timeseries.pixel_grid import crs_label, declared_crs, native_grid
from sits_qgis.timeseries.running import extract_table

#: Near Paris (MODIS tile h18v04), and a point a hair inside a pixel's corner.
LON, LAT = 2.3512, 48.8566


@pytest.fixture(scope="module")
def modis(tmp_path_factory):
    root = tmp_path_factory.mktemp("modis")
    made = {}

    def make(files_url: str):
        made["catalogue"] = make_modis(root, files_url, LON, LAT, date(2023, 1, 1), 5)
        return made["catalogue"].collections

    with serve_folder(root, make) as served:
        yield served, made["catalogue"]


def corner_point() -> tuple[float, float]:
    """A position 1 cm inside the upper-left corner of a pixel near the site (lon, lat):
    the nearest-centre and the containing pixel differ there by a whole pixel."""
    from pyproj import Transformer

    _, _, transform = tile_window(LON, LAT, 64)
    x, y = transform * (40, 23)
    back = Transformer.from_crs(SINUSOIDAL_WKT, "EPSG:4326", always_xy=True)
    return back.transform(x + 0.01, y - 0.01)


def run(stac_url: str, collection: str, points: list[tuple[float, float]], backend):
    layer = FeatureLayer(
        tuple(Feature(f"p{i}", shapely.to_wkb(shapely.Point(p))) for i, p in enumerate(points)),
        "EPSG:4326",
    )
    options = SeriesOptions(
        stac_url=stac_url, collection=collection, bands=(NDVI,), start=date(2023, 1, 1),
        end=date(2023, 3, 31), mask_band="", mask_values=(),
    )  # fmt: skip
    table_run = extract_table(layer, options, TableOptions(), backend, points=True)
    return table_run.plan, [r for o in table_run for r in table_run.rows(o)]


@pytest.mark.parametrize("collection", ["modis-13Q1-061", "modis-no-proj"])
def test_points_on_a_grid_without_epsg_code_get_the_pixel_that_contains_them(
    modis, collection, sequential_backend
):
    served, catalogue = modis
    points = [(LON, LAT), corner_point()]
    plan, rows = run(served.stac_urls[collection], collection, points, sequential_backend)
    for planned in plan.features:
        assert planned.job is not None, planned.problem
        crs = planned.job.target.geobox.crs
        assert crs.epsg is None and CRS.from_user_input(str(crs.wkt)).equals(SINUSOIDAL_WKT)
        assert abs(planned.job.target.geobox.affine.a) == pytest.approx(231.656358, abs=1e-6)
    checked = 0
    for index, point in enumerate(points):
        feature_rows = [r for r in rows if r["feature_id"] == f"p{index}"]
        items = sorted(plan.features[index].job.items, key=lambda i: i["id"])
        assert len(feature_rows) == len(items) == len(catalogue.dates)
        for row, item in zip(feature_rows, items, strict=True):
            expected = point_value(href(item, NDVI), *point)
            if expected == NODATA:
                assert row[NDVI] is None
            else:
                assert row[NDVI] == expected
                checked += 1
    assert checked >= 8


def test_every_projection_statement_is_read():
    """proj:code, proj:epsg, proj:wkt2 and proj:projjson name the same CRS."""
    projjson = CRS.from_wkt(SINUSOIDAL_WKT).to_json_dict()
    for fields, expected in (
        ({"proj:code": "EPSG:32631"}, "EPSG:32631"),
        ({"proj:epsg": 32631}, "EPSG:32631"),
        ({"proj:epsg": None, "proj:wkt2": SINUSOIDAL_WKT}, SINUSOIDAL_WKT),
        ({"proj:projjson": projjson}, json.dumps(projjson, sort_keys=True)),
        ({"proj:epsg": None}, None),
    ):
        assert declared_crs(fields) == expected
    assert crs_label(CRS.from_epsg(32631).to_wkt()) == "EPSG:32631"
    assert crs_label(SINUSOIDAL_WKT) == "unnamed"


def test_the_asset_statement_wins_and_an_item_level_transform_serves_every_asset():
    item = {
        "properties": {"proj:epsg": 32631, "proj:transform": [20, 0, 600000, 0, -20, 5000040]},
        "assets": {
            "red": {"proj:transform": [10, 0, 600000, 0, -10, 5000040]},
            "scl": {},
        },
    }
    grid = native_grid([item], ["red", "scl"], 3.0, 45.0)
    assert (grid.crs, grid.resolution, grid.origin) == ("EPSG:32631", 10.0, (600000.0, 5000040.0))
    grid = native_grid([item], ["scl"], 3.0, 45.0)
    assert grid.resolution == 20.0


def test_items_stating_nothing_and_no_header_reader_say_what_to_set():
    with pytest.raises(ValueError, match="set CRS and RESOLUTION"):
        native_grid([{"properties": {}, "assets": {"red": {"href": "x"}}}], ["red"], 3.0, 45.0)
