"""The plugin in QGIS with no engine set up, as a new user has it: every dialog (standard,
batch, model designer) opens with its pick lists, every run and the connection test say
in one sentence how to set the engine up, the set-up is offered once after install (and
at every start while the engine is out of date), and its dialog opens from the menu.
Screenshots go to docs/screenshots with ``make screenshots``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_raster
from qgis.core import (
    QgsApplication,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsSettings,
)
from test_dialogs import discard, open_dialog, save_screenshot, wait_until, wrappers

from sits_qgis.engine.client import running_session, shutdown_session
from sits_qgis.environment.layout import environment_dir, write_stamp

ALGORITHMS = ("searchstac", "extracttimeseries", "extractcubes", "rasterfilter",
              "rasterstatistics", "setupengine")  # fmt: skip
NOT_SET_UP = "The SITS engine is not set up: use Plugins > SITS > Set up the engine…"


@pytest.fixture
def no_engine(dialog_ready, monkeypatch, tmp_path):
    """No SITS_ENGINE_PYTHON, no existing environment chosen, an empty engine folder."""
    from processing.core.ProcessingConfig import ProcessingConfig

    from processing_provider import settings

    shutdown_session()
    monkeypatch.delenv("SITS_ENGINE_PYTHON", raising=False)
    before = [
        ProcessingConfig.getSetting(n) or ""
        for n in (settings.ENGINE_FOLDER, settings.ENGINE_PYTHON)
    ]
    folder = tmp_path / "engine"
    folder.mkdir()
    ProcessingConfig.setSettingValue(settings.ENGINE_FOLDER, str(folder))
    ProcessingConfig.setSettingValue(settings.ENGINE_PYTHON, "")
    yield folder
    # a folder of an earlier, interrupted run may be gone: QGIS refuses it
    ProcessingConfig.setSettingValue(
        settings.ENGINE_FOLDER, before[0] if Path(before[0] or ".").exists() else ""
    )
    ProcessingConfig.setSettingValue(settings.ENGINE_PYTHON, before[1])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_dialog_opens_without_an_engine(no_engine, algorithm) -> None:
    from processing.modeler.ModelerParametersDialog import ModelerParametersDialog
    from qgis.core import QgsProcessingModelAlgorithm

    definition = QgsApplication.processingRegistry().createAlgorithmById(f"sits:{algorithm}")
    visible = [
        p.name()
        for p in definition.parameterDefinitions()
        if not p.flags() & QgsProcessingParameterDefinition.Flag.FlagHidden
    ]
    for batch in (False, True):
        dialog = open_dialog(f"sits:{algorithm}", batch=batch)
        try:
            if not batch:
                assert set(visible) <= set(wrappers(dialog))
                if algorithm == "extracttimeseries":  # the index list needs no engine
                    indices = wrappers(dialog)["INDICES"].checklist
                    assert indices.list.count() > 200
                    save_screenshot(dialog, f"dialog_{algorithm}.png")
                else:
                    save_screenshot(dialog, f"dialog_{algorithm}.png")
        finally:
            discard(dialog)
    model = QgsProcessingModelAlgorithm("test", "tests", "tests")
    designer = ModelerParametersDialog(definition, model)
    try:
        assert set(visible) <= set(designer.widget.widget.wrappers)
    finally:
        discard(designer)
    assert running_session() is None  # opening dialogs started no engine


def test_every_run_says_how_to_set_the_engine_up(no_engine, tmp_path) -> None:
    from qgis import processing

    raster = write_raster(tmp_path / "r.tif", np.ones((20, 20), "float32"))
    runs = {
        "rasterstatistics": {"INPUT": str(raster), "BAND": 1},
        "rasterfilter": {"INPUT": str(raster), "OUTPUT": str(tmp_path / "f.tif")},
        "searchstac": {"EXTENT": "0,1,0,1 [EPSG:4326]", "OUTPUT": "TEMPORARY_OUTPUT"},
    }
    for algorithm, parameters in runs.items():
        with pytest.raises(QgsProcessingException) as refused:
            processing.run(f"sits:{algorithm}", parameters)
        assert NOT_SET_UP in str(refused.value)
    assert not (tmp_path / "f.tif").exists()
    assert running_session() is None


def test_the_dialog_says_it_before_starting(no_engine, tmp_path, monkeypatch) -> None:
    """Run in the dialog: a message box with the sentence, and nothing starts."""
    from qgis.PyQt.QtWidgets import QMessageBox

    said: list[str] = []
    shown: list[QMessageBox] = []

    def warning(parent, title, text):
        said.append(text)
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent
        )
        box.show()  # not modal, so that the test goes on (and can photograph it)
        shown.append(box)

    monkeypatch.setattr(QMessageBox, "warning", warning)
    raster = write_raster(tmp_path / "r.tif", np.ones((20, 20), "float32"))
    dialog = open_dialog("sits:rasterstatistics")
    try:
        from qgis.core import QgsProcessingContext

        wrappers(dialog)["INPUT"].setParameterValue(str(raster), QgsProcessingContext())
        dialog.runAlgorithm()
        assert said and said[0].startswith(NOT_SET_UP)
        save_screenshot(shown[0], "engine_not_set_up.png")
    finally:
        for box in shown:
            box.close()
        discard(dialog)


def test_the_connection_test_says_it(no_engine) -> None:
    from processing_provider.engine import call
    from ui.connection_test import ConnectionTestDialog

    dialog = ConnectionTestDialog({"mode": "processes", "workers": 1}, "earth-search", call)
    try:
        dialog.test_backend()
        assert wait_until(lambda: dialog.backend_result.text().startswith("Failed"), 30)
        assert dialog.backend_result.text().startswith(f"Failed: {NOT_SET_UP}")
    finally:
        dialog.close()


def test_the_set_up_is_offered_once_then_again_while_the_engine_is_out_of_date(
    no_engine, qgis_iface
) -> None:
    from processing_provider.engine import engine_status
    from ui.menu import SETUP_OFFERED, PluginMenu

    QgsSettings().remove(SETUP_OFFERED)
    menu = PluginMenu(qgis_iface, None, engine_status)
    menu.add()
    try:
        offer = menu.offer_setup()
        assert offer is not None and NOT_SET_UP in offer.text()
        assert menu.offer_setup() is None  # once, not at every start
        env = environment_dir(no_engine)
        (env / "bin").mkdir(parents=True)
        (env / "bin" / "python").touch()
        write_stamp(env, {"lock_sha256": "an older lock"})
        for _ in range(2):  # at every start, until the engine is updated
            offer = menu.offer_setup()
            assert offer is not None and "must be updated" in offer.text()
        dialog = menu.set_up_engine()  # the set-up's own Processing dialog
        assert dialog.algorithm().id() == "sits:setupengine"
        assert "FOLDER" in wrappers(dialog) and "WHEELHOUSE" in wrappers(dialog)
        dialog.resize(900, 700)
        save_screenshot(dialog, "setup_engine_dialog.png")
        discard(dialog)
    finally:
        menu.remove()
        QgsSettings().remove(SETUP_OFFERED)


def test_an_engine_made_for_another_python_is_offered_to_be_set_up_again(
    no_engine, qgis_iface
) -> None:
    """QGIS moved to a newer Python (Debian 12 to 13: 3.11 to 3.13): the environment of
    the old one cannot run; the user is told so and offered the set-up at every start."""
    import sys

    from processing_provider.engine import engine_status
    from ui.menu import SETUP_OFFERED, PluginMenu

    other = f"3.{sys.version_info[1] - 1}"
    old = no_engine / f"py{other}"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "python").touch()
    write_stamp(old, {"lock_sha256": "any"})
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    status = engine_status()
    assert status.outdated and not status.python
    assert f"was made for Python {other}, and this QGIS runs Python {running}" in status.problem
    QgsSettings().setValue(SETUP_OFFERED, True)  # the first offer was made long ago
    menu = PluginMenu(qgis_iface, None, engine_status)
    menu.add()
    try:
        for _ in range(2):
            offer = menu.offer_setup()
            assert offer is not None and "set up again for this Python" in offer.text()
    finally:
        menu.remove()
        QgsSettings().remove(SETUP_OFFERED)
