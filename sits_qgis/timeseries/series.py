"""From one feature's loaded images to a clean series: harmonised, masked, dates
filtered, gaps filled, indices computed.

Everything is done in floating point with nodata as NaN, so nothing wraps around:
SITS subtracts the processing-baseline offset on uint16 (``500 - 1000`` becomes
``64536``) and applies it even when Earth Search has already done it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .gapfill import fill_gaps
from .indices import IndexPlan, compute_index
from .load import FeatureJob, LoadedImages, MaskRule
from .options import GapFill
from .pixel_grid import zone_pixels

#: Digital numbers added to Sentinel-2 L2A reflectances from processing baseline 04.00
#: (25 January 2022) on; harmonising subtracts it to continue older series.
BOA_ADD_OFFSET = 1000.0
OFFSET_BASELINE = 4.0
BASELINE_PROPERTY = "s2:processing_baseline"
OFFSET_APPLIED_PROPERTY = "earthsearch:boa_offset_applied"


@dataclass(frozen=True)
class SeriesSpec:
    """What to compute for every feature of a run (the same for all, so no leaking of
    one feature's options into the next as in SITS)."""

    outputs: dict[str, str]
    mask_asset: str | None
    mask_values: tuple[int, ...]
    mask_bits: tuple[int, ...]
    max_masked: float
    gapfill: GapFill
    indices: tuple[IndexPlan, ...]
    harmonize: bool
    reflectance_assets: frozenset[str]
    #: Each asset's (scale, offset) to physical values: ``raster:bands``, else 1e-4 and 0
    #: for reflectances (Sentinel-2's digital numbers), else 1 and 0.
    conversions: dict[str, tuple[float, float]]
    #: Output bands as physical values (else as the digital numbers stored).
    physical: bool = False

    @property
    def mask_rule(self) -> MaskRule | None:
        """What lets the reader skip the bands of dates the mask alone drops."""
        if not self.mask_asset:
            return None
        return MaskRule(self.mask_asset, self.mask_values, self.max_masked, self.mask_bits)

    @property
    def variable_names(self) -> list[str]:
        """Output variables in order: bands as the user named them, then indices."""
        return list(self.outputs) + [plan.name for plan in self.indices]


@dataclass
class CleanSeries:
    """A feature's series after cleaning; arrays are (time, y, x) float32."""

    times: np.ndarray
    valid_fraction: np.ndarray
    dropped: np.ndarray
    variables: dict[str, np.ndarray]
    zone: np.ndarray
    item_ids: list[list[str]]
    #: Why each date could not be read ("" when it was): such dates have no values.
    failed: list[str] = field(default_factory=list)


def needs_offset(item: Mapping[str, Any]) -> bool:
    """Whether an item's reflectances still carry the baseline-04.00 offset."""
    props = item.get("properties", {})
    if props.get(OFFSET_APPLIED_PROPERTY):
        return False
    try:
        return float(props.get(BASELINE_PROPERTY, 0)) >= OFFSET_BASELINE
    except (TypeError, ValueError):
        return False


def _as_float(array: np.ndarray, nodata: float) -> np.ndarray:
    """A band as float32 with its nodata as NaN."""
    values = array.astype(np.float32)
    if not np.isnan(nodata):
        values[array == nodata] = np.nan
    return values


def clean_series(
    loaded: LoadedImages, job: FeatureJob, spec: SeriesSpec, *, drop_dates: bool
) -> CleanSeries:
    """Harmonise, mask, drop too-masked dates, fill gaps and compute indices.

    ``drop_dates`` removes the dropped dates (cubes, as SITS); otherwise they stay as
    empty (or gap-filled) dates so that a table shows where the series has gaps.
    """
    times = loaded.times
    zone = zone_pixels(job.target)
    raw = {key: _as_float(loaded.bands[key], loaded.nodata[key]) for key in _loaded(spec)}
    if spec.harmonize:
        for step, group in enumerate(loaded.groups):
            if any(needs_offset(item) for item in group):
                for key in spec.reflectance_assets & raw.keys():
                    raw[key][step] -= BOA_ADD_OFFSET
    valid = np.broadcast_to(zone, raw[next(iter(raw))].shape).copy()
    rule = spec.mask_rule
    if rule is not None:
        valid &= ~rule.masked(loaded.bands[rule.asset])
    mask_fraction = valid.sum(axis=(1, 2)) / zone.sum()
    for values in raw.values():  # the output bands and the indices' inputs
        valid &= np.isfinite(values)
    # dates dropped on their mask alone had no band read: their fraction is the mask's
    fraction = np.where(loaded.skipped, mask_fraction, valid.sum(axis=(1, 2)) / zone.sum())
    failed = np.array([bool(why) for why in loaded.failed] or [False] * len(times), dtype=bool)
    fraction[failed] = 0.0
    dropped = ((1.0 - fraction) > spec.max_masked) | failed
    valid[dropped] = False
    for values in raw.values():
        values[~valid] = np.nan
    keep = ~dropped if drop_dates else np.ones(len(times), dtype=bool)
    seconds = times.astype("datetime64[s]").astype(np.float64)[keep]

    def filled(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            key: fill_gaps(values[keep], seconds, spec.gapfill) for key, values in arrays.items()
        }

    # each array filled once: physical values for the indices (and the outputs, with
    # VALUES physical), the values as stored for the outputs otherwise
    outputs = set(spec.outputs.values())
    converted = set(_index_inputs(spec)) | (outputs if spec.physical else set())
    physical = filled({key: to_physical(raw[key], key, loaded.groups, spec) for key in converted})
    stored = {} if spec.physical else filled({key: raw[key] for key in outputs})
    source = physical if spec.physical else stored
    variables = {name: source[key] for name, key in spec.outputs.items()}
    for plan in spec.indices:
        variables[plan.name] = compute_index(plan, physical)
    for values in variables.values():  # a date that could not be read is not filled either
        values[failed[keep]] = np.nan
    return CleanSeries(
        times=times[keep],
        valid_fraction=fraction[keep],
        dropped=dropped[keep],
        variables=variables,
        zone=zone,
        item_ids=[[i["id"] for i in g] for g, k in zip(loaded.groups, keep, strict=True) if k],
        failed=[why for why, k in zip(loaded.failed or [""] * len(times), keep, strict=True) if k],
    )


def to_physical(
    values: np.ndarray, key: str, groups: Sequence[Sequence[Mapping[str, Any]]], spec: SeriesSpec
) -> np.ndarray:
    """Digital numbers (time, y, x) as physical values: ``value * scale + offset``,
    computed in float64 and given as float32.

    A catalogue whose offset is Sentinel-2's baseline-04.00 offset (-1000 digital numbers
    times the scale, as ``sentinel-2-c1-l2a`` states it) has it already removed on the
    dates the harmonisation corrected: it is not applied twice there.
    """
    scale, offset = spec.conversions.get(key, (1.0, 0.0))
    offsets = np.full(len(groups), offset)
    is_baseline_offset = math.isclose(offset, -BOA_ADD_OFFSET * scale, rel_tol=1e-6)
    if spec.harmonize and key in spec.reflectance_assets and is_baseline_offset:
        for step, group in enumerate(groups):
            if any(needs_offset(item) for item in group):
                offsets[step] = 0.0
    result = values.astype(np.float64) * scale + offsets[:, None, None]
    return result.astype(np.float32)


def _index_inputs(spec: SeriesSpec) -> list[str]:
    return list(dict.fromkeys(k for plan in spec.indices for k in plan.bands.values()))


def _loaded(spec: SeriesSpec) -> list[str]:
    keys = list(dict.fromkeys(spec.outputs.values()))
    for plan in spec.indices:
        keys += [k for k in plan.bands.values() if k not in keys]
    return keys


def assets_to_load(spec: SeriesSpec) -> tuple[str, ...]:
    """Every asset a feature needs: outputs, index inputs and the mask band."""
    keys = _loaded(spec)
    if spec.mask_asset and spec.mask_asset not in keys:
        keys.append(spec.mask_asset)
    return tuple(keys)
