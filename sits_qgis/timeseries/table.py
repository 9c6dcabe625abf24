"""One feature's series as table rows: point-pixel values or zonal statistics.

Rows are plain dicts (``feature_id``, ``date``, ``valid_fraction``, ``status``, then
one column per band and index), so any writer can take them: QGIS feature sinks,
pandas, CSV.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .load import FeatureJob, LoadedImages, outcomes_of_batch
from .options import Statistic, TableKind, TableOptions
from .problems import problem_message
from .series import CleanSeries, SeriesSpec, clean_series
from .status import STATUS_ERROR, STATUS_FILLED, STATUS_MASKED, STATUS_NO_DATA, STATUS_OK


@dataclass
class FeatureOutcome:
    """What came back for one feature: its rows, or why there are none."""

    feature_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = STATUS_OK
    message: str = ""


def column_names(spec: SeriesSpec, options: TableOptions, kind: TableKind) -> list[str]:
    """Value columns: ``<name>`` for point pixels, ``<name>_<statistic>`` for areas."""
    if kind is TableKind.PIXEL:
        return spec.variable_names
    return [f"{name}_{s.label}" for name in spec.variable_names for s in options.statistics]


def _statistic(values: np.ndarray, statistic: Statistic) -> np.ndarray:
    """A nan-aware statistic over the pixels (last axis) of each date."""
    if statistic is Statistic.COUNT:
        return np.isfinite(values).sum(axis=-1).astype(np.float64)
    function = {
        Statistic.MEAN: np.nanmean,
        Statistic.MEDIAN: np.nanmedian,
        Statistic.STD: np.nanstd,
        Statistic.MIN: np.nanmin,
        Statistic.MAX: np.nanmax,
    }[statistic]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN dates give NaN
        return function(values.astype(np.float64), axis=-1)


def _columns(series: CleanSeries, options: TableOptions, kind: TableKind) -> dict[str, np.ndarray]:
    columns = {}
    for name, values in series.variables.items():
        if kind is TableKind.PIXEL:
            columns[name] = values[:, 0, 0].astype(np.float64)
            continue
        inside = values[:, series.zone]
        for statistic in options.statistics:
            columns[f"{name}_{statistic.label}"] = _statistic(inside, statistic)
    return columns


def iso_time(value: np.datetime64) -> str:
    """ISO 8601 in UTC to the second: ``2023-03-05T10:46:19Z``."""
    return str(np.datetime_as_string(value, unit="s")) + "Z"


def series_rows(
    feature_id: str, series: CleanSeries, options: TableOptions, kind: TableKind
) -> list[dict[str, Any]]:
    """The rows of one feature, one per date, NaN as ``None``."""
    columns = _columns(series, options, kind)
    # whether gap filling gave a date any value inside the zone (a count of 0 is not one)
    has_values = np.zeros(len(series.times), dtype=bool)
    for values in series.variables.values():
        has_values |= np.isfinite(values[:, series.zone]).any(axis=-1)
    rows = []
    for step, when in enumerate(series.times):
        values = {name: column[step] for name, column in columns.items()}
        has_value = has_values[step]
        why = series.failed[step] if series.failed else ""
        if why:
            status = f"{STATUS_ERROR}: {why}"
        elif not series.dropped[step]:
            status = STATUS_OK
        else:
            status = STATUS_FILLED if has_value else STATUS_MASKED
        row: dict[str, Any] = {
            "feature_id": feature_id,
            "date": iso_time(when),
            "valid_fraction": round(float(series.valid_fraction[step]), 6),
            "status": status,
        }
        row.update({k: (float(v) if np.isfinite(v) else None) for k, v in values.items()})
        rows.append(row)
    return rows


def extract_features(
    jobs: Sequence[FeatureJob], spec: SeriesSpec, options: TableOptions
) -> list[FeatureOutcome]:
    """Worker entry point: the rows of features that share their images. Never raises
    for the features' own problems: they become their statuses."""
    return outcomes_of_batch(
        jobs,
        spec.mask_rule,
        lambda _, job, images: _feature_outcome(job, images, spec, options),
        lambda feature_id, message: FeatureOutcome(
            feature_id, status=STATUS_ERROR, message=message
        ),
    )


def _feature_outcome(
    job: FeatureJob, loaded: LoadedImages, spec: SeriesSpec, options: TableOptions
) -> FeatureOutcome:
    if len(loaded.times) == 0:
        return FeatureOutcome(job.feature_id, status=STATUS_NO_DATA, message="no image")
    try:
        series = clean_series(loaded, job, spec, drop_dates=False)
        rows = series_rows(job.feature_id, series, options, job.target.kind)
    except Exception as exc:  # one feature's failure must not stop the others
        return FeatureOutcome(job.feature_id, status=STATUS_ERROR, message=problem_message(exc))
    return FeatureOutcome(job.feature_id, rows)


def problem_row(
    feature_id: str, columns: Sequence[str], status: str, message: str
) -> dict[str, Any]:
    """The single row that reports a feature without a series."""
    row: dict[str, Any] = {
        "feature_id": feature_id,
        "date": None,
        "valid_fraction": None,
        "status": f"{status}: {message}" if message else status,
    }
    row.update(dict.fromkeys(columns))
    return row
