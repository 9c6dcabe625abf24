"""Satellite image time series for the features of a vector layer (STAC, GDAL, xarray)."""
