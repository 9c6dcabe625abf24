"""The engine process and its client.

QGIS's process never imports the engine's heavy packages (rasterio, dask, xarray...):
it starts one engine process with the engine environment's Python (``server``), sends
it requests as plain data and reads back progress, log lines, per-feature results and
errors (``client``). Both ends speak ``protocol``. Only ``client`` and ``protocol`` are
imported in QGIS's process; they use the standard library alone.
"""
