"""The time-series dock on a real extraction from the local STAC API: the selected
features' series plotted by date with masked dates as gaps, several overlaid, the
plot saved as PNG and its data as CSV, and the plugin menu that opens it."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import processing
import pytest
from conftest import SITES
from qgis.core import (
    NULL,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt
from test_dialogs import SCREENSHOTS

from processing_provider.fields import FieldType, new_field


@pytest.fixture(scope="module")
def series_layer(loaded_plugin, sample_stac, tmp_path_factory):
    """``OUTPUT_LAYER`` of an extraction of red, nir and NDVI at the sample sites."""
    served, _ = sample_stac
    points = QgsVectorLayer("Point?crs=EPSG:4326", "sites", "memory")
    points.dataProvider().addAttributes([new_field("name", FieldType.STRING)])
    points.updateFields()
    for site in SITES:
        feature = QgsFeature(points.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(site.lon, site.lat)))
        feature.setAttributes([site.name])
        points.dataProvider().addFeature(feature)
    folder = tmp_path_factory.mktemp("dock")
    processing.run(
        "sits:extracttimeseries",
        {"INPUT": points, "ID_FIELD": "name", "STAC_URL": served.stac_urls["earth-search"],
         "START_DATE": "2022-01-01", "END_DATE": "2022-03-26", "BANDS": "red,nir",
         "INDICES": "NDVI", "OUTPUT": str(folder / "t.csv"),
         "OUTPUT_LAYER": str(folder / "series.gpkg")},
        feedback=QgsProcessingFeedback(),
    )  # fmt: skip
    layer = QgsVectorLayer(str(folder / "series.gpkg"), "series", "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    yield layer
    QgsProject.instance().removeMapLayer(layer.id())


def oracle(layer: QgsVectorLayer, feature_id: str, column: str) -> tuple[list, list[float]]:
    """The feature's rows read directly, by date; NULL as NaN."""
    rows = sorted(
        (f["date"].toPyDateTime(), f[column])
        for f in layer.getFeatures()
        if f["feature_id"] == feature_id
    )
    return [d for d, _ in rows], [math.nan if v == NULL else float(v) for _, v in rows]


def same(a: list[float], b: list[float]) -> bool:
    return np.array_equal(np.array(a, float), np.array(b, float), equal_nan=True)


def test_the_dock_plots_the_selected_features_with_gaps_and_exports(series_layer, tmp_path):
    from ui.series_dock import SeriesDock

    dock = SeriesDock()
    dock.resize(700, 600)
    dock.show()
    try:
        dock.set_layer(series_layer)
        assert [dock.columns.item(n).text() for n in range(dock.columns.count())] == [
            "red", "nir", "NDVI"
        ]  # fmt: skip
        assert dock.ticked_columns() == ["red"]
        dock.columns.item(0).setCheckState(Qt.CheckState.Unchecked)
        dock.columns.item(2).setCheckState(Qt.CheckState.Checked)
        series_layer.selectByExpression("feature_id IN ('paris', 'west')")
        lines = dock.figure.axes[0].get_lines()
        assert [line.get_label() for line in lines] == ["paris NDVI", "west NDVI"]
        masked = 0
        for line, feature_id in zip(lines, ("paris", "west"), strict=True):
            dates, values = oracle(series_layer, feature_id, "NDVI")
            assert list(line.get_xdata()) == dates
            assert same(list(line.get_ydata()), values)
            masked += sum(math.isnan(v) for v in values)
        assert masked > 0  # the sample's clouds: gaps in the plotted lines
        dock.columns.item(0).setCheckState(Qt.CheckState.Checked)
        red, ndvi_plot = dock.figure.axes  # one plot per value: their scales differ
        assert [line.get_label() for line in red.get_lines()] == ["paris red", "west red"]
        assert len(ndvi_plot.get_lines()) == 2
        png, table = tmp_path / "plot.png", tmp_path / "plot.csv"
        dock.export_png(str(png))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        dock.export_csv(str(table))
        with table.open() as stream:
            rows = list(csv.DictReader(stream))
        dates, ndvi = oracle(series_layer, "west", "NDVI")
        west = [r for r in rows if r["feature_id"] == "west"]
        assert [r["date"] for r in west] == [d.isoformat() for d in dates]
        assert same([float(r["NDVI"]) if r["NDVI"] else math.nan for r in west], ndvi)
        if os.environ.get("SITS_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            assert dock.grab().save(str(SCREENSHOTS / "time_series_dock.png"))
        series_layer.removeSelection()
        assert all(axes.get_lines() == [] for axes in dock.figure.axes)
        assert "Select features" in dock.hint.text()
    finally:
        dock.close()


def test_the_plugin_menu_opens_the_dock_on_the_active_layer(series_layer, qgis_iface):
    from ui.menu import PluginMenu

    qgis_iface.setActiveLayer(series_layer)
    menu = PluginMenu(qgis_iface)
    menu.add()
    try:
        dock = menu.show_dock()
        assert dock.layer is series_layer and not dock.isHidden()
        assert menu.show_dock() is dock  # one dock, shown again
    finally:
        menu.remove()
    assert menu.dock is None
