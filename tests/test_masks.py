"""Masks beyond class lists: bit positions (MASK_BITS, as Landsat's qa_pixel and HLS'
Fmask need), with classes or alone; checked against the bits decoded independently,
pixel by pixel, from the mask band read straight from the COG with rasterio."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATES, SITES
from stac_oracle import href, point_value
from test_timeseries import items_by_site, options, point_layer, run_points

from sits_qgis.errors import SitsError
from sits_qgis.timeseries.load import MaskRule
from sits_qgis.timeseries.planning import plan_run, table_target
from sits_qgis.timeseries.problems import FeatureProblem


def decoded(value: int, bits: tuple[int, ...], classes: tuple[int, ...]) -> bool:
    """The oracle: masked when the value is a listed class or has a listed bit set."""
    return value in classes or any((value >> bit) & 1 for bit in bits)


def test_bits_and_classes_equal_an_independent_decoding_of_every_uint16_value():
    values = np.arange(1 << 16, dtype=np.uint16).reshape(256, 256)
    rule = MaskRule("qa_pixel", (5, 40000), 0.5, bits=(0, 1, 3, 4, 15))
    expected = np.array([decoded(int(v), rule.bits, rule.values) for v in values.ravel()])
    assert np.array_equal(rule.masked(values).ravel(), expected)
    assert rule.masked(values).sum() == expected.sum() > 0


def test_signed_bands_use_the_bits_of_their_own_width():
    values = np.array([-1, 0, 1, -32768], dtype=np.int16)  # -1: every bit set
    rule = MaskRule("qa", (), 0.5, bits=(15,))
    assert rule.masked(values).tolist() == [True, False, False, True]


def test_bits_on_a_float_band_or_beyond_the_dtype_are_said():
    with pytest.raises(FeatureProblem, match="holds float32 values; bits need a band"):
        MaskRule("ndvi", (), 0.5, bits=(1,)).masked(np.zeros(3, dtype=np.float32))
    with pytest.raises(FeatureProblem, match=r"bit 9 does not exist .* \(uint8: bits 0 to 7\)"):
        MaskRule("scl", (), 0.5, bits=(1, 9)).masked(np.zeros(3, dtype=np.uint8))


def test_a_bit_position_out_of_any_range_names_mask_bits(stac):
    served, _ = stac
    with pytest.raises(SitsError, match="64 is not a bit position") as caught:
        plan_run(point_layer(), options(served.stac_urls["earth-search"], mask_bits=(3, 64)),
                 0.0, table_target)  # fmt: skip
    assert caught.value.parameter == "MASK_BITS"


@pytest.fixture(scope="module")
def stac(sample_stac):
    return sample_stac


def test_mask_bits_alone_mask_the_pixels_whose_bit_is_set(stac, sequential_backend):
    """Bit 3 of the SCL band (set for classes 8 to 11), no class list: the dates whose
    pixel has it are gaps, every other date holds the pixel's value."""
    served, _ = stac
    plan, rows = run_points(
        served.stac_urls["earth-search"], sequential_backend, mask_values=(), mask_bits=(3,)
    )
    masked = kept = 0
    for site in SITES:
        items = sorted(items_by_site(plan)[site.name], key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        assert len(site_rows) == len(DATES)
        for row, item in zip(site_rows, items, strict=True):
            scl = int(point_value(href(item, "scl"), site.lon, site.lat))
            if decoded(scl, (3,), ()):
                assert row["status"] == "masked" and row["red"] is None
                masked += 1
            else:
                assert row["red"] == point_value(href(item, "red"), site.lon, site.lat)
                kept += 1
    assert masked >= 1 and kept >= 6


def test_an_empty_mask_band_masks_nothing_and_says_so(stac):
    served, _ = stac
    unused = options(
        served.stac_urls["earth-search"], mask_band="", mask_values=(9,), mask_bits=(3,)
    )
    plan = plan_run(point_layer(), unused, 0.0, table_target)
    assert plan.spec.mask_rule is None
    assert plan.notes == [
        "MASK_BAND is empty: no pixel is masked, and MASK_VALUES and MASK_BITS are not used."
    ]
