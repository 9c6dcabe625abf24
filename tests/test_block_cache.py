"""The on-disk block cache: a rerun, with the same bands or more, fetches only what it
has not fetched before (counted in the file server's own log), in this process or in
worker processes; its rows equal those of a run without the cache. A damaged entry is
fetched again; a folder that cannot take the cache is said once and the run goes on;
two processes filling one cache at once leave every entry whole."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from test_timeseries import run_points

from sits_qgis.timeseries.blockcache import (
    DIGEST_BYTES,
    LAYOUT,
    BlockCache,
    CacheSettings,
    _digest,
)

GIB = 2**30


def _key(row: dict) -> tuple:
    return row["feature_id"], row["date"]


def _requests(served, settle: float = 0.5) -> list[list[str]]:
    """The image requests the file server logged (a line is written once its answer is
    sent: wait until no more come)."""
    lines: list[str] = []
    while True:
        time.sleep(settle)
        now = served.http_log.read_text().splitlines()
        if len(now) == len(lines):
            return [line.split("\t") for line in now]
        lines = now


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / LAYOUT).rglob("*.blk"))


def _intact(path: Path) -> bool:
    raw = path.read_bytes()
    _start, length = (int(v) for v in path.stem.split("-"))
    return len(raw) == length + DIGEST_BYTES and _digest(raw[:-DIGEST_BYTES]) == raw[-DIGEST_BYTES:]


@pytest.fixture(scope="module")
def direct(sample_stac, sequential_backend):
    """The rows of a run without the cache (red and nir), and the earth-search URL."""
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    _, rows = run_points(url, sequential_backend)
    return served, url, sorted(rows, key=_key)


def test_a_rerun_fetches_nothing_and_more_bands_fetch_only_theirs(
    direct, sequential_backend, processes_backend, tmp_path
):
    served, url, expected = direct
    cache = CacheSettings(str(tmp_path / "cache"), GIB)
    served.http_log.write_text("")
    _, rows = run_points(url, sequential_backend, bands=("red",), block_cache=cache)
    first = _requests(served)
    assert first and {line[3] for line in first} == {"206"}
    assert not any("/nir" in line[1] or "B08" in line[1] for line in first)

    # more bands, in the worker processes: only the new band's files are fetched
    served.http_log.write_text("")
    _, rows = run_points(url, processes_backend, block_cache=cache)
    assert sorted(rows, key=_key) == expected
    second = _requests(served)
    assert second and all("nir" in line[1] for line in second), second

    # the same run again: nothing at all
    served.http_log.write_text("")
    _, rows = run_points(url, processes_backend, block_cache=cache)
    assert sorted(rows, key=_key) == expected
    assert _requests(served) == []
    assert all(_intact(path) for path in _entries(tmp_path / "cache"))


def test_a_damaged_entry_is_fetched_again(direct, sequential_backend, tmp_path):
    served, url, expected = direct
    cache = CacheSettings(str(tmp_path / "cache"), GIB)
    run_points(url, sequential_backend, block_cache=cache)
    entries = _entries(tmp_path / "cache")
    truncated, flipped = entries[len(entries) // 3], entries[2 * len(entries) // 3]
    truncated.write_bytes(truncated.read_bytes()[:-100])
    raw = bytearray(flipped.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte wrong: the digest finds it
    flipped.write_bytes(bytes(raw))
    served.http_log.write_text("")
    _, rows = run_points(url, sequential_backend, block_cache=cache)
    assert sorted(rows, key=_key) == expected
    refetched = {(line[1], line[2]) for line in _requests(served)}
    assert len(refetched) == 2, refetched
    assert all(_intact(path) for path in _entries(tmp_path / "cache"))


def test_a_folder_that_cannot_take_the_cache_is_said_and_the_run_goes_on(
    direct, sequential_backend, tmp_path
):
    _served, url, expected = direct
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    cache = CacheSettings(str(not_a_folder / "cache"), GIB)
    plan, rows = run_points(url, sequential_backend, block_cache=cache)
    assert sorted(rows, key=_key) == expected
    said = [note for note in plan.notes if note.startswith("Block cache:")]
    assert len(said) == 1 and "cannot be written" in said[0] and "goes on without" in said[0]


def test_a_full_disk_turns_the_cache_off(direct, sequential_backend, full_disk):
    _served, url, expected = direct
    plan, rows = run_points(url, sequential_backend, block_cache=CacheSettings(str(full_disk), GIB))
    assert sorted(rows, key=_key) == expected
    assert any("nearly full" in note for note in plan.notes), plan.notes
    # a disk that fills up during a run: the process stops using the cache, reads go on
    cache = BlockCache(CacheSettings(str(full_disk), GIB))
    cache.put("http://example.org/a.tif", 0, b"x" * 65536)
    assert cache.disabled and "stopped taking entries" in cache.disabled
    assert cache.entry("http://example.org/a.tif", 0, 10) is None


def _fill(folder: str, worker: int) -> int:
    """Put and read back the same 200 entries as the other process, in another order."""
    cache = BlockCache(CacheSettings(folder, GIB))
    order = range(200) if worker == 0 else reversed(range(200))
    wrong = 0
    for n in order:
        address = f"http://example.org/file{n % 7}.tif?signature={worker}"
        data = bytes([n % 251]) * (1000 + 37 * n)
        cache.put(address, n * 10_000, data)
        found = cache.entry(address, n * 10_000, len(data))
        wrong += found is None or found[1] != data
    return wrong


def test_two_processes_share_one_cache_without_damage(tmp_path):
    folder = str(tmp_path / "shared")
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        assert pool.starmap(_fill, [(folder, 0), (folder, 1)]) == [0, 0]
    entries = _entries(Path(folder))
    assert len(entries) == 200 and all(_intact(path) for path in entries)
    assert not [p for p in Path(folder).rglob(".*") if p.is_file()]  # no temporary left


def test_a_range_held_by_entries_that_follow_one_another_is_served(tmp_path):
    """GDAL may read a tile in two pieces in one run and whole in the next."""
    cache = BlockCache(CacheSettings(str(tmp_path), GIB))
    data = bytes(range(256)) * 20
    cache.put("http://example.org/a.tif", 1000, data[:3000])
    cache.put("http://example.org/a.tif", 4000, data[3000:])
    assert cache.entry("http://example.org/a.tif", 1000, 5120) == (1000, data)
    first, held = cache.entry("http://example.org/a.tif", 3500, 1000)
    assert held[3500 - first : 4500 - first] == data[2500:3500]
    assert cache.entry("http://example.org/a.tif", 1000, 5121) is None  # one byte more
    assert cache.entry("http://example.org/a.tif", 900, 200) is None  # one byte before


def test_the_cache_keeps_to_its_size(tmp_path):
    cache = BlockCache(CacheSettings(str(tmp_path), 1_000_000))
    for n in range(40):
        cache.put("http://example.org/big.tif", n * 100_000, bytes(100_000))
        time.sleep(0.01)  # distinct times of last use
    sizes = [path.stat().st_size for path in _entries(tmp_path)]
    assert sum(sizes) <= 1_000_000
    # the most recent entries stayed
    assert cache.entry("http://example.org/big.tif", 39 * 100_000, 100_000) is not None
    assert cache.entry("http://example.org/big.tif", 0, 100_000) is None
