"""Catalogue and collection profiles: what real catalogues publish, kept as data.

``profiles.json`` holds, per catalogue, its API address, whether its asset addresses
are signed, its request-rate limit and the account it needs, and per collection the
band aliases (common names to asset keys, for catalogues whose keys are not common
names, such as Copernicus Data Space's ``B04_10m``), the default cloud mask, scale,
offset and nodata fallbacks, and whether its bucket is requester-pays. The engine reads
it to fill in what the user leaves to the collection; the dialogs list it. It is plain
JSON, read with the standard library, so QGIS's process can read it without the
engine's packages.

A file named by the ``SITS_QGIS_PROFILES`` environment variable (same layout) adds
catalogues and masks, or replaces those of the same key: an institution's own STAC API
or mirror gets the same defaults as the catalogues shipped here.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import SitsError

PROFILES_FILE = Path(__file__).with_name("profiles.json")
USER_PROFILES_VARIABLE = "SITS_QGIS_PROFILES"
#: The two kinds of masks: classes (a pixel is masked when its value is listed) and bits
#: (a pixel is masked when any listed bit is set).
MASK_KINDS = ("classes", "bits")


@dataclass(frozen=True)
class MaskProfile:
    """A quality band's convention: its classes or bits by name, and what is masked by
    default."""

    key: str
    title: str
    kind: str
    labels: dict[int, str]
    default: tuple[int, ...]
    source: str = ""

    def describe(self, values: tuple[int, ...] | None = None) -> str:
        """``bits 1 (Dilated cloud), 3 (Cloud)`` for the log and messages."""
        chosen = self.default if values is None else values
        named = ", ".join(f"{v} ({self.labels[v]})" if v in self.labels else str(v) for v in chosen)
        return f"{self.kind} {named}"


@dataclass(frozen=True)
class CollectionProfile:
    """What one collection of one catalogue needs beyond its own metadata."""

    id: str
    title: str
    family: str
    bands: dict[str, str] = field(default_factory=dict)
    mask_band: str | None = None
    mask: MaskProfile | None = None
    scale: dict[str, tuple[float, float]] = field(default_factory=dict)
    nodata: dict[str, float] = field(default_factory=dict)
    requester_pays: bool = False
    source: str = ""


@dataclass(frozen=True)
class CatalogueProfile:
    """A STAC API: address, signing, rate limit, account, and its known collections."""

    key: str
    title: str
    url: str
    signing: str | None = None
    token_url: str | None = None
    requests_per_second: float | None = None
    account: str | None = None
    credential_hosts: tuple[str, ...] = ()
    #: GDAL's settings for the catalogue's own S3 endpoint (Copernicus Data Space's
    #: ``eodata``), from the profile's ``s3``: ``endpoint``, ``https``, ``virtual_hosting``.
    s3_endpoint: dict[str, str] = field(default_factory=dict)
    collections: dict[str, CollectionProfile] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """Host and port of the API (two APIs on one host differ by their port)."""
        return urlparse(self.url).netloc.lower()


@dataclass(frozen=True)
class Profiles:
    """Every catalogue and mask convention known, shipped and the user's."""

    catalogues: dict[str, CatalogueProfile]
    masks: dict[str, MaskProfile]

    def catalogue(self, text: str) -> CatalogueProfile | None:
        """The catalogue named by key, title or address (a typed-in address of a known
        catalogue gets its profile too)."""
        value = text.strip().rstrip("/").lower()
        for profile in self.catalogues.values():
            if value in (profile.key, profile.title.lower(), profile.url.lower()):
                return profile
        host = urlparse(value).netloc
        return next((p for p in self.catalogues.values() if host and p.host == host), None)

    def collection(self, catalogue: str, collection: str) -> CollectionProfile | None:
        """The profile of ``collection`` in the catalogue named or addressed by
        ``catalogue``; ``None`` for a catalogue or collection not described here."""
        profile = self.catalogue(catalogue)
        return None if profile is None else profile.collections.get(collection.strip())

    def mask_for_band(self, band: str) -> MaskProfile | None:
        """The mask convention of a quality band known by its asset key in some profile
        (``scl``, ``qa_pixel``, ``Fmask``...): what a collection not described here
        most likely uses."""
        wanted = band.strip().lower()
        for catalogue in self.catalogues.values():
            for collection in catalogue.collections.values():
                if collection.mask and (collection.mask_band or "").lower() == wanted:
                    return collection.mask
        return None


def _numbers(values: Mapping[str, Any]) -> dict[int, str]:
    return {int(k): str(v) for k, v in values.items()}


def _masks(document: Mapping[str, Any], where: str) -> dict[str, MaskProfile]:
    masks = {}
    for key, entry in (document.get("masks") or {}).items():
        if entry.get("kind") not in MASK_KINDS:
            raise SitsError(
                f"{where}: mask '{key}' has kind {entry.get('kind')!r}, not one of {MASK_KINDS}."
            )
        masks[key] = MaskProfile(
            key=key,
            title=str(entry.get("title", key)),
            kind=entry["kind"],
            labels=_numbers(entry.get("labels") or {}),
            default=tuple(int(v) for v in entry.get("default") or ()),
            source=str(entry.get("source", "")),
        )
    return masks


def _collection(
    key: str, entry: Mapping[str, Any], masks: Mapping[str, MaskProfile], where: str
) -> CollectionProfile:
    mask = entry.get("mask") or None
    if mask is not None and mask.get("mask") not in masks:
        raise SitsError(
            f"{where}: collection '{key}' names mask {mask.get('mask')!r}, which is not defined."
        )
    return CollectionProfile(
        id=key,
        title=str(entry.get("title", key)),
        family=str(entry.get("family", "")),
        bands={str(k).lower(): str(v) for k, v in (entry.get("bands") or {}).items()},
        mask_band=None if mask is None else str(mask["band"]),
        mask=None if mask is None else masks[mask["mask"]],
        scale={k: (float(v[0]), float(v[1])) for k, v in (entry.get("scale") or {}).items()},
        nodata={k: float(v) for k, v in (entry.get("nodata") or {}).items()},
        requester_pays=bool(entry.get("requester_pays", False)),
        source=str(entry.get("source", "")),
    )


def _s3_endpoint(entry: Mapping[str, Any]) -> dict[str, str]:
    if not entry.get("endpoint"):
        return {}
    return {
        "AWS_S3_ENDPOINT": str(entry["endpoint"]),
        "AWS_HTTPS": "YES" if entry.get("https", True) else "NO",
        "AWS_VIRTUAL_HOSTING": "TRUE" if entry.get("virtual_hosting", True) else "FALSE",
    }


def parse_profiles(documents: list[tuple[Mapping[str, Any], str]]) -> Profiles:
    """Profiles from JSON documents (each with where it comes from, for messages); a
    later document adds to or replaces the catalogues and masks of the earlier."""
    masks: dict[str, MaskProfile] = {}
    catalogues: dict[str, CatalogueProfile] = {}
    for document, where in documents:
        masks.update(_masks(document, where))
        for key, entry in (document.get("catalogues") or {}).items():
            if not str(entry.get("url", "")).startswith(("http://", "https://")):
                raise SitsError(f"{where}: catalogue '{key}' needs an http(s) 'url'.")
            rate = entry.get("requests_per_second")
            catalogues[key] = CatalogueProfile(
                key=key,
                title=str(entry.get("title", key)),
                url=str(entry["url"]).rstrip("/"),
                signing=entry.get("signing") or None,
                token_url=entry.get("token_url") or None,
                requests_per_second=None if rate is None else float(rate),
                account=entry.get("account") or None,
                credential_hosts=tuple(entry.get("credential_hosts") or ()),
                s3_endpoint=_s3_endpoint(entry.get("s3") or {}),
                collections={
                    c: _collection(c, e, masks, where)
                    for c, e in (entry.get("collections") or {}).items()
                },
            )
    return Profiles(catalogues, masks)


@functools.lru_cache(maxsize=4)
def _load(user_file: str) -> Profiles:
    documents = [(json.loads(PROFILES_FILE.read_text(encoding="utf-8")), PROFILES_FILE.name)]
    if user_file:
        try:
            documents.append((json.loads(Path(user_file).read_text(encoding="utf-8")), user_file))
        except (OSError, ValueError) as exc:
            raise SitsError(
                f"The profiles file {user_file} (environment variable"
                f" {USER_PROFILES_VARIABLE}) cannot be read: {exc}. Fix it or unset the variable."
            ) from None
    return parse_profiles(documents)


def profiles() -> Profiles:
    """The shipped profiles, with the user's file (``SITS_QGIS_PROFILES``) if set."""
    return _load(os.environ.get(USER_PROFILES_VARIABLE, ""))


def profiles_for_display() -> Profiles:
    """``profiles()`` for labels and pick lists, which must not fail: with an unreadable
    user file, the shipped ones (a run then says what is wrong with the file)."""
    try:
        return profiles()
    except SitsError:
        return _load("")
