"""Name bands the way the user thinks of them, whatever the catalogue calls its assets.

Earth Search names Sentinel-2 assets by common name (``red``, ``nir``, ``scl``), the
Planetary Computer by band id (``B04``, ``B08``, ``SCL``). Both describe each asset with
``eo:bands`` (band ``name`` and ``common_name``) in the collection's ``item_assets`` and
in every item, so a request for ``red`` or ``B04`` resolves to the right asset on
either, and one model runs on both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SitsError


@dataclass(frozen=True)
class AssetBand:
    """What the catalogue says about one single-band asset."""

    key: str
    name: str | None = None
    common_name: str | None = None
    resolution: float | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None

    @property
    def aliases(self) -> set[str]:
        """Every lower-case name this asset answers to."""
        return {n.lower() for n in (self.key, self.name, self.common_name) if n}

    @property
    def label(self) -> str:
        """``key (name, common name, 10 m)`` for messages and pick lists."""
        details = [d for d in (self.name, self.common_name) if d and d != self.key]
        if self.resolution:
            details.append(f"{self.resolution:g} m")
        return f"{self.key} ({', '.join(details)})" if details else self.key


def _single_band(key: str, asset: Mapping[str, Any]) -> AssetBand | None:
    """The asset as an ``AssetBand``; ``None`` for multi-band or non-raster assets."""
    eo_bands = asset.get("eo:bands") or asset.get("bands") or []
    raster_bands = asset.get("raster:bands") or []
    if len(eo_bands) > 1 or len(raster_bands) > 1:
        return None  # e.g. a true-colour preview that also claims "red"
    roles = set(asset.get("roles") or ["data"])
    if not roles & {"data", "reflectance"} and not (eo_bands or raster_bands):
        return None
    eo = eo_bands[0] if eo_bands else {}
    raster = raster_bands[0] if raster_bands else {}
    resolution = raster.get("spatial_resolution") or asset.get("gsd")
    return AssetBand(
        key=key,
        name=eo.get("name"),
        common_name=eo.get("common_name") or eo.get("eo:common_name"),
        resolution=float(resolution) if resolution else None,
        nodata=raster.get("nodata"),
        scale=raster.get("scale"),
        offset=raster.get("offset"),
    )


def asset_bands(
    collection: Mapping[str, Any] | None, items: Iterable[Mapping[str, Any]] = ()
) -> dict[str, AssetBand]:
    """The single-band assets described by the collection's ``item_assets`` and items."""
    found: dict[str, AssetBand] = {}
    sources = [(collection or {}).get("item_assets") or {}]
    sources += [item.get("assets") or {} for item in items]
    for assets in sources:
        for key, asset in assets.items():
            if key not in found and (band := _single_band(key, asset)) is not None:
                found[key] = band
    return found


def resolve_bands(
    names: Iterable[str],
    bands: Mapping[str, AssetBand],
    collection: str,
    parameter: str,
    aliases: Mapping[str, str] | None = None,
) -> dict[str, AssetBand]:
    """Map each requested name (asset key, band name or common name) to its asset.

    An exact asset key wins, then the collection profile's ``aliases`` (lower-case name
    -> asset key: Copernicus Data Space has ``B04_10m``, ``B04_20m`` and ``B04_60m``,
    all ``red``), then the names of the assets' metadata; an unknown name lists what
    exists.
    """
    resolved: dict[str, AssetBand] = {}
    aliases = aliases or {}
    for name in names:
        wanted = name.strip()
        match = (
            bands.get(wanted)
            or bands.get(aliases.get(wanted.lower(), ""))
            or next((b for b in bands.values() if wanted.lower() in b.aliases), None)
        )
        if match is None:
            available = ", ".join(b.label for b in bands.values()) or "none described"
            raise SitsError(
                f"Band '{wanted}' does not exist in collection '{collection}'."
                f" Available bands: {available}.",
                parameter,
            )
        resolved[wanted] = match
    return resolved
