"""Results as the toolbox loads them, on the generated catalogue served on 127.0.0.1: the
series layer made by default and drawn on its masked dates, search footprints as
temporal outlines in date order, the statistics as a table, cubes that draw each date
on its Temporal Controller frame."""

from __future__ import annotations

import csv
import html
import os
import re

import numpy as np
import processing
import pytest
import xarray as xr
from conftest import (
    SITES,
    assert_matches_numpy,
    layers_loaded_from,
    numpy_statistics,
    valid_values,
    write_raster,
)
from qgis.core import (
    NULL,
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDateTimeRange,
    QgsExpression,
    QgsFeatureRequest,
    QgsGeometry,
    QgsInterval,
    QgsLayerTree,
    QgsLayerTreeModel,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsMeshDatasetIndex,
    QgsMeshLayer,
    QgsPointXY,
    QgsProcessingFeedback,
    QgsProcessingOutputHtml,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
    QgsTemporalNavigationObject,
    QgsUnitTypes,
    QgsVectorLayerTemporalContext,
)
from qgis.gui import QgsLayerTreeView, QgsTemporalControllerWidget
from qgis.PyQt.QtCore import QDateTime, QSize, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter
from qgis.PyQt.QtWidgets import QTextBrowser
from test_dialogs import SCREENSHOTS, discard, open_dialog
from test_timeseries_algorithms import common, memory_layer, site_points

GREY = (128, 128, 128)


@pytest.fixture
def project():
    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


def map_image(layers: list, extent, crs, frame: QgsDateTimeRange | None = None) -> QImage:
    """The layers (first on top) drawn as the map canvas draws them, at ``frame`` of the
    Temporal Controller if given."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(900, 520))
    settings.setBackgroundColor(QColor("white"))
    if frame is not None:
        settings.setIsTemporal(True)
        settings.setTemporalRange(frame)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def save_image(image: QImage, name: str) -> None:
    """``image`` under docs/screenshots, when screenshots are asked for."""
    if os.environ.get("SITS_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert image.save(str(SCREENSHOTS / name))


def test_the_dialog_writes_the_series_layer_by_default(dialog_ready) -> None:
    """A first run from the dialog gives the map layer as well as the table."""
    dialog = open_dialog("sits:extracttimeseries")
    try:
        wrappers = dialog.mainWidget().wrappers
        for name in ("OUTPUT", "OUTPUT_LAYER"):
            value = wrappers[name].parameterValue()
            assert value is not None, name
            assert value.sink.staticValue() == "TEMPORARY_OUTPUT", name
    finally:
        discard(dialog)


def test_masked_dates_stay_on_the_map_hollow_and_grey(
    loaded_plugin, sample_stac, tmp_path, project
) -> None:
    """Rows without a value are drawn by a grey hollow rule; the others by the index's
    classes, and never by both."""
    served, _ = sample_stac
    out = tmp_path / "series.gpkg"
    processing.runAndLoadResults(
        "sits:extracttimeseries",
        common(served.stac_urls["earth-search"], site_points())
        | {"INDICES": "NDVI", "OUTPUT": str(tmp_path / "t.csv"), "OUTPUT_LAYER": str(out)},
        feedback=QgsProcessingFeedback(),
    )
    [layer] = layers_loaded_from(out)
    renderer = layer.renderer()
    assert renderer.type() == "RuleRenderer"
    rules = renderer.rootRule().children()
    masked = [r for r in rules if r.label() == "masked or no value"]
    assert len(masked) == 1 and len(rules) > 2  # the index's classes, and the masked rule
    hollow = masked[0].symbol().symbolLayer(0)
    assert hollow.color().alpha() == 0
    assert hollow.strokeColor().getRgb()[:3] == GREY
    context = QgsRenderContext()
    renderer.startRender(context, layer.fields())
    try:
        seen = {"masked": 0, "ok": 0}
        for feature in layer.getFeatures():
            symbols = renderer.symbolsForFeature(feature, context)
            assert len(symbols) == 1, feature["status"]  # drawn, and once
            colour = symbols[0].symbolLayer(0).color()
            if feature["status"] == "masked":
                assert feature["NDVI"] == NULL
                assert colour.alpha() == 0
                seen["masked"] += 1
            else:
                assert colour.alpha() == 255
                seen["ok"] += 1
    finally:
        renderer.stopRender(context)
    assert seen["masked"] > 0 and seen["ok"] > 0
    for rule in rules:  # classes of the values there are (a NULL counted as 0 made "0 - 0")
        matches = QgsFeatureRequest().setFilterExpression(rule.filterExpression())
        assert any(True for _ in layer.getFeatures(matches)), rule.label()
    if os.environ.get("SITS_SCREENSHOTS"):
        save_image(masked_date_picture(served, tmp_path), "masked_date_on_the_map.png")


def masked_date_picture(served, folder) -> QImage:
    """The map on 6 March 2022, when a cloud covers the left third of the east site's
    image and a shadow its top: a grid of points over it, the masked ones hollow and
    grey, with the date's footprints, beside the Layers panel and above the Temporal
    Controller."""
    utm, wgs84 = (QgsCoordinateReferenceSystem(c) for c in ("EPSG:32632", "EPSG:4326"))
    to_utm = QgsCoordinateTransform(wgs84, utm, QgsProject.instance())
    to_wgs84 = QgsCoordinateTransform(utm, wgs84, QgsProject.instance())
    centre = to_utm.transform(QgsPointXY(SITES[2].lon, SITES[2].lat))
    grid = [
        (f"p{row}{col}", QgsGeometry.fromPointXY(to_wgs84.transform(
            QgsPointXY(centre.x() + 360 * (col - 3), centre.y() + 360 * (3 - row))
        )), 0)
        for row in range(7) for col in range(7)
    ]  # fmt: skip
    points = memory_layer("Point", "EPSG:32632", grid)
    out = folder / "grid.gpkg"
    params = common(served.stac_urls["earth-search"], points)
    processing.runAndLoadResults(
        "sits:extracttimeseries",
        params | {"OUTPUT": str(folder / "g.csv"), "OUTPUT_LAYER": str(out)},
        feedback=QgsProcessingFeedback(),
    )
    [series] = layers_loaded_from(out)
    search = {k: v for k, v in params.items() if k not in ("ID_FIELD", "BANDS")}
    found = processing.runAndLoadResults("sits:searchstac", search | {"OUTPUT": "TEMPORARY_OUTPUT"})
    footprints = QgsProject.instance().mapLayer(found["OUTPUT"])
    when = QDateTime.fromString("2022-03-06T10:46:19Z", Qt.DateFormat.ISODate)
    frame = QgsDateTimeRange(when, when.addDays(1), True, False)
    extent = QgsRectangle(
        centre.x() - 1900, centre.y() - 1300, centre.x() + 1900, centre.y() + 1300
    )
    drawn = map_image([series, footprints], extent, utm, frame)
    panel = layers_panel([series, footprints], drawn.height())
    controller = QgsTemporalControllerWidget()
    navigation = controller.temporalController()
    navigation.setNavigationMode(QgsTemporalNavigationObject.NavigationMode.Animated)
    navigation.setTemporalExtents(QgsDateTimeRange(when.addDays(-60), when.addDays(20)))
    navigation.setFrameDuration(QgsInterval(1, QgsUnitTypes.TemporalUnit.TemporalDays))
    navigation.setCurrentFrameNumber(60)
    top = beside(panel, drawn)
    controller.resize(top.width(), 110)
    bottom = controller.grab().toImage()
    picture = QImage(top.width(), top.height() + bottom.height(), QImage.Format.Format_RGB32)
    picture.fill(QColor("white"))
    painter = QPainter(picture)
    painter.drawImage(0, 0, top)
    painter.drawImage(0, top.height(), bottom)
    painter.end()
    return picture


def beside(left: QImage, right: QImage) -> QImage:
    """Two images side by side, on white."""
    picture = QImage(
        left.width() + right.width(), max(left.height(), right.height()), QImage.Format.Format_RGB32
    )
    picture.fill(QColor("white"))
    painter = QPainter(picture)
    painter.drawImage(0, 0, left)
    painter.drawImage(left.width(), 0, right)
    painter.end()
    return picture


def layers_panel(layers: list, height: int) -> QImage:
    """The layers with their legends, as QGIS's Layers panel shows them."""
    root = QgsLayerTree()
    for layer in layers:
        root.addLayer(layer)
    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(root, view))
    view.expandAll()
    view.resize(330, height)
    view.show()
    image = view.grab().toImage()
    view.setModel(None)
    return image


def test_footprints_are_temporal_outlines_in_date_order(
    loaded_plugin, sample_stac, tmp_path, project
) -> None:
    served, _ = sample_stac
    out = tmp_path / "items.gpkg"
    params = {k: v for k, v in common(served.stac_urls["earth-search"], site_points()).items()
              if k not in ("ID_FIELD", "BANDS")}  # fmt: skip
    processing.runAndLoadResults("sits:searchstac", params | {"OUTPUT": str(out)})
    [layer] = layers_loaded_from(out)
    symbol = layer.renderer().symbol().symbolLayer(0)
    assert layer.renderer().type() == "singleSymbol"
    assert symbol.brushStyle() == Qt.BrushStyle.NoBrush
    assert symbol.strokeColor().alpha() == 255
    temporal = layer.temporalProperties()
    assert temporal.isActive()
    assert temporal.mode() == Qgis.VectorTemporalMode.FeatureDateTimeInstantFromField
    assert temporal.startField() == "datetime"
    features = sorted(layer.getFeatures(), key=lambda f: f.id())
    dates = [f["datetime"].toMSecsSinceEpoch() for f in features]
    assert len(dates) > 8 and dates == sorted(dates)
    # a frame of the Temporal Controller shows that day's footprints, and only them
    first = features[0]["datetime"]
    frame = QgsDateTimeRange(first, first.addDays(1), True, False)
    when = QgsVectorLayerTemporalContext()
    when.setLayer(layer)
    expression = QgsExpression(temporal.createFilterString(when, frame))
    context = layer.createExpressionContext()
    shown = []
    for feature in features:
        context.setFeature(feature)
        if expression.evaluate(context):
            shown.append(feature["datetime"].date())
    assert shown and set(shown) == {first.date()} and len(shown) < len(features)


def table_cells(page: str) -> dict[str, str]:
    """Output name -> the value the page shows."""
    rows = re.findall(r"<tr><td>.*?</td><td><code>(\w+)</code></td><td[^>]*>(.*?)</td></tr>", page)
    return {name: html.unescape(value) for name, value in rows}


def test_statistics_as_a_rounded_table_and_exact_outputs(loaded_plugin, tmp_path, project) -> None:
    rng = np.random.default_rng(16)
    data = rng.normal(1234.5678, 91.25, (300, 260)).astype("float32")
    data[:20, :20] = -9999
    path = write_raster(tmp_path / "dem.tif", data, -9999.0, block=64)
    page, tiles = tmp_path / "statistics.html", tmp_path / "tiles.gpkg"
    params = {"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 128}
    result = processing.runAndLoadResults(
        "sits:rasterstatistics",
        params | {"OUTPUT_HTML": str(page), "OUTPUT_TILES": str(tiles)},
        feedback=QgsProcessingFeedback(),
    )
    assert_matches_numpy(result, numpy_statistics(valid_values(data, -9999.0)))  # exact
    shown = table_cells(page.read_text(encoding="utf-8"))
    assert shown["COUNT"] == f"{result['COUNT']:,}"  # e.g. 77,600
    assert shown["MEAN"] == f"{result['MEAN']:,.6g}"  # e.g. 1,234.57
    assert shown["SUM"] == f"{result['SUM']:,.0f}"
    assert float(shown["STD"]) == pytest.approx(result["STD"], rel=1e-5)
    assert len(shown) == 14 and shown["MEAN"] != str(result["MEAN"])
    # the dialog opens an HTML output in its Results Viewer; without a path, none is written
    algorithm = QgsApplication.processingRegistry().algorithmById("sits:rasterstatistics")
    assert isinstance(algorithm.outputDefinition("OUTPUT_HTML"), QgsProcessingOutputHtml)
    assert "OUTPUT_HTML" not in processing.run("sits:rasterstatistics", params)
    # the tile layer shows its decimal fields rounded, and keeps them exact
    [layer] = layers_loaded_from(tiles)
    index = layer.fields().lookupField("mean")
    setup = layer.editorWidgetSetup(index)
    formatter = QgsApplication.fieldFormatterRegistry().fieldFormatter(setup.type())
    feature = next(layer.getFeatures())
    text = formatter.representValue(layer, index, setup.config(), None, feature["mean"])
    assert setup.type() == "Range" and setup.config()["Precision"] == 2  # 6 digits of 4,xxx
    assert text.replace(",", "") == f"{feature['mean']:.2f}" != str(feature["mean"])
    if os.environ.get("SITS_SCREENSHOTS"):
        viewer = QTextBrowser()
        viewer.setHtml(page.read_text(encoding="utf-8"))
        viewer.resize(560, 560)
        viewer.show()
        save_image(viewer.grab().toImage(), "statistics_table.png")


def rendered_colours(layer: QgsMeshLayer, frame: QgsDateTimeRange) -> int:
    """How many colours the layer draws at a Temporal Controller frame."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(60, 60))
    settings.setIsTemporal(True)
    settings.setTemporalRange(frame)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return len({image.pixel(x, y) for x in range(0, 60, 3) for y in range(0, 60, 3)})


def test_cubes_draw_their_date_on_each_frame_after_a_series_layer(
    loaded_plugin, sample_stac, tmp_path, project
) -> None:
    """The desktop's order: a series layer, then cubes of the same points. The Temporal
    Controller's frames start at the series' dates (whole seconds), and the images of
    the catalogue are taken at 10:46:19.024: each cube draws its first date on the
    first frame (it drew nothing), and each date on its own frame (it drew the
    previous date)."""
    controller = QgsTemporalControllerWidget()  # as in QGIS's window: set by the first layer
    served, _ = sample_stac
    params = common(served.stac_urls["earth-search"], site_points())
    table = tmp_path / "t.csv"
    processing.runAndLoadResults(
        "sits:extracttimeseries",
        params | {"OUTPUT": str(table), "OUTPUT_LAYER": str(tmp_path / "s.gpkg")},
        feedback=QgsProcessingFeedback(),
    )
    processing.runAndLoadResults(
        "sits:extractcubes",
        params | {"MODE": 1, "PATCH_X": 8, "PATCH_Y": 8, "OUTPUT_FOLDER": str(tmp_path / "cubes"),
                  "OUTPUT_INDEX": str(tmp_path / "index.gpkg")},
        feedback=QgsProcessingFeedback(),
    )  # fmt: skip
    navigation = controller.temporalController()
    navigation.setNavigationMode(QgsTemporalNavigationObject.NavigationMode.Animated)
    first = navigation.dateTimeRangeForFrameNumber(0)
    meshes = [m for m in project.mapLayers().values() if isinstance(m, QgsMeshLayer)]
    assert len(meshes) == 3
    with table.open() as stream:
        rows = list(csv.DictReader(stream))
    for mesh in meshes:
        assert mesh.activeScalarDatasetAtTime(first).dataset() == 0
        assert rendered_colours(mesh, first) > 10
        feature = mesh.name().removeprefix("cube ")
        cube = xr.open_dataset(mesh.source())
        dates = [f"{str(t)[:19]}Z" for t in cube.time.values]
        cube.close()
        # the cube's dates are the table's (the dates its mask kept)
        assert set(dates) <= {r["date"] for r in rows if r["feature_id"] == feature}
        group = mesh.rendererSettings().activeScalarDatasetGroup()
        for number, date in enumerate(dates):
            start = QDateTime.fromString(date, Qt.DateFormat.ISODate)
            frame = QgsDateTimeRange(start, start.addDays(1), True, False)
            assert mesh.activeScalarDatasetAtTime(frame) == QgsMeshDatasetIndex(group, number)
