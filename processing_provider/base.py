"""What every algorithm of the provider shares: names, help, and running the engine.

Algorithms stay thin: they read parameters, call the engine through ``run_engine``
(which brings the backend from the settings, progress, cancel and user-facing errors),
and declare outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterNumber,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

from .settings import backend_config

HELP_URL = "https://github.com/sits-qgis/sits-qgis#{anchor}"


def help_text(text: str) -> str:
    """Help written as wrapped paragraphs (blank line between them) as the rich text
    Processing shows: lines joined, paragraphs separated by ``<br><br>``."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "<br><br>".join(paragraphs)


class Cancelled(Exception):
    """The user cancelled; the algorithm returns without outputs."""


class SitsAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set the class attributes and define the parameters."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    HELP = ""
    HELP_ANCHOR = ""

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

    def start_engine_soon(self, warm_imports: Sequence[str]) -> None:
        """Start the backend of the settings in the background while the algorithm
        prepares its run (its workers importing ``warm_imports``); ``run_engine`` waits
        for it and reports any error it met."""
        with engine_errors():
            from sits_qgis.backend import start_backend_soon

            start_backend_soon(backend_config(), warm_imports)

    def run_engine(self, feedback: QgsProcessingFeedback, call: Callable[..., Any]) -> Any:
        """Run ``call(backend=..., progress=..., is_cancelled=...)`` with the backend of
        the settings; engine errors become ``QgsProcessingException`` messages."""
        with engine_errors():
            from sits_qgis.backend import get_backend

            backend = get_backend(backend_config())
            return call(
                backend=backend, progress=feedback.setProgress, is_cancelled=feedback.isCanceled
            )


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
        from sits_qgis.tiling.grid import MIN_CHUNK_SIZE

        self.addParameter(
            QgsProcessingParameterNumber(
                self.CHUNK_SIZE,
                self.tr("Chunk size (pixels per tile side)"),
                QgsProcessingParameterNumber.Integer,
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


@contextmanager
def engine_errors() -> Iterator[None]:
    """Turn the engine's errors into messages for the Processing log, never a traceback.

    A cancel raises ``Cancelled`` (callers return no outputs); a user error keeps its
    words and names its parameter; anything unexpected is reported with its type.
    """
    from sits_qgis.errors import Cancelled as EngineCancelled
    from sits_qgis.errors import SitsError

    from .native_libraries import load_isolated

    load_isolated()
    try:
        yield
    except EngineCancelled:
        raise Cancelled() from None
    except SitsError as exc:
        where = f"{exc.parameter}: " if exc.parameter else ""
        raise QgsProcessingException(f"{where}{exc}") from None
    except QgsProcessingException:
        raise
    except Exception as exc:  # a bug or an environment problem: say what, not where
        raise QgsProcessingException(
            f"Unexpected error ({type(exc).__name__}): {exc}. Please report it with the"
            " Processing log."
        ) from None
