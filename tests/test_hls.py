"""HLS v2.0 in NASA's CMR-STAC conventions (``HLSL30_2.0`` of LP DAAC, generated): items
that state no projection and no band metadata, files behind an Earthdata bearer token.
With the collection's profile, ``red`` and ``nir`` are B04 and B05, the default mask is
Fmask's cloud, adjacent, shadow, snow and moderate-or-high aerosol bits, physical values
are DN x 0.0001; each checked against the files read directly and the Fmask bits
decoded independently. A refused token is said per feature, in the user's terms."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import shapely
from blob_store import StoreRules, blob_store
from conftest import SITES
from local_stac import serve_folder
from sample_hls import COLLECTION, FMASK, SCALE, make_hls
from stac_oracle import point_value

from sits_qgis.profiles import PROFILES_FILE, USER_PROFILES_VARIABLE
from sits_qgis.timeseries.features import Feature, FeatureLayer
from sits_qgis.timeseries.options import SeriesOptions, TableOptions
from sits_qgis.timeseries.running import extract_table

DATES = 8
TOKEN = "earthdata-token-of-the-test"
#: Fmask bits of the profile's default: cloud, adjacent, shadow, snow/ice, aerosol high bit.
DEFAULT_BITS = (1, 2, 3, 4, 7)


@pytest.fixture(scope="module")
def hls(tmp_path_factory):
    """The catalogue, its files behind a bearer token, and a user profile that gives this
    local catalogue LP DAAC's profile of HLSL30_2.0."""
    root = tmp_path_factory.mktemp("hls")
    rules = StoreRules(signed=False, bearer=TOKEN)
    with blob_store(root, rules) as store_url:

        def make(_: str):
            sites = [(s.name, s.lon, s.lat) for s in SITES]
            return make_hls(root, store_url, sites, date(2023, 6, 1), DATES).collections

        with serve_folder(root, make) as served:
            url = served.stac_urls[COLLECTION]
            shipped = json.loads(PROFILES_FILE.read_text())["catalogues"]["lp-daac"]
            profile = root / "profiles.json"
            # the files' host gets the token, as LP DAAC's profile says of its data host
            data_host = store_url.removeprefix("http://")
            rules.data_host = data_host  # type: ignore[attr-defined]
            profile.write_text(json.dumps({"catalogues": {"local-lp-daac": {
                **shipped, "title": "Local LP DAAC", "url": url, "credential_hosts": [data_host],
            }}}))  # fmt: skip
            unlisted = root / "unlisted.json"
            unlisted.write_text(json.dumps({"catalogues": {"local-lp-daac": {
                **shipped, "title": "Local LP DAAC", "url": url, "credential_hosts": [],
            }}}))  # fmt: skip
            yield url, root, profile, rules, unlisted


def run(url: str, backend, token: str, **changes):
    layer = FeatureLayer(
        tuple(Feature(s.name, shapely.to_wkb(shapely.Point(s.lon, s.lat))) for s in SITES),
        "EPSG:4326",
    )
    values = {
        "stac_url": url, "collection": COLLECTION, "bands": ("red", "nir"),
        "start": date(2023, 6, 1), "end": date(2023, 7, 31), "max_masked": 0.5,
        "indices": ("NDVI",), "physical": True,
        "headers": {"Authorization": f"Bearer {token}"},
    } | changes  # fmt: skip
    table_run = extract_table(layer, SeriesOptions(**values), TableOptions(), backend, points=True)
    return table_run.plan, [r for o in table_run for r in table_run.rows(o)]


def local(root: Path, item: dict, key: str) -> str:
    """The file on disk behind an asset (the oracle needs no token)."""
    return str(root / "hls" / item["assets"][key]["href"].rsplit("/", 1)[1])


def test_an_expired_earthdata_token_is_said_per_feature(hls, sequential_backend, monkeypatch):
    """First in this file: GDAL keeps what it has read for the process, so the files
    must not have been read with the valid token before."""
    url, _, profile, rules, _ = hls
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
    _, rows = run(url, sequential_backend, "expired-token")
    assert len(rows) == len(SITES)
    for row in rows:
        assert row["status"].startswith("error"), row
        assert "refuses the file with the credentials of AUTHCFG" in row["status"]
        assert "expired" in row["status"] and "Earthdata" in row["status"]
        assert "expired-token" not in row["status"]
    assert rules.refused


def test_the_token_goes_only_to_the_hosts_it_is_for(hls, sequential_backend, monkeypatch):
    """A files' host that neither the profile nor the user lists never sees the token:
    each feature says so and how to allow it; listed by the user, it gets it. (Second in
    this file: the files are still unread, as GDAL keeps what it read.)"""
    url, _, _, rules, unlisted = hls
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(unlisted))
    rules.authorizations.clear()
    _, rows = run(url, sequential_backend, TOKEN)
    assert rows and all("were not sent to it" in r["status"] for r in rows), rows[0]
    assert rules.authorizations and not any(rules.authorizations)
    data_host = rules.data_host
    _, rows = run(url, sequential_backend, TOKEN, credential_hosts=(data_host,))
    assert {r["status"] for r in rows} == {"ok", "masked"}
    assert f"Bearer {TOKEN}" in rules.authorizations


def test_profile_bands_default_fmask_and_physical_values_equal_the_files(
    hls, sequential_backend, monkeypatch
):
    url, root, profile, *_ = hls
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
    plan, rows = run(url, sequential_backend, TOKEN)
    assert plan.spec.mask_asset == FMASK and plan.spec.mask_bits == DEFAULT_BITS
    assert plan.spec.outputs == {"red": "B04", "nir": "B05"}
    assert any("mask band 'Fmask'" in note and "its profile's" in note for note in plan.notes)
    masked = kept = 0
    for site in SITES:
        planned = next(p for p in plan.features if p.feature_id == site.name)
        assert planned.job is not None, planned.problem
        items = sorted(planned.job.items, key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        assert len(site_rows) == len(items) == DATES
        for row, item in zip(site_rows, items, strict=True):
            code = int(point_value(local(root, item, FMASK), site.lon, site.lat))
            if any((code >> bit) & 1 for bit in DEFAULT_BITS):
                assert row["status"] == "masked" and row["red"] is None, code
                masked += 1
                continue
            red = point_value(local(root, item, "B04"), site.lon, site.lat)
            nir = point_value(local(root, item, "B05"), site.lon, site.lat)
            assert row["status"] == "ok", code
            assert (row["red"], row["nir"]) == pytest.approx((red * SCALE, nir * SCALE), rel=1e-6)
            assert row["NDVI"] == pytest.approx((nir - red) / (nir + red), rel=1e-5)
            kept += 1
    assert masked >= 6 and kept >= 6


def test_without_a_profile_the_fmask_is_guessed_and_said(hls, sequential_backend):
    url, *_ = hls
    plan, rows = run(url, sequential_backend, TOKEN, bands=("B04",), indices=())
    assert plan.spec.mask_asset == FMASK and plan.spec.mask_bits == DEFAULT_BITS
    assert any(
        f"Collection '{COLLECTION}'" in note and "has no profile" in note and "Fmask" in note
        for note in plan.notes
    ), plan.notes
    assert {r["status"] for r in rows} == {"ok", "masked"}
