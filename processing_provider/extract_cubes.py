"""``sits:extractcubes``: SITS's image or patch cubes per feature, as netCDF files."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsFeature,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
)

from sits_qgis.choices import CUBE_MODES, labels, values

from .base import Cancelled, help_text
from .fields import FieldType, new_fields
from .timeseries_base import TimeSeriesAlgorithm

#: Cubes added to the project after a run (a run may write thousands).
MAX_LOADED_CUBES = 20

HELP = help_text(
    """
Writes one netCDF cube per feature from a STAC catalogue, as the SITS tool does, for
training data or analysis.

<b>image</b>: the feature's envelope (grown by BUFFER metres) on the pixel grid; its
size follows the feature. <b>patch</b>: exactly PATCH_X x PATCH_Y pixels centred on the
feature, the same size for every feature.

Masking, dropping of too-masked dates (they are left out of the cube), gap filling of
masked pixels along time, harmonisation and indices are those of 'Extract time series'.

Each file (fid-ID_MODE_START_END.nc, with the id made safe for file names) is CF-
compliant: one variable per band and index on (time, y, x), the CRS as grid mapping,
valid_fraction per date, and attributes naming the catalogue, collection, items and
parameters (never credentials). With LABEL_FIELD, a 'label' variable holds the class of
the features rasterised on the same grid. The index layer lists every feature with its
file and status.
"""
)


class ExtractCubesAlgorithm(TimeSeriesAlgorithm):
    NAME = "extractcubes"
    DISPLAY_NAME = "Extract image or patch cubes (netCDF)"
    HELP = HELP
    HELP_ANCHOR = "extract-cubes"

    MODE = "MODE"
    LOAD_CUBES = "LOAD_CUBES"
    PATCH_X = "PATCH_X"
    PATCH_Y = "PATCH_Y"
    LABEL_FIELD = "LABEL_FIELD"
    RESUME = "RESUME"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT_INDEX = "OUTPUT_INDEX"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_input_parameters()
        self.add_search_parameters()
        self.add_series_parameters("blue,green,red,nir")
        self.addParameter(
            QgsProcessingParameterEnum(
                self.MODE,
                self.tr("Cube geometry"),
                [self.tr(label) for label in labels(CUBE_MODES)],
                False,
                1,
            )
        )
        for name, label in (
            (self.PATCH_X, "Patch width (pixels, patch mode)"),
            (self.PATCH_Y, "Patch height (pixels, patch mode)"),
        ):
            # 0 is allowed here so that the image mode ignores them and the patch mode's
            # check (combination_problem) says what is wrong, not only which parameter
            self.addParameter(
                QgsProcessingParameterNumber(
                    name, self.tr(label), QgsProcessingParameterNumber.Type.Integer, 64, minValue=0
                )
            )
        self.add_buffer_parameter("Buffer around features in metres (image mode)")
        self.addParameter(
            QgsProcessingParameterField(
                self.LABEL_FIELD,
                self.tr("Class field to rasterise as a label layer"),
                parentLayerParameterName=self.INPUT,
                type=QgsProcessingParameterField.DataType.Numeric,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT_FOLDER, self.tr("Folder for the cubes")
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_INDEX,
                self.tr("Cube index"),
                QgsProcessing.SourceType.TypeVectorAnyGeometry,
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.RESUME,
                self.tr(
                    "Resume an interrupted run: keep the cubes in the folder written with the"
                    " same parameters"
                ),
                False,
            )
        )
        load = QgsProcessingParameterBoolean(
            self.LOAD_CUBES,
            self.tr(f"Add the first {MAX_LOADED_CUBES} cubes to the project as temporal layers"),
            True,
        )
        load.setFlags(load.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(load)
        self.addOutput(QgsProcessingOutputNumber("WRITTEN", self.tr("Cubes written")))
        self.addOutput(QgsProcessingOutputNumber("FAILED", self.tr("Features without a cube")))

    def combination_problem(self, parameters: dict[str, Any], context: Any) -> str:
        """The shared checks, then patch sizes in patch mode."""
        problem = super().combination_problem(parameters, context)
        mode = values(CUBE_MODES)[self.parameterAsEnum(parameters, self.MODE, context)]
        if problem or mode != "patch":
            return problem
        for name in (self.PATCH_X, self.PATCH_Y):
            if self.parameterAsInt(parameters, name, context) < 1:
                return (
                    f"{name}: the patch mode needs at least 1 pixel per side; set PATCH_X and"
                    " PATCH_Y (e.g. 10 x 10) or choose the image mode."
                )
        return ""

    def processAlgorithm(self, parameters: dict[str, Any], context: Any, feedback: Any) -> dict:
        label_field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
        layer, geometries, labels_by_id = self.feature_layer(parameters, context, label_field)
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        request = {
            "layer": layer,
            "labels": labels_by_id,
            "options": self.series_options(parameters, context),
            "folder": folder,
            "mode": self.parameterAsEnum(parameters, self.MODE, context),
            "patch_x": self.parameterAsInt(parameters, self.PATCH_X, context),
            "patch_y": self.parameterAsInt(parameters, self.PATCH_Y, context),
            "buffer": self.parameterAsDouble(parameters, self.BUFFER, context),
            "label_field": label_field,
            "resume": self.parameterAsBoolean(parameters, self.RESUME, context),
        }
        source = self.parameterAsSource(parameters, self.INPUT, context)
        fields = new_fields(
            [
                ("feature_id", FieldType.STRING),
                ("file", FieldType.STRING),
                ("status", FieldType.STRING),
                ("dates", FieldType.INT),
                ("width", FieldType.INT),
                ("height", FieldType.INT),
            ]
        )
        sink, index_id = self.parameterAsSink(
            parameters, self.OUTPUT_INDEX, context, fields, source.wkbType(), source.sourceCrs()
        )
        if sink is None:
            raise QgsProcessingException("OUTPUT_INDEX: the index layer cannot be created.")
        counts = {"done": 0, "failed": 0, "total": 1}
        written: list[tuple[str, str]] = []  # (feature id, file)

        def on_event(event: str, outcome: Any) -> None:
            if event == "plan":
                counts["total"] = max(outcome["features"], 1)
                return
            counts["done"] += 1
            status = outcome["status"]
            if not outcome["path"]:
                counts["failed"] += 1
                status = f"{outcome['status']}: {outcome['message']}"
                feedback.pushWarning(self.labelled(f"Feature '{outcome['feature_id']}': {status}"))
            else:
                written.append((outcome["feature_id"], outcome["path"]))
                if outcome["message"]:  # written, without the dates that could not be read
                    status = f"{outcome['status']}: {outcome['message']}"
                    feedback.pushWarning(
                        self.labelled(f"Feature '{outcome['feature_id']}': {status}")
                    )
            feature = QgsFeature(fields)
            feature.setAttributes(
                [outcome["feature_id"], outcome["path"] or None, status, outcome["dates"],
                 outcome["width"], outcome["height"]]
            )  # fmt: skip
            geometry = geometries.get(outcome["feature_id"])
            if geometry is not None:
                feature.setGeometry(geometry)
            self.add_feature(sink, feature, parameters, self.OUTPUT_INDEX)
            feedback.setProgress(100.0 * counts["done"] / counts["total"])

        try:
            self.run_engine(feedback, "extract_cubes", request, on_event)
        except Cancelled:
            raise QgsProcessingException(
                "Cancelled: the cubes already written are complete; the others were not written."
            ) from None
        if self.parameterAsBoolean(parameters, self.LOAD_CUBES, context):
            load_cubes(sorted(written), context, feedback)
        return {
            self.OUTPUT_FOLDER: folder,
            self.OUTPUT_INDEX: index_id,
            "WRITTEN": counts["done"] - counts["failed"],
            "FAILED": counts["failed"],
        }


def load_cubes(written: list[tuple[str, str]], context: Any, feedback: Any) -> None:
    """Have QGIS add the first cubes as mesh layers once the run is over: its mesh
    reader (MDAL) sees a cube's variables as temporal datasets, so the Temporal
    Controller animates them (a GDAL raster layer would show dates as bands)."""
    for feature_id, path in written[:MAX_LOADED_CUBES]:
        details = QgsProcessingContext.LayerDetails(
            f"cube {feature_id}", context.project(), "", QgsProcessingUtils.LayerHint.Mesh
        )
        context.addLayerToLoadOnCompletion(path, details)
    if len(written) > MAX_LOADED_CUBES:
        feedback.pushInfo(
            f"The first {MAX_LOADED_CUBES} of {len(written)} cubes are added to the project;"
            " add others from the output folder (Layer > Add Layer > Add Mesh Layer)."
        )
