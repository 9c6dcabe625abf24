"""Algorithm ``sits:rasterstatistics``: exact statistics of a raster band, tile by tile."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsWkbTypes,
)

from sits_qgis.choices import RASTER_STATISTICS

from .base import Cancelled, TiledRasterAlgorithm, raster_file
from .fields import FieldType, new_fields
from .result_layers import StatisticsLayerStyle, post_process
from .statistics_report import write_statistics_html

#: Fields of the tile layer: (name, type, key of the engine's tile statistics).
TILE_FIELDS = (
    ("row_min", FieldType.INT, None),
    ("row_max", FieldType.INT, None),
    ("col_min", FieldType.INT, None),
    ("col_max", FieldType.INT, None),
    ("total", FieldType.INT, "total_count"),
    ("count", FieldType.INT, "count"),
    ("valid_pct", FieldType.DOUBLE, None),
    ("mean", FieldType.DOUBLE, "mean"),
    ("median", FieldType.DOUBLE, "median"),
    ("min", FieldType.DOUBLE, "minimum"),
    ("max", FieldType.DOUBLE, "maximum"),
    ("std", FieldType.DOUBLE, "std"),
    ("sum", FieldType.DOUBLE, "sum"),
)

HELP = "<br><br>".join(
    [
        (
            "Exact statistics of the valid pixels of one raster band, computed tile by tile in "
            "worker processes, so that rasters larger than memory can be summarised."
        ),
        (
            "Valid pixels are those that are neither the raster's nodata value nor NaN. The "
            "results are the numbers numpy would give on the whole band in memory: minimum, "
            "maximum, counts, median and percentiles exactly (the median and percentiles are "
            "found without approximation, unlike tiled tools that can only average per-tile "
            "results), mean, sum and standard deviation to floating-point precision."
        ),
        (
            "<b>Band</b>: the band to summarise (1 = first). <b>Chunk size</b>: width and height "
            "of a tile, in pixels. Tiles are moved onto the raster's storage blocks where that "
            "speeds up reading. Memory use depends on the chunk size and the number of workers, "
            "not on the raster's size. <b>Tiles</b> (optional): one polygon per tile with its "
            "pixel window and its own statistics, to see where values come from."
        ),
        (
            "Where the work runs (local worker processes, threads, or an existing dask cluster) "
            "is set in Settings > Options > Processing > Providers > SITS."
        ),
        (
            "Outputs: MEAN, MEDIAN, MIN, MAX, SUM, SUM_SQUARES, STD (population), COUNT (valid "
            "pixels), TOTAL_COUNT, VALID_PERCENT, P90, IQR (P75 - P25), NMAD (1.4826 x median "
            "absolute deviation from the median), RMSE (root mean square of the values). When no "
            "pixel is valid, the statistics are absent and the counts are 0. <b>Statistics "
            "table</b>: the same numbers rounded for reading, as a page the dialog opens in "
            "its Results Viewer."
        ),
    ]
)


class RasterStatisticsAlgorithm(TiledRasterAlgorithm):
    """GeoUtils' ``map_multiproc_collect`` + ``get_stats``, exact and in QGIS."""

    NAME = "rasterstatistics"
    DISPLAY_NAME = "Tiled raster statistics"
    HELP = HELP
    HELP_ANCHOR = "tiled-raster-statistics"

    OUTPUT_TILES = "OUTPUT_TILES"
    OUTPUT_HTML = "OUTPUT_HTML"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Raster")))
        self.addParameter(QgsProcessingParameterBand(self.BAND, self.tr("Band"), 1, self.INPUT))
        self.add_chunk_size_parameter()
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_TILES,
                self.tr("Tiles with their statistics"),
                QgsProcessing.SourceType.TypeVectorPolygon,
                optional=True,
                createByDefault=False,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_HTML,
                self.tr("Statistics table"),
                self.tr("HTML files (*.html)"),
                optional=True,
                createByDefault=True,
            )
        )
        for name, description in RASTER_STATISTICS:
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(description)))

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        layer = raster_file(self, parameters, context)
        band = self.parameterAsInt(parameters, self.BAND, context)
        chunk_size = self.parameterAsInt(parameters, self.CHUNK_SIZE, context)
        with_tiles = parameters.get(self.OUTPUT_TILES) is not None
        if chunk_size >= max(layer.width(), layer.height()):
            feedback.pushWarning(
                f"{self.CHUNK_SIZE} {chunk_size} is as large as the raster"
                f" ({layer.width()} x {layer.height()} pixels): it is processed as one"
                " tile, in one worker."
            )

        try:
            stats = self.run_engine(
                feedback,
                "raster_statistics",
                {
                    "path": layer.source(),
                    "band": band,
                    "chunk_size": chunk_size,
                    "with_tiles": with_tiles,
                },
            )
        except Cancelled:  # a failure everywhere: qgis_process exits non-zero
            raise QgsProcessingException("Cancelled: no statistics.") from None

        results: dict[str, Any] = dict(stats["values"])
        if results["COUNT"] == 0:
            feedback.pushWarning(
                f"Band {band} has no valid pixel (every pixel is nodata or NaN): the"
                " statistics are absent and the counts are 0."
            )
        for name, description in RASTER_STATISTICS:
            feedback.pushInfo(f"{description} ({name}): {results[name]}")
        html = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        if html:
            rows = [(self.tr(description), name, results[name])
                    for name, description in RASTER_STATISTICS]  # fmt: skip
            write_statistics_html(html, f"{layer.name()}, band {band}", rows)
            results[self.OUTPUT_HTML] = html
        if with_tiles:
            magnitude = max(abs(results[name] or 0) for name in ("MIN", "MAX"))
            results[self.OUTPUT_TILES] = self._write_tiles(
                parameters, context, layer, stats["tiles"], stats["transform"], magnitude
            )
        return results

    def _write_tiles(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        layer: Any,
        tiles: list[dict[str, Any]],
        transform: list[float],
        magnitude: float,
    ) -> str:
        """One polygon per tile, in the raster's CRS, with its window and statistics
        (shown to as many decimals as numbers of ``magnitude`` need)."""
        fields = new_fields((name, kind) for name, kind, _ in TILE_FIELDS)
        sink, dest_id = self.parameterAsSink(
            parameters, self.OUTPUT_TILES, context, fields, QgsWkbTypes.Type.Polygon, layer.crs()
        )
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_TILES))
        decimal_fields = [name for name, kind, _ in TILE_FIELDS if kind == FieldType.DOUBLE]
        post_process(context, dest_id, StatisticsLayerStyle("mean", decimal_fields, magnitude))
        a, b, c, d, e, f = transform

        def corner(row: int, col: int) -> QgsPointXY:
            return QgsPointXY(c + col * a + row * b, f + col * d + row * e)

        for tile in tiles:
            feature = QgsFeature(fields)
            ring = [
                corner(tile["row"], tile["col"]),
                corner(tile["row"], tile["col_end"]),
                corner(tile["row_end"], tile["col_end"]),
                corner(tile["row_end"], tile["col"]),
            ]
            feature.setGeometry(QgsGeometry.fromPolygonXY([ring]))
            values = {
                "row_min": tile["row"],
                "row_max": tile["row_end"],
                "col_min": tile["col"],
                "col_max": tile["col_end"],
                "valid_pct": 100.0 * tile["count"] / tile["total_count"],
            }
            feature.setAttributes(
                [values[name] if key is None else tile[key] for name, _, key in TILE_FIELDS]
            )
            self.add_feature(sink, feature, parameters, self.OUTPUT_TILES)
        return dest_id
