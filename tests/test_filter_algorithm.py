"""sits:rasterfilter in a real headless QGIS: processing.run and qgis_process."""

from __future__ import annotations

import numpy as np
import processing
import pytest
import rasterio
from conftest import write_raster
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from sits_qgis.tiling.filters import Filter, apply_filter

ALG = "sits:rasterfilter"
RNG = np.random.default_rng(5)


@pytest.fixture
def dem(tmp_path):
    data = RNG.normal(800, 90, (120, 150)).astype("float32")
    data[RNG.random(data.shape) < 0.05] = -9999
    return write_raster(tmp_path / "dem.tif", data, -9999.0, block=16), data


def oracle(data: np.ndarray, kind: Filter, size: int, sigma: float | None) -> np.ndarray:
    r = size // 2 if kind is not Filter.GAUSSIAN else int(4 * sigma + 0.5)
    mask = np.pad(data == -9999, r, constant_values=True)
    return apply_filter(np.ma.MaskedArray(np.pad(data, r), mask=mask), kind, size, sigma, -9999.0)


@pytest.mark.parametrize(("index", "kind"), list(enumerate(Filter)))
def test_every_filter_through_processing_run(loaded_plugin, dem, tmp_path, index, kind):
    path, data = dem
    out = tmp_path / f"{kind.value}.tif"
    result = processing.run(
        ALG,
        {
            "INPUT": str(path),
            "BAND": 1,
            "FILTER": index,
            "SIZE": 5,
            "SIGMA": 1.2,
            "CHUNK_SIZE": 32,
            "OUTPUT": str(out),
        },
        feedback=QgsProcessingFeedback(),
    )
    assert result["OUTPUT"] == str(out)
    layer = QgsRasterLayer(str(out), "out")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32631"
    del layer
    with rasterio.open(out) as ds:
        got = ds.read(1)
    expected = oracle(data, kind, 5, 1.2 if kind is Filter.GAUSSIAN else None)
    assert got.tobytes() == expected.tobytes()


def test_the_progress_bar_reaches_100_percent(loaded_plugin, dem, tmp_path):
    """Progress is in percent everywhere (``sits_qgis.progress``): the filter once sent
    the fraction of tiles done, so its bar stopped at 1 %."""
    path, _ = dem
    feedback = QgsProcessingFeedback()
    progress: list[float] = []
    feedback.progressChanged.connect(progress.append)
    processing.run(
        ALG,
        {"INPUT": str(path), "FILTER": 0, "SIZE": 3, "CHUNK_SIZE": 32,
         "OUTPUT": str(tmp_path / "o.tif")},
        feedback=feedback,
    )  # fmt: skip
    assert progress and max(progress) == pytest.approx(100.0)
    assert progress == sorted(progress)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"SIZE": 4}, "Window size (SIZE): SIZE must be an odd number"),
        ({"FILTER": 4, "SIGMA": 0}, "Gaussian sigma (SIGMA): SIGMA must be a positive number"),
        ({"SIZE": 151}, "larger than the raster"),
        ({"BAND": 2}, "Band (BAND): Band 2 does not exist"),
        ({"OUTPUT": "/nonexistent-folder/o.tif"}, "OUTPUT"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(loaded_plugin, dem, tmp_path, parameters, message):
    path, _ = dem
    arguments = {
        "INPUT": str(path),
        "BAND": 1,
        "FILTER": 0,
        "SIZE": 3,
        "SIGMA": 1.0,
        "CHUNK_SIZE": 64,
        "OUTPUT": str(tmp_path / "o.tif"),
        **parameters,
    }
    with pytest.raises(QgsProcessingException) as error:
        processing.run(ALG, arguments, feedback=QgsProcessingFeedback())
    assert message in str(error.value)
    assert "Traceback" not in str(error.value)
    assert not (tmp_path / "o.tif").exists()


def test_output_equal_to_input_is_refused(loaded_plugin, dem):
    path, _ = dem
    before = path.read_bytes()
    refusal = r"Filtered raster \(OUTPUT\): The output is the input"
    with pytest.raises(QgsProcessingException, match=refusal):
        processing.run(
            ALG,
            {"INPUT": str(path), "FILTER": 2, "SIZE": 3, "OUTPUT": str(path)},
            feedback=QgsProcessingFeedback(),
        )
    assert path.read_bytes() == before


def test_qgis_process_runs_the_filter_from_the_zip(qgis_process, tmp_path, dem):
    path, data = dem
    run = qgis_process
    out = tmp_path / "max.tif"
    done = run(
        "run",
        ALG,
        "--",
        f"INPUT={path}",
        "BAND=1",
        "FILTER=0",
        "SIZE=5",
        "CHUNK_SIZE=64",
        "COG=true",
        f"OUTPUT={out}",
    )
    assert done.returncode == 0, done.stderr
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.read(1).tobytes() == oracle(data, Filter.MAXIMUM, 5, None).tobytes()


def test_output_is_added_to_the_project_styled_like_its_input(loaded_plugin, dem, tmp_path):
    """As the toolbox does: the output is loaded, and drawn with its input's renderer
    (here a pseudocolour ramp from 600 to 1000) rather than QGIS's default grey."""
    from qgis.core import (
        QgsColorRampShader,
        QgsProject,
        QgsRasterShader,
        QgsSingleBandPseudoColorRenderer,
        QgsStyle,
    )

    path, _ = dem
    source = QgsRasterLayer(str(path), "dem")
    ramp = QgsColorRampShader(600.0, 1000.0, QgsStyle.defaultStyle().colorRamp("Viridis"))
    ramp.classifyColorRamp(5)
    shader = QgsRasterShader(600.0, 1000.0)
    shader.setRasterShaderFunction(ramp)
    source.setRenderer(QgsSingleBandPseudoColorRenderer(source.dataProvider(), 1, shader))
    project = QgsProject.instance()
    project.addMapLayer(source)
    out = tmp_path / "loaded.tif"
    processing.runAndLoadResults(
        ALG,
        {"INPUT": source, "FILTER": 1, "SIZE": 3, "OUTPUT": str(out)},
        feedback=QgsProcessingFeedback(),
    )
    loaded = [layer for layer in project.mapLayers().values() if layer.source() == str(out)]
    try:
        assert len(loaded) == 1 and loaded[0].isValid()
        renderer = loaded[0].renderer()
        assert renderer.type() == "singlebandpseudocolor"
        shader = renderer.shader()
        assert (shader.minimumValue(), shader.maximumValue()) == (600.0, 1000.0)
        colours = [i.color.name() for i in shader.rasterShaderFunction().colorRampItemList()]
        assert colours == [i.color.name() for i in ramp.colorRampItemList()]
    finally:
        project.removeAllMapLayers()
