"""A catalogue whose every page has a ``next`` link, or whose ``next`` link goes round
in a circle: the search stops with a message that says how to narrow it, and a cancel
is honoured between pages; items the catalogue gets wrong (geometry, datetime, cloud
cover) are left out and said (a real STAC API in a thread of the test process)."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import shapely

from sits_qgis.errors import Cancelled, SitsError
from sits_qgis.stac import SearchRequest, resolve_catalogue, search

search_module = importlib.import_module("sits_qgis.stac.search")

ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


def _item(number: int) -> dict[str, Any]:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"item-{number}",
        "collection": "endless", "bbox": [0, 0, 1, 1],
        "geometry": {"type": "Polygon",
                     "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
        "properties": {"datetime": "2023-06-01T10:00:00Z"}, "assets": {}, "links": [],
    }  # fmt: skip


class EndlessHandler(BaseHTTPRequestHandler):
    circle = False
    pages_served = 0
    #: Items to serve instead (one page, no next link), for other tests.
    fixed: list[dict[str, Any]] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        root = f"http://{self.headers['Host']}"
        parts = urlsplit(self.path)
        if parts.path in ("", "/"):
            self._json({
                "type": "Catalog", "id": "endless", "description": "every page has a next",
                "stac_version": "1.0.0", "conformsTo": [ITEM_SEARCH,
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/collections"],
                "links": [{"rel": "self", "href": f"{root}/"},
                          {"rel": "root", "href": f"{root}/"},
                          {"rel": "search", "href": f"{root}/search", "method": "GET",
                           "type": "application/geo+json"},
                          {"rel": "data", "href": f"{root}/collections"}],
            })  # fmt: skip
        elif parts.path == "/collections/endless":
            self._json({
                "type": "Collection", "id": "endless", "stac_version": "1.0.0",
                "description": "endless", "license": "proprietary", "links": [],
                "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]},
                           "temporal": {"interval": [["2023-01-01T00:00:00Z", None]]}},
            })  # fmt: skip
        else:
            page = int(parse_qs(parts.query).get("page", ["0"])[0])
            type(self).pages_served += 1
            if self.fixed is not None:
                self._json({"type": "FeatureCollection", "features": self.fixed, "links": []})
                return
            number = 0 if self.circle else page
            self._json({
                "type": "FeatureCollection", "features": [_item(number)],
                "links": [{"rel": "next", "href": f"{root}/search?page={page + 1}",
                           "method": "GET"}],
            })  # fmt: skip

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.path = "/search?page=0"
        self.do_GET()


@contextmanager
def endless(circle: bool, fixed: list | None = None) -> Iterator[type[EndlessHandler]]:
    """The catalogue on a free port (``fixed``: those items on one page)."""
    attributes = {"circle": circle, "pages_served": 0, "fixed": fixed}
    handler = type("Handler", (EndlessHandler,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _request(url: str) -> SearchRequest:
    return SearchRequest(
        catalogue=resolve_catalogue(url), collection="endless", start=date(2023, 1, 1),
        end=date(2023, 12, 31), area=shapely.geometry.box(0, 0, 1, 1),
    )  # fmt: skip


def test_endless_pages_stop_with_a_message_that_says_how_to_narrow(monkeypatch):
    monkeypatch.setattr(search_module, "MAX_PAGES", 40)
    with (
        endless(circle=False) as server,
        pytest.raises(SitsError, match="after 40 pages") as caught,
    ):
        search(_request(server.url))
    assert server.pages_served == 40
    assert "START_DATE" in str(caught.value) and "MAX_CLOUD" in str(caught.value)


def test_a_next_link_in_a_circle_is_said():
    with endless(circle=True) as server, pytest.raises(SitsError, match="sent page 2 again"):
        search(_request(server.url))
    assert server.pages_served == 2


def test_a_cancel_is_honoured_between_pages():
    asked = []

    def is_cancelled() -> bool:
        asked.append(True)
        return len(asked) > 3

    with endless(circle=False) as server, pytest.raises(Cancelled):
        search(_request(server.url), is_cancelled)
    assert server.pages_served == 4


def test_items_the_catalogue_gets_wrong_are_left_out_and_said():
    good = _item(1)
    bad_geometry = _item(2) | {"geometry": {"type": "Polygon", "coordinates": "abc"}}
    no_date = _item(3) | {"properties": {}}
    impossible_date = _item(4) | {"properties": {"datetime": "2023-02-30T10:00:00Z"}}
    cloud_text = _item(5) | {"properties": {"datetime": "2023-06-01T10:00:00Z",
                                            "eo:cloud_cover": "abc"}}  # fmt: skip
    items = [good, bad_geometry, no_date, impossible_date, cloud_text]
    with endless(circle=False, fixed=items) as server:
        result = search(_request(server.url))
    assert [item["id"] for item in result.items] == ["item-1"]
    assert result.rejected == [
        "item item-2: its geometry is not a GeoJSON geometry",
        "item item-3: it has no datetime",
        "item item-4: its datetime '2023-02-30T10:00:00Z' is not a date and time",
        "item item-5: its eo:cloud_cover 'abc' is not a number",
    ]
    assert result.rejection_note().startswith("4 items of the catalogue were left out")
