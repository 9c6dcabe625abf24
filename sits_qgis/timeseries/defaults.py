"""What a run takes from the collection where the user leaves it to the collection:
the cloud mask, band aliases, scale and offset, nodata.

The collection's profile (``profiles.json``) says it for the catalogues described
there; for any other collection, it is guessed from the collection's own metadata
(a quality band known by its asset key, ``raster:bands``), and the run's log says what
was guessed, so a user can check it or set it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..choices import AUTO_MASK_BAND
from ..errors import SitsError
from ..profiles import CollectionProfile, MaskProfile, profiles
from ..redact import shown_url
from ..stac import AssetBand, resolve_bands
from .indices import DEFAULT_REFLECTANCE_SCALE
from .options import SeriesOptions


@dataclass(frozen=True)
class MaskChoice:
    """The mask a run applies: its asset (``None``: no mask), what it hides, and the
    convention it follows when one is known (for the log)."""

    asset: str | None = None
    values: tuple[int, ...] = ()
    bits: tuple[int, ...] = ()
    convention: MaskProfile | None = None

    def describe(self) -> str:
        if self.asset is None:
            return "no cloud mask"
        shown = []
        for kind, chosen in (("classes", self.values), ("bits", self.bits)):
            if chosen:
                labels = (
                    self.convention.labels
                    if self.convention and self.convention.kind == kind
                    else {}
                )
                named = ", ".join(f"{v} ({labels[v]})" if v in labels else str(v) for v in chosen)
                shown.append(f"{kind} {named}")
        return f"mask band '{self.asset}', masking {' and '.join(shown)}"


def band_aliases(
    profile: CollectionProfile | None, bands: Mapping[str, AssetBand]
) -> dict[str, str]:
    """The profile's names for assets the collection has (``red`` -> ``B04_10m``)."""
    if profile is None:
        return {}
    return {alias: key for alias, key in profile.bands.items() if key in bands}


def choose_mask(
    options: SeriesOptions,
    bands: Mapping[str, AssetBand],
    profile: CollectionProfile | None,
    aliases: Mapping[str, str],
) -> MaskChoice:
    """The run's mask: MASK_BAND ``auto`` takes the collection's (its profile's, else a
    quality band known by its asset key); an empty MASK_BAND masks nothing; a named band
    is used as named. Without MASK_VALUES and MASK_BITS, the band's convention says
    what is masked."""
    wanted = options.mask_band.strip()
    if not wanted:
        return MaskChoice()
    if wanted.lower() == AUTO_MASK_BAND:
        asset, convention = _default_mask(bands, profile)
        if asset is None:
            return MaskChoice()
    else:
        asset = next(
            iter(resolve_bands([wanted], bands, options.collection, "MASK_BAND", aliases).values())
        ).key
        convention = _convention(asset, profile)
    if options.mask_values or options.mask_bits:
        return MaskChoice(asset, tuple(options.mask_values), tuple(options.mask_bits), convention)
    if convention is None:
        raise SitsError(
            f"the mask band '{asset}' is named but nothing of it is masked, and its"
            " convention is not known: list its classes in MASK_VALUES (e.g. 0,1,3,8,9,10)"
            " or its bits in MASK_BITS (e.g. 1,3,4), or clear MASK_BAND.",
            "MASK_VALUES",
        )
    if convention.kind == "bits":
        return MaskChoice(asset, (), convention.default, convention)
    return MaskChoice(asset, convention.default, (), convention)


def _default_mask(
    bands: Mapping[str, AssetBand], profile: CollectionProfile | None
) -> tuple[str | None, MaskProfile | None]:
    """The collection's mask band and convention: the profile's, else the first asset
    whose key is a quality band of a known convention."""
    if profile is not None:
        key = _asset_key(profile.mask_band, bands) if profile.mask_band else None
        return (key, profile.mask) if key else (None, None)
    known = profiles()
    for key in bands:
        convention = known.mask_for_band(key)
        if convention is not None:
            return key, convention
    return None, None


def _asset_key(name: str, bands: Mapping[str, AssetBand]) -> str | None:
    """The collection's asset key for ``name`` (asset keys compare without case)."""
    return next((key for key in bands if key.lower() == name.lower()), None)


def _convention(asset: str, profile: CollectionProfile | None) -> MaskProfile | None:
    if profile is not None and profile.mask and (profile.mask_band or "").lower() == asset.lower():
        return profile.mask
    return profiles().mask_for_band(asset)


def conversion(
    band: AssetBand, profile: CollectionProfile | None, reflectance: bool
) -> tuple[float, float]:
    """(scale, offset) from digital numbers to physical values: the catalogue's
    ``raster:bands``, else the profile's documented values, else (collections without a
    profile) Sentinel-2's 1e-4 for reflectances, else the values as stored."""
    documented = profile.scale.get(band.key) if profile is not None else None
    if band.scale is not None:
        return float(band.scale), float(band.offset or 0.0)
    if documented is not None:
        return documented
    if profile is None and reflectance:
        return DEFAULT_REFLECTANCE_SCALE, float(band.offset or 0.0)
    return 1.0, float(band.offset or 0.0)


def with_documented_nodata(
    items: Iterable[dict[str, Any]], profile: CollectionProfile | None
) -> list[dict[str, Any]]:
    """The items, with the profile's nodata written into the ``raster:bands`` of assets
    whose catalogue states none (MODIS NDVI's -3000 is in the files of some catalogues
    and in no metadata of others); what the catalogue states is kept."""
    items = list(items)
    if profile is None or not profile.nodata:
        return items
    for item in items:
        for key, value in profile.nodata.items():
            asset = item.get("assets", {}).get(key)
            if asset is None:
                continue
            raster = list(asset.get("raster:bands") or [{}])
            if len(raster) == 1 and raster[0].get("nodata") is None:
                asset["raster:bands"] = [{**raster[0], "nodata": value}]
    return items


def guessed_note(options: SeriesOptions, mask: MaskChoice) -> str | None:
    """The log line for a collection without a profile: what was taken from its own
    metadata in the user's place (``None`` when nothing was)."""
    parts = []
    if options.mask_band.strip().lower() == AUTO_MASK_BAND:
        how = f" ({mask.convention.title}, known by the band's name)" if mask.convention else ""
        parts.append(mask.describe() + how)
    if options.physical or options.indices:
        parts.append(
            "scale and offset from raster:bands (1e-4 assumed for reflectance bands without)"
        )
    if not parts:
        return None
    return (
        f"Collection '{options.collection}' of {shown_url(options.stac_url)} has no profile;"
        f" from its own metadata: {'; '.join(parts)}. Set MASK_BAND, MASK_VALUES or"
        " MASK_BITS if this is not what the collection uses."
    )
