"""Sentinel-2 L2A in Copernicus Data Space's conventions (generated from the sample
catalogue): asset keys with their resolution (``B04_10m``, and ``B04_20m`` and
``B04_60m`` also named ``red``), ``s3://eodata/...`` hrefs with an https alternate, and
its own S3 endpoint, whose bucket is private. With the collection's profile, ``red``
and ``nir`` are the 10 m assets; without S3 credentials the https alternate is read,
with them the S3 endpoint (a local S3-compatible server that checks the key GDAL signs
with): each gives exactly the rows of the Earth Search convention. Refusals of the
private bucket are said per feature."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from blob_store import StoreRules, blob_store
from local_stac import rewritten_collection, serve_folder
from test_timeseries import run_points

from sits_qgis.profiles import PROFILES_FILE, USER_PROFILES_VARIABLE

KEY = "CDSE-TEST-KEY"
#: Earth Search's asset key -> Copernicus Data Space's (several resolutions of a band).
KEYS = {"red": ("B04_10m", "B04_20m", "B04_60m"), "nir": ("B08_10m",), "scl": ("SCL_20m",)}


def _key(row: dict) -> tuple:
    return row["feature_id"], row["date"]


@pytest.fixture(scope="module")
def copernicus(sample_stac, tmp_path_factory):
    served_sample, sample = sample_stac
    source = sample.collections["earth-search"]
    rules = StoreRules(signed=False, s3_key=KEY)
    root = tmp_path_factory.mktemp("cdse")
    with blob_store(sample.root, rules) as s3_url:

        def convert(alternates: bool) -> Callable[[dict], None]:
            def cdse_assets(item: dict) -> None:
                assets = {}
                for key, asset in item["assets"].items():
                    https = asset["href"]
                    path = https.removeprefix(served_sample.files_url + "/")
                    # another bucket name for each: GDAL keeps what it read by path
                    bucket = "eodata" if alternates else "eodata-private"
                    asset["href"] = f"s3://{bucket}/{path}"
                    asset["alternate"] = {"https": {"href": https}} if alternates else {}
                    for new_key in KEYS.get(key, (key,)):
                        assets[new_key] = json.loads(json.dumps(asset))
                item["assets"] = assets

            return cdse_assets

        def without_item_assets(collection: dict) -> dict:
            collection.pop("item_assets", None)
            return collection

        def make(_: str):
            return {
                name: rewritten_collection(
                    source, root / name, convert(alternates), without_item_assets
                )
                for name, alternates in (("cdse", True), ("s3-only", False))
            }

        with serve_folder(root, make) as served:
            shipped = json.loads(PROFILES_FILE.read_text())["catalogues"]["copernicus"]
            endpoint = s3_url.removeprefix("http://")
            profiles = {}
            for name, url in served.stac_urls.items():
                profiles[f"local-{name}"] = {
                    **shipped, "title": f"Local {name}", "url": url,
                    "s3": {"endpoint": endpoint, "https": False, "virtual_hosting": False},
                }  # fmt: skip
            profile = root / "profiles.json"
            profile.write_text(json.dumps({"catalogues": profiles}))
            yield served.stac_urls, rules, profile, served_sample.stac_urls["earth-search"]


def test_profile_names_and_both_addresses_give_the_earth_search_rows(
    copernicus, sequential_backend, monkeypatch
):
    urls, rules, profile, earth_search = copernicus
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    _, direct = run_points(earth_search, sequential_backend)
    plan, through_https = run_points(urls["cdse"], sequential_backend)
    assert plan.spec.outputs == {"red": "B04_10m", "nir": "B08_10m"}
    assert plan.spec.mask_asset == "SCL_20m" and plan.spec.mask_values == (0, 1, 3, 8, 9, 10)
    assert not rules.s3_keys_seen  # nothing asked of the S3 endpoint
    s3 = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "secret"}
    _, through_s3 = run_points(urls["cdse"], sequential_backend, s3=s3)
    assert rules.s3_keys_seen == {KEY} and not rules.refused
    assert len(direct) > 0
    assert sorted(through_https, key=_key) == sorted(direct, key=_key)
    assert sorted(through_s3, key=_key) == sorted(direct, key=_key)


@pytest.mark.parametrize(
    ("s3", "said"),
    [
        ({}, "the S3 bucket refuses reads without credentials"),
        ({"AWS_ACCESS_KEY_ID": "WRONG", "AWS_SECRET_ACCESS_KEY": "x"},
         "the S3 bucket refuses these AWS credentials"),
    ],
)  # fmt: skip
def test_a_private_bucket_refusal_is_said_per_feature(
    copernicus, sequential_backend, monkeypatch, s3, said
):
    urls, _, profile, _ = copernicus
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    _, rows = run_points(urls["s3-only"], sequential_backend, s3=s3)
    assert rows and all(r["status"].startswith("error") and said in r["status"] for r in rows)
    assert not any("secret" in r["status"] or "WRONG" in r["status"] for r in rows)
