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
from stac_oracle import href, point_value
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


@pytest.fixture
def fresh_dock_settings():
    """The dock's remembered settings cleared (the test profile persists)."""
    from qgis.core import QgsSettings

    QgsSettings().remove("sits/dock")
    yield
    QgsSettings().remove("sits/dock")


def curves(axes) -> list:
    """The plot's series lines (markers of each kind have labels starting with _)."""
    return [line for line in axes.get_lines() if not line.get_label().startswith("_")]


def kind(axes, label: str) -> list:
    return [line for line in axes.get_lines() if line.get_label() == label]


def test_the_dock_plots_the_selected_features_with_gaps_and_exports(
    series_layer, tmp_path, fresh_dock_settings
):
    from sits_plugin.ui.series_dock import SeriesDock

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
        _key, ndvi_plot = dock.figure.axes
        lines = curves(ndvi_plot)
        assert [line.get_label() for line in lines] == ["paris NDVI", "west NDVI"]
        masked = 0
        for n, (line, feature_id) in enumerate(zip(lines, ("paris", "west"), strict=True)):
            dates, values = oracle(series_layer, feature_id, "NDVI")
            assert list(line.get_xdata()) == dates
            assert same(list(line.get_ydata()), values)
            masked += sum(math.isnan(v) for v in values)
            # each masked date is a grey cross, each observation a filled dot
            crosses = kind(ndvi_plot, "_masked")[n]
            assert list(crosses.get_xdata()) == [d for d, v in zip(dates, values) if math.isnan(v)]
            dots = kind(ndvi_plot, "_observation")[n]
            assert list(dots.get_xdata()) == [d for d, v in zip(dates, values) if not math.isnan(v)]
        assert masked > 0  # the sample's clouds: gaps in the plotted lines
        dock.columns.item(0).setCheckState(Qt.CheckState.Checked)
        _key, red, ndvi_plot = dock.figure.axes  # one plot per value: their scales differ
        assert [line.get_label() for line in curves(red)] == ["paris red", "west red"]
        assert len(curves(ndvi_plot)) == 2
        png, table = tmp_path / "plot.png", tmp_path / "plot.csv"
        dock.export_png(str(png), 1000, 700)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        from qgis.PyQt.QtGui import QImage

        assert QImage(str(png)).size().width() == 1000
        assert QImage(str(png)).size().height() == 700
        dock.export_csv(str(table))
        with table.open() as stream:
            rows = list(csv.DictReader(stream))
        dates, ndvi = oracle(series_layer, "west", "NDVI")
        west = [r for r in rows if r["feature_id"] == "west"]
        assert [r["date"] for r in west] == [d.isoformat() for d in dates]
        assert same([float(r["NDVI"]) if r["NDVI"] else math.nan for r in west], ndvi)
        assert {r["status"] for r in west} == {"ok", "masked"}
        if os.environ.get("SITS_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            assert dock.grab().save(str(SCREENSHOTS / "time_series_dock.png"))
        series_layer.removeSelection()
        assert all(axes.get_lines() == [] for axes in dock.figure.axes)
        assert "Select features" in dock.hint.text()
    finally:
        dock.close()


def test_three_values_get_readable_plots_and_a_legend_that_covers_none(
    series_layer, fresh_dock_settings
):
    """Each value's plot keeps at least 150 pixels of height however many are ticked
    (the dock scrolls), and the legend lies above the plots, not on them."""
    from sits_plugin.ui.series_dock import SeriesDock

    dock = SeriesDock()
    dock.resize(500, 400)  # a small dock
    dock.show()
    try:
        dock.set_layer(series_layer)
        for n in range(3):
            dock.columns.item(n).setCheckState(Qt.CheckState.Checked)
        series_layer.selectByExpression("feature_id IN ('paris', 'west', 'east')")
        dock.canvas.draw()
        renderer = dock.canvas.get_renderer()
        key, *plots = dock.figure.axes
        assert len(plots) == 3
        legend = key.get_legend().get_window_extent(renderer)
        for axes in plots:
            box = axes.get_window_extent(renderer)
            assert box.height >= 150
            assert not legend.overlaps(box)
        assert dock.canvas.height() >= 3 * 150  # the scroll area shows it whole, scrolled
        # settings kept: a new dock ticks the same values and keeps the export size
        dock.export_width.setValue(1600)
    finally:
        dock.close()
        series_layer.removeSelection()
    again = SeriesDock()
    try:
        again.set_layer(series_layer)
        assert again.ticked_columns() == ["red", "nir", "NDVI"]
        assert again.export_width.value() == 1600
    finally:
        again.close()


def _items_at(url: str, lon: float, lat: float) -> dict[str, dict]:
    """The catalogue's items over a place, by date (read straight from the STAC API)."""
    import json
    import urllib.request

    query = f"{url}/search?collections=sentinel-2-l2a&bbox={lon},{lat},{lon},{lat}&limit=100"
    with urllib.request.urlopen(query) as answer:  # 127.0.0.1
        features = json.load(answer)["features"]
    return {f["properties"]["datetime"][:10]: f for f in features}


def _wait(condition, seconds: float = 180) -> None:
    import time

    from qgis.PyQt.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        QApplication.processEvents()
        time.sleep(0.05)


def test_two_clicks_on_the_map_show_their_pixels_series_and_can_be_kept(
    loaded_plugin, sample_stac, qgis_iface, fresh_dock_settings
):
    """Turn on the map tool and click twice: each click's series is extracted in a
    background task with the dock's choices (linear gap filling here) and overlaid;
    every observation is the pixel under the click (read with rasterio), gap-filled
    dates are hollow dots and masked ones grey crosses; the clicks can be kept as points."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsRectangle
    from qgis.PyQt.QtCore import QPoint
    from qgis.PyQt.QtTest import QTest
    from sits_plugin.ui.series_dock import KEPT_LAYER_PROPERTY, SeriesDock

    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    canvas.resize(400, 400)
    canvas.show()
    site = SITES[0]
    canvas.setExtent(
        QgsRectangle(site.lon - 0.01, site.lat - 0.01, site.lon + 0.01, site.lat + 0.01)
    )
    canvas.refresh()
    dock = SeriesDock(canvas=canvas)
    dock.resize(700, 700)
    dock.show()
    kept = None
    try:
        edits = dock.click_edits
        edits["STAC_URL"].setText(url)
        edits["BANDS"].setText("red,nir")
        edits["INDICES"].setText("NDVI")
        dock.start_edit.setDate(dock.start_edit.date().fromString("2022-01-01", "yyyy-MM-dd"))
        dock.end_edit.setDate(dock.end_edit.date().fromString("2022-03-26", "yyyy-MM-dd"))
        dock.gapfill.setCurrentIndex(1)  # linear
        QTest.mouseClick(dock.click_button, Qt.MouseButton.LeftButton)
        assert canvas.mapTool() is dock.tool
        places = []
        for dx, dy in ((-0.002, 0.001), (0.003, -0.002)):
            lon, lat = site.lon + dx, site.lat + dy
            pixel = canvas.getCoordinateTransform().transform(lon, lat)
            where = QPoint(round(pixel.x()), round(pixel.y()))
            QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=where)
            clicked = canvas.getCoordinateTransform().toMapCoordinates(where)
            places.append((clicked.x(), clicked.y()))
        assert len(dock.running) == 2 and "Extracting" in dock.hint.text()
        _wait(lambda: not dock.running)
        assert len(dock.clicks) == 2, dock.hint.text()
        assert dock.ticked_columns() == ["red"]
        for n in range(dock.columns.count()):
            dock.columns.item(n).setCheckState(Qt.CheckState.Checked)
        _key, red, _nir, _ndvi = dock.figure.axes
        assert len(curves(red)) == 2
        filled_dates = 0
        for n, (click, (lon, lat)) in enumerate(zip(dock.clicks, places, strict=True)):
            assert (click.lon, click.lat) == pytest.approx((lon, lat), abs=1e-9)
            items = _items_at(url, lon, lat)
            for when, value, status in zip(
                click.series.dates, click.series.values["red"], click.series.status, strict=True
            ):
                item = items[when.date().isoformat()]
                scl = point_value(href(item, "scl"), lon, lat)
                if status == "ok":
                    assert value == point_value(href(item, "red"), lon, lat)
                else:
                    assert status == "filled" and scl in (0, 1, 3, 8, 9, 10)
                    filled_dates += 1
            filled = kind(red, "_gap-filled")[n]
            assert filled.get_markerfacecolor() == "none"
            assert list(filled.get_xdata()) == [
                d for d, s in zip(click.series.dates, click.series.status) if s == "filled"
            ]
        assert filled_dates > 0
        if os.environ.get("SITS_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            assert dock.grab().save(str(SCREENSHOTS / "time_series_dock_clicks.png"))
        # the scene behind a date of the second click, from the dock, at its date
        assert dock.scene_click.currentText().startswith("click 2")
        day = dock.scene_date.currentData()
        assert "(observation)" in dock.scene_date.currentText()
        dock.scene_button.click()
        _wait(lambda: not dock.searches)
        [scene] = dock.scenes
        scene_item = _items_at(url, *places[1])[day]
        assert scene.name() == f"{scene_item['id']} (red, green, blue)", dock.hint.text()
        begin = scene.temporalProperties().fixedTemporalRange().begin()
        assert begin.date().toString("yyyy-MM-dd") == day
        to_scene = QgsCoordinateTransform(
            QgsCoordinateReferenceSystem("EPSG:4326"), scene.crs(), QgsProject.instance()
        )
        value, ok = scene.dataProvider().sample(to_scene.transform(QgsPointXY(*places[1])), 1)
        assert ok and value == point_value(href(scene_item, "red"), *places[1])
        QgsProject.instance().removeMapLayer(scene.id())
        kept = dock.keep_clicks()
        points = [f.geometry().asPoint() for f in kept.getFeatures()]
        assert [v for p in points for v in (p.x(), p.y())] == pytest.approx(
            [v for place in places for v in place], abs=1e-9
        )
        assert kept.customProperty(KEPT_LAYER_PROPERTY)
        QTest.mouseClick(dock.click_button, Qt.MouseButton.LeftButton)
        assert canvas.mapTool() is not dock.tool
    finally:
        dock.close()
        if kept is not None:
            QgsProject.instance().removeMapLayer(kept.id())


def test_a_click_where_no_image_is_says_so_and_leaves_no_series(
    loaded_plugin, sample_stac, fresh_dock_settings
):
    from sits_plugin.ui.series_dock import SeriesDock

    served, _ = sample_stac
    dock = SeriesDock()
    try:
        dock.click_edits["STAC_URL"].setText(served.stac_urls["earth-search"])
        dock.start_edit.setDate(dock.start_edit.date().fromString("2022-01-01", "yyyy-MM-dd"))
        dock.end_edit.setDate(dock.end_edit.date().fromString("2022-03-26", "yyyy-MM-dd"))
        dock.extract_at(-40.0, -10.0)  # the Atlantic: no item
        _wait(lambda: not dock.running)
        assert dock.clicks == []
        assert "No series at -10.00000, -40.00000" in dock.hint.text(), dock.hint.text()
    finally:
        dock.close()


def test_the_plugin_menu_opens_the_dock_on_the_active_layer(
    series_layer, qgis_iface, fresh_dock_settings
):
    from sits_plugin.ui.menu import PluginMenu

    qgis_iface.setActiveLayer(series_layer)
    menu = PluginMenu(qgis_iface)
    menu.add()
    try:
        dock = menu.show_dock()
        assert dock.layer is series_layer and not dock.isHidden()
        # the first time, floating at a usable size (docked under the toolbox it was
        # about 60 pixels high)
        assert dock.isFloating()
        assert dock.width() >= 700 and dock.height() >= 700
        assert menu.show_dock() is dock  # one dock, shown again
    finally:
        menu.remove()
    assert menu.dock is None


def test_a_click_starts_from_the_last_extractions_choices(loaded_plugin, sample_stac, tmp_path):
    """The dock's click fields show what the last *Extract time series* asked for, so a
    click gives the series the user last chose."""
    from qgis.core import QgsSettings
    from sits_plugin.ui.series_dock import SeriesDock

    served, _ = sample_stac
    QgsSettings().remove("sits/last_series")
    site = SITES[1]
    points = QgsVectorLayer("Point?crs=EPSG:4326", "one", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(site.lon, site.lat)))
    points.dataProvider().addFeature(feature)
    processing.run(
        "sits:extracttimeseries",
        {"INPUT": points, "STAC_URL": served.stac_urls["earth-search"],
         "START_DATE": "2022-02-01", "END_DATE": "2022-03-01", "BANDS": "nir",
         "INDICES": "", "GAPFILL": 2, "OUTPUT": str(tmp_path / "t.csv")},
        feedback=QgsProcessingFeedback(),
    )  # fmt: skip
    dock = SeriesDock()
    try:
        choices = dock.click_choices()
        assert choices["STAC_URL"] == served.stac_urls["earth-search"]
        assert (choices["BANDS"], choices["INDICES"]) == ("nir", "")
        assert (choices["START_DATE"], choices["END_DATE"]) == ("2022-02-01", "2022-03-01")
        assert (choices["MASK_BAND"], choices["GAPFILL"]) == ("auto", "2")
    finally:
        dock.close()


def test_a_catalogue_address_with_a_secret_is_not_kept_for_the_clicks(loaded_plugin) -> None:
    """QGIS's settings are a plain file: an address with a password or a token in its
    query is not written there (the clicks then use the default catalogue)."""
    from qgis.core import QgsSettings
    from sits_plugin.processing_provider.last_choices import PREFIX, recall, remember

    with_password = "https://user:s3cret@stac.example.org/v1"  # pragma: allowlist secret
    remember({"STAC_URL": with_password, "BANDS": "red"})
    assert recall()["STAC_URL"] == "" and recall()["BANDS"] == "red"
    remember({"STAC_URL": "https://stac.example.org/v1?token=s3cret"})
    assert "s3cret" not in str(QgsSettings().value(PREFIX + "STAC_URL"))
    remember({"STAC_URL": "https://stac.example.org/v1"})
    assert recall()["STAC_URL"] == "https://stac.example.org/v1"
    QgsSettings().remove("sits/last_series")
