"""A scene of a search on the map: the image behind a footprint, in true colour.

The footprints of *Search a STAC catalogue* say which images a run will read; seeing one
tells whether its clouds, its edge or its date are what the extraction will meet. The
engine names each band's file as the extraction reads it (the profile's band names, an
https alternate, a signed address: ``scene_sources``), and QGIS's own GDAL reads them
through ``/vsicurl/`` (or ``/vsis3/``): nothing is downloaded but the blocks drawn.

Credentials stay in memory, as for a run: AUTHCFG's headers or keys are set as GDAL
options of these files' paths only, and the virtual raster that stacks the bands (it
names the signed addresses) lives in GDAL's memory file system. So the layer lasts
for the session; a signed address expires after about an hour (Planetary Computer's
tokens), after which the scene is added again from its footprint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from qgis.core import (
    Qgis,
    QgsDateTimeRange,
    QgsFeature,
    QgsMapLayer,
    QgsMessageLog,
    QgsProcessingException,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDateTime, Qt

from sits_qgis.redact import without_queries

from ..processing_provider import engine
from ..processing_provider.settings import access_settings
from ..processing_provider.timeseries_base import auth_credentials

TRUE_COLOUR = ("red", "green", "blue")
#: The fields of a footprint that showing its scene needs (``sits:searchstac`` writes them).
SCENE_FIELDS = ("item", "stac_url", "collection", "authcfg")
VRT_FOLDER = "/vsimem/sits_scenes"
#: GDAL versions (as ``VERSION_NUM``) that take options for one path: S3 keys from
#: 3.6, HTTP options (credential headers among them) from 3.7.
PATH_S3_OPTIONS_SINCE = 3060000
PATH_OPTIONS_SINCE = 3070000
#: The options that carry credentials (AUTHCFG's headers or S3 secret key).
CREDENTIALS = ("GDAL_HTTP_HEADERS", "AWS_SECRET_ACCESS_KEY")
#: More selected footprints than this are not all added at once (each opens its files).
MAX_SCENES = 10


class SceneError(Exception):
    """Why a scene cannot be shown, in the user's words."""


def add_scene(
    item: dict[str, Any],
    stac_url: str,
    collection: str,
    bands: Sequence[str] = TRUE_COLOUR,
    authcfg: str = "",
    project: QgsProject | None = None,
) -> QgsRasterLayer:
    """Add ``item``'s ``bands`` (three: an RGB composite; one: a grey band) to
    ``project`` as a raster layer at the item's date for the Temporal Controller."""
    credentials = auth_credentials(authcfg)
    access = access_settings()
    sources = engine.call(
        "scene_sources",
        {
            "item": item,
            "stac_url": stac_url,
            "collection": collection,
            "bands": list(bands),
            "headers": credentials["headers"],
            "s3": credentials["s3"],
            "credential_hosts": access["credential_hosts"],
            "local_files": access["local_files"],
        },
    )
    paths = [readable(source["path"], source["options"]) for source in sources]
    name = f"{item.get('id')} ({', '.join(bands)})"
    labels = [f"{source['band']} ({source['asset']})" for source in sources]
    layer = QgsRasterLayer(stacked(paths, labels, name), name, "gdal")
    if not layer.isValid():
        problem = without_queries(layer.error().summary())
        raise SceneError(f"The scene {item.get('id')} cannot be read: {problem}")
    at_its_date(layer, item)
    (project or QgsProject.instance()).addMapLayer(layer)
    return layer


def readable(path: str, options: dict[str, str]) -> str:
    """``path``, with the GDAL options it is read with (timeouts, retries, and the
    credentials for the hosts that may get them) set for that file alone, not for
    every file QGIS reads. A GDAL that takes such options only for ``/vsis3/``
    (3.6) or not at all could send credentials to any server: it is not given them."""
    from osgeo import gdal

    version = int(gdal.VersionInfo("VERSION_NUM"))
    if version < (PATH_S3_OPTIONS_SINCE if path.startswith("/vsis3/") else PATH_OPTIONS_SINCE):
        if any(key in options for key in CREDENTIALS):
            raise SceneError(
                "This catalogue's files need AUTHCFG's credentials, which QGIS's GDAL"
                f" ({gdal.__version__}) could only send to every server it reads: showing"
                " its scenes needs GDAL 3.7 or later. Extractions read them as usual."
            )
        return path
    prefix = path.split("?", 1)[0]
    for key, value in options.items():
        gdal.SetPathSpecificOption(prefix, key, value)
    return path


def stacked(paths: list[str], labels: list[str], name: str) -> str:
    """A virtual raster in GDAL's memory with one band per path, in order, each
    described by its label (QGIS's legend and band lists show it)."""
    from osgeo import gdal

    vrt = f"{VRT_FOLDER}/{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.vrt"
    built = gdal.BuildVRT(vrt, paths, separate=True)
    if built is None:
        problem = without_queries(gdal.GetLastErrorMsg())  # no signature in messages
        raise SceneError(f"The scene's files cannot be read: {problem}")
    for number, label in enumerate(labels, start=1):
        built.GetRasterBand(number).SetDescription(label)
    built = None  # written to memory when closed
    return vrt


def at_its_date(layer: QgsRasterLayer, item: dict[str, Any]) -> None:
    """Make ``layer`` temporal at the item's acquisition (its ``datetime``, or its
    ``start_datetime`` to ``end_datetime``), so the Temporal Controller shows it
    with the footprint and the series rows of that date."""
    properties = item.get("properties") or {}

    def moment(key: str) -> QDateTime:
        return QDateTime.fromString(str(properties.get(key) or ""), Qt.DateFormat.ISODate)

    start = end = moment("datetime")
    if not start.isValid():
        start, end = moment("start_datetime"), moment("end_datetime")
    if not start.isValid():
        return
    temporal = layer.temporalProperties()
    temporal.setMode(Qgis.RasterTemporalMode.FixedTemporalRange)
    temporal.setFixedTemporalRange(QgsDateTimeRange(start, end if end.isValid() else start))
    temporal.setIsActive(True)


def scene_of(feature: QgsFeature) -> dict[str, Any]:
    """``add_scene``'s arguments from a footprint of ``sits:searchstac``."""
    names = feature.fields().names()
    if not all(name in names for name in SCENE_FIELDS):
        raise SceneError(
            "This layer is not a footprint layer of 'Search a STAC catalogue' (or was made"
            " by an earlier version of the plugin): run the search again to add scenes."
        )
    return {
        "item": json.loads(feature["item"]),
        "stac_url": feature["stac_url"],
        "collection": feature["collection"],
        "authcfg": feature["authcfg"] or "",
    }


def add_selected_scenes(iface: Any, bands: Sequence[str] = TRUE_COLOUR) -> list[QgsRasterLayer]:
    """The plugin menu's *Add the selected scenes*: the scenes of the selected
    footprints of the active layer (the first ``MAX_SCENES``); a problem is said in
    the message bar."""
    layer: QgsMapLayer | None = iface.activeLayer()
    try:
        if not isinstance(layer, QgsVectorLayer) or not layer.selectedFeatureCount():
            raise SceneError(
                "Select one or more footprints of a 'Search a STAC catalogue' layer (the"
                " active layer) to add their scenes."
            )
        features = sorted(layer.selectedFeatures(), key=lambda f: f.id())[:MAX_SCENES]
        return [add_scene(**scene_of(f), bands=bands) for f in features]
    except (SceneError, QgsProcessingException) as exc:
        say(iface, str(exc))
        return []


def add_scene_of_feature(layer_id: str, feature_id: int) -> QgsRasterLayer | None:
    """What the footprint layer's action runs: the feature's scene in true colour; a
    problem is said in the message bar."""
    from qgis.utils import iface

    layer = QgsProject.instance().mapLayer(layer_id)
    try:
        if not isinstance(layer, QgsVectorLayer):
            raise SceneError("The footprint layer is no longer in the project.")
        return add_scene(**scene_of(layer.getFeature(feature_id)))
    except (SceneError, QgsProcessingException) as exc:
        say(iface, str(exc))
        return None


def say(iface: Any, message: str) -> None:
    """A warning in QGIS's message bar (the message log without a window)."""
    if iface is not None:
        iface.messageBar().pushMessage("SITS", message, Qgis.MessageLevel.Warning, 10)
    else:
        QgsMessageLog.logMessage(message, "SITS", Qgis.MessageLevel.Warning)
