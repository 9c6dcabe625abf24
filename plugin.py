"""The plugin object QGIS holds: registers the Processing provider and the menu entry,
and stops the backend's worker processes when the plugin is unloaded."""

from __future__ import annotations

from qgis.core import QgsApplication

from .processing_provider.provider import SitsProvider
from .ui.menu import PluginMenu


def connection_settings() -> tuple:
    """The backend settings and the default catalogue, as the algorithms read them."""
    from .processing_provider.settings import backend_config, default_catalogue

    return backend_config(), default_catalogue()


class SitsPlugin:
    """Loaded by QGIS desktop (``initGui``) and by qgis_process (``initProcessing`` only)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: SitsProvider | None = None
        self.menu: PluginMenu | None = None

    def initProcessing(self) -> None:
        """Register the ``sits`` provider (called once by qgis_process, by initGui in QGIS)."""
        if self.provider is None:
            provider = SitsProvider()
            # The registry refuses (and deletes) a second provider with the same id.
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider

    def initGui(self) -> None:
        """Register the provider and add the plugin's menu entries."""
        self.initProcessing()
        if self.iface is not None:
            self.menu = PluginMenu(self.iface, connection_settings)
            self.menu.add()

    def unload(self) -> None:
        """Remove everything the plugin added (the provider stops the worker processes)."""
        if self.menu is not None:
            self.menu.remove()
            self.menu = None
        if self.provider is not None:  # its unload stops the worker processes
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
