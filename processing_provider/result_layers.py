"""How results look when QGIS loads them: temporal, styled layers instead of grey ones.

Processing loads an algorithm's outputs on the main thread once it has finished, and
then calls each output's post-processor; that is where a layer may be styled and given
temporal properties (the algorithm itself runs in a background thread, where touching
layers that the project will own is not safe). Nothing here runs for ``processing.run``
or ``qgis_process``, which load no layer.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

from qgis.core import (
    Qgis,
    QgsAction,
    QgsClassificationQuantile,
    QgsEditorWidgetSetup,
    QgsExpression,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsGraduatedSymbolRenderer,
    QgsLineSymbol,
    QgsMarkerSymbol,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRendererRange,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsSymbol,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsWkbTypes,
)

#: Post-processors waiting for their layer. Processing holds a plain pointer to them,
#: so Python must keep them alive until they have run (then they remove themselves).
_waiting: dict[int, QgsProcessingLayerPostProcessorInterface] = {}
#: Colour ramps from QGIS's default style: diverging for indices (NDVI < 0 is water),
#: perceptual for reflectances and statistics.
INDEX_RAMP = "RdYlGn"
VALUE_RAMP = "Viridis"
CLASSES = 7
#: Rows without a value (masked dates, unreadable ones) are drawn hollow in this grey,
#: so that a feature stays on the map on a date its mask dropped.
MASKED_GREY = "128,128,128,255"
MASKED_LABEL = "masked or no value"
#: Footprints: outlines only, so the map and each other stay visible through them.
FOOTPRINT_OUTLINE = "31,120,180,255"
#: Significant digits of the numbers shown in a statistics layer's attribute table.
SHOWN_DIGITS = 6


def post_process(
    context: QgsProcessingContext, output: Any, processor: QgsProcessingLayerPostProcessorInterface
) -> None:
    """Have ``processor`` style the output ``output`` when Processing loads it."""
    if output is None or not context.willLoadLayerOnCompletion(output):
        return
    _waiting[id(processor)] = processor
    context.layerToLoadOnCompletionDetails(output).setPostProcessor(processor)


def graduated(layer: QgsVectorLayer, field: str, ramp: str) -> QgsGraduatedSymbolRenderer:
    """Quantile classes of the values of ``field`` in ``ramp``'s colours. The classes
    are made from the values themselves: QGIS's own classification (3.22) counts a
    NULL as 0, so the masked dates made classes "0 - 0" of values that do not exist."""
    renderer = QgsGraduatedSymbolRenderer(field)
    symbol = QgsSymbol.defaultSymbol(layer.geometryType())
    renderer.setSourceSymbol(symbol.clone())
    method = QgsClassificationQuantile()
    renderer.setClassificationMethod(method)
    request = QgsFeatureRequest().setSubsetOfAttributes([field], layer.fields())
    request.setFilterExpression(f"{QgsExpression.quotedColumnRef(field)} IS NOT NULL")
    values = [float(feature[field]) for feature in layer.getFeatures(request)]
    for one in method.classes(values, CLASSES) if values else []:
        renderer.addClassRange(QgsRendererRange(one, symbol.clone()))
    renderer.updateColorRamp(QgsStyle.defaultStyle().colorRamp(ramp))
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
    Controller, coloured by ``value_field`` (an index if any, else the first band), and
    drawn hollow and grey on the dates without a value (``with_masked_rule``)."""

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
        classes: list[tuple[QgsSymbol, str, str]] = [
            (QgsSymbol.defaultSymbol(layer.geometryType()), "TRUE", "")
        ]
        if self.value_field in layer.fields().names():
            ramp = INDEX_RAMP if self.is_index else VALUE_RAMP
            classes = class_rules(graduated(layer, self.value_field, ramp), self.value_field)
        layer.setRenderer(with_masked_rule(classes, layer, self.value_field))
        layer.triggerRepaint()


def class_rules(
    renderer: QgsGraduatedSymbolRenderer, field: str
) -> list[tuple[QgsSymbol, str, str]]:
    """The graduated classes as (symbol, filter, label), with their bounds written in
    full: QGIS's own conversion writes 6 decimals, which leaves values between two
    classes (or above the last, rounded down) drawn by neither."""
    column = QgsExpression.quotedColumnRef(field)
    classes = []
    for number, one in enumerate(renderer.ranges()):
        above = ">=" if number == 0 else ">"
        expression = f"{column} {above} {one.lowerValue()!r} AND {column} <= {one.upperValue()!r}"
        classes.append((one.symbol().clone(), expression, one.label()))
    return classes


def with_masked_rule(
    classes: list[tuple[QgsSymbol, str, str]], layer: QgsVectorLayer, value_field: str
) -> QgsRuleBasedRenderer:
    """A rule per class (symbol, filter, label) for the rows that have a value, and one
    more for those that have none (status ``masked``, an unreadable date): a graduated
    renderer draws nothing for a NULL, so the feature would vanish from the map on
    exactly the dates the user wants to see were masked."""
    missing = "\"status\" = 'masked'"
    if value_field in layer.fields().names():
        missing += f" OR {QgsExpression.quotedColumnRef(value_field)} IS NULL"
    root = QgsRuleBasedRenderer.Rule(None)
    for symbol, expression, label in classes:
        rule = QgsRuleBasedRenderer.Rule(symbol, 0, 0, f"({expression}) AND NOT ({missing})")
        rule.setLabel(label)
        root.appendChild(rule)
    masked = QgsRuleBasedRenderer.Rule(hollow_symbol(layer.geometryType()), 0, 0, missing)
    masked.setLabel(MASKED_LABEL)
    root.appendChild(masked)
    return QgsRuleBasedRenderer(root)


def hollow_symbol(geometry_type: Any) -> QgsSymbol:
    """A grey outline without fill (a dashed grey line for lines)."""
    if geometry_type == QgsWkbTypes.GeometryType.PointGeometry:
        return QgsMarkerSymbol.createSimple(
            {"name": "circle", "color": "0,0,0,0", "outline_color": MASKED_GREY,
             "outline_width": "0.5", "size": "2.6"}
        )  # fmt: skip
    if geometry_type == QgsWkbTypes.GeometryType.PolygonGeometry:
        return QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": MASKED_GREY, "outline_width": "0.5",
             "outline_style": "dash"}
        )  # fmt: skip
    return QgsLineSymbol.createSimple({"line_color": MASKED_GREY, "line_style": "dash"})


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


class StatisticsLayerStyle(_OnceProcessor):
    """A layer of statistics (the tiles of a raster) coloured by its field ``field``,
    the ``decimal_fields`` shown in the attribute table to ``SHOWN_DIGITS`` significant
    digits of the largest ``magnitude`` (the fields keep their exact values)."""

    def __init__(self, field: str, decimal_fields: list[str], magnitude: float) -> None:
        super().__init__()
        self.field = field
        self.decimal_fields = decimal_fields
        self.decimals = shown_decimals(magnitude)

    def style(self, layer: Any) -> None:
        if not isinstance(layer, QgsVectorLayer):
            return
        shown = {"Precision": self.decimals, "Style": "SpinBox", "AllowNull": True}
        for name in self.decimal_fields:
            index = layer.fields().lookupField(name)
            if index >= 0:
                layer.setEditorWidgetSetup(index, QgsEditorWidgetSetup("Range", shown))
        if self.field in layer.fields().names():
            layer.setRenderer(graduated(layer, self.field, VALUE_RAMP))
            layer.triggerRepaint()


def shown_decimals(magnitude: float) -> int:
    """Decimals that show ``SHOWN_DIGITS`` significant digits of numbers as large as
    ``magnitude`` (a DEM in metres: 2; reflectances below 1: 6 or more)."""
    if not math.isfinite(magnitude) or magnitude == 0:
        return 2
    return max(0, min(12, SHOWN_DIGITS - 1 - math.floor(math.log10(abs(magnitude)))))


class FootprintStyle(_OnceProcessor):
    """Search footprints: outlines (an opaque fill would hide the map and the other
    footprints under the first ones), each an instant at its ``datetime`` for the
    Temporal Controller, and the action that adds a footprint's scene to the map."""

    def style(self, layer: Any) -> None:
        if not isinstance(layer, QgsVectorLayer):
            return
        outline = QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": FOOTPRINT_OUTLINE, "outline_width": "0.4"}
        )
        layer.setRenderer(QgsSingleSymbolRenderer(outline))
        temporal = layer.temporalProperties()
        temporal.setMode(Qgis.VectorTemporalMode.FeatureDateTimeInstantFromField)
        temporal.setStartField("datetime")
        temporal.setIsActive(True)
        if "item" in layer.fields().names():
            layer.actions().addAction(scene_action())
        layer.triggerRepaint()


#: The footprint layer's action: its Python runs in QGIS with the feature's values.
SCENE_ACTION = "Add this scene to the map (true colour)"


def scene_action() -> QgsAction:
    """A Python action of the feature and of the map canvas (QGIS's *Run Feature
    Action* tool) that adds the feature's scene, through ``ui.scene_layers``, named by
    the plugin's package as QGIS loaded it (``sits_plugin`` from the zip)."""
    module = importlib.util.resolve_name("..ui.scene_layers", __package__)
    command = f"from {module} import add_scene_of_feature\n" + (
        "add_scene_of_feature('[% @layer_id %]', [% $id %])"
    )
    kinds = getattr(Qgis, "AttributeActionType", None) or QgsAction.ActionType  # QGIS 4
    return QgsAction(
        kinds.GenericPython, SCENE_ACTION, command, "", False, "Add scene", {"Feature", "Canvas"}
    )


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
