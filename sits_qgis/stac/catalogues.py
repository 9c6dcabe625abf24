"""The STAC catalogues a user can pick by name, and how a typed-in address is read.

Presets exist so that a QGIS user does not need to know API addresses; they are the
catalogues of the profiles (``profiles.json``), with their signing, rate limits and
accounts. Any other STAC API is accepted by URL and read from its own metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import SitsError
from ..profiles import CatalogueProfile, profiles
from ..redact import shown_url


@dataclass(frozen=True)
class Catalogue:
    """A STAC API as a run reads it: the address typed (a profiled catalogue's own, or
    another address on its host) and the profile that says how to read it: signing and
    its token service, the request rate it allows, account, data hosts and collections.
    An address without a profile gets an empty one of its own."""

    url: str
    profile: CatalogueProfile

    @property
    def key(self) -> str:
        return self.profile.key

    @property
    def title(self) -> str:
        return self.profile.title

    @property
    def signing(self) -> str | None:
        """How asset addresses are signed (``planetary-computer``), or ``None``."""
        return self.profile.signing

    @property
    def token_url(self) -> str | None:
        return self.profile.token_url

    @property
    def requests_per_second(self) -> float | None:
        """The request rate the API allows; ``None``: no stated limit."""
        return self.profile.requests_per_second

    @property
    def signs_assets(self) -> bool:
        return self.signing is not None

    @property
    def shown(self) -> str:
        """The address for messages and outputs (no credentials written into it)."""
        return shown_url(self.url)


def _from_profile(profile: CatalogueProfile, url: str | None = None) -> Catalogue:
    return Catalogue((url or profile.url).rstrip("/"), profile)


#: The catalogues of the profiles, by key, in the profiles' order.
PRESETS: dict[str, Catalogue] = {
    key: _from_profile(profile) for key, profile in profiles().catalogues.items()
}
EARTH_SEARCH = PRESETS["earth-search"]
PLANETARY_COMPUTER = PRESETS["planetary-computer"]
COPERNICUS = PRESETS["copernicus"]
DEFAULT_COLLECTION = "sentinel-2-l2a"


def resolve_catalogue(text: str | None, parameter: str = "STAC_URL") -> Catalogue:
    """The catalogue named by a preset key or title, or given as an http(s) URL (an
    address of a profiled catalogue, or one on its host, gets that profile).

    Empty means the default preset (Earth Search: no account needed).
    """
    value = (text or "").strip()
    if not value:
        return EARTH_SEARCH
    known = profiles()
    profile = known.catalogue(value)
    if profile is not None and value.lower().rstrip("/") in (
        profile.key, profile.title.lower(), profile.url.lower(),
    ):  # fmt: skip
        return PRESETS.get(profile.key) or _from_profile(profile)
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        presets = ", ".join(known.catalogues)
        raise SitsError(
            f"'{shown_url(value)}' is neither a catalogue preset ({presets}) nor an http(s) address"
            " of a STAC API.",
            parameter,
        )
    if profile is not None:  # another address on a profiled catalogue's host
        return _from_profile(profile, value)
    address = value.rstrip("/")
    return Catalogue(address, CatalogueProfile("custom", shown_url(value), address))
