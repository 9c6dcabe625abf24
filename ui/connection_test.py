"""Check the settings before a long run: do the workers (or the dask scheduler) answer,
and does the default catalogue answer as a STAC API?

Both checks run in the background (the backend in a ``QgsTask``, shown in QGIS's task
manager; the catalogue through QGIS's network manager), and each says its result next
to its button, in the user's terms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt import sip
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from sits_qgis.errors import SitsError
from sits_qgis.stac.catalogues import resolve_catalogue

from .parameter_widgets import Fetcher


def ping_workers(task: QgsTask, call: Callable[..., Any], backend: dict[str, Any]) -> str:
    """Start (or reuse) the engine and its backend for ``backend`` and run one task
    (``call`` is the provider's ``engine.call``)."""
    return call("test_backend", {"backend": backend})


class ConnectionTestDialog(QDialog):
    """Two checks, each with its button and its result."""

    def __init__(
        self,
        config: dict[str, Any],
        catalogue_text: str,
        call: Callable[..., Any],
        parent: QWidget | None = None,
    ) -> None:
        """``config``: the backend settings (as the engine takes them);
        ``catalogue_text``: the default catalogue; ``call``: runs an engine request."""
        super().__init__(parent)
        self.call = call
        self.setWindowTitle(self.tr("SITS: test the connections"))
        self.config = config
        self.catalogue_text = catalogue_text
        self.fetcher = Fetcher()
        self.task: QgsTask | None = None
        layout = QGridLayout(self)
        where = self.config.get("scheduler_address") or self.config.get("mode", "")
        self.backend_button = QPushButton(self.tr("Test the backend"))
        self.backend_result = QLabel(f"Backend: {where}")
        self.catalogue_button = QPushButton(self.tr("Test the catalogue"))
        self.catalogue_result = QLabel(f"Catalogue: {self.catalogue_text}")
        for label in (self.backend_result, self.catalogue_result):
            label.setWordWrap(True)
        layout.addWidget(self.backend_button, 0, 0)
        layout.addWidget(self.backend_result, 0, 1)
        layout.addWidget(self.catalogue_button, 1, 0)
        layout.addWidget(self.catalogue_result, 1, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close, 2, 0, 1, 2)
        layout.setColumnStretch(1, 1)
        self.resize(560, 160)
        self.backend_button.clicked.connect(self.test_backend)
        self.catalogue_button.clicked.connect(self.test_catalogue)
        # answers after the dialog is gone must not reach its deleted labels
        self.destroyed.connect(self.fetcher.cancel)

    def test_backend(self) -> None:
        """Run one task on the backend of the settings, in a background task."""
        self.backend_result.setText(self.tr("Starting the backend and running a test task…"))
        self.backend_button.setEnabled(False)
        self.task = QgsTask.fromFunction(
            "SITS: test the backend",
            ping_workers,
            self.call,
            self.config,
            on_finished=self._backend_done,
        )
        QgsApplication.taskManager().addTask(self.task)

    def _backend_done(self, exception: Exception | None, result: str | None = None) -> None:
        if sip.isdeleted(self.backend_result):
            return  # the dialog was closed before the task finished

        self.backend_button.setEnabled(True)
        self.backend_result.setText(result if exception is None else f"Failed: {exception}")

    def test_catalogue(self) -> None:
        """Ask the catalogue for its landing page and say what it is."""
        try:
            url = resolve_catalogue(self.catalogue_text).url
        except SitsError as exc:  # the setting is neither a preset nor a URL
            self.catalogue_result.setText(f"Failed: {exc}")
            return
        self.catalogue_result.setText(f"Asking {url}…")
        self.fetcher.get(url, lambda page: self._catalogue_done(url, page), self._catalogue_failed)

    def _catalogue_done(self, url: str, page: Any) -> None:
        page = page if isinstance(page, dict) else {}
        searches = any(str(c).endswith("/item-search") for c in page.get("conformsTo", []))
        title = page.get("title") or page.get("id") or url
        self.catalogue_result.setText(
            f"OK: {title} answers, with item search." if searches else
            f"Failed: {url} answers but does not say it is a STAC API with item search."
        )  # fmt: skip

    def _catalogue_failed(self, reason: str) -> None:
        self.catalogue_result.setText(f"Failed: {reason}")
