"""Planetary Computer's signed addresses, renewed during a run: a local object store
whose tokens expire within seconds (or earlier than the token service says), and that
throttles every blob's first read with 429 and Retry-After, gives exactly the rows of
the same catalogue read without any of that."""

from __future__ import annotations

import json

import pytest
from blob_store import StoreRules, blob_store
from local_stac import rewritten_collection, serve_folder
from test_timeseries import run_points

from sits_qgis.errors import SitsError
from sits_qgis.profiles import USER_PROFILES_VARIABLE
from sits_qgis.stac import signing
from sits_qgis.stac.signing import SasSigner, blob_container
from sits_qgis.timeseries.blockcache import CacheSettings


def test_blob_addresses_and_their_containers():
    assert blob_container("https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/a/b.tif") == (
        "sentinel2l2a01", "sentinel2-l2",
    )  # fmt: skip
    assert blob_container("http://127.0.0.1:10000/devstoreaccount1/data/x.tif") == (
        "devstoreaccount1", "data",
    )  # fmt: skip
    assert blob_container("https://example.org/a/b/c.tif") is None
    assert blob_container("http://127.0.0.1:10000/short.tif") is None


def _key(row: dict) -> tuple:
    return row["feature_id"], row["date"]


@pytest.fixture(scope="module")
def blob_catalogue(sample_stac, tmp_path_factory):
    """The Planetary Computer convention's items, their files in a signing object store
    (``StoreRules``, changed by each test), their STAC API, and a user profile that
    says this catalogue signs its addresses with the store's token service."""
    source_root = sample_stac[1].root
    source = sample_stac[1].collections["planetary-computer"]
    files_url = sample_stac[0].files_url
    rules = StoreRules()
    root = tmp_path_factory.mktemp("blobs")
    with blob_store(source_root, rules) as store_url:

        def in_store(item: dict) -> None:
            for asset in item["assets"].values():
                asset["href"] = asset["href"].replace(files_url, f"{store_url}/pcstore/data")

        def make(_: str):
            return {"signed": rewritten_collection(source, root / "pc-items", in_store)}

        with serve_folder(root, make) as served:
            url = served.stac_urls["signed"]
            profile = root / "profiles.json"
            profile.write_text(json.dumps({"catalogues": {"local-pc": {
                "title": "Local signing catalogue", "url": url,
                "signing": "planetary-computer", "token_url": f"{store_url}/api/sas/v1/token",
            }}}))  # fmt: skip
            yield url, rules, profile


@pytest.mark.parametrize(
    ("rules", "renewed_by"),
    [
        ({"token_seconds": 0.4}, "expiry"),  # renewed before it ends
        ({"token_seconds": 0.3, "claimed_seconds": 3600.0}, "refusal"),  # ends early: 403
        ({"throttle_first": True}, None),  # 429 + Retry-After on every blob's first read
    ],
)
@pytest.mark.parametrize("cached", [False, True], ids=["gdal", "block cache"])
def test_signed_reads_survive_expiry_and_throttling_with_identical_rows(
    blob_catalogue, sample_stac, sequential_backend, monkeypatch, rules, renewed_by, cached,
    tmp_path,
):  # fmt: skip
    url, store, profile = blob_catalogue
    monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
    monkeypatch.setattr(signing, "_signers", {})  # no token of an earlier case
    for name, value in {"token_seconds": 3600.0, "claimed_seconds": None,
                        "throttle_first": False, "latency_s": 0.05, **rules}.items():  # fmt: skip
        setattr(store, name, value)
    store.tokens_issued, store.refused, store.throttled = 0, [], set()
    _, direct = run_points(sample_stac[0].stac_urls["planetary-computer"], sequential_backend)
    cache = CacheSettings(str(tmp_path / "cache"), 2**30) if cached else None
    _, signed = run_points(url, sequential_backend, block_cache=cache)
    assert len(direct) > 0
    assert sorted(signed, key=_key) == sorted(direct, key=_key)
    if renewed_by == "expiry":
        assert store.tokens_issued > 1 and not store.refused
    elif renewed_by == "refusal":
        assert store.tokens_issued > 1 and store.refused
    else:
        assert store.throttled and not store.refused


def test_an_unreachable_token_service_is_said():
    signer = SasSigner("http://127.0.0.1:9/api/sas/v1/token")
    with pytest.raises(
        SitsError, match=r"token service .* gives no token for the images in acc/ctr"
    ):
        signer.sign("http://127.0.0.1:10000/acc/ctr/blob.tif")
