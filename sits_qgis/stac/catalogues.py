"""The STAC catalogues a user can pick by name, and how a typed-in address is read.

Presets exist so that a QGIS user does not need to know API addresses; any other STAC
API is accepted by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import SitsError


@dataclass(frozen=True)
class Catalogue:
    """A STAC API: its address, whether its asset URLs must be signed before reading, and
    the request rate it allows (``None``: no stated limit)."""

    key: str
    title: str
    url: str
    signs_assets: bool = False
    requests_per_second: float | None = None


EARTH_SEARCH = Catalogue(
    "earth-search", "Element 84 Earth Search v1", "https://earth-search.aws.element84.com/v1"
)
PLANETARY_COMPUTER = Catalogue(
    "planetary-computer",
    "Microsoft Planetary Computer",
    "https://planetarycomputer.microsoft.com/api/stac/v1",
    signs_assets=True,
)
#: Copernicus Data Space Ecosystem's STAC API; its documentation asks for at most about
#: 5 requests per second.
COPERNICUS = Catalogue(
    "copernicus",
    "Copernicus Data Space Ecosystem",
    "https://stac.dataspace.copernicus.eu/v1",
    requests_per_second=5.0,
)
PRESETS: dict[str, Catalogue] = {c.key: c for c in (EARTH_SEARCH, PLANETARY_COMPUTER, COPERNICUS)}
#: Request-rate caps of catalogues given by address, by host.
RATE_LIMITS = {"stac.dataspace.copernicus.eu": 5.0}
DEFAULT_COLLECTION = "sentinel-2-l2a"


def resolve_catalogue(text: str | None, parameter: str = "STAC_URL") -> Catalogue:
    """The catalogue named by a preset key or title, or given as an http(s) URL.

    Empty means the default preset (Earth Search: no account needed).
    """
    value = (text or "").strip()
    if not value:
        return EARTH_SEARCH
    for catalogue in PRESETS.values():
        if value.lower() in (catalogue.key, catalogue.title.lower(), catalogue.url.lower()):
            return catalogue
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        presets = ", ".join(PRESETS)
        raise SitsError(
            f"'{value}' is neither a catalogue preset ({presets}) nor an http(s) address"
            " of a STAC API.",
            parameter,
        )
    signs = parsed.netloc.endswith("planetarycomputer.microsoft.com")
    rate = RATE_LIMITS.get(parsed.hostname or "")
    return Catalogue(
        "custom", value, value.rstrip("/"), signs_assets=signs, requests_per_second=rate
    )
