"""The connection test (Plugins > SITS > Test the connections…) against a real local
STAC API and real worker processes, and against addresses where nothing answers."""

from __future__ import annotations

import socket

from test_dialogs import wait_until

from sits_qgis.engine.client import shutdown_session


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def finished(label) -> bool:
    return label.text().startswith(("OK", "Failed"))


def test_what_answers_is_said_next_to_its_button(loaded_plugin, sample_stac) -> None:
    from processing_provider.engine import call
    from ui.connection_test import ConnectionTestDialog

    served, _ = sample_stac
    backend = {"mode": "processes", "workers": 1}
    dialog = ConnectionTestDialog(backend, served.stac_urls["earth-search"], call)
    try:
        dialog.test_catalogue()
        assert wait_until(lambda: finished(dialog.catalogue_result))
        assert dialog.catalogue_result.text().endswith("answers, with item search.")
        dialog.test_backend()
        assert not dialog.backend_button.isEnabled()  # running in the task manager
        assert wait_until(lambda: finished(dialog.backend_result), 120)
        text = dialog.backend_result.text()
        assert text.startswith("OK: 1 local worker; a test task ran in worker process"), text
        assert dialog.backend_button.isEnabled()
    finally:
        dialog.close()
        shutdown_session()


def test_what_does_not_answer_is_said_in_the_users_terms(loaded_plugin) -> None:
    from processing_provider.engine import call
    from ui.connection_test import ConnectionTestDialog

    scheduler = f"tcp://127.0.0.1:{closed_port()}"
    config = {"mode": "scheduler", "scheduler_address": scheduler}
    dialog = ConnectionTestDialog(config, f"http://127.0.0.1:{closed_port()}", call)
    try:
        dialog.test_catalogue()
        assert wait_until(lambda: finished(dialog.catalogue_result))
        assert dialog.catalogue_result.text() == "Failed: Connection refused"
        dialog.test_backend()
        assert wait_until(lambda: finished(dialog.backend_result), 60)
        text = dialog.backend_result.text()
        assert text.startswith("Failed: ") and "Cannot reach the dask scheduler" in text, text
        assert scheduler in text
        not_a_catalogue = ConnectionTestDialog(config, "ftp://example.org", call)
        not_a_catalogue.test_catalogue()
        assert "neither a catalogue preset" in not_a_catalogue.catalogue_result.text()
    finally:
        dialog.close()
        shutdown_session()


def test_the_menus_dialog_answers_its_buttons_clicks(loaded_plugin, sample_stac, qgis_iface):
    """As a user does it: *Plugins > SITS > Test the connections…*, then a click on each
    button. Both buttons used to be dead: the dialog was collected as soon as it opened."""
    import gc

    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtTest import QTest
    from sits_plugin.ui.menu import PluginMenu

    from processing_provider.engine import call

    served, _ = sample_stac
    settings = ({"mode": "processes", "workers": 1}, served.stac_urls["earth-search"], call)
    menu = PluginMenu(qgis_iface, connection_settings=lambda: settings)
    menu.add()
    try:
        menu.test_action.trigger()
        gc.collect()  # what collected the dialog before it was kept
        dialog = menu.test_dialog
        assert dialog is not None and dialog.isVisible()
        QTest.mouseClick(dialog.catalogue_button, Qt.MouseButton.LeftButton)
        assert wait_until(lambda: finished(dialog.catalogue_result))
        assert dialog.catalogue_result.text().endswith("answers, with item search.")
        QTest.mouseClick(dialog.backend_button, Qt.MouseButton.LeftButton)
        assert wait_until(lambda: finished(dialog.backend_result), 120)
        assert dialog.backend_result.text().startswith("OK: 1 local worker")
        dialog.close()
    finally:
        menu.remove()
        shutdown_session()
