"""Catalogue manners against real servers on 127.0.0.1: a throttling answer (429 with
Retry-After) is waited out and the run's result is the clean run's; a catalogue with a
request-rate cap gets its requests spaced; a catalogue that wants credentials says so,
naming AUTHCFG."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import shapely

from sits_qgis.errors import SitsError
from sits_qgis.profiles import CatalogueProfile
from sits_qgis.stac import SearchRequest, search
from sits_qgis.stac.catalogues import Catalogue, resolve_catalogue
from sits_qgis.stac.client import Throttle, open_catalogue


@contextmanager
def front(upstream: str, answer) -> Iterator[tuple[str, list[tuple[str, str, int]]]]:
    """A server on 127.0.0.1 in front of ``upstream``: ``answer(method, path, count)``
    gives (status, headers) to answer itself, or None to pass the request on (the
    upstream's own address in its answers becomes the front's). Yields its URL and the
    requests it saw (method, path, status)."""
    seen: list[tuple[str, str, int]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            count = sum(1 for m, p, _ in seen if (m, p) == (self.command, self.path))
            own = answer(self.command, self.path, count)
            if own in ("drop", "truncate"):  # the connection fails before or in the body
                seen.append((self.command, self.path, 0))
                self.close_connection = True
                if own == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/geo+json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"type": "FeatureCollection", "features": [{"ty')
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if own is not None:
                status, headers = own
                seen.append((self.command, self.path, status))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = urllib.request.Request(
                upstream + self.path, data=body or None, method=self.command,
                headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=30) as reply:
                data = reply.read().replace(upstream.encode(), url.encode())
                status, kind = reply.status, reply.headers.get("Content-Type", "")
            seen.append((self.command, self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, seen
    finally:
        server.shutdown()
        server.server_close()


def request_for(url: str) -> SearchRequest:
    return SearchRequest(
        catalogue=resolve_catalogue(url),
        collection="sentinel-2-l2a",
        start=date(2022, 1, 1),
        end=date(2022, 3, 26),
        area=shapely.geometry.box(-10, 40, 10, 50),
    )


def test_a_429_with_retry_after_is_waited_out_and_the_result_is_the_clean_runs(sample_stac):
    served, _ = sample_stac
    upstream = served.stac_urls["earth-search"]
    clean = search(request_for(upstream))

    def throttle_first_search(method: str, path: str, count: int):
        if path.startswith("/search") and count == 0:
            return 429, {"Retry-After": "2"}
        return None

    with front(upstream, throttle_first_search) as (url, seen):
        started = time.monotonic()
        throttled = search(request_for(url))
        elapsed = time.monotonic() - started
    assert [i["id"] for i in throttled.items] == [i["id"] for i in clean.items]
    assert len(clean.items) > 0
    statuses = [status for _, path, status in seen if path.startswith("/search")]
    assert statuses[:2] == [429, 200]
    assert elapsed >= 2.0  # the server's Retry-After, not urllib3's own backoff (0 s)


def test_a_rate_capped_catalogue_gets_its_requests_spaced(sample_stac):
    served, _ = sample_stac
    upstream = served.stac_urls["earth-search"]
    with front(upstream, lambda *_: None) as (url, seen):
        capped = Catalogue(url, CatalogueProfile("capped", "capped", url, requests_per_second=4.0))
        started = time.monotonic()
        client = open_catalogue(capped)
        list(client.get_collections())
        client.get_collection("sentinel-2-l2a")
        elapsed = time.monotonic() - started
    assert len(seen) >= 3
    assert elapsed >= (len(seen) - 1) / 4.0 * 0.95
    assert resolve_catalogue("copernicus").requests_per_second == 5.0
    address = "https://stac.dataspace.copernicus.eu/v1"
    assert resolve_catalogue(address).requests_per_second == 5.0


def test_throttle_spaces_calls_from_several_threads():
    throttle = Throttle(20.0)
    times: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        throttle(None)
        with lock:
            times.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.05 * 0.8 and times[-1] - times[0] >= 7 * 0.05 * 0.95


@pytest.mark.parametrize("status", [401, 403])
def test_a_catalogue_that_wants_credentials_names_authcfg(status):
    refusal = f"refuses access \\(HTTP {status}\\)"
    with (
        front("http://127.0.0.1:9", lambda *_: (status, {})) as (url, _),
        pytest.raises(SitsError, match=refusal) as caught,
    ):
        open_catalogue(resolve_catalogue(url))
    assert caught.value.parameter == "AUTHCFG"
    assert "AUTHCFG" in str(caught.value)


@pytest.mark.parametrize("fault", ["drop", "truncate", 503])
def test_a_search_page_dropped_cut_short_or_503_is_asked_again(sample_stac, fault):
    """The first search answer fails (connection closed before an answer, a body cut
    short, a 503): the search asks again and finds exactly the clean run's items."""
    served, _ = sample_stac
    upstream = served.stac_urls["earth-search"]
    clean = search(request_for(upstream))

    def fail_first_search(method: str, path: str, count: int):
        if path.startswith("/search") and count == 0:
            return fault if isinstance(fault, str) else (fault, {})
        return None

    with front(upstream, fail_first_search) as (url, seen):
        again = search(request_for(url))
    assert [i["id"] for i in again.items] == [i["id"] for i in clean.items]
    assert len(clean.items) > 0
    assert [s for _, p, s in seen if p.startswith("/search")][:2] == [
        0 if isinstance(fault, str) else fault, 200,
    ]  # fmt: skip
