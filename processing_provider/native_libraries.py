"""Load the engine's compiled libraries so that they do not bind to QGIS's own copies.

The shapely, pyproj and rasterio wheels carry their own GEOS, PROJ and GDAL. The
``qgis`` and ``qgis_process`` executables link QGIS's system GEOS/PROJ/GDAL into the
global symbol scope, and a wheel's extension loaded normally then calls those instead
of its own, built for another version: in qgis_process, shapely turned every polygon
into empty coordinates and a PROJ call aborted the process with ``std::bad_alloc``
(in a plain Python process, where QGIS's libraries are not global, all is fine).
Loading the extensions with ``RTLD_DEEPBIND`` makes each prefer its own libraries.
"""

from __future__ import annotations

import importlib
import os
import sys

from qgis.core import QgsProcessingException

#: Extension modules that bring their own GEOS, PROJ or GDAL, in dependency order.
NATIVE_MODULES = ("shapely.lib", "shapely", "pyproj._crs", "pyproj", "rasterio")


def load_isolated() -> None:
    """Import the native modules with ``RTLD_DEEPBIND`` (once), then check shapely.

    Windows and macOS have no such flag (and no such clash was seen there); a module
    already imported the normal way (e.g. by another plugin) is checked, not reloaded.
    """
    deepbind = getattr(os, "RTLD_DEEPBIND", 0)
    if deepbind and hasattr(sys, "setdlopenflags"):
        flags = sys.getdlopenflags()
        sys.setdlopenflags(flags | deepbind)
        try:
            for name in NATIVE_MODULES:
                importlib.import_module(name)
        finally:
            sys.setdlopenflags(flags)
    import shapely

    if not shapely.geometry.mapping(shapely.box(0, 0, 1, 1))["coordinates"]:
        raise QgsProcessingException(
            "The shapely library in QGIS's Python is bound to QGIS's own GEOS and gives"
            " wrong geometries (it was imported before this plugin could isolate it,"
            " probably by another plugin). Restart QGIS and run this algorithm first."
        )
