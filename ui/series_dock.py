"""The time-series dock: the series of the features selected in a time-series layer, and
of the places clicked on the map.

Two sources, overlaid in one plot per value:
- select rows of an *Extract time series* output (on the map for ``OUTPUT_LAYER``, or in
  an attribute table for either output): the dock reads the layer QGIS already has;
- or turn on *Click on the map* and click anywhere: the dock extracts that pixel's
  series with the choices of the last extraction (editable in the dock), in a
  background task (``pixel_tool``); several clicks overlay, and *Keep clicked points*
  adds them to a scratch point layer.

Observations, gap-filled values and masked dates are drawn differently
(``series_plot``). The plot can be saved as PNG at a chosen size and its data as CSV.
The dock keeps its settings (ticked values, export size) in QGIS's settings.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsPointXY,
    QgsProcessingException,
    QgsProject,
    QgsSettings,
    QgsVectorLayer,
)
from qgis.gui import QgsDockWidget, QgsMapLayerComboBox, QgsVertexMarker
from qgis.PyQt.QtCore import QDate, Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sits_qgis.choices import GAPFILL, labels

from .pixel_tool import WGS84, PixelExtraction, PixelTool, SceneSearch
from .series_data import FeatureSeries, is_series_layer, read_series, value_columns, write_csv
from .series_plot import DPI, draw, figure_height

#: Where the dock keeps its own settings, and the size it opens at the first time
#: (floating: docked under the Processing toolbox it got about 60 pixels of height).
SETTINGS = "sits/dock/"
FIRST_SIZE = (760, 760)
#: The export size proposed at first, in pixels.
EXPORT_SIZE = (1200, 800)
#: The scratch layer that keeps clicked points (found again by this property).
KEPT_LAYER_PROPERTY = "sits/clicked_pixels"
#: The click fields shown in the dock: (parameter, label).
CLICK_FIELDS = (
    ("STAC_URL", "Catalogue (empty: the default)"),
    ("COLLECTION", "Collection"),
    ("BANDS", "Bands"),
    ("INDICES", "Indices"),
    ("MASK_BAND", "Mask band"),
)


@dataclass
class Click:
    """A clicked place with its series and its marker on the map."""

    number: int  # in the order of the clicks (their series may come back in another)
    series: FeatureSeries
    lon: float
    lat: float
    choices: dict[str, str]  # what it was extracted with (its catalogue, for its scenes)
    marker: Any = None


class SeriesDock(QgsDockWidget):
    """The dock: the series' sources, the values to plot, the plot, and exports."""

    def __init__(self, parent: QWidget | None = None, canvas: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Time series"))
        self.setObjectName("sitsSeriesDock")
        from matplotlib.backends.backend_qt5agg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        from ..processing_provider.last_choices import recall

        self.map_canvas = canvas
        self.settings = QgsSettings()
        body = QWidget()
        layout = QVBoxLayout(body)
        self.layers = QgsMapLayerComboBox()
        self.layers.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.layers.setAllowEmptyLayer(True)
        layout.addWidget(QLabel(self.tr("Time-series layer (select its features)")))
        layout.addWidget(self.layers)
        layout.addLayout(self._click_buttons())
        self.click_box = self._click_settings(recall())
        layout.addWidget(self.click_box)
        self.columns = QListWidget()
        self.columns.setMaximumHeight(90)
        layout.addWidget(self.columns)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.figure = Figure(figsize=(7, figure_height(1, 0)), dpi=DPI, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.canvas)
        layout.addWidget(self.scroll, stretch=1)
        layout.addLayout(self._scene_row())
        layout.addLayout(self._export_row())
        self.setWidget(body)
        self.layer: QgsVectorLayer | None = None
        self.series: list[FeatureSeries] = []
        self.clicks: list[Click] = []
        self.click_columns: list[str] = []
        self.running: list[PixelExtraction] = []
        self.searches: list[SceneSearch] = []
        self.scenes: list[Any] = []  # the scene layers added from the dock
        self.folder = Path(tempfile.mkdtemp(prefix="sits_clicks_"))
        self.clicked = 0  # clicks made, to name them
        self.tool = PixelTool(canvas) if canvas is not None else None
        if self.tool is not None:
            self.tool.picked.connect(self.extract_at)
            self.tool.deactivated.connect(lambda: self.click_button.setChecked(False))
        self.layers.layerChanged.connect(self.set_layer)
        self.columns.itemChanged.connect(lambda _: self._columns_changed())
        self.save_png.clicked.connect(self._ask_png)
        self.save_csv.clicked.connect(self._ask_csv)
        self.set_layer(self.layers.currentLayer())
        self._list_clicks()

    # -- building the dock ------------------------------------------------------------
    def _click_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.click_button = QPushButton(self.tr("Click on the map"))
        self.click_button.setCheckable(True)
        self.click_button.setToolTip(
            self.tr("Click anywhere on the map to see that pixel's series (settings below)")
        )
        self.click_button.toggled.connect(self._use_tool)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_clicks)
        self.clear_button = QPushButton(self.tr("Clear clicks"))
        self.clear_button.clicked.connect(self.clear_clicks)
        self.keep_button = QPushButton(self.tr("Keep clicked points"))
        self.keep_button.setToolTip(self.tr("Add the clicked places to a scratch point layer"))
        self.keep_button.clicked.connect(self.keep_clicks)
        for button in (self.click_button, self.cancel_button, self.clear_button, self.keep_button):
            row.addWidget(button)
        return row

    def _click_settings(self, choices: dict[str, str]) -> QWidget:
        """The choices a click extracts with: the last extraction's, editable, folded
        under a button (a plain widget shown or hidden: a folded group box kept its
        unfolded height in the dock's layout)."""
        box = QWidget()
        outer = QVBoxLayout(box)
        outer.setContentsMargins(0, 0, 0, 0)
        self.fold_button = QToolButton()
        self.fold_button.setText(self.tr("What a click extracts"))
        self.fold_button.setCheckable(True)
        self.fold_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.fold_button.setArrowType(Qt.ArrowType.RightArrow)
        fields = QWidget()
        fields.setVisible(False)
        self.fold_button.toggled.connect(fields.setVisible)
        self.fold_button.toggled.connect(lambda on: self.fold_button.setArrowType(
            Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow))  # fmt: skip
        outer.addWidget(self.fold_button)
        outer.addWidget(fields)
        form = QFormLayout(fields)
        self.click_edits: dict[str, QLineEdit] = {}
        for name, label in CLICK_FIELDS:
            edit = QLineEdit(choices.get(name, ""))
            edit.setObjectName(f"sitsClick{name}")
            self.click_edits[name] = edit
            form.addRow(self.tr(label), edit)
        self.start_edit, self.end_edit = QDateEdit(), QDateEdit()
        for edit, name in ((self.start_edit, "START_DATE"), (self.end_edit, "END_DATE")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(QDate.fromString(choices.get(name, "")[:10], "yyyy-MM-dd"))
        form.addRow(self.tr("Start date"), self.start_edit)
        form.addRow(self.tr("End date"), self.end_edit)
        self.gapfill = QComboBox()
        self.gapfill.addItems([self.tr(label) for label in labels(GAPFILL)])
        self.gapfill.setCurrentIndex(int(choices.get("GAPFILL") or 0))
        form.addRow(self.tr("Gap filling"), self.gapfill)
        self.authcfg = choices.get("AUTHCFG", "")
        return box

    def _scene_row(self) -> QHBoxLayout:
        """See the scene behind a click's date: the click, its date, and a button."""
        row = QHBoxLayout()
        self.scene_click, self.scene_date = QComboBox(), QComboBox()
        self.scene_click.currentIndexChanged.connect(self._list_dates)
        self.scene_button = QPushButton(self.tr("Add the scene"))
        self.scene_button.setToolTip(
            self.tr("Add that date's image at the clicked place to the map, in true colour")
        )
        self.scene_button.clicked.connect(self.add_scene_of_date)
        row.addWidget(QLabel(self.tr("Scene of")))
        row.addWidget(self.scene_click, stretch=1)
        row.addWidget(self.scene_date, stretch=1)
        row.addWidget(self.scene_button)
        return row

    def _list_clicks(self) -> None:
        """The clicks whose scenes can be added, the last one chosen."""
        self.scene_click.blockSignals(True)
        self.scene_click.clear()
        for click in self.clicks:
            self.scene_click.addItem(click.series.feature_id, click.number)
        self.scene_click.setCurrentIndex(len(self.clicks) - 1)
        self.scene_click.blockSignals(False)
        self._list_dates()

    def _list_dates(self, *args: Any) -> None:
        """The chosen click's dates, each with what it is; the last observation chosen."""
        from .series_plot import FILLED, MASKED

        words = {FILLED: self.tr("gap-filled"), MASKED: self.tr("masked")}
        self.scene_date.clear()
        click = self._chosen_click()
        if click is None:
            self.scene_button.setEnabled(False)
            return
        chosen = 0
        for n, (when, status) in enumerate(
            zip(click.series.dates, click.series.status, strict=True)
        ):
            day = when.date().isoformat()
            self.scene_date.addItem(f"{day} ({words.get(status, self.tr('observation'))})", day)
            if status not in words:
                chosen = n
        self.scene_date.setCurrentIndex(chosen)
        self.scene_button.setEnabled(True)

    def _chosen_click(self) -> Click | None:
        number = self.scene_click.currentData()
        return next((c for c in self.clicks if c.number == number), None)

    def add_scene_of_date(self) -> SceneSearch | None:
        """Find the chosen click's scene of the chosen date (a background search with
        the click's catalogue), then add it to the map at its date."""
        click = self._chosen_click()
        if click is None:
            return None
        day = self.scene_date.currentData()
        search = SceneSearch(
            f"click {click.number}", click.lon, click.lat, click.choices, self.folder,
            self._scene_found, day=day,
        )  # fmt: skip
        self.scene_button.setEnabled(False)
        self.searches.append(search)
        self.hint.setText(self.tr("Looking for the scene of {} at {}…").format(day, search.where()))
        search.start()
        return search

    def _scene_found(self, search: SceneSearch) -> None:
        from .scene_layers import SceneError, add_scene, scene_of

        self.searches.remove(search)
        self.scene_button.setEnabled(bool(self.clicks))
        if search.error:
            self.hint.setText(self.tr("No scene added: {}").format(search.error))
            return
        try:
            layer = add_scene(**scene_of(search.footprints[0]))
        except (SceneError, QgsProcessingException) as exc:
            self.hint.setText(self.tr("No scene added: {}").format(exc))
            return
        self.scenes.append(layer)
        self.hint.setText(self.tr("Added {} to the map, at its date.").format(layer.name()))

    def _export_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.export_width, self.export_height = QSpinBox(), QSpinBox()
        for spin, key, default in (
            (self.export_width, "export_width", EXPORT_SIZE[0]),
            (self.export_height, "export_height", EXPORT_SIZE[1]),
        ):
            spin.setRange(200, 10000)
            spin.setSuffix(" px")
            spin.setValue(int(self.settings.value(SETTINGS + key, default)))
            spin.valueChanged.connect(lambda value, key=key: self.settings.setValue(
                SETTINGS + key, value))  # fmt: skip
        self.save_png = QPushButton(self.tr("Save plot as PNG…"))
        self.save_csv = QPushButton(self.tr("Save data as CSV…"))
        row.addWidget(QLabel(self.tr("Export size")))
        row.addWidget(self.export_width)
        row.addWidget(QLabel("x"))
        row.addWidget(self.export_height)
        row.addStretch(1)
        row.addWidget(self.save_png)
        row.addWidget(self.save_csv)
        return row

    def place(self) -> None:
        """The first time, open floating at a usable size over the main window; after
        that, where the user left it (QGIS restores docks by their object name)."""
        if self.settings.value(SETTINGS + "placed", False, type=bool):
            return
        self.setFloating(True)
        self.resize(*FIRST_SIZE)
        window = self.parentWidget()
        if window is not None:
            centre = window.geometry().center()
            self.move(centre.x() - FIRST_SIZE[0] // 2, centre.y() - FIRST_SIZE[1] // 2)
        self.settings.setValue(SETTINGS + "placed", True)

    # -- what is shown ---------------------------------------------------------------
    def set_layer(self, layer: Any) -> None:
        """Follow ``layer``'s selection (if it is a time-series layer)."""
        if self.layer is not None:
            with contextlib.suppress(TypeError, RuntimeError):  # gone with its layer
                self.layer.selectionChanged.disconnect(self.refresh)
        self.layer = layer if is_series_layer(layer) else None
        if self.layer is not None:
            self.layer.selectionChanged.connect(self.refresh)
        if self.layers.currentLayer() is not layer and layer is not None:
            self.layers.setLayer(layer)
        self._list_columns()
        self.refresh()

    def _list_columns(self) -> None:
        """The values of the layer and of the clicks, ticked as last time."""
        available = list(value_columns(self.layer)) if self.layer is not None else []
        available += [c for c in self.click_columns if c not in available]
        ticked = self.settings.value(SETTINGS + "columns", "", type=str).split(",")
        if not any(c in available for c in ticked):
            ticked = available[:1]
        self.columns.blockSignals(True)
        self.columns.clear()
        for column in available:
            item = QListWidgetItem(column)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = Qt.CheckState.Checked if column in ticked else Qt.CheckState.Unchecked
            item.setCheckState(checked)
            self.columns.addItem(item)
        self.columns.blockSignals(False)

    def _columns_changed(self) -> None:
        self.settings.setValue(SETTINGS + "columns", ",".join(self.ticked_columns()))
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
        """Read the selected features' series again and redraw, with the clicks."""
        columns = self.ticked_columns()
        selected = (
            read_series(self.layer, self.selected_feature_ids(), columns) if self.layer else []
        )
        self.series = selected + [click.series for click in self.clicks]
        height = figure_height(len(columns), len(self.series))
        self.figure.set_size_inches(self.figure.get_figwidth(), height)
        self.canvas.setMinimumHeight(int(height * DPI))
        draw(self.figure, self.series, columns)
        self._colour_markers()
        if self.running:
            self.hint.setText(self.tr("Extracting the series of {}…").format(
                ", ".join(run.where() for run in self.running)))  # fmt: skip
        elif not self.series:
            self.hint.setText(self.tr(
                "Select features of a time-series layer (on the map or in its table),"
                " or turn on Click on the map and click anywhere."))  # fmt: skip
        else:
            self.hint.setText(self.tr(
                "Filled dots: observations; hollow dots: gap-filled values; grey crosses:"
                " dates masked by clouds."))  # fmt: skip
        self.canvas.draw()

    # -- clicks ----------------------------------------------------------------------
    def _use_tool(self, on: bool) -> None:
        if self.tool is None:
            return
        if on:
            self.map_canvas.setMapTool(self.tool)
        elif self.map_canvas.mapTool() is self.tool:
            self.map_canvas.unsetMapTool(self.tool)

    def click_choices(self) -> dict[str, str]:
        """The click fields' values, as ``sits:extracttimeseries`` takes them."""
        choices = {name: edit.text().strip() for name, edit in self.click_edits.items()}
        choices["START_DATE"] = self.start_edit.date().toString("yyyy-MM-dd")
        choices["END_DATE"] = self.end_edit.date().toString("yyyy-MM-dd")
        choices["GAPFILL"] = str(self.gapfill.currentIndex())
        choices["AUTHCFG"] = self.authcfg
        return choices

    def extract_at(self, lon: float, lat: float) -> PixelExtraction:
        """Extract the series of the pixel at (``lon``, ``lat``) in the background."""
        from ..processing_provider.last_choices import remember

        choices = self.click_choices()
        remember(choices)
        self.clicked += 1
        run = PixelExtraction(
            f"click {self.clicked}", lon, lat, choices, self.folder, self._click_done
        )
        run.number = self.clicked
        run.marker = self._marker(lon, lat)
        self.running.append(run)
        self.cancel_button.setEnabled(True)
        run.start()
        self.refresh()
        return run

    def _click_done(self, run: PixelExtraction) -> None:
        self.running.remove(run)
        self.cancel_button.setEnabled(bool(self.running))
        if run.series is not None:
            run.series.feature_id = f"{run.name} ({run.where()})"
            self.clicks.append(
                Click(run.number, run.series, run.lon, run.lat, run.choices, run.marker)
            )
            self.clicks.sort(key=lambda click: click.number)
            self._list_clicks()
            new = [c for c in run.columns if c not in self.click_columns]
            self.click_columns += new
            if new:
                self._list_columns()
            self.refresh()
            self.hint.setText(self.tr("{} has {} dates.").format(
                run.series.feature_id, len(run.series.dates)) + " " + self.hint.text())  # fmt: skip
        else:
            self._drop(run.marker)
            self.refresh()
            self.hint.setText(self.tr("No series at {}: {}").format(run.where(), run.error))

    def cancel_clicks(self) -> None:
        for run in list(self.running):
            run.cancel()

    def clear_clicks(self) -> None:
        for click in self.clicks:
            self._drop(click.marker)
        self.clicks.clear()
        self._list_clicks()
        self.refresh()

    def keep_clicks(self) -> QgsVectorLayer | None:
        """Add the clicked places to the scratch layer *SITS clicked pixels*."""
        if not self.clicks:
            return None
        layer = next(
            (found for found in QgsProject.instance().mapLayers().values()
             if found.customProperty(KEPT_LAYER_PROPERTY)),
            None,
        )  # fmt: skip
        if layer is None:
            layer = QgsVectorLayer(
                "Point?crs=EPSG:4326&field=name:string(80)&field=lon:double&field=lat:double",
                self.tr("SITS clicked pixels"), "memory",
            )  # fmt: skip
            layer.setCustomProperty(KEPT_LAYER_PROPERTY, True)
            QgsProject.instance().addMapLayer(layer)
        features = []
        for click in self.clicks:
            feature = QgsFeature(layer.fields())
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(click.lon, click.lat)))
            feature.setAttributes([click.series.feature_id, click.lon, click.lat])
            features.append(feature)
        layer.dataProvider().addFeatures(features)
        layer.updateExtents()
        layer.triggerRepaint()
        return layer

    def _marker(self, lon: float, lat: float) -> Any:
        """A marker where the user clicked, grey until its series is there."""
        if self.map_canvas is None:
            return None
        to_map = QgsCoordinateTransform(
            WGS84, self.map_canvas.mapSettings().destinationCrs(), QgsProject.instance()
        )
        marker = QgsVertexMarker(self.map_canvas)
        marker.setCenter(to_map.transform(QgsPointXY(lon, lat)))
        marker.setIconType(QgsVertexMarker.IconType.ICON_CIRCLE)
        marker.setIconSize(12)
        marker.setPenWidth(3)
        marker.setColor(QColor("#808080"))
        return marker

    def _drop(self, marker: Any) -> None:
        if marker is not None and self.map_canvas is not None:
            self.map_canvas.scene().removeItem(marker)

    def _colour_markers(self) -> None:
        """Each click's marker in its series' colour on the plot."""
        from matplotlib.colors import to_hex

        first = len(self.series) - len(self.clicks)
        for n, click in enumerate(self.clicks):
            if click.marker is not None:
                click.marker.setColor(QColor(to_hex(f"C{(first + n) % 10}")))

    # -- exports ---------------------------------------------------------------------
    def export_png(self, path: str, width: int | None = None, height: int | None = None) -> None:
        """The plot at ``width`` x ``height`` pixels (the dock's export size by default)."""
        width = width or self.export_width.value()
        height = height or self.export_height.value()
        shown = self.figure.get_size_inches()
        self.figure.set_size_inches(width / DPI, height / DPI)
        try:
            self.figure.savefig(path, dpi=DPI)
        finally:
            self.figure.set_size_inches(*shown)
            self.canvas.draw()

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

    def closeEvent(self, event: Any) -> None:
        """Stop the map tool and the running clicks with the dock."""
        self.cancel_clicks()
        if self.tool is not None and self.map_canvas.mapTool() is self.tool:
            self.map_canvas.unsetMapTool(self.tool)
        super().closeEvent(event)
