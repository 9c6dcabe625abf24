"""QGIS Processing: the ``sits`` provider and one module per algorithm."""
