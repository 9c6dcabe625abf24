"""The ``sits`` Processing provider."""

from __future__ import annotations

import os
from pathlib import Path

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import settings
from .extract_cubes import ExtractCubesAlgorithm
from .extract_timeseries import ExtractTimeSeriesAlgorithm
from .raster_filter import RasterFilterAlgorithm
from .raster_statistics import RasterStatisticsAlgorithm
from .search_stac import SearchStacAlgorithm
from .setup_engine import SetupEngineAlgorithm

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")
#: Example models shipped with the plugin (``scripts/make_example_model.py`` writes them).
MODELS = Path(__file__).parent / "models"


class ShippedModel(QgsProcessingModelAlgorithm):
    """A model shipped with the plugin, in the toolbox group of the algorithms whose
    group it names. A model file keeps only its group's name, and QGIS makes that name
    its group id ("Time series"), so the toolbox showed a second "Time series" group
    beside the algorithms' ("timeseries")."""

    def __init__(self, group_ids: dict[str, str]) -> None:
        super().__init__()
        self.group_ids = group_ids

    def groupId(self) -> str:
        return self.group_ids.get(self.group(), super().groupId())


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
        QgsApplication.processingRegistry().providerAdded.connect(self._registered)
        return True

    def _registered(self, provider_id: str) -> None:
        """Load again once registered: the models' steps are this provider's own
        algorithms, which the registry finds only from then on."""
        if provider_id == self.id():
            QgsApplication.processingRegistry().providerAdded.disconnect(self._registered)
            self.refreshAlgorithms()

    def unload(self) -> None:
        """Remove the settings and stop the engine process (and its workers).

        Called when the plugin unloads and also when qgis_process exits (which runs
        neither the plugin's unload nor Python's atexit handlers), so this is where
        the engine is stopped.
        """
        from sits_qgis.engine.client import shutdown_session

        settings.unregister()
        shutdown_session()

    def loadAlgorithms(self) -> None:
        algorithms = [
            RasterStatisticsAlgorithm(),
            RasterFilterAlgorithm(),
            SearchStacAlgorithm(),
            ExtractTimeSeriesAlgorithm(),
            ExtractCubesAlgorithm(),
            SetupEngineAlgorithm(),
        ]
        for algorithm in algorithms:
            self.addAlgorithm(algorithm)
        if QgsApplication.processingRegistry().providerById(self.id()) is not self:
            return  # not registered yet: the models come with the reload (_registered)
        group_ids = {algorithm.GROUP: algorithm.GROUP_ID for algorithm in algorithms}
        for path in sorted(MODELS.glob("*.model3")):
            model = ShippedModel(group_ids)
            if model.fromFile(str(path)):
                self.addAlgorithm(model)
