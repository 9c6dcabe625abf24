"""The plugin's entries in QGIS's Plugins menu."""

from __future__ import annotations

import os
from typing import Any

from qgis.core import Qgis, QgsSettings
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QPushButton

from .qt_compat import QAction

#: Set once the "set up the engine" message bar has been shown (after install).
SETUP_OFFERED = "sits/engine_setup_offered"
SETUP_ALGORITHM = "sits:setupengine"

MENU_NAME = "&SITS"
ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class PluginMenu:
    """Menu entries: the backend settings (Processing options > Providers) and the
    time-series dock (made on first use: it imports matplotlib)."""

    def __init__(self, iface, connection_settings: Any = None, engine_status: Any = None) -> None:
        """``connection_settings()`` gives the backend settings, the default catalogue
        and the engine's request function, for the connection test;
        ``engine_status()`` says whether the engine can run (its ``problem`` and
        ``outdated``)."""
        self.iface = iface
        self.connection_settings = connection_settings
        self.engine_status = engine_status
        self.setup_action: QAction | None = None
        self.setup_dialog: Any = None
        self.test_dialog: Any = None
        self.settings_action: QAction | None = None
        self.test_action: QAction | None = None
        self.dock_action: QAction | None = None
        self.scene_action: QAction | None = None
        self.dock: Any = None

    def add(self) -> None:
        self.setup_action = QAction(QIcon(ICON_PATH), "Set up the engine…", self.iface.mainWindow())
        self.setup_action.setObjectName("sitsSetupEngine")
        self.setup_action.triggered.connect(self.set_up_engine)
        self.iface.addPluginToMenu(MENU_NAME, self.setup_action)
        self.dock_action = QAction(QIcon(ICON_PATH), "Time-series plot", self.iface.mainWindow())
        self.dock_action.setObjectName("sitsSeriesDockAction")
        self.dock_action.triggered.connect(self.show_dock)
        self.iface.addPluginToMenu(MENU_NAME, self.dock_action)
        self.scene_action = QAction("Add the selected scenes", self.iface.mainWindow())
        self.scene_action.setObjectName("sitsAddScenes")
        self.scene_action.setToolTip("Add the scenes selected in a footprints layer as images")
        self.scene_action.triggered.connect(self.add_scenes)
        self.iface.addPluginToMenu(MENU_NAME, self.scene_action)
        if self.connection_settings is not None:
            self.test_action = QAction("Test the connections…", self.iface.mainWindow())
            self.test_action.setObjectName("sitsConnectionTest")
            self.test_action.triggered.connect(self.test_connections)
            self.iface.addPluginToMenu(MENU_NAME, self.test_action)
        self.settings_action = QAction(
            QIcon(ICON_PATH), "Backend settings…", self.iface.mainWindow()
        )
        self.settings_action.setObjectName("sitsBackendSettings")
        self.settings_action.triggered.connect(self.open_settings)
        self.iface.addPluginToMenu(MENU_NAME, self.settings_action)

    def show_dock(self) -> Any:
        """Show the time-series dock, following the active layer."""
        if self.dock is None:
            from .series_dock import SeriesDock

            self.dock = SeriesDock(self.iface.mainWindow(), self.iface.mapCanvas())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.dock.place()
        self.dock.show()
        self.dock.set_layer(self.iface.activeLayer())
        return self.dock

    def add_scenes(self) -> list:
        """Add the scenes selected in the active footprints layer (*Search a STAC
        catalogue*'s output) as raster layers at their dates."""
        from .scene_layers import add_selected_scenes

        return add_selected_scenes(self.iface)

    def set_up_engine(self) -> Any:
        """Open the set-up algorithm's dialog (a background task with progress, pip's
        log and cancel)."""
        import processing

        self.setup_dialog = processing.createAlgorithmDialog(SETUP_ALGORITHM)
        self.setup_dialog.show()
        return self.setup_dialog

    def offer_setup(self) -> Any:
        """A message bar with a button that opens the set-up: once after install when no
        engine is set up, and at every start while the engine is out of date (a plugin
        update changed its lock, and nothing runs until it is updated)."""
        if self.engine_status is None:
            return None
        status = self.engine_status()
        settings = QgsSettings()
        offered = str(settings.value(SETUP_OFFERED, False)).lower() == "true"
        if not status.problem or (offered and not status.outdated):
            return None
        settings.setValue(SETUP_OFFERED, True)
        bar = self.iface.messageBar()
        widget = bar.createMessage("SITS", status.problem)
        button = QPushButton("Set up the engine…", widget)
        button.clicked.connect(self.set_up_engine)
        widget.layout().addWidget(button)
        bar.pushWidget(
            widget, Qgis.MessageLevel.Warning if status.outdated else Qgis.MessageLevel.Info, 0
        )
        return widget

    def test_connections(self) -> Any:
        """Open the connection test with the current settings (kept, or Qt would
        delete it as soon as it opens)."""
        from .connection_test import ConnectionTestDialog

        config, catalogue, call = self.connection_settings()
        self.test_dialog = ConnectionTestDialog(config, catalogue, call, self.iface.mainWindow())
        self.test_dialog.show()
        return self.test_dialog

    def open_settings(self) -> None:
        """Open QGIS's options at the Processing page, where the backend is set."""
        self.iface.showOptionsDialog(self.iface.mainWindow(), "processingOptions")

    def remove(self) -> None:
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        for action in (self.dock_action, self.scene_action, self.test_action, self.setup_action):
            if action is not None:
                self.iface.removePluginMenu(MENU_NAME, action)
                action.deleteLater()
        self.dock_action = self.scene_action = self.test_action = self.setup_action = None
        if self.settings_action is not None:
            self.iface.removePluginMenu(MENU_NAME, self.settings_action)
            self.settings_action.deleteLater()
            self.settings_action = None
