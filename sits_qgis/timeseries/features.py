"""The features of a layer as the engine sees them: an id, a geometry and a CRS.

The Processing algorithms hand features over as WKB in the layer's CRS; the engine
reprojects with pyproj, so it runs the same from QGIS, a notebook or a remote worker.
Problems of one feature (no geometry, an invalid one) become that feature's status,
not an error of the whole run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import SitsError


@dataclass(frozen=True)
class Feature:
    """One input feature: its id as text, WKB geometry (layer CRS) and optional class."""

    id: str
    wkb: bytes | None
    label: float | None = None


@dataclass(frozen=True)
class FeatureLayer:
    """Features and the CRS (WKT, PROJ string or ``EPSG:n``) their geometries are in."""

    features: tuple[Feature, ...]
    crs: str

    def __post_init__(self) -> None:
        if not self.features:
            raise SitsError(
                "The layer has no features to extract (or none is selected while"
                " 'selected features only' is on).",
                "INPUT",
            )
        if not self.crs:
            raise SitsError(
                "The layer has no coordinate reference system: set its CRS in the layer"
                " properties so that its features can be placed on the images.",
                "INPUT",
            )


@dataclass(frozen=True)
class PlacedFeature:
    """A feature with its geometry read and reprojected to EPSG:4326, or why not."""

    feature: Feature
    geometry: Any | None
    problem: str = ""


def place_features(layer: FeatureLayer) -> list[PlacedFeature]:
    """Read every geometry and bring it to EPSG:4326; report the ones that cannot be."""
    import shapely
    from pyproj import CRS, Transformer

    try:
        source = CRS.from_user_input(layer.crs)
    except Exception as exc:
        raise SitsError(f"The layer's CRS cannot be read: {exc}", "INPUT") from None
    to_wgs84 = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
    placed = []
    for feature in layer.features:
        if not feature.wkb:
            placed.append(PlacedFeature(feature, None, "the feature has no geometry"))
            continue
        geometry = shapely.from_wkb(feature.wkb)
        if geometry.is_empty:
            placed.append(PlacedFeature(feature, None, "the feature's geometry is empty"))
            continue
        if geometry.geom_type not in ("Point", "MultiPoint", "Polygon", "MultiPolygon"):
            placed.append(
                PlacedFeature(feature, None, f"a {geometry.geom_type} is not a point or polygon")
            )
            continue
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            placed.append(PlacedFeature(feature, None, f"invalid geometry ({reason})"))
            continue
        wgs84 = shapely.transform(geometry, lambda xy: transform_xy(to_wgs84, xy))
        placed.append(PlacedFeature(feature, wgs84))
    return placed


def transform_xy(transformer: Any, xy: Any) -> Any:
    """Coordinates ``xy`` (n, 2), as shapely hands them, through a pyproj transformer."""
    import numpy as np

    x, y = transform_arrays(transformer, xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def transform_arrays(transformer: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """``transformer.transform(x, y)`` for arrays of any size. pyproj tries an array as a
    scalar first (``float(array)``), which numpy deprecates for arrays of one element (a
    point): those go as plain floats, and come back in their array's shape."""
    import numpy as np

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size != 1:
        return transformer.transform(x, y)
    tx, ty = transformer.transform(float(x.flat[0]), float(y.flat[0]))
    return np.full(x.shape, tx), np.full(y.shape, ty)


def duplicate_ids(features: Iterable[Feature]) -> list[str]:
    """Ids used by more than one feature (their outputs would be mixed up)."""
    return sorted(i for i, n in Counter(f.id for f in features).items() if n > 1)


#: Names Windows reserves for devices, whatever the extension.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 80


def safe_name(text: str) -> str:
    """A file-name fragment from a feature id: no separators, no ``..``, no characters
    Windows refuses, no reserved device name, not empty, at most 80 characters."""
    name = UNSAFE.sub("_", text).strip("._") or "feature"
    name = re.sub(r"\.{2,}", "_", name)[:MAX_NAME]
    return f"_{name}" if name.split(".")[0].upper() in WINDOWS_RESERVED else name


def unique_names(ids: Iterable[str]) -> dict[str, str]:
    """A distinct safe name per id: a suffix separates ids that sanitise alike."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for feature_id in ids:
        if feature_id in names:
            continue
        base = safe_name(feature_id)
        name, n = base, 1
        while name.lower() in taken:  # case-insensitive file systems
            n += 1
            name = f"{base}_{n}"
        taken.add(name.lower())
        names[feature_id] = name
    return names
