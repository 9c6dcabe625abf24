"""Spectral indices from the Awesome Spectral Indices catalogue (spyndex).

Formulas, band symbols and constants all come from the catalogue, so NDVI, EVI, NDWI
and the 230-odd others are computed as their authors define them, not hand-typed.
Catalogue band symbols (``N``, ``R``, ``S1``...) are matched to the collection's
assets through their common names (``nir``, ``red``, ``swir16``...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import SitsError
from ..stac.bands import AssetBand

#: Reflectance scale used when the catalogue gives none (Sentinel-2 L2A digital numbers).
DEFAULT_REFLECTANCE_SCALE = 1e-4


@dataclass(frozen=True)
class IndexPlan:
    """One index: its catalogue name, and the asset that feeds each band symbol."""

    name: str
    bands: dict[str, str]
    constants: dict[str, float]


def catalogue_name(name: str) -> str:
    """The catalogue's spelling of an index name; a clear error for an unknown one."""
    import spyndex

    wanted = name.strip()
    for known in spyndex.indices:
        if known.lower() == wanted.lower():
            return known
    raise SitsError(
        f"Unknown spectral index '{wanted}'. Names are those of the Awesome Spectral"
        " Indices catalogue (e.g. NDVI, EVI, NDWI, NBR, SAVI, NDMI).",
        "INDICES",
    )


#: Common names that stand in for an index band's own when a collection lacks it: the
#: STAC name of Landsat OLI's band 5 (0.851-0.879 um) is ``nir08``, and it is the near
#: infrared of spyndex's N (0.76-0.90 um). A collection with both (Sentinel-2: B08 nir,
#: B8A nir08) keeps the exact one.
COMMON_NAME_FALLBACKS = {"nir": ("nir08",)}


def plan_indices(
    names: Iterable[str],
    bands: Mapping[str, AssetBand],
    aliases: Mapping[str, str] | None = None,
) -> list[IndexPlan]:
    """Check each index exists and that the collection has every band it needs."""
    import spyndex

    # Common names from eo:bands, or asset keys that are common names (Earth Search);
    # the profile's aliases win (of B04_10m, B04_20m and B04_60m, red is B04_10m).
    by_common = {alias: b.key for b in bands.values() for alias in b.aliases}
    by_common.update(aliases or {})
    plans = []
    for name in names:
        index = spyndex.indices[catalogue_name(name)]
        feeds, constants, missing = {}, {}, []
        for symbol in index.bands:
            if symbol in spyndex.constants:
                constants[symbol] = float(spyndex.constants[symbol].default)
                continue
            common = (getattr(spyndex.bands.get(symbol), "common_name", None) or "").lower()
            candidates = (common, *COMMON_NAME_FALLBACKS.get(common, ()))
            key = next((by_common[c] for c in candidates if c in by_common), None)
            if key is None:
                missing.append(f"{symbol} ({common or 'no common name'})")
            else:
                feeds[symbol] = key
        if missing:
            raise SitsError(
                f"Index {index.short_name} needs {'the band' if len(missing) == 1 else 'the bands'}"
                f" {', '.join(missing)}, which the collection does not have.",
                "INDICES",
            )
        plans.append(IndexPlan(index.short_name, feeds, constants))
    return plans


def compute_index(plan: IndexPlan, physical: Mapping[str, np.ndarray]) -> np.ndarray:
    """The index from the assets' physical values (reflectances, not digital numbers)."""
    import spyndex

    params: dict[str, object] = dict(plan.constants)
    for symbol, key in plan.bands.items():
        params[symbol] = physical[key].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.asarray(spyndex.computeIndex(plan.name, params=params), dtype=np.float64)
    result[~np.isfinite(result)] = np.nan
    return result.astype(np.float32)
