"""``sits:extracttimeseries``: per-feature values or zonal statistics over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsFeature,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDateTime, Qt

from sits_qgis.choices import ZONAL_STATISTICS, labels
from sits_qgis.wording import plural

from .base import Cancelled, help_text, remove_output
from .fields import FieldType, new_fields
from .journal import Journal, Previous, differences, fingerprint, journal_path, read_journal
from .last_choices import remember as remember_choices
from .result_layers import SeriesLayerStyle, post_process
from .timeseries_base import TimeSeriesAlgorithm

HELP = help_text(
    """
Reads a time series from a STAC catalogue for every point or polygon of a layer.

One search covers the whole layer. For each feature, only the pixels it needs are read
from the Cloud-Optimized GeoTIFFs, on the images' own grid unless a CRS or resolution is
given.

<b>Points</b> (BUFFER 0) give the original value of the pixel that contains the point.
<b>Polygons</b>, or points with a BUFFER in metres, give zonal STATISTICS over the
pixels whose centres fall inside.

MASK_BAND 'auto' takes the collection's own cloud mask (Sentinel-2's SCL classes,
Landsat's qa_pixel bits, HLS' Fmask bits, MODIS' pixel reliability; none for
Sentinel-1), with its default classes or bits unless MASK_VALUES (classes) or MASK_BITS
(bit positions from 0) say otherwise; the lists show them by name. An empty MASK_BAND
masks nothing. Band names such as red,nir work on every catalogue. Dates with a larger
masked fraction than MAX_MASKED are kept as rows with status 'masked' and empty values,
or 'filled' when GAPFILL fills them along time (linear interpolation by date, or the
nearest date). Reflectances from processing baseline 04.00 on are harmonised (1000
subtracted, unless the catalogue already did it). VALUES gives the bands as the digital
numbers stored in the files, or as physical values (the scale and offset of the
catalogue's raster:bands applied, e.g. Landsat's 0.0000275 and -0.2). INDICES come from
the Awesome Spectral Indices catalogue, always computed on physical values.

The table has one row per feature and date: feature_id, date (ISO 8601, UTC),
valid_fraction, status, then one column per band and index (name, or name_statistic for
areas). A feature that cannot be read gets one row whose status says why; the others go
on. OUTPUT_LAYER holds the same rows with the feature's geometry and a date field for
the Temporal Controller.
"""
)


#: Rows from which a temporary output layer is worth a warning, and what one row of
#: two bands costs QGIS's process in a memory layer (measured, bench_qgis_memory.py).
MEMORY_LAYER_ROWS = 100_000
MEMORY_ROW_BYTES = 520


class ExtractTimeSeriesAlgorithm(TimeSeriesAlgorithm):
    NAME = "extracttimeseries"
    DISPLAY_NAME = "Extract time series (points and polygons)"
    HELP = HELP
    HELP_ANCHOR = "extract-time-series"

    STATISTICS = "STATISTICS"
    OUTPUT = "OUTPUT"
    OUTPUT_LAYER = "OUTPUT_LAYER"
    RESUME = "RESUME"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_input_parameters()
        self.add_search_parameters()
        self.add_series_parameters("red,nir")
        self.add_buffer_parameter("Buffer around points in metres (0 = the point's pixel)")
        self.addParameter(
            QgsProcessingParameterEnum(
                self.STATISTICS,
                self.tr("Statistics over areas"),
                [self.tr(label) for label in labels(ZONAL_STATISTICS)],
                True,
                [0],
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Time series table"), QgsProcessing.SourceType.TypeVector
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.RESUME,
                self.tr("Resume an interrupted run of this table (same parameters and outputs)"),
                False,
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT_LAYER,
                self.tr("Time series layer (with geometry and date, for the Temporal Controller)"),
                QgsProcessing.SourceType.TypeVectorAnyGeometry,
                optional=True,
                # a first run from the dialog shows the series on the map, not only a
                # table; processing.run, qgis_process and batch rows write it when named
                createByDefault=True,
            )
        )
        for name, label in (
            ("FEATURES", "Features with a series"),
            ("FAILED", "Features without a series"),
            ("ROWS", "Rows written"),
            ("ITEMS", "Catalogue items found"),
            ("SEARCHES", "STAC searches made (one per run)"),
            ("SEARCH_PAGES", "STAC search pages read"),
        ):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def processAlgorithm(self, parameters: dict[str, Any], context: Any, feedback: Any) -> dict:
        layer, geometries, _ = self.feature_layer(parameters, context)
        options = self.series_options(parameters, context)
        remember_choices({
            "STAC_URL": options["stac_url"], "COLLECTION": options["collection"],
            "BANDS": ",".join(options["bands"]), "INDICES": ",".join(options["indices"]),
            "START_DATE": options["start"], "END_DATE": options["end"],
            "MASK_BAND": options["mask_band"], "GAPFILL": options["gapfill"],
            "AUTHCFG": self.parameterAsString(parameters, self.AUTHCFG, context),
        })  # fmt: skip
        buffer = self.parameterAsDouble(parameters, self.BUFFER, context)
        source = self.parameterAsSource(parameters, self.INPUT, context)
        request = {
            "layer": layer,
            "options": options,
            "buffer": buffer,
            "statistics": self.parameterAsEnums(parameters, self.STATISTICS, context) or [0],
            "points": self.is_point_layer(parameters, context),
        }
        journal_file, previous = self.resumed(parameters, context, request, feedback)
        done = previous.outcomes if previous is not None else {}
        journal = None
        if journal_file is not None:
            try:
                journal = Journal(journal_file, self.run_fingerprint(request), previous)
            except OSError as exc:  # the table's folder refuses it: the run goes on
                feedback.pushWarning(
                    f"No journal for RESUME can be kept next to the table ({exc}); if this"
                    " run is interrupted, it will have to be run again whole."
                )
        state: dict[str, Any] = {"done": 0, "failed": 0, "rows": 0, "total": 1}
        sinks: dict[str, Any] = {}

        def outcome_in(data: dict[str, Any]) -> None:
            geometry = geometries.get(data["feature_id"])
            self.add_outcome(data, sinks, geometry, parameters, feedback)
            state["done"] += 1
            state["failed"] += 0 if data["ok"] else 1
            state["rows"] += len(data["rows"])
            feedback.setProgress(100.0 * state["done"] / state["total"])

        def on_event(event: str, data: Any) -> None:
            if event == "plan":  # the search is done: the columns are known
                columns = data["columns"]
                state["total"] = max(data["features"] + len(done), 1)
                sinks["columns"] = columns
                sinks["table"], sinks["table_id"] = self.sink(
                    parameters, context, self.OUTPUT, columns, False, None
                )
                sinks["layer"], sinks["layer_id"] = self.sink(
                    parameters, context, self.OUTPUT_LAYER, columns, True, source
                )
                post_process(context, sinks["layer_id"], series_style(columns, options["indices"]))
                self.warn_of_memory_layers(context, sinks, data.get("rows", 0), feedback)
                if journal is not None:
                    journal.columns(columns)
                for finished in done.values():  # what the interrupted run finished
                    outcome_in(finished)
            elif event == "outcome":
                outcome_in(data)
                if journal is not None:
                    journal.outcome(data)

        counts = {"items": 0, "searches": 0, "search_pages": 0}
        remaining = [f for f in layer["features"] if f[0] not in done]
        try:
            if remaining or previous is None or previous.columns is None:
                engine_request = request | {"layer": layer | {"features": remaining}}
                counts = self.run_engine(feedback, "extract_table", engine_request, on_event)
            else:  # every feature was finished before: the journal has it all
                on_event("plan", {"columns": previous.columns, "features": 0})
        except (Cancelled, QgsProcessingException) as exc:
            # an incomplete table must not stay at its destination looking complete
            destinations = [sinks.get("table_id"), sinks.get("layer_id")]
            sinks.clear()  # closes the files
            removed = [d for d in destinations if d and remove_output(d)]
            what = " (the incomplete outputs were removed)" if removed else ""
            if journal is not None:
                keep = state["done"] > 0  # else there is nothing to resume from
                journal.close(finished=not keep)
                if keep:
                    what += (
                        f"; the journal keeps {state['done']} of"
                        f" {plural(len(layer['features']), 'feature')}: run again with RESUME"
                        " to continue"
                    )
            if isinstance(exc, Cancelled):
                raise QgsProcessingException(f"Cancelled: nothing was written{what}.") from None
            raise QgsProcessingException(f"{exc}{what}") from None
        if journal is not None:
            if journal.failed:
                feedback.pushWarning(
                    f"The journal for RESUME could not be written: {journal.failed}"
                )
            journal.close(finished=True)
        results = {
            self.OUTPUT: sinks["table_id"],
            "FEATURES": state["done"] - state["failed"],
            "FAILED": state["failed"],
            "ROWS": state["rows"],
            "ITEMS": counts["items"],
            "SEARCHES": counts["searches"],
            "SEARCH_PAGES": counts["search_pages"],
        }
        if sinks["layer_id"] is not None:
            results[self.OUTPUT_LAYER] = sinks["layer_id"]
        return results

    def run_fingerprint(self, request: dict[str, Any]) -> dict[str, Any]:
        """What makes a rerun the same run (see ``journal.fingerprint``)."""
        extra = {k: request[k] for k in ("buffer", "statistics", "points")}
        return fingerprint(request["options"], request["layer"], extra)

    def resumed(
        self, parameters: dict[str, Any], context: Any, request: dict[str, Any], feedback: Any
    ) -> tuple[Path | None, Previous | None]:
        """The journal's file for OUTPUT, and with RESUME the interrupted run to
        continue (refused when its parameters differ)."""
        destination = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        journal_file = journal_path(destination or "")
        if not self.parameterAsBoolean(parameters, self.RESUME, context):
            return journal_file, None
        if journal_file is None:
            raise QgsProcessingException(
                "RESUME: the table is not written to a file (a temporary output keeps no"
                " journal); choose a file for OUTPUT."
            )
        previous = read_journal(journal_file)
        if previous is None:
            feedback.pushInfo(
                "RESUME: no interrupted run of this table to continue; all of it is run."
            )
            return journal_file, None
        differ = differences(previous.fingerprint, self.run_fingerprint(request))
        if differ:
            raise QgsProcessingException(
                "RESUME: the interrupted run of this table had other parameters"
                f" ({', '.join(differ)} differ); run it with the same ones, or without RESUME"
                " to start again."
            )
        feedback.pushInfo(
            "RESUME: the interrupted run finished"
            f" {plural(len(previous.outcomes), 'feature')}; only the others are read."
        )
        return journal_file, previous

    def add_outcome(
        self,
        outcome: dict[str, Any],
        sinks: dict[str, Any],
        geometry: Any,
        parameters: dict[str, Any],
        feedback: Any,
    ) -> None:
        """One feature's rows into the table (and the layer, with its geometry)."""
        if not outcome["ok"]:
            feedback.pushWarning(
                self.labelled(
                    f"Feature '{outcome['feature_id']}': {outcome['status']}: {outcome['message']}"
                )
            )
        columns = sinks["columns"]
        for row in outcome["rows"]:
            self.add_feature(
                sinks["table"], self.row_feature(row, columns, None), parameters, self.OUTPUT
            )
            if sinks["layer"] is not None:
                self.add_feature(
                    sinks["layer"],
                    self.row_feature(row, columns, geometry, with_time=True),
                    parameters,
                    self.OUTPUT_LAYER,
                )

    @staticmethod
    def warn_of_memory_layers(
        context: Any, sinks: dict[str, Any], rows: int, feedback: Any
    ) -> None:
        """Say so before a large table fills a temporary layer: QGIS holds every row of
        it in its own memory (measured: 144 MiB for 292,000 rows of two bands, where a
        GeoPackage output keeps QGIS's memory flat; bench/results/qgis_memory.md)."""
        if rows < MEMORY_LAYER_ROWS:
            return
        for key in ("table_id", "layer_id"):
            layer = context.getMapLayer(sinks[key]) if sinks.get(key) else None
            if layer is not None and layer.providerType() == "memory":
                feedback.pushWarning(
                    f"Up to {rows:,} rows go to a temporary layer, which QGIS keeps in its"
                    f" memory (about {rows * MEMORY_ROW_BYTES / 2**20:,.0f} MiB); for a"
                    " run this large, save the output to a file (GeoPackage or CSV)."
                )
                return

    def sink(
        self,
        parameters: dict[str, Any],
        context: Any,
        name: str,
        columns: list[str],
        with_geometry: bool,
        source: Any,
    ) -> tuple[Any, Any]:
        """The table or layer sink with the fixed columns then the value columns."""
        fields = new_fields(
            [
                ("feature_id", FieldType.STRING),
                ("date", FieldType.DATETIME if with_geometry else FieldType.STRING),
                ("valid_fraction", FieldType.DOUBLE),
                ("status", FieldType.STRING),
                *((column, FieldType.DOUBLE) for column in columns),
            ]
        )
        if with_geometry:
            sink, dest = self.parameterAsSink(
                parameters, name, context, fields, source.wkbType(), source.sourceCrs()
            )
        else:
            sink, dest = self.parameterAsSink(
                parameters, name, context, fields, QgsWkbTypes.Type.NoGeometry
            )
        if sink is None and not with_geometry:
            raise QgsProcessingException(f"{name}: the output cannot be created.")
        return sink, dest

    @staticmethod
    def row_feature(
        row: dict[str, Any], columns: list[str], geometry: Any, with_time: bool = False
    ) -> QgsFeature:
        feature = QgsFeature()
        when = row["date"]
        if with_time and when:
            when = QDateTime.fromString(when, Qt.DateFormat.ISODate)
            when.setTimeSpec(Qt.TimeSpec.UTC)
        values = [row["feature_id"], when, row["valid_fraction"], row["status"]]
        feature.setAttributes(values + [row.get(c) for c in columns])
        if geometry is not None:
            feature.setGeometry(geometry)
        return feature


def series_style(columns: list[str], indices: tuple[str, ...]) -> SeriesLayerStyle:
    """The series layer's style: coloured by the first index if there is one (its
    column, or its first statistic's for areas), else by the first band."""
    wanted = {name.lower() for name in indices}
    for column in columns:
        if column.lower() in wanted or column.rsplit("_", 1)[0].lower() in wanted:
            return SeriesLayerStyle(column, is_index=True)
    return SeriesLayerStyle(columns[0] if columns else "", is_index=False)
