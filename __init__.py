"""QGIS entry point of the SITS plugin.

QGIS imports this package at start-up, so nothing heavy is imported here: the
plugin class and its provider are imported when QGIS asks for them, and dask,
rasterio and numpy only when an algorithm runs.
"""

import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


def _expose_engine() -> None:
    """Make the bundled engine importable as the top-level package ``sits_qgis``.

    Worker processes unpickle tasks by module name; they must find the engine under
    the same top-level name as the plugin (and as a pip-installed engine on a
    remote cluster), whatever the plugin's folder is called.
    """
    if PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)


def classFactory(iface):
    """Called by QGIS to create the plugin, with the QGIS interface (None in qgis_process)."""
    _expose_engine()
    from .plugin import SitsPlugin

    return SitsPlugin(iface)
