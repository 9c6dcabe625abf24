"""How results look when QGIS loads them: temporal, styled layers instead of grey ones.

Processing loads an algorithm's outputs on the main thread once it has finished, and
then calls each output's post-processor; that is where a layer may be styled and given
temporal properties (the algorithm itself runs in a background thread, where touching
layers that the project will own is not safe). Nothing here runs for ``processing.run``
or ``qgis_process``, which load no layer.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    Qgis,
    QgsClassificationQuantile,
    QgsExpression,
    QgsFeatureRequest,
    QgsGraduatedSymbolRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsStyle,
    QgsSymbol,
    QgsUnitTypes,
    QgsVectorLayer,
)

#: Post-processors waiting for their layer. Processing holds a plain pointer to them,
#: so Python must keep them alive until they have run (then they remove themselves).
_waiting: dict[int, QgsProcessingLayerPostProcessorInterface] = {}
#: Colour ramps from QGIS's default style: diverging for indices (NDVI < 0 is water),
#: perceptual for reflectances and statistics.
INDEX_RAMP = "RdYlGn"
VALUE_RAMP = "Viridis"
CLASSES = 7


def post_process(
    context: QgsProcessingContext, output: Any, processor: QgsProcessingLayerPostProcessorInterface
) -> None:
    """Have ``processor`` style the output ``output`` when Processing loads it."""
    if output is None or not context.willLoadLayerOnCompletion(output):
        return
    _waiting[id(processor)] = processor
    context.layerToLoadOnCompletionDetails(output).setPostProcessor(processor)


def graduated(layer: QgsVectorLayer, field: str, ramp: str) -> QgsGraduatedSymbolRenderer:
    """Quantile classes of ``field`` in ``ramp``'s colours."""
    renderer = QgsGraduatedSymbolRenderer(field)
    renderer.setSourceSymbol(QgsSymbol.defaultSymbol(layer.geometryType()))
    renderer.setSourceColorRamp(QgsStyle.defaultStyle().colorRamp(ramp))
    renderer.setClassificationMethod(QgsClassificationQuantile())
    renderer.updateClasses(layer, CLASSES)
    return renderer


class _OnceProcessor(QgsProcessingLayerPostProcessorInterface):
    """A post-processor that lets go of itself once it has run."""

    def postProcessLayer(self, layer: Any, context: Any, feedback: Any) -> None:
        try:
            self.style(layer)
        finally:
            _waiting.pop(id(self), None)

    def style(self, layer: Any) -> None:
        raise NotImplementedError


class SeriesLayerStyle(_OnceProcessor):
    """The time-series layer: each row an instant at its ``date`` for the Temporal
    Controller, coloured by ``value_field`` (an index if any, else the first band)."""

    def __init__(self, value_field: str, is_index: bool) -> None:
        super().__init__()
        self.value_field = value_field
        self.is_index = is_index

    def style(self, layer: Any) -> None:
        if not isinstance(layer, QgsVectorLayer):
            return
        temporal = layer.temporalProperties()
        temporal.setMode(Qgis.VectorTemporalMode.FeatureDateTimeInstantFromField)
        temporal.setStartField("date")
        temporal.setDurationUnits(QgsUnitTypes.TemporalUnit.TemporalDays)
        temporal.setFixedDuration(revisit_days(layer))
        temporal.setIsActive(True)
        if self.value_field in layer.fields().names():
            ramp = INDEX_RAMP if self.is_index else VALUE_RAMP
            layer.setRenderer(graduated(layer, self.value_field, ramp))
        layer.triggerRepaint()


def revisit_days(layer: QgsVectorLayer) -> float:
    """The median number of days between one feature's dates (at least 1), so that a
    point stays on the map until its next date when the Temporal Controller steps."""
    first = next(layer.getFeatures(QgsFeatureRequest().setLimit(1)), None)
    if first is None:
        return 1.0
    request = QgsFeatureRequest(QgsExpression(QgsExpression.createFieldEqualityExpression(
        "feature_id", first["feature_id"]
    )))  # fmt: skip
    days = sorted(
        f["date"].toMSecsSinceEpoch() / 86_400_000.0
        for f in layer.getFeatures(request)
        if f["date"] and f["date"].isValid()
    )
    gaps = sorted(b - a for a, b in zip(days, days[1:]) if b > a)
    return max(1.0, round(gaps[len(gaps) // 2])) if gaps else 1.0


class GraduatedStyle(_OnceProcessor):
    """A vector output coloured by one of its numeric fields (e.g. tile statistics)."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def style(self, layer: Any) -> None:
        if isinstance(layer, QgsVectorLayer) and self.field in layer.fields().names():
            layer.setRenderer(graduated(layer, self.field, VALUE_RAMP))
            layer.triggerRepaint()


class RasterLikeInput(_OnceProcessor):
    """A filtered raster drawn as its input is (same renderer, so same colours and
    stretch), when the input is a layer of the project with the same bands."""

    def __init__(self, input_layer: QgsRasterLayer) -> None:
        super().__init__()
        renderer = input_layer.renderer()
        self.renderer = renderer.clone() if renderer is not None else None
        self.band_count = input_layer.bandCount()

    def style(self, layer: Any) -> None:
        if (
            isinstance(layer, QgsRasterLayer)
            and self.renderer is not None
            and layer.bandCount() == self.band_count
        ):
            layer.setRenderer(self.renderer.clone())
            layer.triggerRepaint()
