"""``sits:searchstac``: the items a run would use, as footprints, to check coverage."""

from __future__ import annotations

import json
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDateTime, Qt

from sits_qgis.redact import shown_url

from .base import help_text
from .fields import FieldType, new_fields
from .result_layers import FootprintStyle, post_process
from .settings import http_settings
from .timeseries_base import TimeSeriesAlgorithm

HELP = help_text(
    """
Searches a STAC catalogue once, over the features of a layer or over an extent, between
two dates (whole days) and below a scene cloud cover, and returns the items found as
footprints: id, date, cloud cover, platform, CRS, processing baseline and asset keys,
in date order. Loaded from the toolbox, the layer is temporal (each footprint at its
date, for the Temporal Controller) and drawn as outlines; its action "Add this scene to
the map" shows a footprint's image in true colour.

Run it before an extraction to see which images and dates a run will use and whether
every feature is covered. The cloud filter is sent to the server when it declares the
query or filter extension and is always checked again on the items.
"""
)

WGS84 = "EPSG:4326"


class SearchStacAlgorithm(TimeSeriesAlgorithm):
    NAME = "searchstac"
    DISPLAY_NAME = "Search a STAC catalogue (footprints)"
    HELP = HELP
    HELP_ANCHOR = "search-a-stac-catalogue"

    EXTENT = "EXTENT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.INPUT,
                self.tr("Search over the features of this layer"),
                [QgsProcessing.SourceType.TypeVectorAnyGeometry],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterExtent(self.EXTENT, self.tr("Or over this extent"), optional=True)
        )
        self.add_search_parameters()
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Item footprints"), QgsProcessing.SourceType.TypeVectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputNumber("ITEMS", self.tr("Items found")))

    def envelopes(self, parameters: dict[str, Any], context: Any) -> list[tuple[float, ...]]:
        """EPSG:4326 envelopes of the layer's features, or of the extent."""
        wgs84 = QgsCoordinateReferenceSystem(WGS84)
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is not None:
            transform = QgsCoordinateTransform(
                source.sourceCrs(), wgs84, context.transformContext()
            )
            boxes = []
            for feature in source.getFeatures():
                geometry = feature.geometry()
                if geometry.isNull():
                    continue
                geometry.transform(transform)
                box = geometry.boundingBox()
                boxes.append((box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()))
            if not boxes:
                raise QgsProcessingException("INPUT: the layer has no feature with a geometry.")
            return boxes
        if parameters.get(self.EXTENT):
            box = self.parameterAsExtent(parameters, self.EXTENT, context, wgs84)
            return [(box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())]
        raise QgsProcessingException("INPUT: give a layer or an EXTENT to search over.")

    def processAlgorithm(self, parameters: dict[str, Any], context: Any, feedback: Any) -> dict:
        start, end = self.dates(parameters, context)
        stac_url = self.parameterAsString(parameters, self.STAC_URL, context)
        collection = self.parameterAsString(parameters, self.COLLECTION, context).strip()
        authcfg = self.parameterAsString(parameters, self.AUTHCFG, context)
        result = self.run_engine(
            feedback,
            "search",
            {
                "stac_url": stac_url,
                "collection": collection,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "envelopes": self.envelopes(parameters, context),
                "max_cloud": self.parameterAsDouble(parameters, self.MAX_CLOUD, context),
                "headers": self.credentials(parameters, context)["headers"],
                "http": http_settings(),
            },
        )
        fields = new_fields(
            [
                ("id", FieldType.STRING),
                ("datetime", FieldType.DATETIME),
                ("cloud_cover", FieldType.DOUBLE),
                ("platform", FieldType.STRING),
                ("crs", FieldType.STRING),
                ("processing_baseline", FieldType.STRING),
                ("assets", FieldType.STRING),
                # what showing a scene needs (ui/scene_layers.py): the catalogue (never
                # with credentials written into its URL), the configuration's id, the item
                ("stac_url", FieldType.STRING),
                ("collection", FieldType.STRING),
                ("authcfg", FieldType.STRING),
                ("item", FieldType.STRING),
            ]
        )
        sink, dest = self.parameterAsSink(
            parameters,
            self.OUTPUT,
            context,
            fields,
            QgsWkbTypes.Type.MultiPolygon,
            QgsCoordinateReferenceSystem(WGS84),
        )
        if sink is None:
            raise QgsProcessingException("OUTPUT: the footprint layer cannot be created.")
        post_process(context, dest, FootprintStyle())
        for item in sorted(result["items"], key=acquired):
            feature = QgsFeature(fields)
            feature.setAttributes(
                [
                    item["id"],
                    QDateTime.fromString(item["datetime"] or "", Qt.DateFormat.ISODate),
                    item["cloud_cover"],
                    item["platform"],
                    item["crs"],
                    item["processing_baseline"],
                    item["assets"],
                    shown_url(stac_url),
                    collection,
                    authcfg,
                    json.dumps(item["item"]),
                ]
            )
            geometry = QgsGeometry.fromWkt(item["wkt"] or "")
            geometry.convertToMultiType()
            feature.setGeometry(geometry)
            self.add_feature(sink, feature, parameters, self.OUTPUT)
        feedback.pushInfo(
            f"{len(result['items'])} items; cloud filter: {result['cloud_filter']};"
            f" {result['dropped_by_client']} removed by the client-side check."
        )
        return {self.OUTPUT: dest, "ITEMS": len(result["items"])}


def acquired(item: dict[str, Any]) -> tuple[bool, int, str]:
    """The order of the footprints: by date (those without one last), then id, so that
    the attribute table and the Temporal Controller go through them in time."""
    when = QDateTime.fromString(item["datetime"] or "", Qt.DateFormat.ISODate)
    return (not when.isValid(), when.toMSecsSinceEpoch() if when.isValid() else 0, item["id"])
