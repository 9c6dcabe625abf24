"""The time-series algorithms in a real headless QGIS, on the generated catalogue served
on 127.0.0.1: processing.run with layers in any CRS, selections, both outputs,
polygons, cubes with labels, the footprint search, and qgis_process from the zip."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import processing
import pytest
import xarray as xr
from conftest import DATES, SHARED_DATA, SITES, RecordingFeedback, layers_loaded_from
from local_stac import serve_catalogue
from qgis.core import (
    NULL,
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)
from sample_catalogue import Site
from stac_oracle import href, point_value

from processing_provider.fields import FieldType, new_field
from sits_qgis.wording import plural

MASKED = (0, 1, 3, 8, 9, 10)
#: The example model's outputs, by the parameter names QGIS gives them.
MODEL_OUTPUTS = {
    "footprints": "search:footprints",
    "series": "series:series",
    "statistics": "statistics:statistics",
}


def memory_layer(
    kind: str, crs: str, features: list[tuple[str, QgsGeometry, int]]
) -> QgsVectorLayer:
    """A memory layer with fields ``name`` (id) and ``class``; geometries given in EPSG:4326."""
    layer = QgsVectorLayer(f"{kind}?crs={crs}", "input", "memory")
    layer.dataProvider().addAttributes(
        [new_field("name", FieldType.STRING), new_field("class", FieldType.INT)]
    )
    layer.updateFields()
    transform = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"),
        QgsCoordinateReferenceSystem(crs),
        QgsProject.instance(),
    )
    for name, geometry, value in features:
        feature = QgsFeature(layer.fields())
        moved = QgsGeometry(geometry)
        moved.transform(transform)
        feature.setGeometry(moved)
        feature.setAttributes([name, value])
        layer.dataProvider().addFeature(feature)
    return layer


def site_points(crs: str = "EPSG:3857") -> QgsVectorLayer:
    points = [
        (s.name, QgsGeometry.fromPointXY(QgsPointXY(s.lon, s.lat)), n) for n, s in enumerate(SITES)
    ]
    return memory_layer("Point", crs, points)


def common(url: str, layer: object) -> dict[str, object]:
    return {
        "INPUT": layer,
        "ID_FIELD": "name",
        "STAC_URL": url,
        "COLLECTION": "sentinel-2-l2a",
        "START_DATE": "2022-01-01",
        "END_DATE": "2022-03-26",
        "BANDS": "red,nir",
    }


def read_table(path: Path) -> list[dict]:
    layer = QgsVectorLayer(str(path), "t", "ogr")
    assert layer.isValid()
    names = layer.fields().names()
    rows = [
        {k: None if v == NULL else v for k, v in zip(names, f.attributes(), strict=True)}
        for f in layer.getFeatures()
    ]
    del layer
    return rows


def test_point_layer_in_web_mercator_gives_the_pixel_values(
    loaded_plugin, sample_stac, tmp_path
) -> None:
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    result = processing.run(
        "sits:extracttimeseries",
        common(url, site_points("EPSG:3857"))
        | {
            "INDICES": "NDVI",
            "OUTPUT": str(tmp_path / "t.gpkg"),
            "OUTPUT_LAYER": str(tmp_path / "l.gpkg"),
        },
        feedback=QgsProcessingFeedback(),
    )
    assert result["SEARCHES"] == 1 and result["FAILED"] == 0
    rows = read_table(tmp_path / "t.gpkg")
    assert result["ROWS"] == len(rows) == len(SITES) * len(DATES)
    assert (
        list(rows[0])[1:9]
        == ["feature_id", "date", "valid_fraction", "status", "red", "nir", "NDVI"][:8][
            : len(list(rows[0])[1:9])
        ]
    )
    search = processing.run(
        "sits:searchstac",
        {k: v for k, v in common(url, site_points()).items() if k not in ("ID_FIELD", "BANDS")}
        | {"OUTPUT": str(tmp_path / "items.gpkg")},
    )
    items = {
        f["id"]: f for f in QgsVectorLayer(str(tmp_path / "items.gpkg"), "i", "ogr").getFeatures()
    }
    assert search["ITEMS"] == len(items) == len(SITES) * len(DATES)
    site = SITES[2]
    for row in (r for r in rows if r["feature_id"] == site.name):
        item_id = next(
            i for i in items if site.name in i and row["date"][:10].replace("-", "") in i
        )
        base = f"{served.files_url}/earth-search/cogs/{item_id}"
        item = {"assets": {k: {"href": f"{base}/{k}.tif"} for k in ("red", "nir", "scl")}}
        if point_value(href(item, "scl"), site.lon, site.lat) in MASKED:
            assert row["status"] == "masked" and row["red"] is None
            continue
        red, nir = (point_value(href(item, k), site.lon, site.lat) for k in ("red", "nir"))
        assert (row["red"], row["nir"]) == (red, nir)
        assert row["NDVI"] == pytest.approx((nir - red) / (nir + red), rel=1e-6)
    temporal = QgsVectorLayer(str(tmp_path / "l.gpkg"), "l", "ogr")
    assert temporal.featureCount() == len(rows) and temporal.crs().authid() == "EPSG:3857"
    first = next(temporal.getFeatures())
    assert first["date"].isValid() and first.geometry().type() == 0  # a point with a real date
    del temporal


def test_a_large_table_for_a_temporary_layer_is_warned_of(
    loaded_plugin, sample_stac, tmp_path, monkeypatch
) -> None:
    """A table of more rows than the threshold going to a temporary layer (held in
    QGIS's memory) gets a warning that names the rows and says to save to a file; the
    same run to a file does not."""
    import sys

    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById("sits:extracttimeseries")
    module = sys.modules[type(algorithm).__module__]
    rows = len(SITES) * len(DATES)
    monkeypatch.setattr(module, "MEMORY_LAYER_ROWS", rows)  # this run's rows, at most
    served, _ = sample_stac
    params = common(served.stac_urls["earth-search"], site_points())
    warned = {}
    for output in ("TEMPORARY_OUTPUT", str(tmp_path / "t.gpkg")):
        feedback = RecordingFeedback()
        result = processing.run("sits:extracttimeseries", params | {"OUTPUT": output},
                                feedback=feedback)  # fmt: skip
        assert result["ROWS"] == rows
        warned[output] = [w for w in feedback.warnings if "temporary layer" in w]
    assert len(warned["TEMPORARY_OUTPUT"]) == 1
    assert f"Up to {rows:,} rows" in warned["TEMPORARY_OUTPUT"][0]
    assert "save the output to a file" in warned["TEMPORARY_OUTPUT"][0]
    assert warned[str(tmp_path / "t.gpkg")] == []


def test_selected_features_only(loaded_plugin, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    layer = site_points("EPSG:4326")
    QgsProject.instance().addMapLayer(layer)
    try:
        layer.selectByIds([2])
        selected = QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
        params = common(served.stac_urls["earth-search"], selected) | {
            "OUTPUT": str(tmp_path / "s.csv")
        }
        processing.run("sits:extracttimeseries", params)
        with (tmp_path / "s.csv").open() as stream:
            ids = {row["feature_id"] for row in csv.DictReader(stream)}
        assert ids == {SITES[1].name}
        layer.removeSelection()
        with pytest.raises(QgsProcessingException, match="none is selected"):
            processing.run("sits:extracttimeseries", params | {"OUTPUT": str(tmp_path / "e.csv")})
    finally:
        QgsProject.instance().removeMapLayer(layer.id())


def test_polygons_give_zonal_statistics_columns(loaded_plugin, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    site = SITES[0]
    square = QgsGeometry.fromRect(
        __import__("qgis.core").core.QgsRectangle(
            site.lon - 0.001, site.lat - 0.0007, site.lon + 0.001, site.lat + 0.0007
        )
    )
    layer = memory_layer("Polygon", "EPSG:4326", [("field-1", square, 1)])
    result = processing.run(
        "sits:extracttimeseries",
        common(served.stac_urls["planetary-computer"], layer)
        | {"BANDS": "red", "STATISTICS": [0, 1, 5], "OUTPUT": str(tmp_path / "p.csv")},
    )
    with (tmp_path / "p.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == [
        "feature_id",
        "date",
        "valid_fraction",
        "status",
        "red_mean",
        "red_median",
        "red_count",
    ]
    assert result["ROWS"] == len(DATES)
    clear = [r for r in rows if r["status"] == "ok"]
    assert clear and all(float(r["red_count"]) > 100 for r in clear)


def test_cubes_with_labels_and_an_index_layer(loaded_plugin, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    folder = tmp_path / "cubes"
    result = processing.run(
        "sits:extractcubes",
        common(served.stac_urls["earth-search"], site_points("EPSG:4326"))
        | {"MODE": 1, "PATCH_X": 5, "PATCH_Y": 7, "LABEL_FIELD": "class", "GAPFILL": 1,
           "OUTPUT_FOLDER": str(folder), "OUTPUT_INDEX": str(tmp_path / "index.gpkg")},
    )  # fmt: skip
    assert result["WRITTEN"] == len(SITES) and result["FAILED"] == 0
    index = read_table(tmp_path / "index.gpkg")
    assert {r["status"] for r in index} == {"ok"}
    for row in index:
        cube = xr.open_dataset(row["file"])
        assert cube.sizes["x"] == row["width"] == 5 and cube.sizes["y"] == row["height"] == 7
        assert not np.isnan(cube["red"].values).any()  # gap filling filled masked pixels
        number = [s.name for s in SITES].index(row["feature_id"])
        # a point burns the pixel that contains it, at the patch's centre
        assert (cube["label"].values == number).sum() <= 1
        cube.close()


def test_bad_parameters_are_named(loaded_plugin, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    cases = [
        ({"END_DATE": "2021-01-01"}, "End date (END_DATE): The end date 2021-01-01 is before"),
        ({"BANDS": "red,B99"}, "Bands (BANDS): Band 'B99' does not exist"),
        (
            {"MASK_VALUES": "0,cloud"},
            "Masked classes of the mask band (MASK_VALUES): 'cloud' is not a class number",
        ),
        (
            {"STAC_URL": "http://127.0.0.1:9"},
            "Catalogue (STAC_URL): Cannot reach the STAC API at http://127.0.0.1:9: 127.0.0.1"
            " refuses connections on port 9",
        ),
        ({"COLLECTION": "nope"}, "Collection (COLLECTION): Collection 'nope' does not exist"),
        ({"ID_FIELD": "nofield"}, "Feature id field (ID_FIELD): the layer has no field 'nofield'"),
        (
            {"CRS": "EPSG:4326"},
            "Pixel size in CRS units (RESOLUTION): The grid CRS EPSG:4326 is in degrees",
        ),
    ]
    for change, message in cases:
        params = common(url, site_points()) | {"OUTPUT": str(tmp_path / "x.csv")} | change
        with pytest.raises(QgsProcessingException) as caught:
            processing.run("sits:extracttimeseries", params)
        assert message in str(caught.value)
    line = memory_layer(
        "LineString", "EPSG:4326", [("l", QgsGeometry.fromWkt("LINESTRING(2 48, 3 49)"), 1)]
    )
    with pytest.raises(QgsProcessingException):
        processing.run(
            "sits:extracttimeseries", common(url, line) | {"OUTPUT": str(tmp_path / "l.csv")}
        )


def test_the_series_layer_loads_as_a_temporal_layer_coloured_by_the_index(
    loaded_plugin, sample_stac, tmp_path
) -> None:
    """As the toolbox loads it: each row an instant at its date for the Temporal
    Controller, shown until the feature's next date (10 days apart in the catalogue),
    in classes of the index."""
    from qgis.core import QgsProject

    served, _ = sample_stac
    out = tmp_path / "series.gpkg"
    processing.runAndLoadResults(
        "sits:extracttimeseries",
        common(served.stac_urls["earth-search"], site_points())
        | {"INDICES": "NDVI", "OUTPUT": str(tmp_path / "t.csv"), "OUTPUT_LAYER": str(out)},
        feedback=QgsProcessingFeedback(),
    )
    project = QgsProject.instance()
    loaded = layers_loaded_from(out)
    try:
        assert len(loaded) == 1
        temporal = loaded[0].temporalProperties()
        assert temporal.isActive()
        instants = Qgis.VectorTemporalMode.FeatureDateTimeInstantFromField
        assert temporal.mode() == instants
        assert temporal.startField() == "date"
        assert temporal.fixedDuration() == 10.0
        renderer = loaded[0].renderer()  # the index's classes, then the masked dates
        rules = renderer.rootRule().children()
        assert renderer.type() == "RuleRenderer" and len(rules) > 2
        assert all('"NDVI"' in rule.filterExpression() for rule in rules)
    finally:
        project.removeAllMapLayers()


def test_cubes_load_as_temporal_mesh_layers(loaded_plugin, sample_stac, tmp_path) -> None:
    """As the toolbox loads them: each cube a mesh layer whose bands are temporal
    datasets spanning the cube's own dates, for the Temporal Controller."""
    from qgis.core import QgsMeshLayer, QgsProject

    served, _ = sample_stac
    processing.runAndLoadResults(
        "sits:extractcubes",
        common(served.stac_urls["earth-search"], site_points())
        | {"MODE": 1, "PATCH_X": 4, "PATCH_Y": 4, "OUTPUT_FOLDER": str(tmp_path / "cubes"),
           "OUTPUT_INDEX": str(tmp_path / "index.gpkg")},
        feedback=QgsProcessingFeedback(),
    )  # fmt: skip
    project = QgsProject.instance()
    try:
        meshes = [m for m in project.mapLayers().values() if isinstance(m, QgsMeshLayer)]
        assert sorted(m.name() for m in meshes) == sorted(f"cube {s.name}" for s in SITES)
        for mesh in meshes:
            cube = xr.open_dataset(mesh.source())
            first, last = (str(cube.time.values[i])[:19] for i in (0, -1))
            cube.close()
            extent = mesh.temporalProperties().timeExtent()
            assert mesh.temporalProperties().isActive()
            assert extent.begin().toString("yyyy-MM-ddThh:mm:ss") == first
            assert extent.end().toString("yyyy-MM-ddThh:mm:ss") == last
            groups = mesh.dataProvider().datasetGroupCount()
            names = {mesh.dataProvider().datasetGroupMetadata(g).name() for g in range(groups)}
            assert {"red", "nir"} <= names
    finally:
        project.removeAllMapLayers()


@pytest.mark.parametrize(
    ("algorithm", "change", "message"),
    [
        ("sits:searchstac", {"END_DATE": "2021-12-31"},
         "End date (END_DATE): The end date 2021-12-31 is before the start date 2022-01-01."),
        ("sits:extracttimeseries", {"END_DATE": "2021-12-31"}, "End date (END_DATE): The end date"),
        ("sits:extracttimeseries", {"MASK_BAND": ""}, ""),  # no mask: values unused (logged)
        ("sits:extracttimeseries", {"MASK_VALUES": ""}, ""),  # auto: the collection's defaults
        ("sits:extracttimeseries", {"MASK_BAND": "scl", "MASK_VALUES": ""}, ""),  # SCL's defaults
        ("sits:extracttimeseries", {"MASK_BAND": "cloudmask", "MASK_VALUES": ""},
         "Masked classes of the mask band (MASK_VALUES): the mask band 'cloudmask' is named"),
        ("sits:extracttimeseries", {"MASK_VALUES": "", "MASK_BITS": "3"}, ""),
        ("sits:extracttimeseries", {"MASK_VALUES": "0,cloud"}, "(MASK_VALUES): 'cloud' is not"),
        ("sits:extracttimeseries", {"MASK_BITS": "1,high"},
         "Masked bits of the mask band (MASK_BITS): 'high' is not"),
        ("sits:extracttimeseries", {"MASK_BITS": "70"}, "(MASK_BITS): 70 is not a bit position"),
        ("sits:extracttimeseries", {"BANDS": " , "}, "Bands (BANDS): Give at least one band"),
        ("sits:extracttimeseries", {"CRS": "EPSG:99999999"},
         "Grid CRS (CRS): 'EPSG:99999999' is not"),
        ("sits:extracttimeseries", {"CRS": "EPSG:4326"},
         "Pixel size in CRS units (RESOLUTION): The grid CRS EPSG:4326 is in degrees"),
        ("sits:extracttimeseries", {"CRS": "EPSG:4326", "RESOLUTION": 0.0001}, ""),
        ("sits:extracttimeseries", {"INDICES": "ndvi,NOTANINDEX"},
         "Spectral indices (INDICES): Unknown spectral index 'NOTANINDEX'"),
        ("sits:extractcubes", {"MODE": 1, "PATCH_X": 0},
         "Patch width (PATCH_X): the patch mode needs"),
        ("sits:extractcubes", {"MODE": 1, "PATCH_Y": 0},
         "Patch height (PATCH_Y): the patch mode needs"),
        ("sits:extractcubes", {"MODE": 0, "PATCH_X": 0}, ""),  # image mode: sizes unused
        ("sits:extracttimeseries", {"INDICES": "NDVI", "CRS": "EPSG:3035"}, ""),
    ],
)  # fmt: skip
def test_the_dialog_refuses_invalid_combinations_before_running(
    loaded_plugin, tmp_path, algorithm, change, message
) -> None:
    """``checkParameterValues`` is what the Processing dialog (and processing.run and
    qgis_process) calls before running; nothing is searched: the URL is a closed port."""
    from qgis.core import QgsApplication, QgsProcessingContext

    params = common("http://127.0.0.1:9", site_points()) | {
        "OUTPUT": str(tmp_path / "x.csv"),
        "OUTPUT_FOLDER": str(tmp_path / "cubes"),
        "OUTPUT_INDEX": str(tmp_path / "index.gpkg"),
    }
    alg = QgsApplication.processingRegistry().createAlgorithmById(algorithm)
    ok, said = alg.checkParameterValues(params | change, QgsProcessingContext())
    if message:
        assert not ok and message in said
    else:
        assert ok, said


def sites_geojson(path: Path) -> Path:
    """The sample sites as a GeoJSON point file (for qgis_process), ids in ``name``."""
    features = [
        {"type": "Feature", "properties": {"name": s.name},
         "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]}}
        for s in SITES
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_qgis_process_writes_the_csv_table(qgis_process, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    points = sites_geojson(tmp_path / "points.geojson")
    table = tmp_path / "series.csv"
    done = qgis_process(
        "run", "sits:extracttimeseries", "--json", "--",
        f"INPUT={points}", "ID_FIELD=name", f"STAC_URL={served.stac_urls['earth-search']}",
        "START_DATE=2022-01-01", "END_DATE=2022-03-26", "BANDS=red,nir", "GAPFILL=1",
        f"OUTPUT={table}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout[done.stdout.index("{") :])["results"]
    assert results["ROWS"] == len(SITES) * len(DATES) and results["SEARCHES"] == 1
    with table.open() as stream:
        rows = list(csv.DictReader(stream))
    assert {r["status"] for r in rows} <= {"ok", "filled"} and all(r["red"] for r in rows)


def test_the_example_model_runs_through_qgis_process(qgis_process, sample_stac, tmp_path) -> None:
    """The shipped model (search, NDVI series, statistics per point) from the toolbox's
    SITS provider; its statistics equal those of its own series layer, per point."""
    served, _ = sample_stac
    points = sites_geojson(tmp_path / "points.geojson")
    outputs = {name: tmp_path / f"{name}.gpkg" for name in ("footprints", "series", "statistics")}
    done = qgis_process(
        "run", "sits:Index statistics per point", "--json", "--",
        f"INPUT={points}", f"STAC_URL={served.stac_urls['earth-search']}",
        "START_DATE=2022-01-01", "END_DATE=2022-03-26", "INDEX=NDVI",
        *(f"{MODEL_OUTPUTS[name]}={path}" for name, path in outputs.items()),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(read_table(outputs["footprints"])) == len(SITES) * len(DATES)
    series = read_table(outputs["series"])
    statistics = {row["feature_id"]: row for row in read_table(outputs["statistics"])}
    assert len(statistics) == len(SITES)
    for feature_id, row in statistics.items():
        own = [r["NDVI"] for r in series if r["feature_id"] == feature_id]
        ndvi = [value for value in own if value is not None]
        assert row["count"] == len(ndvi) > 0
        assert row["mean"] == pytest.approx(float(np.mean(ndvi)))
        assert row["max"] == pytest.approx(max(ndvi))


@pytest.mark.skipif(
    not (SHARED_DATA / "europe_random_points.geojson").exists(), reason="no shared data"
)
def test_real_tutorial_points_and_banc_d_arguin(loaded_plugin, tmp_path_factory, tmp_path) -> None:
    """The SITS tutorial's 24 points and the Banc d'Arguin polygon, on generated imagery."""
    import sample_catalogue

    points = SHARED_DATA / "europe_random_points.geojson"
    polygon = SHARED_DATA / "banc_arguin.geojson"
    dates = DATES[2:5]
    sites = sample_catalogue.europe_sites(points)
    with serve_catalogue(tmp_path_factory.mktemp("europe"), sites, dates,
                         conventions=("earth-search",)) as (served, _):  # fmt: skip
        url = served.stac_urls["earth-search"]
        result = processing.run(
            "sits:extracttimeseries",
            common(url, str(points))
            | {"ID_FIELD": "pt_id", "END_DATE": "2022-02-24", "OUTPUT": str(tmp_path / "p.csv")},
        )
        assert (
            result["FEATURES"] == 24 and result["FAILED"] == 0 and result["ROWS"] == 24 * len(dates)
        )
    # the Banc d'Arguin is 7 x 9 km: one 10 km tile on its centre
    arguin = [Site("arguin", -1.2393, 44.5894)]
    with serve_catalogue(tmp_path_factory.mktemp("arguin"), arguin, dates, tile_pixels=1024,
                         conventions=("earth-search",)) as (served, _):  # fmt: skip
        url = served.stac_urls["earth-search"]
        result = processing.run(
            "sits:extracttimeseries",
            common(url, str(polygon)) | {"ID_FIELD": "id", "BANDS": "red", "STATISTICS": [0, 5],
                                         "MAX_MASKED": 1.0, "OUTPUT": str(tmp_path / "b.csv")},
        )  # fmt: skip
        with (tmp_path / "b.csv").open() as stream:
            rows = list(csv.DictReader(stream))
        assert result["FAILED"] == 0 and len(rows) == len(dates)
        # the polygon is larger than the generated tile: part of it has pixels
        assert all((float(r["red_count"]) > 0) == (float(r["valid_fraction"]) > 0) for r in rows)
        assert max(float(r["red_count"]) for r in rows) > 10_000


def test_a_patch_of_zero_pixels_is_refused(loaded_plugin, sample_stac, tmp_path) -> None:
    served, _ = sample_stac
    params = common(served.stac_urls["earth-search"], site_points()) | {
        "MODE": 1, "PATCH_X": 0, "OUTPUT_FOLDER": str(tmp_path / "c"),
        "OUTPUT_INDEX": str(tmp_path / "i.gpkg"),
    }  # fmt: skip
    with pytest.raises(QgsProcessingException, match="PATCH_X"):
        processing.run("sits:extractcubes", params)
    assert not (tmp_path / "c").exists()


def test_values_mask_bits_and_an_empty_mask_band_reach_the_engine(
    loaded_plugin, sample_stac, tmp_path
) -> None:
    """VALUES=physical gives DN x 1e-4 (the catalogue's raster:bands scale); MASK_BITS
    masks by bits; an empty MASK_BAND masks nothing and the log says why."""
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    stored = processing.run(
        "sits:extracttimeseries",
        common(url, site_points()) | {"MASK_BAND": "", "OUTPUT": str(tmp_path / "dn.csv")},
    )
    feedback = RecordingFeedback()
    processing.run(
        "sits:extracttimeseries",
        common(url, site_points())
        | {
            "MASK_BAND": "",
            "MASK_VALUES": "9",
            "VALUES": 1,
            "OUTPUT": str(tmp_path / "physical.csv"),
        },
        feedback=feedback,
    )
    assert any("MASK_BAND is empty: no pixel is masked" in w for w in feedback.warnings)
    tables = []
    for path in (stored["OUTPUT"], tmp_path / "physical.csv"):
        with open(path) as table:
            tables.append({(r["feature_id"], r["date"]): r for r in csv.DictReader(table)})
    assert tables[0].keys() == tables[1].keys()
    pairs = [(tables[0][key], tables[1][key]) for key in tables[0]]
    assert len(pairs) == len(SITES) * len(DATES)
    assert all(a["status"] == "ok" for a, _ in pairs)  # nothing masked
    for a, b in pairs:
        assert float(b["red"]) == pytest.approx(float(a["red"]) * 1e-4, rel=1e-6)
    bits = processing.run(
        "sits:extracttimeseries",
        common(url, site_points())
        | {"MASK_VALUES": "", "MASK_BITS": "3", "OUTPUT": str(tmp_path / "bits.csv")},
    )
    with open(bits["OUTPUT"]) as table:
        statuses = {row["status"] for row in csv.DictReader(table)}
    assert statuses == {"ok", "masked"}


@pytest.mark.parametrize("output", ["table.csv", "table.gpkg"])
def test_a_cancelled_table_leaves_nothing_at_its_destination(
    loaded_plugin, slow_stac, tmp_path, output
) -> None:
    """Cancelled after its first feature, the run fails (as a cancel does everywhere in
    QGIS) and neither the table nor the layer stays at the destination, incomplete: only
    the hidden journal of the finished features, for RESUME."""
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda _: feedback.cancel())
    table, layer = tmp_path / output, tmp_path / f"layer-{output}"
    params = common(slow_stac, site_points()) | {"OUTPUT": str(table), "OUTPUT_LAYER": str(layer)}
    with pytest.raises(QgsProcessingException, match="Cancelled: nothing was written"):
        processing.run("sits:extracttimeseries", params, feedback=feedback)
    assert not table.exists() and not layer.exists()
    # only the journal that RESUME continues from
    assert [p.name for p in tmp_path.iterdir()] == [f".{output}.sits-journal.jsonl"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as table:
        return sorted(csv.DictReader(table), key=lambda r: (r["feature_id"], r["date"]))


def test_resume_continues_a_cancelled_run_and_equals_a_clean_one(
    loaded_plugin, slow_stac, tmp_path
) -> None:
    """Cancelled after its first features, the run keeps a journal next to the table;
    the same run with RESUME reads only the other features, and its table is row for
    row a clean run's. Other parameters are refused, naming them."""
    table = tmp_path / "series.csv"
    params = common(slow_stac, site_points()) | {"OUTPUT": str(table)}
    clean = tmp_path / "clean.csv"
    processing.run("sits:extracttimeseries", params | {"OUTPUT": str(clean)})
    journal = tmp_path / ".series.csv.sits-journal.jsonl"

    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda _: feedback.cancel())
    with pytest.raises(QgsProcessingException, match="run again with RESUME"):
        processing.run("sits:extracttimeseries", params, feedback=feedback)
    assert not table.exists() and journal.exists()
    finished = sum('"outcome"' in line for line in journal.read_text().splitlines())
    assert 1 <= finished < len(SITES)

    resume = r"Resume an interrupted run of this table \(RESUME\): .*other parameters \(BANDS"
    with pytest.raises(QgsProcessingException, match=resume):
        processing.run("sits:extracttimeseries", params | {"RESUME": True, "BANDS": "red"})

    said = RecordingFeedback()
    done = processing.run("sits:extracttimeseries", params | {"RESUME": True}, feedback=said)
    assert f"RESUME: the interrupted run finished {plural(finished, 'feature')}" in " ".join(
        said.infos
    )
    assert done["FEATURES"] == len(SITES)
    assert _rows(table) == _rows(clean)
    assert not journal.exists()  # finished: nothing left to resume


def test_resume_keeps_the_cubes_written_and_writes_the_others(
    loaded_plugin, slow_stac, tmp_path
) -> None:
    """A cube run cancelled after its first cube; with RESUME the cubes already written
    (same parameters) are kept untouched and the others written: every cube then equals
    a clean run's (values and attributes; the writing time aside). Cubes written with
    other parameters are refused, naming them."""

    def run(folder: Path, feedback: QgsProcessingFeedback | None = None, **extra: object) -> dict:
        params = common(slow_stac, site_points()) | {
            "MODE": 1, "PATCH_X": 4, "PATCH_Y": 4, "OUTPUT_FOLDER": str(folder),
            "OUTPUT_INDEX": str(folder.with_suffix(".gpkg")), "LOAD_CUBES": False,
        } | extra  # fmt: skip
        return processing.run("sits:extractcubes", params, feedback=feedback)

    run(tmp_path / "clean")
    folder = tmp_path / "cubes"
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda _: feedback.cancel())
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run(folder, feedback=feedback)
    written = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.nc")}
    assert len(written) >= 1  # a fast machine may finish them all before the cancel lands
    resume = r"Resume an interrupted run \(RESUME\): the cube .* \(BANDS differ\)"
    with pytest.raises(QgsProcessingException, match=resume):
        run(folder, RESUME=True, BANDS="red")
    done = run(folder, RESUME=True)
    assert done["WRITTEN"] == len(SITES)
    for name, mtime in written.items():
        assert (folder / name).stat().st_mtime_ns == mtime  # kept, not written again
    clean = sorted(p.name for p in (tmp_path / "clean").glob("*.nc"))
    assert sorted(p.name for p in folder.glob("*.nc")) == clean
    for name in clean:
        with xr.open_dataset(folder / name) as a, xr.open_dataset(tmp_path / "clean" / name) as b:
            a.attrs.pop("history"), b.attrs.pop("history")
            assert a.identical(b), name
