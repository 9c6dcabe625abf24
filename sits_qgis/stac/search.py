"""One STAC search for a whole run, filtered on the server where it can and always on
the client.

SITS opens a client and searches once per feature; a layer of 10,000 points then costs
10,000 searches. Here the features' envelopes, snapped to a coarse grid of cells, are
merged into one ``intersects`` geometry: one search (paged) returns every item any
feature needs and no item of the empty space between spread-out features.

Some servers silently ignore the ``query`` extension (rustac answers zero items, others
everything), so the cloud and date filters are checked again on every item returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

from ..errors import Cancelled, SitsError
from ..redact import scrubbed
from ..wording import plural
from .bands import AssetBand, asset_bands
from .catalogues import Catalogue
from .client import DEFAULT_HTTP, HttpSettings, RequestCounter, open_catalogue
from .network import network_problem

#: Size of the cells feature envelopes are snapped to before they are merged into the
#: search geometry: keeps the request small for layers of many points.
SEARCH_CELL_DEGREES = 0.05
#: Items per page asked from the API.
PAGE_SIZE = 100
#: A search stops, with a message, beyond this many pages or items: a catalogue whose
#: every page has a ``next`` link was otherwise followed forever (3,118 pages and
#: 3.5 GB after 90 s). 100,000 items are about 40 years of Sentinel-2 over one tile.
MAX_PAGES = 2_000
MAX_ITEMS = 100_000
CLOUD_PROPERTY = "eo:cloud_cover"
IsCancelled = Callable[[], bool]


@dataclass(frozen=True)
class SearchRequest:
    """What to look for: where (EPSG:4326 shapely geometry), when, and how cloudy."""

    catalogue: Catalogue
    collection: str
    start: date
    end: date
    area: Any
    max_cloud: float = 100.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    http: HttpSettings = DEFAULT_HTTP


@dataclass
class SearchResult:
    """The items found (as dicts, signed when the catalogue needs it) and their bands."""

    items: list[dict[str, Any]]
    collection: dict[str, Any]
    bands: dict[str, AssetBand]
    cloud_filter: str
    dropped_by_client: int = 0
    api_requests: RequestCounter = field(default_factory=RequestCounter)
    #: Items the catalogue sent that cannot be used, each as "item ID: why".
    rejected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log: items, searches and pages, and where clouds were filtered."""
        return (
            f"{plural(len(self.items), 'item')} from"
            f" {plural(self.api_requests.searches(), 'search')}"
            f" ({plural(self.api_requests.count('/search'), 'page')});"
            f" cloud filter: {self.cloud_filter}."
        )

    def rejection_note(self) -> str | None:
        """The log line for the items left out as unusable (the catalogue's mistakes)."""
        if not self.rejected:
            return None
        shown = "; ".join(self.rejected[:5])
        more = f"; and {len(self.rejected) - 5} more" if len(self.rejected) > 5 else ""
        return (
            f"{plural(len(self.rejected), 'item')} of the catalogue"
            f" {'was' if len(self.rejected) == 1 else 'were'} left out because"
            f" {'it cannot' if len(self.rejected) == 1 else 'they cannot'} be used: {shown}{more}."
        )


def item_problem(item: Mapping[str, Any]) -> str | None:
    """Why a catalogue's item cannot be used, or ``None``: a geometry that is not
    GeoJSON, no datetime or one that is not a date, a cloud cover that is not a number."""
    import shapely.geometry
    from shapely.errors import GEOSException

    label = f"item {item.get('id', '(no id)')}"
    try:
        geometry = shapely.geometry.shape(item.get("geometry") or {})
        if geometry.is_empty:
            raise ValueError("empty")
    except (GEOSException, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return f"{label}: its geometry is not a GeoJSON geometry"
    props = item.get("properties") or {}
    try:
        item_datetime(item)
    except (ValueError, TypeError, AttributeError):
        text = props.get("datetime") or props.get("start_datetime")
        return (
            f"{label}: its datetime {text!r} is not a date and time"
            if text
            else (f"{label}: it has no datetime")
        )
    cloud = props.get(CLOUD_PROPERTY)
    if cloud is not None and (isinstance(cloud, bool) or not isinstance(cloud, (int, float))):
        return f"{label}: its {CLOUD_PROPERTY} {cloud!r} is not a number"
    return None


def search_area(envelopes: Iterable[tuple[float, float, float, float]]) -> Any:
    """The union of the envelopes, each grown to whole cells of ``SEARCH_CELL_DEGREES``."""
    import shapely
    from shapely.geometry import box

    cell = SEARCH_CELL_DEGREES
    cells = {
        (math.floor(x0 / cell), math.floor(y0 / cell), math.ceil(x1 / cell), math.ceil(y1 / cell))
        for x0, y0, x1, y1 in envelopes
    }
    boxes = [
        box(a * cell, b * cell, max(c, a + 1) * cell, max(d, b + 1) * cell) for a, b, c, d in cells
    ]
    return shapely.union_all(boxes)


def item_datetime(item: Mapping[str, Any]) -> datetime:
    """The item's acquisition time (``datetime`` or else ``start_datetime``), in UTC."""
    props = item.get("properties", {})
    text = props.get("datetime") or props.get("start_datetime")
    if not text:
        raise ValueError(f"item {item.get('id')} has no datetime")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def date_range(start: date, end: date) -> tuple[datetime, datetime]:
    """Whole days from the start of ``start`` to the very end of ``end``, in UTC."""
    return (
        datetime.combine(start, time.min, timezone.utc),
        datetime.combine(end, time.max, timezone.utc),
    )


def keep_item(item: Mapping[str, Any], request: SearchRequest) -> bool:
    """The client-side check of the date range and the cloud cover."""
    first, last = date_range(request.start, request.end)
    if not first <= item_datetime(item) <= last:
        return False
    if request.max_cloud >= 100:
        return True
    cloud = item.get("properties", {}).get(CLOUD_PROPERTY)
    return cloud is None or float(cloud) <= request.max_cloud


def _cloud_arguments(client: Any, max_cloud: float) -> tuple[dict[str, Any], str]:
    """The server-side cloud filter in the form the API declares it understands."""
    from pystac_client.conformance import ConformanceClasses

    if max_cloud >= 100:
        return {}, "none"
    if client.conforms_to(ConformanceClasses.QUERY):
        return {"query": {CLOUD_PROPERTY: {"lte": max_cloud}}}, "server (query)"
    if client.conforms_to(ConformanceClasses.FILTER):
        cql = {"op": "<=", "args": [{"property": CLOUD_PROPERTY}, max_cloud]}
        return {"filter": cql, "filter_lang": "cql2-json"}, "server (filter)"
    return {}, "client"


def get_collection(client: Any, request: SearchRequest) -> dict[str, Any]:
    """The collection's JSON, or a message listing the collections that exist (or
    saying that the catalogue stopped answering)."""
    collection = request.collection
    try:
        return client.get_collection(collection).to_dict()
    except Exception as exc:
        problem = network_problem(exc, request.catalogue.url, request.http.timeout_s)
        if problem:
            raise SitsError(
                f"The collection {collection} of {request.catalogue.shown} cannot be read:"
                f" {problem}",
                "STAC_URL",
            ) from None
        try:
            names = sorted(c.id for c in client.get_collections())
        except Exception:
            names = []
        listing = f" Collections there: {', '.join(names[:40])}." if names else ""
        raise SitsError(
            f"Collection '{collection}' does not exist at {client.self_href or 'the API'}."
            + listing,
            "COLLECTION",
        ) from None


def check_dates(start: date, end: date) -> None:
    """The date range must run forwards."""
    if end < start:
        raise SitsError(f"The end date {end} is before the start date {start}.", "END_DATE")


def _pages(found: Any, request: SearchRequest, is_cancelled: IsCancelled | None) -> list[dict]:
    """Every item of every page, bounded (``MAX_PAGES``, ``MAX_ITEMS``, a page that
    brings nothing new) and cancellable between pages."""
    raw: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for pages, page in enumerate(found.pages_as_dicts(), start=1):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        features = page.get("features") or []
        new = [f for f in features if f.get("id") not in seen]
        if features and not new:
            raise SitsError(
                f"The search at {request.catalogue.shown} sent page {pages} again with the items"
                " of an earlier page (its 'next' link goes round in a circle), so it was"
                " stopped. The catalogue is at fault; try again later or another catalogue.",
                "STAC_URL",
            )
        seen.update(f.get("id") for f in new)
        raw.extend(new)
        if pages >= MAX_PAGES or len(raw) > MAX_ITEMS:
            raise SitsError(
                f"The search at {request.catalogue.shown} was stopped after"
                f" {plural(pages, 'page')} and {plural(len(raw), 'item')} (at most"
                f" {MAX_PAGES:,} pages and {MAX_ITEMS:,} items):"
                " narrow it with a shorter date range (START_DATE, END_DATE), fewer or closer"
                " features (INPUT), or a lower MAX_CLOUD.",
                "STAC_URL",
            )
    return raw


def search(request: SearchRequest, is_cancelled: IsCancelled | None = None) -> SearchResult:
    """Run the one search of a run and return the items that pass every filter;
    ``is_cancelled`` is asked between pages."""
    check_dates(request.start, request.end)
    import shapely

    counter = RequestCounter()
    client = open_catalogue(request.catalogue, request.headers, counter=counter, http=request.http)
    collection = get_collection(client, request)
    first, last = date_range(request.start, request.end)
    extra, cloud_filter = _cloud_arguments(client, request.max_cloud)
    try:
        found = client.search(
            collections=[request.collection],
            intersects=shapely.geometry.mapping(request.area),
            datetime=(first, last),
            limit=PAGE_SIZE,
            **extra,
        )
        raw = _pages(found, request, is_cancelled)
    except (SitsError, Cancelled):
        raise
    except Exception as exc:
        why = network_problem(exc, request.catalogue.url, request.http.timeout_s)
        raise SitsError(
            f"The search at {request.catalogue.shown} failed:"
            f" {why or scrubbed(f'{type(exc).__name__}: {exc}')}",
            "STAC_URL",
        ) from None
    rejected, usable = [], []
    for item in raw:
        problem = item_problem(item)
        (usable if problem is None else rejected).append(item if problem is None else problem)
    items = [item for item in usable if keep_item(item, request)]
    return SearchResult(
        items=items,
        collection=collection,
        bands=asset_bands(collection, items[:5]),
        cloud_filter=cloud_filter,
        dropped_by_client=len(usable) - len(items),
        api_requests=counter,
        rejected=rejected,
    )
