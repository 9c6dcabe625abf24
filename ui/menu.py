"""The plugin's entries in QGIS's Plugins menu."""

from __future__ import annotations

import os
from typing import Any

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

MENU_NAME = "&SITS"
ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class PluginMenu:
    """Menu entries: the backend settings (Processing options > Providers) and the
    time-series dock (made on first use: it imports matplotlib)."""

    def __init__(self, iface, connection_settings: Any = None) -> None:
        """``connection_settings()`` gives the backend settings and the default
        catalogue, for the connection test (the Processing settings' readers)."""
        self.iface = iface
        self.connection_settings = connection_settings
        self.settings_action: QAction | None = None
        self.test_action: QAction | None = None
        self.dock_action: QAction | None = None
        self.dock: Any = None

    def add(self) -> None:
        self.dock_action = QAction(QIcon(ICON_PATH), "Time-series plot", self.iface.mainWindow())
        self.dock_action.setObjectName("sitsSeriesDockAction")
        self.dock_action.triggered.connect(self.show_dock)
        self.iface.addPluginToMenu(MENU_NAME, self.dock_action)
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

            self.dock = SeriesDock(self.iface.mainWindow())
            self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        self.dock.show()
        self.dock.set_layer(self.iface.activeLayer())
        return self.dock

    def test_connections(self) -> Any:
        """Open the connection test with the current settings."""
        from .connection_test import ConnectionTestDialog

        config, catalogue = self.connection_settings()
        dialog = ConnectionTestDialog(config, catalogue, self.iface.mainWindow())
        dialog.show()
        return dialog

    def open_settings(self) -> None:
        """Open QGIS's options at the Processing page, where the backend is set."""
        self.iface.showOptionsDialog(self.iface.mainWindow(), "processingOptions")

    def remove(self) -> None:
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        for action in (self.dock_action, self.test_action):
            if action is not None:
                self.iface.removePluginMenu(MENU_NAME, action)
                action.deleteLater()
        self.dock_action = self.test_action = None
        if self.settings_action is not None:
            self.iface.removePluginMenu(MENU_NAME, self.settings_action)
            self.settings_action.deleteLater()
            self.settings_action = None
