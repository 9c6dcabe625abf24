"""The benchmark's object-store stand-in (``scripts/range_file_server.py``): ranges,
the request and byte log, path mapping, and a bandwidth cap shared by connections."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from local_stac import serve_folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    (root / "physical").mkdir()
    (root / "physical" / "blob.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    paths = root / "paths.json"
    paths.write_text(json.dumps({"/s2/2023-01-05/B04.tif": "physical/blob.bin",
                                 "/s2/2023-01-10/B04.tif": "physical/blob.bin"}))  # fmt: skip
    with serve_folder(root, lambda _: {}, mbit=8.0, paths=paths) as served:
        yield served, paths


def get(url: str, byte_range: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Range": byte_range} if byte_range else {})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read()


def test_mapped_paths_serve_their_file_and_ranges_and_bytes_are_logged(store):
    store, _ = store
    store.http_log.write_text("")
    body = get(f"{store.files_url}/s2/2023-01-10/B04.tif", "bytes=1000-1999")
    assert body == (bytes(range(256)) * 4096)[1000:2000]
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{store.files_url}/s2/2023-01-15/B04.tif", "bytes=0-9")
    assert missing.value.code == 404
    # a request is logged once its answer is sent: the client may read the log first,
    # and the start's readiness probe ("GET /") may be logged after the log was emptied
    deadline = time.monotonic() + 10
    lines: list[list[str]] = []
    while len(lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
        logged = [line.split("\t") for line in store.http_log.read_text().splitlines()]
        lines = [parts for parts in logged if parts[1].startswith("/s2/")]
    assert lines[0] == ["GET", "/s2/2023-01-10/B04.tif", "bytes=1000-1999", "206", "1000"]
    assert lines[1][3] == "404"


def test_a_mapping_written_after_the_start_is_followed(store):
    """The catalogue writes its mapping once the server runs (its items need the
    server's address): a path added then is served."""
    store, paths = store
    mapping = json.loads(paths.read_text())
    mapping["/s2/2023-01-15/B04.tif"] = "physical/blob.bin"
    time.sleep(0.01)  # a modification time of its own
    paths.write_text(json.dumps(mapping))
    assert len(get(f"{store.files_url}/s2/2023-01-15/B04.tif", "bytes=0-9")) == 10


def test_connections_share_the_bandwidth_cap(store):
    """Two connections reading 1 MiB each through an 8 Mbit/s link together need at
    least 2 MiB / 1 MB/s: the cap is the link's, not each connection's."""
    store, _ = store
    started = time.monotonic()
    threads = [
        threading.Thread(target=get, args=(f"{store.files_url}/s2/{day}/B04.tif",))
        for day in ("2023-01-05", "2023-01-10")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 2 * 2**20 / 1e6 * 0.95
