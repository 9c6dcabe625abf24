"""The Processing dialogs of the time-series algorithms, opened for real (offscreen Qt):
pick lists that read the local STAC API in the background, the SCL classes and the
index catalogue, plain text in the batch dialog, and an unreachable catalogue said
inline without freezing the dialog. Screenshots go to docs/screenshots when
SITS_SCREENSHOTS is set (``make screenshots``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT
from qgis.core import Qgis, QgsApplication, QgsProcessingParameterDefinition
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QLineEdit, QScrollArea

SCREENSHOTS = ROOT / "docs" / "screenshots"


def wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Run Qt's event loop until ``condition()`` holds (network replies arrive there)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QgsApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def open_dialog(algorithm_id: str, batch: bool = False):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    dialog = (BatchAlgorithmDialog if batch else AlgorithmDialog)(algorithm)
    dialog.resize(900, 1100)
    dialog.show()
    return dialog


def discard(dialog) -> None:
    """Close and delete a dialog now, as QGIS does, rather than at garbage collection."""
    from qgis.PyQt import sip

    dialog.close()
    if not sip.isdeleted(dialog):
        sip.delete(dialog)


def wrappers(dialog) -> dict:
    return {name: wrapper for name, wrapper in dialog.mainWidget().wrappers.items()}


def save_screenshot(widget, name: str) -> Path | None:
    """The widget as a PNG under docs/screenshots, when screenshots are asked for."""
    if not os.environ.get("SITS_SCREENSHOTS"):
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    assert widget.grab().save(str(path))
    return path


def checklist_rows(checklist) -> list[tuple[str, str, bool]]:
    return [
        (
            checklist.list.item(row).data(Qt.ItemDataRole.UserRole),
            checklist.list.item(row).text(),
            checklist.list.item(row).checkState() == Qt.CheckState.Checked,
        )
        for row in range(checklist.list.count())
    ]


def test_the_extraction_dialog_reads_collections_and_bands_from_the_catalogue(
    dialog_ready, sample_stac
) -> None:
    from qgis.core import QgsProject, QgsVectorLayer

    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    points = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "sites", "memory")
    QgsProject.instance().addMapLayer(points)
    dialog = open_dialog("sits:extracttimeseries")
    try:
        found = wrappers(dialog)
        started = time.monotonic()
        found["STAC_URL"].setValue(url)
        assert time.monotonic() - started < 0.5  # the listing runs in the background
        collection = found["COLLECTION"]
        assert wait_until(lambda: collection.combo.count() > 0)
        assert [collection.combo.itemText(i) for i in range(collection.combo.count())] == [
            "sentinel-2-l2a"
        ]
        bands = found["BANDS"].checklist
        assert wait_until(lambda: bands.list.count() > 0)
        rows = {value: (label, ticked) for value, label, ticked in checklist_rows(bands)}
        assert rows["red"] == ("red (B04, 10 m)", True)  # BANDS=red,nir by default
        assert rows["nir"][1] and not rows["green"][1]
        assert "scl" in rows and "20 m" in rows["scl"][0]
        bands.list.findItems("green (B03, 10 m)", Qt.MatchFlag.MatchExactly)[0].setCheckState(
            Qt.CheckState.Checked
        )
        assert set(found["BANDS"].value().split(",")) == {"red", "green", "nir"}
        # no profile for this local catalogue: its SCL band's convention, guessed by name
        mask = found["MASK_VALUES"].checklist
        assert wait_until(lambda: mask.list.count() > 0)
        classes = checklist_rows(mask)
        defaults = [v for v, label, _ in classes if label.endswith("(default)")]
        assert defaults == [str(v) for v in (0, 1, 3, 8, 9, 10)]
        assert not any(t for *_, t in classes)  # empty MASK_VALUES: the defaults
        assert classes[9][1] == "9  Cloud high probability  (default)"
        assert "guessed from its name" in mask.status.text()
        assert found["MASK_BITS"].checklist.list.count() == 0  # SCL masks by classes
        indices = found["INDICES"].checklist
        indices.search.setText("normalized difference vegetation")
        visible = [
            indices.list.item(r).data(Qt.ItemDataRole.UserRole)
            for r in range(indices.list.count())
            if not indices.list.item(r).isHidden()
        ]
        assert "NDVI" in visible and "EVI" not in visible
        save_screenshot(dialog, "extract_time_series_dialog.png")
        parameters = dialog.mainWidget().createProcessingParameters()
        assert parameters["STAC_URL"] == url and parameters["COLLECTION"] == "sentinel-2-l2a"
        assert set(parameters["BANDS"].split(",")) == {"red", "green", "nir"}
        assert parameters["MASK_VALUES"] == "" and parameters["MASK_BAND"] == "auto"
    finally:
        discard(dialog)
        QgsProject.instance().removeAllMapLayers()


def test_an_unreachable_catalogue_is_said_under_the_list_without_freezing(dialog_ready) -> None:
    dialog = open_dialog("sits:extractcubes")
    try:
        collection = wrappers(dialog)["COLLECTION"]
        started = time.monotonic()
        wrappers(dialog)["STAC_URL"].setValue("http://127.0.0.1:9")  # nothing listens there
        assert time.monotonic() - started < 0.5
        assert wait_until(lambda: "Cannot list the collections" in collection.status.text()), (
            collection.status.text()
        )
        assert "127.0.0.1:9: Connection refused" in collection.status.text()
        assert collection.status.isVisible()
        wrappers(dialog)["STAC_URL"].setValue("ftp://example.org")
        assert wait_until(lambda: "neither a catalogue preset" in collection.status.text()), (
            collection.status.text()
        )
        assert collection.value() == "sentinel-2-l2a"  # the typed value is kept
    finally:
        discard(dialog)


def test_the_batch_dialog_takes_plain_text(dialog_ready) -> None:
    """Batch cells hold text: the pick lists fall back to a line of text there, and the
    row's parameters are that text."""
    dialog = open_dialog("sits:extracttimeseries", batch=True)
    try:
        panel = dialog.mainWidget()
        row = {w.parameterDefinition().name(): w for w in panel.wrappers[0] if w is not None}
        for name in ("STAC_URL", "COLLECTION", "BANDS", "MASK_VALUES", "INDICES"):
            assert isinstance(row[name].widget, QLineEdit), name
        row["BANDS"].setValue("B04,B08")
        row["INDICES"].setValue("NDVI")
        row["MASK_VALUES"].setValue("0,8,9")
        assert row["BANDS"].value() == "B04,B08" and row["MASK_VALUES"].value() == "0,8,9"
    finally:
        discard(dialog)


def test_the_model_designer_links_the_parameters_to_model_inputs(dialog_ready) -> None:
    """In the model designer the parameters keep QGIS's own widget: a value may be a
    model input (here INDICES from a model's INDEX) as well as text (BANDS)."""
    from processing.modeler.ModelerParametersDialog import ModelerParametersDialog
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelParameter,
        QgsProcessingParameterString,
    )

    model = QgsProcessingModelAlgorithm("test", "tests", "tests")
    model.addModelParameter(
        QgsProcessingParameterString("INDEX", "Index", "NDVI"), QgsProcessingModelParameter("INDEX")
    )
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("sits:extracttimeseries")
    dialog = ModelerParametersDialog(algorithm, model)
    try:
        found = dialog.widget.widget.wrappers
        found["INDICES"].setValue(
            QgsProcessingModelChildParameterSource.fromModelParameter("INDEX")
        )
        found["BANDS"].setValue("B04,B08")
        found["MASK_BITS"].setValue("1,3")
        child = dialog.createAlgorithm()
        [indices] = child.parameterSources()["INDICES"]
        # QGIS 3.36 moved the enum to Qgis, with no alias left in the class
        sources = getattr(Qgis, "ProcessingModelChildParameterSource", None)
        model_parameter = (
            sources.ModelParameter
            if sources is not None
            else QgsProcessingModelChildParameterSource.Source.ModelParameter
        )
        assert indices.source() == model_parameter
        assert indices.parameterName() == "INDEX"
        [bands] = child.parameterSources()["BANDS"]
        assert bands.staticValue() == "B04,B08"
        [mask] = child.parameterSources()["MASK_BITS"]
        assert mask.staticValue() == "1,3"
    finally:
        discard(dialog)


def test_a_dialog_closed_while_the_catalogue_is_silent_cancels_its_requests(dialog_ready) -> None:
    """A catalogue that accepts the connection and never answers: the listings are
    pending when the dialog goes, and must be cancelled with it (an answer arriving
    later for its deleted widgets crashed QGIS)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted, never answered
    try:
        dialog = open_dialog("sits:extracttimeseries")
        found = wrappers(dialog)
        found["STAC_URL"].setValue(f"http://127.0.0.1:{silent.getsockname()[1]}")
        fetcher = found["COLLECTION"].fetcher
        assert fetcher.reply is not None  # waiting for the silent catalogue
        discard(dialog)
        assert fetcher.reply is None  # cancelled with the dialog's widgets
        wait_until(lambda: False, 1.0)  # the cancelled reply's events run, harmlessly
    finally:
        silent.close()


@pytest.mark.parametrize(
    "algorithm",
    ["searchstac", "extracttimeseries", "extractcubes", "rasterfilter", "rasterstatistics",
     "Index statistics per point"],
)  # fmt: skip
def test_every_dialog_opens_with_a_widget_for_every_parameter(dialog_ready, algorithm) -> None:
    found = QgsApplication.processingRegistry().createAlgorithmById(f"sits:{algorithm}")
    dialog = open_dialog(f"sits:{algorithm}")
    try:
        shown = wrappers(dialog)
        for parameter in found.parameterDefinitions():
            if not parameter.flags() & QgsProcessingParameterDefinition.Flag.FlagHidden:
                assert parameter.name() in shown, parameter.name()
        # "Group - Name" from QGIS 3.26 on
        title = found.displayName()
        if Qgis.versionInt() >= 32600:
            title = f"{found.group()} - {title}"
        assert dialog.windowTitle() == title
    finally:
        discard(dialog)


def test_the_mask_lists_show_the_chosen_collections_bits_by_name(dialog_ready) -> None:
    """Planetary Computer's landsat-c2-l2 (from its profile, without the network): the
    bits of qa_pixel by name in MASK_BITS, its defaults marked; MASK_VALUES says that
    this mask is by bits. Sentinel-2 then brings the SCL classes back."""
    dialog = open_dialog("sits:extracttimeseries")
    try:
        found = wrappers(dialog)
        found["STAC_URL"].setValue("planetary-computer")
        combo = found["COLLECTION"].combo  # its profiled collections, without the network
        listed = [combo.itemText(i) for i in range(combo.count())]
        assert {"landsat-c2-l2", "modis-13Q1-061", "sentinel-1-rtc"} <= set(listed)
        found["COLLECTION"].setValue("landsat-c2-l2")
        bits = found["MASK_BITS"].checklist
        assert wait_until(lambda: bits.list.count() == 16)
        rows = checklist_rows(bits)
        assert rows[3][1] == "3  Cloud (high confidence)  (default)"
        defaults = [int(v) for v, label, _ in rows if label.endswith("(default)")]
        assert defaults == [0, 1, 2, 3, 4, 5, 9, 11, 13, 15]
        assert "qa_pixel" in bits.status.text()
        classes = found["MASK_VALUES"].checklist
        assert classes.list.count() == 0 and "masks by bits" in classes.status.text()
        scroll = dialog.mainWidget().findChild(QScrollArea)
        scroll.ensureWidgetVisible(bits, 0, 0)
        scroll.horizontalScrollBar().setValue(0)
        save_screenshot(dialog, "extract_time_series_landsat_mask.png")
        found["COLLECTION"].setValue("sentinel-2-l2a")
        assert wait_until(lambda: classes.list.count() == 12)
        assert bits.list.count() == 0
    finally:
        discard(dialog)


def test_a_typed_catalogue_is_offered_by_the_next_dialog(dialog_ready) -> None:
    """An address typed in STAC_URL is kept when the dialog is run (QGIS reads the
    parameters then) and listed by the next dialog's catalogue field, after the presets;
    an address with a password is not kept."""
    from qgis.core import QgsProject, QgsSettings, QgsVectorLayer

    from ui.parameter_widgets import RECENT_CATALOGUES

    typed = "http://127.0.0.1:9/typed/stac"
    secret = "http://alice:hunter2@127.0.0.1:9/stac"  # pragma: allowlist secret
    points = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "sites", "memory")
    QgsProject.instance().addMapLayer(points)
    QgsSettings().remove(RECENT_CATALOGUES)
    try:
        for address in (typed, secret):
            dialog = open_dialog("sits:extracttimeseries")
            try:
                wrappers(dialog)["STAC_URL"].combo.setEditText(address)
                parameters = dialog.mainWidget().createProcessingParameters()  # as Run does
                assert parameters["STAC_URL"] == address
            finally:
                discard(dialog)
        dialog = open_dialog("sits:extractcubes")
        try:
            combo = wrappers(dialog)["STAC_URL"].combo
            listed = [combo.itemData(i) for i in range(combo.count())]
            assert listed[-1] == typed and secret not in listed
            combo.setCurrentIndex(combo.count() - 1)
            assert wrappers(dialog)["STAC_URL"].value() == typed
        finally:
            discard(dialog)
    finally:
        QgsSettings().remove(RECENT_CATALOGUES)
        QgsProject.instance().removeAllMapLayers()


def test_the_index_search_lists_the_name_typed_first(dialog_ready) -> None:
    """Typing NDVI: NDVI itself, then the names that start with NDVI, then the other
    names that hold it (BNDVI, GNDVI...); clearing the search restores the list's order."""
    dialog = open_dialog("sits:extracttimeseries")
    try:
        indices = wrappers(dialog)["INDICES"].checklist
        before = [value for value, _, _ in checklist_rows(indices)]
        indices.search.setText("ndvi")
        shown = [
            indices.list.item(r).data(Qt.ItemDataRole.UserRole)
            for r in range(indices.list.count())
            if not indices.list.item(r).isHidden()
        ]
        assert shown[0] == "NDVI", shown[:6]
        starting = [name for name in shown if name.upper().startswith("NDVI")]
        assert shown[: len(starting)] == starting and {"BNDVI", "GNDVI"} <= set(shown)
        indices.text.setText("GNDVI")  # ticks follow the names, wherever they stand
        assert indices.ticked() == ["GNDVI"]
        indices.search.setText("")
        assert [value for value, _, _ in checklist_rows(indices)] == before
    finally:
        discard(dialog)


@pytest.mark.parametrize(
    ("algorithm", "shown"),
    [
        ("sits:extracttimeseries", {"MAX_CLOUD": "100.0", "MAX_MASKED": "0.50", "BUFFER": "0.0"}),
        ("sits:searchstac", {"MAX_CLOUD": "100.0"}),
        ("sits:rasterfilter", {"SIGMA": "1.00"}),
    ],
)
def test_decimal_fields_show_the_digits_they_need(dialog_ready, algorithm, shown) -> None:
    """QGIS shows six decimals unless told (a cloud cover of "100.000000")."""
    from qgis.PyQt.QtWidgets import QAbstractSpinBox

    dialog = open_dialog(algorithm)
    try:
        for name, text in shown.items():
            widget = wrappers(dialog)[name].wrappedWidget()
            boxes = [widget] if isinstance(widget, QAbstractSpinBox) else []
            boxes += widget.findChildren(QAbstractSpinBox) if widget is not None else []
            assert [box.text() for box in boxes][:1] == [text], name
    finally:
        discard(dialog)
