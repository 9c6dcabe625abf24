"""Where QGIS reads one scene of a search to show it on the map: each asked band's file
as a GDAL path, signed when the catalogue signs its addresses, with GDAL's settings for
reading it (the credentials included for the hosts that may get them).

This is the engine's side because it is the engine's own logic: the profile's band
names (``red`` is ``B04`` on Planetary Computer, ``B04_10m`` on Copernicus Data Space),
the https alternate of an ``s3://`` href, and the token service's signatures (which
need an HTTP client that QGIS's process does not import). The scene is then read by
QGIS's own GDAL, so it is exactly what the extraction reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SitsError
from ..stac import asset_bands, resolve_bands, resolve_catalogue
from .access import Access, gdal_path
from .defaults import band_aliases
from .planning import credential_hosts
from .problems import FeatureProblem


def scene_sources(
    item: Mapping[str, Any],
    stac_url: str,
    collection: str,
    bands: Iterable[str],
    *,
    headers: Mapping[str, str] | None = None,
    s3: Mapping[str, str] | None = None,
    users_hosts: Iterable[str] = (),
    local_files: bool = False,
) -> list[dict[str, Any]]:
    """For each of ``bands`` (asset keys, band or common names) of ``item``: the name
    asked, its asset key, its GDAL path, and the GDAL options to read that path with."""
    catalogue = resolve_catalogue(stac_url)
    profile = catalogue.profile.collections.get(collection)
    found = asset_bands(None, [item])
    chosen = resolve_bands(bands, found, collection, "BANDS", band_aliases(profile, found))
    access = Access(
        headers=dict(headers or {}),
        token_url=catalogue.token_url if catalogue.signs_assets else None,
        s3=dict(s3 or {}),
        requester_pays=bool(profile and profile.requester_pays),
        account=catalogue.profile.account,
        s3_endpoint=dict(catalogue.profile.s3_endpoint),
        credential_hosts=credential_hosts(catalogue, users_hosts),
        local_files=local_files,
    )
    sources = []
    for name, band in chosen.items():
        try:
            href = access.address(item, band.key)
        except FeatureProblem as exc:  # a local file the settings do not allow
            raise SitsError(str(exc), "BANDS") from None
        sources.append(
            {
                "band": name,
                "asset": band.key,
                "path": gdal_path(href),
                "options": access.gdal_options(href),
            }
        )
    return sources
