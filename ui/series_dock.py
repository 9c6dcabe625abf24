"""The time-series dock: the series of the features selected in a time-series layer.

Select rows of an *Extract time series* output (on the map for ``OUTPUT_LAYER``, or in
an attribute table for either output) and the dock plots every date of their
features: the ticked bands or indices over time, one line per feature and value,
masked dates as gaps (they are empty in the table), several features overlaid. The
plot can be saved as PNG and its data as CSV. It reads the layer QGIS already has, on
the main thread; it starts no extraction, so it needs no background task.
"""

from __future__ import annotations

import contextlib
import csv
import math
from dataclasses import dataclass, field
from typing import Any

from qgis.core import (
    QgsExpression,
    QgsFeatureRequest,
    QgsMapLayerProxyModel,
    QgsVectorLayer,
)
from qgis.gui import QgsDockWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QDateTime, Qt
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

#: The columns every time-series table has, before its band and index columns, and
#: the row id GeoPackages add.
FIXED_COLUMNS = ("fid", "feature_id", "date", "valid_fraction", "status")


@dataclass
class FeatureSeries:
    """One feature's dates and, per value column, its values (NaN where masked)."""

    feature_id: str
    dates: list[Any] = field(default_factory=list)  # datetime.datetime
    values: dict[str, list[float]] = field(default_factory=dict)


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
    rows: dict[str, list[tuple[Any, list[float]]]] = {i: [] for i in feature_ids}
    for feature in layer.getFeatures(request):
        when = _as_datetime(feature["date"])
        if when is None:
            continue  # a feature's single problem row (no data, error)
        rows[str(feature["feature_id"])].append((when, [_as_float(feature[c]) for c in columns]))
    series = []
    for feature_id in feature_ids:
        ordered = sorted(rows[feature_id], key=lambda row: row[0])
        one = FeatureSeries(feature_id, [when for when, _ in ordered])
        for n, column in enumerate(columns):
            one.values[column] = [values[n] for _, values in ordered]
        series.append(one)
    return series


def write_csv(series: list[FeatureSeries], columns: list[str], path: str) -> None:
    """The plotted data: one row per feature and date, empty where masked."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["feature_id", "date", *columns])
        for one in series:
            for n, when in enumerate(one.dates):
                values = ["" if math.isnan(v) else v for v in (one.values[c][n] for c in columns)]
                writer.writerow([one.feature_id, when.isoformat(), *values])


class SeriesDock(QgsDockWidget):
    """The dock: a time-series layer, the values to plot, the plot, and exports."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Time series"))
        self.setObjectName("sitsSeriesDock")
        from matplotlib.backends.backend_qt5agg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        body = QWidget()
        layout = QVBoxLayout(body)
        self.layers = QgsMapLayerComboBox()
        self.layers.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.columns = QListWidget()
        self.columns.setMaximumHeight(90)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.figure = Figure(figsize=(6, 3.5), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        buttons = QHBoxLayout()
        self.save_png = QPushButton(self.tr("Save plot as PNG…"))
        self.save_csv = QPushButton(self.tr("Save data as CSV…"))
        buttons.addWidget(self.save_png)
        buttons.addWidget(self.save_csv)
        for widget in (QLabel(self.tr("Time-series layer")), self.layers, self.columns, self.hint):
            layout.addWidget(widget)
        layout.addWidget(self.canvas, stretch=1)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.layer: QgsVectorLayer | None = None
        self.series: list[FeatureSeries] = []
        self.layers.layerChanged.connect(self.set_layer)
        self.columns.itemChanged.connect(lambda _: self.refresh())
        self.save_png.clicked.connect(self._ask_png)
        self.save_csv.clicked.connect(self._ask_csv)
        self.set_layer(self.layers.currentLayer())

    # -- what is shown ---------------------------------------------------------------
    def set_layer(self, layer: Any) -> None:
        """Follow ``layer``'s selection (if it is a time-series layer)."""
        if self.layer is not None:
            with contextlib.suppress(TypeError, RuntimeError):  # gone with its layer
                self.layer.selectionChanged.disconnect(self.refresh)
        self.layer = layer if is_series_layer(layer) else None
        self.columns.blockSignals(True)
        self.columns.clear()
        if self.layer is not None:
            self.layer.selectionChanged.connect(self.refresh)
            for n, column in enumerate(value_columns(self.layer)):
                item = QListWidgetItem(column)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if n == 0 else Qt.CheckState.Unchecked)
                self.columns.addItem(item)
        self.columns.blockSignals(False)
        if self.layers.currentLayer() is not layer and layer is not None:
            self.layers.setLayer(layer)
        self.refresh()

    def ticked_columns(self) -> list[str]:
        return [
            self.columns.item(n).text()
            for n in range(self.columns.count())
            if self.columns.item(n).checkState() == Qt.CheckState.Checked
        ]

    def selected_feature_ids(self) -> list[str]:
        if self.layer is None:
            return []
        ids = {str(f["feature_id"]) for f in self.layer.getSelectedFeatures()}
        return sorted(ids)

    def refresh(self, *args: Any) -> None:
        """Read the selected features' series again and redraw."""
        columns = self.ticked_columns()
        self.series = (
            read_series(self.layer, self.selected_feature_ids(), columns) if self.layer else []
        )
        self.figure.clear()
        # one plot per value, the features overlaid: reflectances (hundreds to
        # thousands) and indices (-1 to 1) do not share a scale
        plots = [self.figure.add_subplot(len(columns), 1, n + 1) for n in range(len(columns))]
        for axes, column in zip(plots, columns, strict=True):
            for one in self.series:
                axes.plot(
                    one.dates, one.values[column], marker="o", markersize=3,
                    label=f"{one.feature_id} {column}",
                )  # fmt: skip
            axes.set_ylabel(column)
        if self.layer is None:
            self.hint.setText(self.tr("Choose an output of Extract time series."))
        elif not self.series:
            self.hint.setText(self.tr("Select features of the layer (on the map or in its table)."))
        else:
            self.hint.setText(self.tr("Gaps are dates masked by clouds (or dropped)."))
            for axes in plots:
                axes.legend(fontsize="small")
            self.figure.autofmt_xdate()
        self.canvas.draw()

    # -- exports ---------------------------------------------------------------------
    def export_png(self, path: str) -> None:
        self.figure.savefig(path, dpi=150)

    def export_csv(self, path: str) -> None:
        write_csv(self.series, self.ticked_columns(), path)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save plot"), "", self.tr("PNG image (*.png)")
        )
        if path:
            self.export_png(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save data"), "", self.tr("CSV (*.csv)")
        )
        if path:
            self.export_csv(path)
