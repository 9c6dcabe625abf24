"""Bad input, tried as a demanding user tries it: every algorithm, parameter by
parameter, through ``processing.run`` as the dialog, the batch mode, models and PyQGIS
run it. Each case must fail with a Processing error that names the parameter (or the
item) in the user's words: no traceback, no "Unexpected error", and no output left at
the destination.

The cases are data: one row per bad value, the part of the message that must name what
is wrong. Counted in issue 14's closing note.
"""

from __future__ import annotations

import numpy as np
import processing
import pytest
from conftest import RecordingFeedback, write_raster
from qgis.core import QgsGeometry, QgsPointXY, QgsProcessingException
from test_timeseries_algorithms import common, memory_layer, site_points

#: (case, changed parameters, text that must be in the message) for
#: sits:extracttimeseries; "{url}" is the local STAC API, "{files}" its file server.
# fmt: off
SERIES_CASES = [
    ("start date not a date", {"START_DATE": "yesterday"}, "START_DATE"),
    ("start date 30 February", {"START_DATE": "2022-02-30"}, "START_DATE"),
    ("end date before start", {"END_DATE": "2021-01-01"}, "END_DATE"),
    ("no band and no index", {"BANDS": ""}, "BANDS"),
    ("unknown band", {"BANDS": "red,B99"}, "Bands (BANDS): Band 'B99'"),
    ("bands with semicolons", {"BANDS": "red;nir"}, "BANDS"),
    ("unknown index", {"INDICES": "NOPE"}, "INDICES"),
    ("unknown mask band", {"MASK_BAND": "nope"}, "MASK_BAND"),
    ("mask class not a number", {"MASK_VALUES": "0,cloud"}, "MASK_VALUES"),
    ("mask class fractional", {"MASK_VALUES": "1.5"}, "MASK_VALUES"),
    ("mask bit not a number", {"MASK_BITS": "a"}, "MASK_BITS"),
    ("mask bit out of range", {"MASK_BITS": "99"}, "MASK_BITS"),
    ("mask bit negative", {"MASK_BITS": "-2"}, "MASK_BITS"),
    ("masked fraction above 1", {"MAX_MASKED": 1.5}, "MAX_MASKED"),
    ("masked fraction negative", {"MAX_MASKED": -0.1}, "MAX_MASKED"),
    ("cloud above 100", {"MAX_CLOUD": 101}, "MAX_CLOUD"),
    ("cloud negative", {"MAX_CLOUD": -1}, "MAX_CLOUD"),
    ("negative buffer", {"BUFFER": -5}, "BUFFER"),
    ("negative resolution", {"RESOLUTION": -10}, "RESOLUTION"),
    ("unknown CRS code", {"CRS": "EPSG:99999"}, "CRS"),
    ("CRS in degrees, no resolution", {"CRS": "EPSG:4326"}, "RESOLUTION"),
    ("gap filling out of its list", {"GAPFILL": 9}, "GAPFILL"),
    ("statistic out of its list", {"STATISTICS": [9]}, "STATISTICS"),
    ("empty catalogue address", {"STAC_URL": ""}, "STAC_URL"),
    ("catalogue address not a URL", {"STAC_URL": "not a url"}, "STAC_URL"),
    ("ftp catalogue", {"STAC_URL": "ftp://127.0.0.1/"}, "STAC_URL"),
    ("nothing listens", {"STAC_URL": "http://127.0.0.1:9"}, "STAC_URL"),
    ("catalogue that is a file server", {"STAC_URL": "{files}"}, "STAC_URL"),
    ("catalogue path that does not exist", {"STAC_URL": "{url}/no/such/api"}, "STAC_URL"),
    ("password in the address",
     {"STAC_URL": "http://user:secret@127.0.0.1:9"}, "STAC_URL"),  # pragma: allowlist secret
    ("unknown collection", {"COLLECTION": "nope"}, "COLLECTION"),
    ("empty collection", {"COLLECTION": ""}, "COLLECTION"),
    ("unknown authentication", {"AUTHCFG": "nosuchid"}, "AUTHCFG"),
    ("missing id field", {"ID_FIELD": "nofield"}, "ID_FIELD"),
    ("duplicate ids", {"ID_FIELD": "class", "INPUT": "duplicates"}, "ID_FIELD"),
    ("lines", {"INPUT": "lines"}, "INPUT"),
    ("empty layer", {"INPUT": "empty"}, "INPUT"),
    ("missing layer file", {"INPUT": "/nonexistent/points.gpkg"}, "INPUT"),
    ("points far from every image", {"INPUT": "far"}, "INPUT"),
    ("no images in the dates",
     {"START_DATE": "2019-01-01", "END_DATE": "2019-02-01"}, "START_DATE"),
    ("output folder missing", {"OUTPUT": "/nonexistent/folder/t.csv"}, "OUTPUT"),
]

#: The same for sits:extractcubes (its own parameters).
CUBE_CASES = [
    ("patch width zero", {"MODE": 1, "PATCH_X": 0}, "PATCH_X"),
    ("patch height negative", {"MODE": 1, "PATCH_Y": -3}, "PATCH_Y"),
    ("mode out of its list", {"MODE": 7}, "MODE"),
    ("missing label field", {"LABEL_FIELD": "nofield"}, "LABEL_FIELD"),
    ("output folder not writable", {"OUTPUT_FOLDER": "/proc/sits-cubes"}, "OUTPUT_FOLDER"),
    ("output folder is a file", {"OUTPUT_FOLDER": "{file}"}, "OUTPUT_FOLDER"),
]

#: The same for sits:searchstac.
SEARCH_CASES = [
    ("unknown collection", {"COLLECTION": "nope"}, "COLLECTION"),
    ("nothing listens", {"STAC_URL": "http://127.0.0.1:9"}, "STAC_URL"),
    ("end date before start", {"END_DATE": "2021-01-01"}, "END_DATE"),
    ("cloud above 100", {"MAX_CLOUD": 250}, "MAX_CLOUD"),
]

#: (case, parameters, text) for the tiled raster algorithms; "{dem}" is a good raster,
#: "{text}" a text file, "{tmp}" the test's folder.
RASTER_CASES = [
    ("sits:rasterstatistics", "missing raster", {"INPUT": "/nonexistent/dem.tif"}, "INPUT"),
    ("sits:rasterstatistics", "not a raster", {"INPUT": "{text}"}, "INPUT"),
    ("sits:rasterstatistics", "band 0", {"BAND": 0}, "BAND"),
    ("sits:rasterstatistics", "band 3 of 1", {"BAND": 3}, "BAND"),
    ("sits:rasterstatistics", "chunk too small", {"CHUNK_SIZE": 8}, "CHUNK_SIZE"),
    ("sits:rasterstatistics", "tile layer folder missing",
     {"OUTPUT_TILES": "/nonexistent/tiles.gpkg"}, "OUTPUT_TILES"),
    ("sits:rasterfilter", "missing raster", {"INPUT": "/nonexistent/dem.tif"}, "INPUT"),
    ("sits:rasterfilter", "band 2 of 1", {"BAND": 2}, "BAND"),
    ("sits:rasterfilter", "even size", {"SIZE": 4}, "SIZE"),
    ("sits:rasterfilter", "size larger than the raster", {"SIZE": 151}, "SIZE"),
    ("sits:rasterfilter", "filter out of its list", {"FILTER": 12}, "FILTER"),
    ("sits:rasterfilter", "gaussian sigma zero", {"FILTER": 4, "SIGMA": 0}, "SIGMA"),
    ("sits:rasterfilter", "output is the input", {"OUTPUT": "{dem}"}, "OUTPUT"),
    ("sits:rasterfilter", "output folder missing",
     {"OUTPUT": "/nonexistent/folder/o.tif"}, "OUTPUT"),
    ("sits:rasterfilter", "chunk too small", {"CHUNK_SIZE": 4}, "CHUNK_SIZE"),
]


# fmt: on


def special_layer(name: str):
    """The layers the cases name: duplicate ids, lines, none, far from the images."""
    point = QgsGeometry.fromPointXY
    if name == "duplicates":
        return memory_layer("Point", "EPSG:4326", [
            ("a", point(QgsPointXY(2.3512, 48.8566)), 1),
            ("b", point(QgsPointXY(2.3513, 48.8567)), 1),
        ])  # fmt: skip
    if name == "lines":
        line = QgsGeometry.fromWkt("LINESTRING(2 48, 3 49)")
        return memory_layer("LineString", "EPSG:4326", [("l", line, 1)])
    if name == "empty":
        return memory_layer("Point", "EPSG:4326", [])
    if name == "far":
        return memory_layer("Point", "EPSG:4326", [("far", point(QgsPointXY(-120, -40)), 1)])
    return name


def refused(algorithm: str, params: dict, expected: str) -> None:
    """The run is refused with a message that says ``expected``, in the user's words
    (no traceback, no "unexpected error"), and no secret reaches the message or the log."""
    feedback = RecordingFeedback()
    with pytest.raises(QgsProcessingException) as error:
        processing.run(algorithm, params, feedback=feedback)
    message = str(error.value)
    assert expected in message, message
    for bad in ("Traceback", "Unexpected error", "NoneType", "KeyError"):
        assert bad not in message, message
    assert "secret" not in message + " ".join(feedback.infos + feedback.warnings)


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SERIES_CASES], ids=[c[0] for c in SERIES_CASES]
)
def test_time_series_bad_input(loaded_plugin, sample_stac, tmp_path, change, expected):
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    params = common(url, site_points()) | {"OUTPUT": str(tmp_path / "t.csv")}
    for key, value in change.items():
        if isinstance(value, str):
            value = value.replace("{url}", url).replace("{files}", served.files_url)
        params[key] = special_layer(value) if key == "INPUT" else value
    refused("sits:extracttimeseries", params, expected)
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in CUBE_CASES], ids=[c[0] for c in CUBE_CASES]
)
def test_cube_bad_input(loaded_plugin, sample_stac, tmp_path, change, expected):
    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    params = common(url, site_points()) | {
        "RESOLUTION": 20, "CRS": "EPSG:3035", "OUTPUT_FOLDER": str(tmp_path / "cubes"),
        "OUTPUT_INDEX": str(tmp_path / "index.gpkg"),
    }  # fmt: skip
    params |= {k: v.replace("{file}", str(a_file)) if isinstance(v, str) else v
               for k, v in change.items()}  # fmt: skip
    refused("sits:extractcubes", params, expected)
    assert not list(tmp_path.glob("**/*.nc"))


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SEARCH_CASES], ids=[c[0] for c in SEARCH_CASES]
)
def test_search_bad_input(loaded_plugin, sample_stac, tmp_path, change, expected):
    served, _ = sample_stac
    params = {
        "STAC_URL": served.stac_urls["earth-search"], "COLLECTION": "sentinel-2-l2a",
        "START_DATE": "2022-01-01", "END_DATE": "2022-03-26",
        "EXTENT": "2.0,3.0,48.0,49.0 [EPSG:4326]", "OUTPUT": str(tmp_path / "f.gpkg"),
    } | change  # fmt: skip
    refused("sits:searchstac", params, expected)
    assert not (tmp_path / "f.gpkg").exists()


@pytest.mark.parametrize(
    ("algorithm", "change", "expected"),
    [(c[0], *c[2:]) for c in RASTER_CASES],
    ids=[f"{c[0].split(':')[1]}: {c[1]}" for c in RASTER_CASES],
)
def test_raster_bad_input(loaded_plugin, tmp_path, algorithm, change, expected):
    rng = np.random.default_rng(3)
    dem = write_raster(tmp_path / "dem.tif", rng.normal(800, 90, (120, 150)).astype("float32"),
                       -9999.0, block=16)  # fmt: skip
    text = tmp_path / "notes.tif"
    text.write_text("this is not a raster")
    params = {"INPUT": str(dem), "BAND": 1, "CHUNK_SIZE": 64}
    if algorithm == "sits:rasterfilter":
        params |= {"FILTER": 0, "SIZE": 3, "SIGMA": 1.0, "OUTPUT": str(tmp_path / "o.tif")}
    for key, value in change.items():
        if isinstance(value, str):
            value = value.replace("{dem}", str(dem)).replace("{text}", str(text))
        params[key] = value
    before = dem.read_bytes()
    refused(algorithm, params, expected)
    assert not (tmp_path / "o.tif").exists() or change.get("OUTPUT") == str(dem)
    assert dem.read_bytes() == before
