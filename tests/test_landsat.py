"""Landsat Collection 2 Level-2 in Planetary Computer's conventions (a generated
catalogue: Landsat 8 and 9, two UTM zones, CRS and pixel grid at the item level): the
qa_pixel bits mask exactly the pixels whose bits are set (decoded here independently),
physical values are DN x 0.0000275 - 0.2, and NDVI is computed on physical values.
The oracle reads each pixel straight from the COG with rasterio."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import shapely
from conftest import SITES
from local_stac import serve_folder
from sample_landsat import OFFSET, QA, SCALE, make_landsat
from stac_oracle import href, point_value

from sits_qgis.timeseries.features import Feature, FeatureLayer
from sits_qgis.timeseries.options import SeriesOptions, TableOptions
from sits_qgis.timeseries.running import extract_table

#: Fill, dilated cloud, cirrus, cloud and cloud shadow (R sits' Landsat mask, without
#: its confidence bits), and bit 9 (medium or high cloud confidence).
BITS = (0, 1, 2, 3, 4, 9)
DATES = 9


@pytest.fixture(scope="module")
def landsat(tmp_path_factory):
    root = tmp_path_factory.mktemp("landsat")
    made = {}

    def make(files_url: str):
        sites = [(s.name, s.lon, s.lat) for s in SITES]
        made["catalogue"] = make_landsat(root, files_url, sites, date(2023, 5, 1), DATES)
        return made["catalogue"].collections

    with serve_folder(root, make) as served:
        yield served.stac_urls["landsat-c2-l2"]


def run(url: str, backend, **changes):
    layer = FeatureLayer(
        tuple(Feature(s.name, shapely.to_wkb(shapely.Point(s.lon, s.lat))) for s in SITES),
        "EPSG:4326",
    )
    values = {
        "stac_url": url, "collection": "landsat-c2-l2", "bands": ("red", "nir08"),
        "start": date(2023, 5, 1), "end": date(2023, 8, 1), "mask_band": QA,
        "mask_values": (), "mask_bits": BITS, "max_masked": 0.5, "indices": ("NDVI",),
    } | changes  # fmt: skip
    table_run = extract_table(layer, SeriesOptions(**values), TableOptions(), backend, points=True)
    return table_run.plan, [r for o in table_run for r in table_run.rows(o)]


def masked_by_bits(code: int) -> bool:
    return any((code >> bit) & 1 for bit in BITS)


def physical(dn: float) -> float:
    return float(np.float32(dn * SCALE + OFFSET))


@pytest.mark.parametrize("values", ["physical", "stored"])
def test_qa_bits_physical_values_and_ndvi_equal_the_pixels_read_directly(
    landsat, values, sequential_backend
):
    plan, rows = run(landsat, sequential_backend, physical=values == "physical")
    crs = {p.feature_id: str(p.job.target.geobox.crs) for p in plan.features}
    assert crs == {"paris": "EPSG:32631", "west": "EPSG:32631", "east": "EPSG:32632"}
    masked = kept = 0
    for site in SITES:
        planned = next(p for p in plan.features if p.feature_id == site.name)
        items = sorted(planned.job.items, key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        assert len(site_rows) == len(items) == DATES
        for row, item in zip(site_rows, items, strict=True):
            code = int(point_value(href(item, QA), site.lon, site.lat))
            if masked_by_bits(code):
                assert row["status"] == "masked" and row["red"] is None, code
                masked += 1
                continue
            red = point_value(href(item, "red"), site.lon, site.lat)
            nir = point_value(href(item, "nir08"), site.lon, site.lat)
            assert row["status"] == "ok", code
            if values == "physical":
                assert (row["red"], row["nir08"]) == (physical(red), physical(nir))
            else:
                assert (row["red"], row["nir08"]) == (red, nir)
            r, n = red * SCALE + OFFSET, nir * SCALE + OFFSET
            assert row["NDVI"] == pytest.approx((n - r) / (n + r), rel=1e-6)
            kept += 1
    assert masked >= 6 and kept >= 6


#: The Landsat C2 qa_pixel convention's default (R sits' Landsat mask): fill, dilated
#: cloud, cirrus, cloud, shadow, snow, and the high bit of each two-bit confidence.
PROFILE_BITS = (0, 1, 2, 3, 4, 5, 9, 11, 13, 15)


def test_the_collections_default_mask_is_guessed_from_qa_pixel_and_said(
    landsat, sequential_backend
):
    """MASK_BAND auto on a catalogue without a profile: qa_pixel is known by its name, so
    its convention's default bits mask exactly the pixels whose decoded bits say so."""
    plan, rows = run(landsat, sequential_backend, mask_band="auto", mask_bits=(), indices=())
    assert plan.spec.mask_asset == QA and plan.spec.mask_bits == PROFILE_BITS
    assert any("has no profile" in n and "qa_pixel" in n for n in plan.notes), plan.notes
    statuses = set()
    for site in SITES:
        planned = next(p for p in plan.features if p.feature_id == site.name)
        items = sorted(planned.job.items, key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        for row, item in zip(site_rows, items, strict=True):
            code = int(point_value(href(item, QA), site.lon, site.lat))
            hidden = any((code >> bit) & 1 for bit in PROFILE_BITS)
            assert row["status"] == ("masked" if hidden else "ok"), code
            statuses.add(row["status"])
    assert statuses == {"masked", "ok"}
