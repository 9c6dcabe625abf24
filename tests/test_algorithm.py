"""sits:rasterstatistics in a real headless QGIS: processing.run, a QgsTask, errors."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import (
    RecordingFeedback,
    assert_matches_numpy,
    layers_loaded_from,
    numpy_statistics,
    valid_values,
    write_raster,
)
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from processing_provider import settings

RNG = np.random.default_rng(99)
ALG = "sits:rasterstatistics"


@pytest.fixture
def backend_settings(loaded_plugin):
    """Set the provider's backend settings for one test, then restore the defaults."""
    from processing.core.ProcessingConfig import ProcessingConfig

    def apply(mode: int = 0, workers: int = 2, scheduler: str = "") -> None:
        ProcessingConfig.setSettingValue(settings.MODE, mode)
        ProcessingConfig.setSettingValue(settings.WORKERS, workers)
        ProcessingConfig.setSettingValue(settings.SCHEDULER, scheduler)

    apply()
    yield apply
    apply()


@pytest.fixture
def dem(tmp_path):
    data = RNG.normal(1500, 300, (389, 450)).astype("float32")
    data[RNG.random(data.shape) < 0.03] = -9999
    data[100:120, :] = np.nan
    return write_raster(tmp_path / "dem.tif", data, -9999.0, block=64), data


def run(parameters, feedback=None):
    import processing

    return processing.run(ALG, parameters, feedback=feedback or QgsProcessingFeedback())


def test_statistics_and_tile_layer(dem, tmp_path, backend_settings):
    path, data = dem
    tiles = tmp_path / "tiles.gpkg"
    result = run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 128, "OUTPUT_TILES": str(tiles)})
    assert_matches_numpy(result, numpy_statistics(valid_values(data, -9999.0)))
    assert result["TOTAL_COUNT"] == data.size
    layer = QgsVectorLayer(result["OUTPUT_TILES"], "tiles", "ogr")
    assert layer.isValid() and layer.featureCount() == 4 * 4  # 389x450 in 128-pixel tiles
    assert layer.crs().authid() == "EPSG:32631"
    assert sum(f["count"] for f in layer.getFeatures()) == result["COUNT"]
    extent = layer.extent()
    assert (extent.xMinimum(), extent.yMaximum()) == (500000, 4800000)
    assert (extent.xMaximum(), extent.yMinimum()) == (500000 + 4500, 4800000 - 3890)
    first = next(layer.getFeatures("row_min = 0 AND col_min = 128"))
    block = data[0:128, 128:256]
    assert first["median"] == float(np.median(valid_values(block, -9999.0)))
    assert (first["row_max"], first["col_max"]) == (128, 256)
    del layer


def test_loaded_tile_layer_is_coloured_by_the_tile_mean(dem, tmp_path, backend_settings):
    import processing
    from qgis.core import QgsProject

    path, _ = dem
    tiles = tmp_path / "tiles.gpkg"
    processing.runAndLoadResults(
        ALG, {"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 128, "OUTPUT_TILES": str(tiles)}
    )
    project = QgsProject.instance()
    loaded = layers_loaded_from(tiles)
    try:
        assert len(loaded) == 1
        renderer = loaded[0].renderer()
        assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "mean"
        means = sorted(f["mean"] for f in loaded[0].getFeatures())
        assert renderer.ranges()[0].lowerValue() == means[0]
        assert renderer.ranges()[-1].upperValue() == means[-1]
    finally:
        project.removeAllMapLayers()


def test_runs_in_a_qgstask_like_the_toolbox(dem, backend_settings):
    """The toolbox runs algorithms in a QgsTask thread; the workers start from there."""
    path, data = dem
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALG)
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    progress: list[float] = []
    feedback.progressChanged.connect(progress.append)
    task = QgsProcessingAlgRunnerTask(
        algorithm, {"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 64}, context, feedback
    )
    outcome: dict = {}
    task.executed.connect(lambda ok, results: outcome.update(ok=ok, results=results))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + 120
    while "ok" not in outcome and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    assert outcome["ok"] is True
    assert outcome["results"]["MEDIAN"] == float(np.median(valid_values(data, -9999.0)))
    assert progress and max(progress) == pytest.approx(100.0)


@pytest.mark.parametrize("mode", [1, 2])  # threads, in the calling thread
def test_every_backend_mode_gives_the_same_numbers(dem, backend_settings, mode):
    path, data = dem
    backend_settings(mode=mode)
    result = run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 100})
    assert_matches_numpy(result, numpy_statistics(valid_values(data, -9999.0)))


def test_all_nodata_band_reports_absent_statistics(tmp_path, backend_settings):
    path = write_raster(tmp_path / "empty.tif", np.full((30, 40), -1, "int16"), -1)
    feedback = RecordingFeedback()
    result = run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 16}, feedback)
    assert result["COUNT"] == 0 and result["TOTAL_COUNT"] == 1200
    assert result["VALID_PERCENT"] == 0.0
    assert result["MEAN"] is None and result["MEDIAN"] is None and result["NMAD"] is None
    assert any("no valid pixel" in w for w in feedback.warnings)


def test_chunk_larger_than_the_raster_is_one_tile_with_a_warning(tmp_path, backend_settings):
    data = RNG.integers(0, 1000, (20, 30)).astype("uint16")
    path = write_raster(tmp_path / "small.tif", data, None, block=16)
    feedback = RecordingFeedback()
    result = run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 512}, feedback)
    assert_matches_numpy(result, numpy_statistics(data.ravel()))
    assert any("CHUNK_SIZE 512 is as large as the raster" in w for w in feedback.warnings)


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"BAND": 3}, "Band (BAND): Band 3 does not exist: the raster has 1 band, band 1."),
        ({"CHUNK_SIZE": 8}, "Incorrect parameter value for CHUNK_SIZE"),
    ],
)
def test_bad_parameters_name_the_parameter(dem, backend_settings, parameters, expected):
    path, _ = dem
    with pytest.raises(QgsProcessingException) as error:
        run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 64, **parameters})
    assert expected in str(error.value)
    assert "Traceback" not in str(error.value)


def test_raster_that_cannot_be_opened(tmp_path, backend_settings):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 this is not a raster")
    with pytest.raises(QgsProcessingException, match=r"INPUT|Could not load source layer"):
        run({"INPUT": str(bad), "BAND": 1, "CHUNK_SIZE": 64})


def test_corrupt_tile_names_the_tile(tmp_path, backend_settings):
    """A worker that cannot decode a tile reports which tile and why."""
    import rasterio

    data = RNG.normal(0, 1, (128, 128)).astype("float32")
    path = write_raster(tmp_path / "c.tif", data, None, block=64, compress="deflate")
    with rasterio.open(path) as dataset:
        offset = int(dataset.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    with open(path, "r+b") as raw:  # overwrite the compressed bytes of block (1, 1)
        raw.seek(offset)
        raw.write(b"\xff" * 64)
    with pytest.raises(QgsProcessingException) as error:
        run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 64})
    assert "tile rows 64-128, columns 64-128 failed" in str(error.value)


def test_unreachable_scheduler_setting(dem, backend_settings):
    path, _ = dem
    backend_settings(mode=3, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(QgsProcessingException, match=r"scheduler address.*127.0.0.1:9"):
        run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 64})


def test_cancel_returns_quickly_without_results(tmp_path, backend_settings):
    data = RNG.normal(0, 1, (3000, 3000)).astype("float32")
    path = write_raster(tmp_path / "big.tif", data, None, block=256)
    feedback = QgsProcessingFeedback()
    cancelled_at: list[float] = []

    def cancel_once(_progress: float) -> None:
        if not cancelled_at:
            cancelled_at.append(time.monotonic())
            feedback.cancel()

    feedback.progressChanged.connect(cancel_once)
    # a cancel is a failure, as everywhere in QGIS (qgis_process exits non-zero)
    with pytest.raises(QgsProcessingException, match="Cancelled: no statistics"):
        run({"INPUT": str(path), "BAND": 1, "CHUNK_SIZE": 64}, feedback)
    assert time.monotonic() - cancelled_at[0] < 2.0


def test_processing_options_become_the_backend_settings(backend_settings):
    from processing.core.ProcessingConfig import ProcessingConfig

    from sits_qgis.backend import BackendConfig, BackendMode

    backend_settings(mode=3, workers=3, scheduler="tcp://127.0.0.1:8786")
    ProcessingConfig.setSettingValue(settings.MEMORY, 512)
    try:
        config = BackendConfig(**settings.backend_settings())  # as the engine reads them
    finally:
        ProcessingConfig.setSettingValue(settings.MEMORY, 0)
    assert config.mode is BackendMode.SCHEDULER
    assert (config.workers, config.memory_per_worker_mib) == (3, 512)
    assert config.scheduler_address == "tcp://127.0.0.1:8786"
    names = [s.name for s in ProcessingConfig.getSettings()["SITS"]]
    assert names == [
        settings.ENGINE_FOLDER, settings.ENGINE_PYTHON, settings.MODE, settings.WORKERS,
        settings.MEMORY, settings.SCHEDULER, settings.CATALOGUE,
        settings.HTTP_TIMEOUT, settings.HTTP_RETRIES, settings.CREDENTIAL_HOSTS,
        settings.LOCAL_FILES, settings.BLOCK_CACHE_MIB, settings.BLOCK_CACHE_FOLDER,
    ]  # fmt: skip


def test_access_settings_are_read(backend_settings, tmp_path):
    from processing.core.ProcessingConfig import ProcessingConfig

    default_cache = {"folder": settings.default_cache_folder(), "max_mib": 0}
    assert settings.access_settings() == {
        "credential_hosts": [], "local_files": False, "block_cache": default_cache,
    }  # fmt: skip
    assert settings.default_cache_folder().startswith(QgsApplication.qgisSettingsDirPath())
    try:
        ProcessingConfig.setSettingValue(
            settings.CREDENTIAL_HOSTS, " data.example.org, b.org:8080 "
        )
        ProcessingConfig.setSettingValue(settings.LOCAL_FILES, True)
        ProcessingConfig.setSettingValue(settings.BLOCK_CACHE_FOLDER, str(tmp_path))
        ProcessingConfig.setSettingValue(settings.BLOCK_CACHE_MIB, 4096)
        assert settings.access_settings() == {
            "credential_hosts": ["data.example.org", "b.org:8080"], "local_files": True,
            "block_cache": {"folder": str(tmp_path), "max_mib": 4096},
        }  # fmt: skip
    finally:
        ProcessingConfig.setSettingValue(settings.CREDENTIAL_HOSTS, "")
        ProcessingConfig.setSettingValue(settings.LOCAL_FILES, False)
        ProcessingConfig.setSettingValue(settings.BLOCK_CACHE_FOLDER, "")
        ProcessingConfig.setSettingValue(settings.BLOCK_CACHE_MIB, settings.DEFAULT_BLOCK_CACHE_MIB)


def test_http_settings_are_read_and_checked(backend_settings):
    from processing.core.ProcessingConfig import ProcessingConfig

    assert settings.http_settings() == {"timeout_s": 60.0, "retries": 4}
    ProcessingConfig.setSettingValue(settings.HTTP_TIMEOUT, 15)
    ProcessingConfig.setSettingValue(settings.HTTP_RETRIES, 2)
    try:
        assert settings.http_settings() == {"timeout_s": 15.0, "retries": 2}
        ProcessingConfig.setSettingValue(settings.HTTP_TIMEOUT, 0)
        with pytest.raises(QgsProcessingException, match="Providers > SITS: HTTP timeout 0 s"):
            settings.http_settings()
    finally:
        ProcessingConfig.setSettingValue(settings.HTTP_TIMEOUT, 60)
        ProcessingConfig.setSettingValue(settings.HTTP_RETRIES, 4)


@pytest.mark.parametrize("algorithm", ["searchstac", "extracttimeseries", "extractcubes"])
def test_the_default_catalogue_setting_is_the_algorithms_default(loaded_plugin, algorithm):
    from processing.core.ProcessingConfig import ProcessingConfig

    registry = QgsApplication.processingRegistry()
    assert (
        registry.createAlgorithmById(f"sits:{algorithm}")
        .parameterDefinition("STAC_URL")
        .defaultValue()
        == "earth-search"
    )
    ProcessingConfig.setSettingValue(settings.CATALOGUE, "planetary-computer")
    try:
        fresh = registry.createAlgorithmById(f"sits:{algorithm}")
        assert fresh.parameterDefinition("STAC_URL").defaultValue() == "planetary-computer"
    finally:
        ProcessingConfig.setSettingValue(settings.CATALOGUE, settings.DEFAULT_CATALOGUE)
