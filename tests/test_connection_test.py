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
