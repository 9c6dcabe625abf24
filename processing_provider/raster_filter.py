"""Algorithm ``sits:rasterfilter``: a neighbourhood filter written as a new raster."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from sits_qgis.choices import FILTERS, labels, values

from .base import Cancelled, TiledRasterAlgorithm, raster_file, with_decimals
from .result_layers import RasterLikeInput, post_process

HELP = "<br><br>".join(
    [
        (
            "Filters a raster with a moving window, tile by tile in worker processes, so "
            "that rasters larger than memory can be filtered. The result is bit-identical "
            "to the same filter applied to the whole raster in memory, whatever the chunk "
            "size or the number of workers."
        ),
        (
            "<b>Definition</b>: pixels outside the raster and nodata (or NaN) pixels are "
            "missing. Each output pixel is the filter over the valid pixels of its window: "
            "maximum, minimum, mean, median (the mean of the two middle values when their "
            "number is even, rounded for integer rasters) or population standard deviation "
            "of a SIZE x SIZE window; for the gaussian, the weighted mean of the valid "
            "pixels with weights from a Gaussian of SIGMA pixels (window of "
            "2 x round(4 x SIGMA) + 1 pixels, as SciPy), renormalised over them. A window "
            "without a valid pixel gives nodata, and a nodata input pixel stays nodata."
        ),
        (
            "<b>Output</b>: a tiled, ZSTD-compressed GeoTIFF (BigTIFF when needed, "
            "optionally Cloud-Optimized) with the input's size, CRS, geotransform, band "
            "order and band descriptions. Maximum, minimum and median keep the input's "
            "data type; the others give float32 (float64 for float64 input). Nodata is the "
            "input's; an input without nodata gets NaN (float output) or the type's lowest "
            "value (integer output). The file appears only when it is complete."
        ),
        "<b>Band</b>: 0 filters every band. <b>Chunk size</b>: pixels per tile side.",
    ]
)


class RasterFilterAlgorithm(TiledRasterAlgorithm):
    """GeoUtils' ``map_overlap_multiproc_save`` with its filters, exact and bounded."""

    NAME = "rasterfilter"
    DISPLAY_NAME = "Tiled raster filter"
    HELP = HELP
    HELP_ANCHOR = "tiled-raster-filter"

    FILTER = "FILTER"
    SIZE = "SIZE"
    SIGMA = "SIGMA"
    COG = "COG"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Raster")))
        self.addParameter(
            QgsProcessingParameterBand(
                self.BAND, self.tr("Band (0 = every band)"), 0, self.INPUT, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.FILTER,
                self.tr("Filter"),
                [self.tr(label) for label in labels(FILTERS)],
                False,
                0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.SIZE,
                self.tr("Window size (pixels, odd)"),
                QgsProcessingParameterNumber.Type.Integer,
                3,
                minValue=3,
            )
        )
        self.addParameter(
            with_decimals(
                QgsProcessingParameterNumber(
                    self.SIGMA,
                    self.tr("Gaussian sigma (pixels)"),
                    QgsProcessingParameterNumber.Type.Double,
                    1.0,
                ),
                2,
            )
        )
        self.add_chunk_size_parameter()
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.COG, self.tr("Write a Cloud-Optimized GeoTIFF"), False
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Filtered raster"))
        )

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        layer = raster_file(self, parameters, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if not output.lower().endswith((".tif", ".tiff")):
            raise QgsProcessingException(
                f"{self.OUTPUT}: the output is written as a GeoTIFF; give a .tif file name."
            )
        kind = values(FILTERS)[self.parameterAsEnum(parameters, self.FILTER, context)]
        size = self.parameterAsInt(parameters, self.SIZE, context)
        sigma = self.parameterAsDouble(parameters, self.SIGMA, context)
        band = self.parameterAsInt(parameters, self.BAND, context)
        chunk_size = self.parameterAsInt(parameters, self.CHUNK_SIZE, context)
        cog = self.parameterAsBool(parameters, self.COG, context)

        try:
            self.run_engine(
                feedback,
                "raster_filter",
                {
                    "path": layer.source(),
                    "output": output,
                    "filter": kind,
                    "size": size,
                    "sigma": sigma,
                    "band": band,
                    "chunk_size": chunk_size,
                    "cog": cog,
                },
            )
        except Cancelled:  # a failure everywhere: qgis_process exits non-zero
            raise QgsProcessingException("Cancelled: no output was written.") from None
        post_process(context, output, RasterLikeInput(layer))
        return {self.OUTPUT: output}
