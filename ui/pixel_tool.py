"""Click a pixel, see its series: the dock's map tool, and the extraction a click starts.

A click becomes a one-point layer (a GeoJSON file, which the background thread can read
safely, unlike a memory layer of the main thread) and runs ``sits:extracttimeseries``
on it, the same algorithm and engine code as the toolbox, in a ``QgsProcessingAlgRunnerTask``:
QGIS's task manager shows its progress and can cancel it, and the map stays usable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)
from qgis.gui import QgsMapToolEmitPoint
from qgis.PyQt.QtCore import pyqtSignal

from .series_data import FeatureSeries, read_series, value_columns

ALGORITHM = "sits:extracttimeseries"
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


class PixelTool(QgsMapToolEmitPoint):
    """The map tool: each left click says where, in longitude and latitude."""

    picked = pyqtSignal(float, float)

    def __init__(self, canvas: Any) -> None:
        super().__init__(canvas)
        self.canvasClicked.connect(self._clicked)

    def _clicked(self, point: Any, button: Any) -> None:
        transform = QgsCoordinateTransform(
            self.canvas().mapSettings().destinationCrs(), WGS84, QgsProject.instance()
        )
        where = transform.transform(point)
        self.picked.emit(where.x(), where.y())


class _Feedback(QgsProcessingFeedback):
    """Keeps the algorithm's errors, to show the click's failure in the dock."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N803
        self.errors.append(error)
        super().reportError(error, fatalError)


def point_file(path: Path, name: str, lon: float, lat: float) -> str:
    """A one-point GeoJSON layer (what the background thread reads safely)."""
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": name},
                      "geometry": {"type": "Point", "coordinates": [lon, lat]}}],
    }))  # fmt: skip
    return str(path)


class BackgroundRun:
    """One Processing algorithm run at a clicked place in a ``QgsProcessingAlgRunnerTask``,
    from its start to ``done(self)``, with the algorithm's last error if it failed."""

    ALGORITHM = ""
    WHAT = ""  # the task manager's description: "SITS: <WHAT> of <name>"

    def __init__(
        self,
        name: str,
        lon: float,
        lat: float,
        choices: dict[str, str],
        folder: Path,
        done: Callable[[Any], None],
    ) -> None:
        self.name, self.lon, self.lat = name, lon, lat
        self.choices = choices
        self.folder = folder
        self.done = done
        self.error = ""
        self.context = QgsProcessingContext()
        self.feedback = _Feedback()
        self.task: QgsProcessingAlgRunnerTask | None = None

    def parameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def finished(self) -> None:
        """Read the outputs of a successful run (``error`` if they hold nothing)."""
        raise NotImplementedError

    def start(self) -> None:
        """Run the algorithm as a background task."""
        algorithm = QgsApplication.processingRegistry().createAlgorithmById(self.ALGORITHM)
        self.context.setProject(QgsProject.instance())
        self.task = QgsProcessingAlgRunnerTask(
            algorithm, self.parameters(), self.context, self.feedback
        )
        self.task.setDescription(f"SITS: {self.WHAT} of {self.name}")
        self.task.executed.connect(self._executed)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _executed(self, successful: bool, results: dict) -> None:
        if successful:
            self.finished()
        elif self.feedback.isCanceled():
            self.error = "cancelled"
        else:
            self.error = self.feedback.errors[-1] if self.feedback.errors else "the run failed"
        self.task = None
        self.done(self)

    def where(self) -> str:
        return f"{self.lat:.5f}, {self.lon:.5f}"


class PixelExtraction(BackgroundRun):
    """One click's series, extracted by ``sits:extracttimeseries``."""

    ALGORITHM = ALGORITHM
    WHAT = "series"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.series: FeatureSeries | None = None
        self.columns: list[str] = []
        self.marker: Any = None  # where it was clicked, on the map (the dock's)
        self.number = 0  # the dock's count of clicks

    def parameters(self) -> dict[str, Any]:
        """``sits:extracttimeseries``'s parameters for this click."""
        chosen = {k: v for k, v in self.choices.items() if v != "" or k in ("INDICES",)}
        return {
            **chosen,
            "GAPFILL": int(self.choices.get("GAPFILL") or 0),
            "INPUT": point_file(
                self.folder / f"{self.name}.geojson", self.name, self.lon, self.lat
            ),
            "ID_FIELD": "name",
            "OUTPUT": str(self.folder / f"{self.name}.csv"),
            "OUTPUT_LAYER": str(self.folder / f"{self.name}.gpkg"),
        }

    def finished(self) -> None:
        layer = QgsVectorLayer(str(self.folder / f"{self.name}.gpkg"), self.name, "ogr")
        self.columns = value_columns(layer)
        found = read_series(layer, [self.name], self.columns) if layer.isValid() else []
        self.series = found[0] if found and found[0].dates else None
        if self.series is None:
            self.error = f"no image of the catalogue covers {self.where()} in these dates"


class SceneSearch(BackgroundRun):
    """The scenes of one date at a clicked place, found by ``sits:searchstac`` with the
    click's catalogue and collection: their footprints, each with its item."""

    ALGORITHM = "sits:searchstac"
    WHAT = "scene"

    def __init__(self, *args: Any, day: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.day = day
        self.footprints: list[Any] = []  # QgsFeature, the first in the catalogue's order

    def parameters(self) -> dict[str, Any]:
        kept = ("STAC_URL", "AUTHCFG", "COLLECTION")
        return {
            **{k: v for k, v in self.choices.items() if k in kept and v != ""},
            "INPUT": point_file(
                self.folder / f"{self.name}-scene.geojson", self.name, self.lon, self.lat
            ),
            "START_DATE": self.day,
            "END_DATE": self.day,
            "OUTPUT": str(self.folder / f"{self.name}-{self.day}.gpkg"),
        }

    def finished(self) -> None:
        layer = QgsVectorLayer(str(self.folder / f"{self.name}-{self.day}.gpkg"), "s", "ogr")
        self.footprints = list(layer.getFeatures()) if layer.isValid() else []
        if not self.footprints:
            self.error = f"the catalogue has no scene at {self.where()} on {self.day}"
