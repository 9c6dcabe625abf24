"""The series the dock shows, read from a time-series layer (an *Extract time series*
output, or the one a map click makes): per feature, its dates, each value column and
each date's status, so that the plot can tell observations from gap-filled and masked
dates. Plain QGIS reads on the main thread: no engine, nothing heavy."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import Any

from qgis.core import QgsExpression, QgsFeatureRequest, QgsVectorLayer
from qgis.PyQt.QtCore import QDateTime, Qt

#: The columns every time-series table has, before its band and index columns, and
#: the row id GeoPackages add.
FIXED_COLUMNS = ("fid", "feature_id", "date", "valid_fraction", "status")


@dataclass
class FeatureSeries:
    """One feature's dates, its values per column (NaN where masked) and each date's
    status as the table writes it (``ok``, ``filled``, ``masked``...)."""

    feature_id: str
    dates: list[Any] = field(default_factory=list)  # datetime.datetime
    values: dict[str, list[float]] = field(default_factory=dict)
    status: list[str] = field(default_factory=list)


def is_series_layer(layer: Any) -> bool:
    """Whether a layer is an *Extract time series* output (its fixed columns)."""
    return isinstance(layer, QgsVectorLayer) and all(
        layer.fields().indexOf(name) >= 0 for name in ("feature_id", "date")
    )


def value_columns(layer: QgsVectorLayer) -> list[str]:
    """The band and index columns of a time-series layer."""
    return [f.name() for f in layer.fields() if f.name() not in FIXED_COLUMNS and f.isNumeric()]


def _as_datetime(value: Any) -> Any:
    """A row's date: a QDateTime (the layer output) or ISO 8601 text (the table)."""
    if isinstance(value, QDateTime):
        return value.toPyDateTime() if value.isValid() else None
    text = str(value or "")
    parsed = QDateTime.fromString(text, Qt.DateFormat.ISODate)
    return parsed.toPyDateTime() if parsed.isValid() else None


def _as_float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan  # NULL: a masked date
    return number


def read_series(
    layer: QgsVectorLayer, feature_ids: list[str], columns: list[str]
) -> list[FeatureSeries]:
    """Every date of these features, sorted by date, from the layer's rows."""
    if not feature_ids:
        return []
    expression = QgsExpression.createFieldEqualityExpression
    request = QgsFeatureRequest(
        QgsExpression(" OR ".join(expression("feature_id", i) for i in feature_ids))
    )
    has_status = layer.fields().indexOf("status") >= 0
    rows: dict[str, list[tuple[Any, list[float], str]]] = {i: [] for i in feature_ids}
    for feature in layer.getFeatures(request):
        when = _as_datetime(feature["date"])
        if when is None:
            continue  # a feature's single problem row (no data, error)
        status = str(feature["status"]) if has_status else ""
        values = [_as_float(feature[c]) for c in columns]
        rows[str(feature["feature_id"])].append((when, values, status))
    series = []
    for feature_id in feature_ids:
        ordered = sorted(rows[feature_id], key=lambda row: row[0])
        one = FeatureSeries(
            feature_id, [row[0] for row in ordered], status=[row[2] for row in ordered]
        )
        for n, column in enumerate(columns):
            one.values[column] = [row[1][n] for row in ordered]
        series.append(one)
    return series


def write_csv(series: list[FeatureSeries], columns: list[str], path: str) -> None:
    """The plotted data: one row per feature and date, empty where masked, with the
    date's status."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["feature_id", "date", "status", *columns])
        for one in series:
            for n, when in enumerate(one.dates):
                values = [
                    "" if math.isnan(v) else v
                    for v in (one.values.get(c, [math.nan] * len(one.dates))[n] for c in columns)
                ]
                status = one.status[n] if n < len(one.status) else ""
                writer.writerow([one.feature_id, when.isoformat(), status, *values])
