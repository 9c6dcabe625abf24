"""SITS for QGIS: the engine.

Plain Python that never imports ``qgis``: it runs in QGIS, in notebooks and inside
dask workers that have never seen QGIS. Importing this package is cheap on purpose;
heavy libraries (dask, rasterio, numpy) are imported by the modules that need them.
"""

__version__ = "0.1.0"
