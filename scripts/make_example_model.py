"""Write the example model the plugin ships: search, time series, statistics per point.

The model file is generated rather than typed: QGIS's model format records every
parameter's definition as the algorithms declare it, so building the model through the
Processing API with the plugin loaded keeps it in step with the algorithms. Run it
after changing the algorithms' parameters, and commit the result:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/make_example_model.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_PATH = ROOT / "processing_provider" / "models" / "point_index_statistics.model3"
QGIS_PLUGINS = "/usr/share/qgis/python/plugins"


def build_model():  # -> QgsProcessingModelAlgorithm (QGIS is imported after start-up)
    """The model: three child algorithms wired to five inputs and three outputs."""
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterDateTime,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterString,
    )
    from qgis.PyQt.QtCore import QPointF

    model = QgsProcessingModelAlgorithm("Index statistics per point", "Time series", "timeseries")
    model.setHelpContent(
        {
            "ALG_DESC": (
                "For each point of a layer: the catalogue's images over the layer"
                " (footprints, to check coverage), the series of a spectral index with"
                " clouds masked by the SCL band, and the index's statistics over time per"
                " point (count, mean, median, min, max...)."
            ),
            "INPUT": "Points, in any CRS.",
            "STAC_URL": "earth-search, planetary-computer, or the URL of a STAC API.",
            "INDEX": "A name from the Awesome Spectral Indices catalogue, e.g. NDVI.",
        }
    )
    inputs = [
        QgsProcessingParameterFeatureSource(
            "INPUT", "Points", [QgsProcessing.SourceType.TypeVectorPoint]
        ),
        QgsProcessingParameterString("STAC_URL", "Catalogue", "earth-search"),
        QgsProcessingParameterDateTime(
            "START_DATE", "Start date", QgsProcessingParameterDateTime.Type.Date, "2023-01-01"
        ),
        QgsProcessingParameterDateTime(
            "END_DATE", "End date", QgsProcessingParameterDateTime.Type.Date, "2023-12-31"
        ),
        QgsProcessingParameterString("INDEX", "Spectral index", "NDVI"),
    ]
    for row, parameter in enumerate(inputs):
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(120, 60 + 70 * row))
        model.addModelParameter(parameter, component)

    def from_input(name: str) -> list:
        return [QgsProcessingModelChildParameterSource.fromModelParameter(name)]

    def static(value: object) -> list:
        return [QgsProcessingModelChildParameterSource.fromStaticValue(value)]

    def child(algorithm: str, child_id: str, description: str, x: float, y: float):
        step = QgsProcessingModelChildAlgorithm(algorithm)
        step.setChildId(child_id)
        step.setDescription(description)
        step.setPosition(QPointF(x, y))
        return step

    def expose(step, output: str, name: str, description: str) -> None:
        exposed = QgsProcessingModelOutput(name, description)
        exposed.setChildId(step.childId())
        exposed.setChildOutputName(output)
        exposed.setPosition(step.position() + QPointF(200, 40))
        step.setModelOutputs({name: exposed})

    search = child("sits:searchstac", "search", "Images over the points", 420, 60)
    for name in ("INPUT", "STAC_URL", "START_DATE", "END_DATE"):
        search.addParameterSources(name, from_input(name))
    search.addParameterSources("COLLECTION", static("sentinel-2-l2a"))
    search.addParameterSources("MAX_CLOUD", static(100.0))
    expose(search, "OUTPUT", "footprints", "Image footprints")

    series = child("sits:extracttimeseries", "series", "Index series per point", 420, 220)
    for name in ("INPUT", "STAC_URL", "START_DATE", "END_DATE"):
        series.addParameterSources(name, from_input(name))
    series.addParameterSources("INDICES", from_input("INDEX"))
    for name, value in (
        ("COLLECTION", "sentinel-2-l2a"), ("BANDS", "red,nir"), ("MAX_CLOUD", 100.0),
        ("BUFFER", 0.0), ("RESOLUTION", 0.0), ("CRS", ""), ("MASK_BAND", "scl"),
        ("MASK_VALUES", "0,1,3,8,9,10"), ("MAX_MASKED", 0.5), ("GAPFILL", 0),
        ("STATISTICS", [0]), ("HARMONIZE", True),
    ):  # fmt: skip
        series.addParameterSources(name, static(value))
    expose(series, "OUTPUT_LAYER", "series", "Index series (temporal points)")

    statistics = child(
        "qgis:statisticsbycategories", "statistics", "Statistics per point", 420, 380
    )
    statistics.addParameterSources(
        "INPUT", [QgsProcessingModelChildParameterSource.fromChildOutput("series", "OUTPUT")]
    )
    statistics.addParameterSources("VALUES_FIELD_NAME", from_input("INDEX"))
    statistics.addParameterSources("CATEGORIES_FIELD_NAME", static(["feature_id"]))
    expose(statistics, "OUTPUT", "statistics", "Index statistics per point")

    for step in (search, series, statistics):
        model.addChildAlgorithm(step)
    model.updateDestinationParameters()
    return model


def main() -> None:
    sys.path[:0] = [QGIS_PLUGINS, str(ROOT)]
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from processing.core.Processing import Processing

    from processing_provider.provider import SitsProvider

    Processing.initialize()
    provider = SitsProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    model = build_model()
    problems = model.validate()
    if not problems[0]:
        raise SystemExit(f"the model does not validate: {problems[1]}")
    MODEL_PATH.parent.mkdir(exist_ok=True)
    if not model.toFile(str(MODEL_PATH)):
        raise SystemExit(f"cannot write {MODEL_PATH}")
    print(f"wrote {MODEL_PATH.relative_to(ROOT)}")
    QgsApplication.processingRegistry().removeProvider(provider)


if __name__ == "__main__":
    main()
