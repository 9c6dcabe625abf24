"""The plugin object QGIS holds: registers the Processing provider and the menu entry,
and stops the backend's worker processes when the plugin is unloaded."""

from __future__ import annotations

from qgis.core import QgsApplication

from .processing_provider.provider import SitsProvider
from .ui.menu import PluginMenu


def connection_settings() -> tuple:
    """The backend settings, the default catalogue and the engine's request function,
    for the connection test."""
    from .processing_provider import engine
    from .processing_provider.settings import backend_settings, default_catalogue

    return backend_settings(), default_catalogue(), engine.call


def engine_status():
    """Whether the engine can run, and if not, why (``EngineStatus``)."""
    from .processing_provider.engine import engine_status as status

    return status()


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
            self.menu = PluginMenu(self.iface, connection_settings, engine_status)
            self.menu.add()
            self.menu.offer_setup()

    def unload(self) -> None:
        """Remove everything the plugin added (the provider stops the worker processes)."""
        if self.menu is not None:
            self.menu.remove()
            self.menu = None
        if self.provider is not None:  # its unload stops the worker processes
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
