"""What every algorithm of the provider shares: names, help, and running the engine.

Algorithms stay thin: they read parameters into one engine request (plain data), hand
it to the engine process through ``run_engine`` (progress, cancel, log lines and
user-facing errors come back), and declare outputs.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

from sits_qgis.errors import Cancelled as EngineCancelled

from . import engine

HELP_URL = "https://github.com/sits-qgis/sits-qgis#{anchor}"


def help_text(text: str) -> str:
    """Help written as wrapped paragraphs (blank line between them) as the rich text
    Processing shows: lines joined, paragraphs separated by ``<br><br>``."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "<br><br>".join(paragraphs)


class Cancelled(Exception):
    """The user cancelled; the algorithm returns without outputs."""


def remove_output(destination: str) -> bool:
    """Delete a vector output's file (``path`` or ``path|layername=...``) and its
    GeoPackage side files, once its sink is closed: a run that did not finish must not
    leave a file that looks complete. Memory layers and missing files: ``False``."""
    path = destination.split("|", 1)[0]
    if not os.path.isfile(path):
        return False
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            os.remove(name)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def with_decimals(parameter: QgsProcessingParameterNumber, decimals: int) -> Any:
    """A decimal ``parameter`` whose dialog field shows ``decimals`` digits after the
    point: QGIS shows six by default ("100.000000" for a cloud cover of 100)."""
    metadata = dict(parameter.metadata())
    metadata["widget_wrapper"] = {**metadata.get("widget_wrapper", {}), "decimals": decimals}
    parameter.setMetadata(metadata)
    return parameter


#: Destinations that are not files of this machine: left to their providers.
NOT_FILES = ("TEMPORARY_OUTPUT", "memory:", "ogr:", "postgres:", "postgis:", "spatialite:")


def destination_problem(name: str, value: Any) -> str:
    """What is wrong with a file destination's folder, in the parameter's name: QGIS
    itself says only "Could not create layer ... (OGR error: ...)" once the run has
    started, without the parameter. Empty when the folder can take the file."""
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink.staticValue()
    path = str(value or "").split("|", 1)[0].strip()
    if not path or path.startswith(NOT_FILES) or "://" in path:
        return ""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"{name}: the folder {folder} does not exist; choose a file in an existing folder."
    if not os.access(folder, os.W_OK):
        return f"{name}: the folder {folder} cannot be written to; choose another folder."
    return ""


#: A parameter's id where a message names it: ``END_DATE: ...`` (not ``(END_DATE)``).
PARAMETER_ID = re.compile(r"(?<![\w(])([A-Z][A-Z0-9_]*):")
#: Where a label's explanation starts: its parentheses, an example, or a colon.
EXPLANATION = re.compile(r" \(|, e\.g\.|: ")


def short_label(description: str) -> str:
    """A parameter's label without its explanation, for messages: "Start date" for
    "Start date (whole day included)", "Grid CRS" for "Grid CRS, e.g. EPSG:3035 (...)"."""
    return EXPLANATION.split(description, maxsplit=1)[0].strip() or description


def labelling_errors(process: Callable[..., Any]) -> Callable[..., Any]:
    """``processAlgorithm`` whose errors name parameters by label (``labelled``)."""

    @functools.wraps(process)
    def run(self: SitsAlgorithm, parameters: Any, context: Any, feedback: Any) -> Any:
        try:
            return process(self, parameters, context, feedback)
        except QgsProcessingException as exc:
            # a plain QgsProcessingException: QGIS prints a traceback for subclasses
            raise QgsProcessingException(self.labelled(str(exc))) from None

    run.labels_errors = True  # type: ignore[attr-defined]
    return run


class SitsAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set the class attributes and define the parameters.

    Messages name a parameter as the dialog shows it, with its id for scripts and
    searches: "End date (END_DATE): ...". The engine and the checks write the id
    alone (``END_DATE: ...``, the engine knows no labels); every algorithm's
    ``processAlgorithm`` errors and ``checkParameterValues`` messages are turned into
    labels here, in one place (``__init_subclass__`` wraps each ``processAlgorithm``).
    """

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    HELP = ""
    HELP_ANCHOR = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        process = cls.__dict__.get("processAlgorithm")
        if process is not None and not getattr(process, "labels_errors", False):
            cls.processAlgorithm = labelling_errors(process)

    def labelled(self, message: str) -> str:
        """``message`` with each ``ID:`` of this algorithm's parameters as ``Label (ID):``."""

        def label(match: re.Match) -> str:
            definition = self.parameterDefinition(match.group(1))
            if definition is None:
                return match.group(0)
            return f"{short_label(definition.description())} ({match.group(1)}):"

        return PARAMETER_ID.sub(label, message)

    def add_feature(
        self, sink: QgsFeatureSink, feature: QgsFeature, parameters: dict[str, Any], name: str
    ) -> None:
        """Write one feature, or stop the run: a sink that refuses a feature (a full disk,
        a value its format cannot hold) must not leave an output presented as complete."""
        if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
            raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))

    def tr(self, text: str) -> str:
        return QCoreApplication.translate(type(self).__name__, text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(self.GROUP)

    def groupId(self) -> str:
        return self.GROUP_ID

    def shortHelpString(self) -> str:
        return self.tr(self.HELP)

    def helpUrl(self) -> str:
        return HELP_URL.format(anchor=self.HELP_ANCHOR)

    def createInstance(self) -> SitsAlgorithm:
        return type(self)()

    #: Whether the algorithm needs the engine (the set-up itself does not).
    NEEDS_ENGINE = True

    def checkParameterValues(self, parameters: dict[str, Any], context: Any) -> tuple[bool, str]:
        """The checks of ``check_values``, their message naming parameters by label."""
        ok, message = self.check_values(parameters, context)
        return ok, self.labelled(message)

    def check_values(self, parameters: dict[str, Any], context: Any) -> tuple[bool, str]:
        """QGIS's own checks, then the engine: without one, the dialog says how to set it
        up before anything starts (and qgis_process and processing.run stop there too)."""
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            for definition in self.destinationParameterDefinitions():
                if isinstance(definition, QgsProcessingParameterFolderDestination):
                    continue  # made by the run if missing
                problem = destination_problem(definition.name(), parameters.get(definition.name()))
                if problem:
                    return False, problem
        if ok and self.NEEDS_ENGINE:
            problem = engine.engine_status().problem
            if problem:
                return False, problem
        return ok, message

    def run_engine(
        self,
        feedback: QgsProcessingFeedback,
        op: str,
        params: dict[str, Any],
        on_event: Callable[[str, Any], None] | None = None,
    ) -> Any:
        """Run ``op`` in the engine process with the backend of the settings: progress
        and log lines reach ``feedback``, streamed results ``on_event``; a cancel raises
        ``Cancelled``, engine errors ``QgsProcessingException`` in the user's words."""
        try:
            return engine.call(op, params, feedback, on_event)
        except EngineCancelled:
            raise Cancelled() from None


class TiledRasterAlgorithm(SitsAlgorithm):
    """What the tiled raster algorithms share: their group and the parameters every one
    of them takes (INPUT, BAND, CHUNK_SIZE)."""

    GROUP = "Tiled rasters"
    GROUP_ID = "tiledrasters"

    INPUT = "INPUT"
    BAND = "BAND"
    CHUNK_SIZE = "CHUNK_SIZE"

    def add_chunk_size_parameter(self) -> None:
        """CHUNK_SIZE, as every tiled algorithm takes it."""
        from sits_qgis.tiling.tiles import MIN_CHUNK_SIZE  # plain Python

        self.addParameter(
            QgsProcessingParameterNumber(
                self.CHUNK_SIZE,
                self.tr("Chunk size (pixels per tile side)"),
                QgsProcessingParameterNumber.Type.Integer,
                512,
                minValue=MIN_CHUNK_SIZE,
            )
        )


def raster_file(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: Any
) -> QgsRasterLayer:
    """The INPUT raster layer, refused unless it is a file GDAL can read (the engine
    reads it in worker processes, by path)."""
    layer = algorithm.parameterAsRasterLayer(parameters, "INPUT", context)
    if layer is None or not layer.isValid():
        raise QgsProcessingException(
            "INPUT: the raster cannot be opened. Choose a raster layer or file that QGIS"
            " can display."
        )
    if layer.providerType() != "gdal":
        raise QgsProcessingException(
            f"INPUT: '{layer.name()}' is a '{layer.providerType()}' layer; this algorithm"
            " reads raster files (GDAL layers). Save it as a GeoTIFF first."
        )
    return layer
