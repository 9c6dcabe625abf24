"""What the time-series algorithms share: the search, grid and cleaning parameters,
reading them into the engine's options, and handing the layer's features over.

The parameter names and meanings are those of issue 4 and the README; the three
algorithms (search, table, cubes) declare the same names the same way, so a model can
feed one from the other.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from qgis.core import (
    QgsApplication,
    QgsAuthMethodConfig,
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDateTime,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from sits_qgis.choices import AUTO_MASK_BAND, GAPFILL, VALUES, labels
from sits_qgis.choices import values as choice_values
from sits_qgis.engine.protocol import wkb_text
from sits_qgis.profiles import profiles_for_display as profiles

from . import engine
from .base import SitsAlgorithm, with_decimals
from .last_choices import DEFAULT_END, DEFAULT_START
from .settings import access_settings, default_catalogue, http_settings

#: The plugin's own package (``sits_plugin`` once installed), for the dialog's widgets:
#: named by path, so that they are imported only when a dialog opens.
PLUGIN_PACKAGE = __name__.rsplit(".", 2)[0] if __name__.count(".") >= 2 else ""


def with_widget(parameter: Any, wrapper: str) -> Any:
    """``parameter`` shown in the algorithm dialog by ``ui.parameter_widgets.<wrapper>``."""
    module = ".".join(p for p in (PLUGIN_PACKAGE, "ui", "parameter_widgets") if p)
    parameter.setMetadata({"widget_wrapper": {"class": f"{module}.{wrapper}"}})
    return parameter


class TimeSeriesAlgorithm(SitsAlgorithm):
    """Base of the STAC algorithms: group and shared parameters."""

    GROUP = "Time series"
    GROUP_ID = "timeseries"

    INPUT = "INPUT"
    ID_FIELD = "ID_FIELD"
    STAC_URL = "STAC_URL"
    AUTHCFG = "AUTHCFG"
    COLLECTION = "COLLECTION"
    BANDS = "BANDS"
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    MAX_CLOUD = "MAX_CLOUD"
    BUFFER = "BUFFER"
    RESOLUTION = "RESOLUTION"
    CRS = "CRS"
    MASK_BAND = "MASK_BAND"
    MASK_VALUES = "MASK_VALUES"
    MASK_BITS = "MASK_BITS"
    MAX_MASKED = "MAX_MASKED"
    GAPFILL = "GAPFILL"
    INDICES = "INDICES"
    HARMONIZE = "HARMONIZE"
    VALUES = "VALUES"

    # -- parameter declarations -------------------------------------------------------

    def add_input_parameters(self) -> None:
        """INPUT (points or polygons) and ID_FIELD."""
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.INPUT,
                self.tr("Points or polygons (selected features only is supported)"),
                [
                    QgsProcessing.SourceType.TypeVectorPoint,
                    QgsProcessing.SourceType.TypeVectorPolygon,
                ],
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.ID_FIELD,
                self.tr("Feature id field (empty: the feature ids)"),
                parentLayerParameterName=self.INPUT,
                optional=True,
            )
        )

    def add_search_parameters(self) -> None:
        """STAC_URL, AUTHCFG, COLLECTION, START_DATE, END_DATE, MAX_CLOUD."""
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.STAC_URL,
                    self.tr("Catalogue (a preset of the list, or the URL of a STAC API)"),
                    default_catalogue(),
                ),
                "CatalogueWrapper",
            )
        )
        auth = QgsProcessingParameterAuthConfig(
            self.AUTHCFG, self.tr("Credentials (QGIS authentication)"), optional=True
        )
        auth.setFlags(auth.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(auth)
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.COLLECTION, self.tr("Collection"), "sentinel-2-l2a"
                ),
                "CollectionWrapper",
            )
        )
        for name, label, default in (
            (self.START_DATE, "Start date (whole day included)", DEFAULT_START),
            (self.END_DATE, "End date (whole day included)", DEFAULT_END),
        ):
            self.addParameter(
                QgsProcessingParameterDateTime(
                    name, self.tr(label), QgsProcessingParameterDateTime.Type.Date, default
                )
            )
        self.addParameter(
            with_decimals(
                QgsProcessingParameterNumber(
                    self.MAX_CLOUD,
                    self.tr("Maximum scene cloud cover (%; 100 = no filter)"),
                    QgsProcessingParameterNumber.Type.Double,
                    100.0,
                    minValue=0.0,
                    maxValue=100.0,
                ),
                1,
            )
        )

    def add_series_parameters(self, bands: str) -> None:
        """BANDS, RESOLUTION, CRS, MASK_BAND, MASK_VALUES, MASK_BITS, MAX_MASKED, GAPFILL,
        VALUES, INDICES."""
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.BANDS,
                    self.tr("Bands (comma-separated asset keys or common names, e.g. red,nir)"),
                    bands,
                ),
                "BandsWrapper",
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RESOLUTION,
                self.tr("Pixel size in CRS units (0 = the images' native resolution)"),
                QgsProcessingParameterNumber.Type.Double,
                0.0,
                minValue=0.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.CRS,
                self.tr("Grid CRS, e.g. EPSG:3035 (empty = the images' native CRS)"),
                "",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.MASK_BAND,
                self.tr("Mask band (auto = the collection's cloud mask; empty = no mask)"),
                AUTO_MASK_BAND,
                optional=True,
            )
        )
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.MASK_VALUES,
                    self.tr("Masked classes of the mask band (empty = the collection's default)"),
                    "",
                    optional=True,
                ),
                "MaskClassesWrapper",
            )
        )
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.MASK_BITS,
                    self.tr("Masked bits of the mask band (empty = the collection's default)"),
                    "",
                    optional=True,
                ),
                "MaskBitsWrapper",
            )
        )
        self.addParameter(
            with_decimals(
                QgsProcessingParameterNumber(
                    self.MAX_MASKED,
                    self.tr("Drop dates with a larger masked fraction than (0-1)"),
                    QgsProcessingParameterNumber.Type.Double,
                    0.5,
                    minValue=0.0,
                    maxValue=1.0,
                ),
                2,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.GAPFILL,
                self.tr("Gap filling along time"),
                [self.tr(label) for label in labels(GAPFILL)],
                False,
                0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.VALUES,
                self.tr("Band values (indices always use physical values)"),
                [self.tr(label) for label in labels(VALUES)],
                False,
                0,
            )
        )
        self.addParameter(
            with_widget(
                QgsProcessingParameterString(
                    self.INDICES,
                    self.tr("Spectral indices (comma-separated, e.g. NDVI,NDWI)"),
                    "",
                    optional=True,
                ),
                "IndicesWrapper",
            )
        )
        harmonize = QgsProcessingParameterBoolean(
            self.HARMONIZE,
            self.tr("Harmonise Sentinel-2 processing baseline 04.00 offset"),
            True,
        )
        harmonize.setFlags(harmonize.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(harmonize)

    def add_buffer_parameter(self, label: str) -> None:
        self.addParameter(
            with_decimals(
                QgsProcessingParameterNumber(
                    self.BUFFER,
                    self.tr(label),
                    QgsProcessingParameterNumber.Type.Double,
                    0.0,
                    minValue=0.0,
                ),
                1,
            )
        )

    # -- checks the dialog runs before the algorithm ------------------------------------

    def check_values(self, parameters: dict[str, Any], context: Any) -> tuple[bool, str]:
        """QGIS's own checks, then the combinations that cannot run, named by parameter
        (the dialog shows the message and does not start; qgis_process stops too)."""
        ok, message = super().check_values(parameters, context)
        if not ok:
            return ok, message
        problem = self.combination_problem(parameters, context)
        return (False, problem) if problem else (True, "")

    def combination_problem(self, parameters: dict[str, Any], context: Any) -> str:
        """The first invalid combination of parameter values, or an empty string: the
        engine's own whole-run checks (they need no network), run before starting; or
        the sentence that says the engine is not set up."""
        try:
            if self.parameterDefinition(self.MASK_BAND) is None:  # the search
                start, end = self.dates(parameters, context)
                engine.call("check_series", {"start": start.isoformat(), "end": end.isoformat()})
                return ""
            options = self.series_options(parameters, context)
            engine.call("check_series", {"options": options})
        except QgsProcessingException as exc:
            return str(exc)
        band = options["mask_band"]
        masks_something = options["mask_values"] or options["mask_bits"]
        named = band.lower() not in ("", AUTO_MASK_BAND)
        # with nothing listed, the engine needs the band's convention to know what to mask
        if named and not masks_something and profiles().mask_for_band(band) is None:
            return (
                f"MASK_VALUES: the mask band '{band}' is named but nothing of it is masked,"
                " and its convention is not known; list its classes (e.g. 0,1,3,8,9,10)"
                " or bits (MASK_BITS, e.g. 1,3,4), or clear MASK_BAND."
            )
        return ""

    # -- reading parameters -----------------------------------------------------------

    def dates(self, parameters: dict[str, Any], context: Any) -> tuple[date, date]:
        """Whole days; QGIS 3.22 has no ``parameterAsDate``, so the date of the datetime."""
        days = []
        for name in (self.START_DATE, self.END_DATE):
            value = self.parameterAsDateTime(parameters, name, context).date()
            if not value.isValid():
                raise QgsProcessingException(f"{name}: give a date as YYYY-MM-DD.")
            days.append(value.toPyDate())
        return days[0], days[1]

    def series_options(self, parameters: dict[str, Any], context: Any) -> dict[str, Any]:
        """The engine's series options (``SeriesOptions`` as plain data), with credentials."""
        start, end = self.dates(parameters, context)
        return {
            "stac_url": self.parameterAsString(parameters, self.STAC_URL, context),
            "collection": self.parameterAsString(parameters, self.COLLECTION, context).strip(),
            "bands": split_list(self.parameterAsString(parameters, self.BANDS, context)),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "max_cloud": self.parameterAsDouble(parameters, self.MAX_CLOUD, context),
            "resolution": self.parameterAsDouble(parameters, self.RESOLUTION, context),
            "crs": self.parameterAsString(parameters, self.CRS, context).strip(),
            "mask_band": self.parameterAsString(parameters, self.MASK_BAND, context).strip(),
            "mask_values": whole_numbers(
                self.parameterAsString(parameters, self.MASK_VALUES, context),
                "MASK_VALUES: '{}' is not a class number; give whole numbers separated by"
                " commas, e.g. 0,1,3,8,9,10.",
            ),
            "mask_bits": whole_numbers(
                self.parameterAsString(parameters, self.MASK_BITS, context),
                "MASK_BITS: '{}' is not a bit position; give whole numbers from 0 separated"
                " by commas, e.g. 1,3,4.",
            ),
            "max_masked": self.parameterAsDouble(parameters, self.MAX_MASKED, context),
            "gapfill": self.parameterAsEnum(parameters, self.GAPFILL, context),
            "indices": split_list(self.parameterAsString(parameters, self.INDICES, context)),
            "harmonize": self.parameterAsBoolean(parameters, self.HARMONIZE, context),
            "values": choice_values(VALUES)[self.parameterAsEnum(parameters, self.VALUES, context)],
            **self.credentials(parameters, context),
            **access_settings(),
            "http": http_settings(),
        }

    def credentials(self, parameters: dict[str, Any], context: Any) -> dict[str, dict[str, str]]:
        """``headers`` and ``s3`` credentials from the AUTHCFG parameter (empty without)."""
        return auth_credentials(self.parameterAsString(parameters, self.AUTHCFG, context))

    def feature_layer(
        self, parameters: dict[str, Any], context: Any, label_field: str = ""
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
        """The features as the engine takes them (ids, WKB, labels, the layer's CRS as
        WKT), each id's QGIS geometry, and class labels."""
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException("INPUT: the layer cannot be read.")
        geometry_type = QgsWkbTypes.geometryType(source.wkbType())
        if geometry_type not in (
            QgsWkbTypes.GeometryType.PointGeometry,
            QgsWkbTypes.GeometryType.PolygonGeometry,
        ):
            raise QgsProcessingException(
                "INPUT: the layer must hold points or polygons (lines have no pixel or area"
                " to read; buffer them into polygons first)."
            )
        id_field = self.parameterAsString(parameters, self.ID_FIELD, context)
        names = source.fields().names()
        for parameter, field in (("ID_FIELD", id_field), ("LABEL_FIELD", label_field)):
            if field and field not in names:
                raise QgsProcessingException(
                    f"{parameter}: the layer has no field '{field}'; its fields are"
                    f" {', '.join(names) or 'none'}."
                )
        features, geometries, labels = [], {}, {}
        request = QgsFeatureRequest()
        for feature in source.getFeatures(request):
            if id_field:
                value = feature[id_field]
                if value is None or (hasattr(value, "isNull") and value.isNull()):
                    raise QgsProcessingException(
                        f"ID_FIELD: feature {feature.id()} has no value in '{id_field}'; every"
                        " feature needs an id (or leave ID_FIELD empty)."
                    )
                feature_id = str(value)
            else:
                feature_id = str(feature.id())
            geometry = feature.geometry()
            wkb = None if geometry.isNull() else bytes(geometry.asWkb())
            label = None
            if label_field:
                value = feature[label_field]
                label = None if value is None or not _is_number(value) else float(value)
            features.append([feature_id, wkb_text(wkb), label])
            geometries[feature_id] = geometry
            if label is not None:
                labels[feature_id] = label
        crs = source.sourceCrs()
        layer = {"features": features, "crs": crs.toWkt() if crs.isValid() else ""}
        return layer, geometries, labels

    def is_point_layer(self, parameters: dict[str, Any], context: Any) -> bool:
        source = self.parameterAsSource(parameters, self.INPUT, context)
        return QgsWkbTypes.geometryType(source.wkbType()) == QgsWkbTypes.GeometryType.PointGeometry


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def split_list(text: str) -> tuple[str, ...]:
    """``"red, nir,,"`` -> ``("red", "nir")``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def whole_numbers(text: str, refusal: str) -> tuple[int, ...]:
    """Whole numbers from ``"0,1,3"``; ``refusal`` (with ``{}`` for the bad part) for
    anything else."""
    values = []
    for part in split_list(text):
        try:
            values.append(int(part))
        except ValueError:
            raise QgsProcessingException(refusal.format(part)) from None
    return tuple(values)


def auth_credentials(authcfg: str) -> dict[str, dict[str, str]]:
    """``headers`` (HTTP, for the catalogue and its files) and ``s3`` (AWS keys for
    ``s3://`` assets, as GDAL option names) from a QGIS authentication configuration:
    Basic or API header methods give headers, the AWS S3 method (QGIS 3.28 and later)
    gives S3 keys.

    The secrets are read from QGIS's encrypted store at run time, kept in memory and
    never written to any output or log.
    """
    found: dict[str, dict[str, str]] = {"headers": {}, "s3": {}}
    if not authcfg:
        return found
    config = QgsAuthMethodConfig()
    manager = QgsApplication.authManager()
    if not manager.loadAuthenticationConfig(authcfg, config, True) or not config.isValid():
        raise QgsProcessingException(
            f"AUTHCFG: the authentication configuration '{authcfg}' cannot be loaded (is the"
            " master password set?)."
        )
    method = config.method()
    values = config.configMap()
    if method == "Basic":
        token = f"{values.get('username', '')}:{values.get('password', '')}"
        found["headers"] = {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
    elif method == "APIHeader":
        found["headers"] = {str(k): str(v) for k, v in values.items()}
    elif method == "AWSS3":
        found["s3"] = {
            "AWS_ACCESS_KEY_ID": str(values.get("username", "")),
            "AWS_SECRET_ACCESS_KEY": str(values.get("password", "")),
        }
        if values.get("region"):
            found["s3"]["AWS_REGION"] = str(values["region"])
    else:
        raise QgsProcessingException(
            f"AUTHCFG: the '{method}' authentication method is not supported; use 'Basic' or"
            " 'API Header' for STAC APIs and their files, 'AWS S3' for s3:// assets."
        )
    return found
