"""The plugin's entries in QGIS's Plugins menu."""

from __future__ import annotations

import os

from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

MENU_NAME = "&SITS"
ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class PluginMenu:
    """A menu entry that opens the backend settings (Processing options > Providers)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.settings_action: QAction | None = None

    def add(self) -> None:
        self.settings_action = QAction(
            QIcon(ICON_PATH), "Backend settings…", self.iface.mainWindow()
        )
        self.settings_action.setObjectName("sitsBackendSettings")
        self.settings_action.triggered.connect(self.open_settings)
        self.iface.addPluginToMenu(MENU_NAME, self.settings_action)

    def open_settings(self) -> None:
        """Open QGIS's options at the Processing page, where the backend is set."""
        self.iface.showOptionsDialog(self.iface.mainWindow(), "processingOptions")

    def remove(self) -> None:
        if self.settings_action is not None:
            self.iface.removePluginMenu(MENU_NAME, self.settings_action)
            self.settings_action.deleteLater()
            self.settings_action = None
