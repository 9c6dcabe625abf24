"""STAC catalogues: presets, band names, one filtered search per run (pystac-client)."""

from .bands import AssetBand, asset_bands, resolve_bands
from .catalogues import DEFAULT_COLLECTION, PRESETS, Catalogue, resolve_catalogue
from .search import (
    SearchRequest,
    SearchResult,
    check_dates,
    item_datetime,
    search,
    search_area,
)

__all__ = [
    "DEFAULT_COLLECTION",
    "PRESETS",
    "AssetBand",
    "Catalogue",
    "SearchRequest",
    "SearchResult",
    "asset_bands",
    "check_dates",
    "item_datetime",
    "resolve_bands",
    "resolve_catalogue",
    "search",
    "search_area",
]
