"""Files that fail once (a connection dropped before the answer, an answer cut short
after half its body) are read again: the rows equal a clean run's. A file that stays
unreadable costs only its own date, whose row says which item and why; the other dates
and features go on."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from blob_store import StoreRules, blob_store
from local_stac import rewritten_collection, serve_folder
from test_timeseries import run_points

from sits_qgis.timeseries.blockcache import CacheSettings

#: The date whose nir files are missing from the store in the "broken" catalogue.
BROKEN = "2022-02-24"


def _key(row: dict) -> tuple:
    return row["feature_id"], row["date"]


@pytest.fixture(scope="module")
def flaky(sample_stac, tmp_path_factory):
    """The Earth Search convention's items, their files behind a store that fails."""
    served, sample = sample_stac
    source = sample.collections["earth-search"]
    rules = StoreRules(signed=False, named=True)
    root = tmp_path_factory.mktemp("flaky")
    with blob_store(sample.root, rules) as store_url:

        def behind(name: str) -> Callable[[dict], dict]:
            def in_store(item: dict) -> dict:
                item = json.loads(json.dumps(item).replace(served.files_url, f"{store_url}/{name}"))
                if name == "broken" and item["properties"]["datetime"].startswith(BROKEN):
                    item["assets"]["nir"]["href"] += ".missing"  # 404, every time
                return item

            return in_store

        def make(_: str):
            return {
                name: rewritten_collection(source, root / name, behind(name))
                for name in ("reset", "truncate", "broken")
            }

        with serve_folder(root, make) as catalogues:
            yield catalogues.stac_urls, rules, served.stac_urls["earth-search"]


@pytest.mark.parametrize("cached", [False, True], ids=["gdal", "block cache"])
@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_files_that_fail_once_are_read_again(flaky, sequential_backend, fault, cached, tmp_path):
    urls, rules, clean = flaky
    rules.fault, rules.fault_fraction, rules.faulted = fault, 0.3, set()
    _, direct = run_points(clean, sequential_backend)
    cache = CacheSettings(str(tmp_path / "cache"), 2**30) if cached else None
    _, rows = run_points(urls[fault], sequential_backend, block_cache=cache)
    rules.fault = None
    assert len(rules.faulted) >= 5  # faults were injected
    assert sorted(rows, key=_key) == sorted(direct, key=_key)


@pytest.mark.parametrize("cached", [False, True], ids=["gdal", "block cache"])
def test_a_file_that_stays_unreadable_costs_only_its_date(
    flaky, sequential_backend, cached, tmp_path
):
    urls, _, clean = flaky
    _, direct = run_points(clean, sequential_backend)
    cache = CacheSettings(str(tmp_path / "cache"), 2**30) if cached else None
    _, rows = run_points(urls["broken"], sequential_backend, block_cache=cache)
    assert len(rows) == len(direct)
    expected = {_key(r): r for r in direct}
    errors = 0
    for row in rows:
        clean_row = expected[_key(row)]
        if row["date"].startswith(BROKEN) and clean_row["status"] != "masked":
            # a date its mask keeps needs its nir file: that date, and only it, fails
            assert row["status"].startswith("error: cannot read asset 'nir' of item"), row
            assert "404" in row["status"] and row["nir"] is None and row["red"] is None
            errors += 1
        else:  # dates the mask drops never read nir; every other date is as clean
            assert row == clean_row
    assert errors >= 1
