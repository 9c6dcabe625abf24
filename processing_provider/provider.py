"""The ``sits`` Processing provider."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import settings
from .extract_cubes import ExtractCubesAlgorithm
from .extract_timeseries import ExtractTimeSeriesAlgorithm
from .raster_filter import RasterFilterAlgorithm
from .raster_statistics import RasterStatisticsAlgorithm
from .search_stac import SearchStacAlgorithm

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class SitsProvider(QgsProcessingProvider):
    """Holds the algorithms and the backend settings."""

    def id(self) -> str:
        return "sits"

    def name(self) -> str:
        return "SITS"

    def longName(self) -> str:
        return "SITS - satellite image time series and tiled rasters"

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def load(self) -> bool:
        settings.register()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Remove the settings and stop the backend's workers.

        Called when the plugin unloads and also when qgis_process exits (which runs
        neither the plugin's unload nor Python's atexit handlers), so this is where
        worker processes are stopped.
        """
        from sits_qgis.backend.session import shutdown

        settings.unregister()
        shutdown()

    def loadAlgorithms(self) -> None:
        self.addAlgorithm(RasterStatisticsAlgorithm())
        self.addAlgorithm(RasterFilterAlgorithm())
        self.addAlgorithm(SearchStacAlgorithm())
        self.addAlgorithm(ExtractTimeSeriesAlgorithm())
        self.addAlgorithm(ExtractCubesAlgorithm())
