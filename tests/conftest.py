"""Fixtures shared by the tests: generated rasters, backends, the plugin in QGIS.

Everything here is real: rasters are written with rasterio, backends start real dask
worker processes, and the plugin is loaded into a real (headless) QGIS the way QGIS
loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The engine process runs with this repository's .venv (the development engine
# environment); QGIS's process (this one, and qgis_process) imports none of its packages.
os.environ.setdefault("SITS_ENGINE_PYTHON", sys.executable)

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingFeedback
from rasterio.transform import from_origin

from sits_qgis.backend import Backend, BackendConfig, BackendMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_stac import serve_catalogue
from sample_catalogue import Site

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PLUGIN_NAME = "sits_plugin"
QGIS_PLUGINS = "/usr/share/qgis/python/plugins"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the wrapper passes a flag 3.22 refuses


class RecordingFeedback(QgsProcessingFeedback):
    """A feedback that keeps the warnings and information the algorithm gives the user."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def pushWarning(self, warning: str) -> None:
        self.warnings.append(warning)

    def pushInfo(self, info: str) -> None:
        self.infos.append(info)


def write_raster(
    path: Path,
    data: np.ndarray,
    nodata: float | None = None,
    *,
    tiled: bool = True,
    block: int = 256,
    crs: str | None = "EPSG:32631",
    compress: str | None = None,
) -> Path:
    """Write ``data`` ((rows, cols) or (bands, rows, cols)) as a GeoTIFF."""
    bands = data if data.ndim == 3 else data[np.newaxis]
    options = {"tiled": True, "blockxsize": block, "blockysize": block} if tiled else {}
    if compress:
        options["compress"] = compress
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=bands.shape[1],
        width=bands.shape[2],
        count=bands.shape[0],
        dtype=bands.dtype,
        nodata=nodata,
        crs=crs,
        transform=from_origin(500000, 4800000, 10, 10),
        **options,
    ) as dataset:
        dataset.write(bands)
    return path


def valid_values(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """The oracle's view of valid pixels: neither nodata nor NaN."""
    flat = data.ravel()
    keep = np.ones(flat.shape, dtype=bool)
    if np.issubdtype(flat.dtype, np.floating):
        keep &= ~np.isnan(flat)
    if nodata is not None and not np.isnan(nodata):
        keep &= flat != nodata
    return flat[keep]


def numpy_statistics(values: np.ndarray) -> dict[str, float]:
    """The statistics as numpy computes them on the whole band in memory: the oracle.

    What each is compared with, so that numpy 1 and 2 give the same numbers:
    - MEDIAN, P90, IQR: ``np.median``/``np.percentile`` of the values in their own dtype,
      the percentile level as a float64 array (a Python float would let numpy 2 round the
      result of float32 values to float32, NEP 50);
    - NMAD: 1.4826 times the median of ``|value - median|`` computed in
      ``np.promote_types(values.dtype, median.dtype)`` (float64 for integer rasters, float32
      for float32 ones), the product taken in Python floats (float64);
    - MEAN, SUM, SUM_SQUARES, STD, RMSE: in float64 (compared to 1e-12 relative: the
      order of the tiled sums differs);
    - MIN, MAX, COUNT: exact, in the raster's own type.
    """
    as_float = values.astype(np.float64)
    median = np.median(values)
    deviation_dtype = np.promote_types(values.dtype, np.asarray(median).dtype)
    mad = np.median(np.abs(values.astype(deviation_dtype) - median))

    def percentile(level: float) -> float:
        return float(np.percentile(values, np.array(level, dtype=np.float64)))

    return {
        "MEAN": float(np.mean(as_float)),
        "MEDIAN": float(median),
        "MIN": values.min().item(),
        "MAX": values.max().item(),
        "SUM": float(np.sum(as_float)),
        "SUM_SQUARES": float(np.sum(as_float**2)),
        "STD": float(np.std(as_float)),
        "COUNT": int(values.size),
        "P90": percentile(90.0),
        "IQR": percentile(75.0) - percentile(25.0),
        "NMAD": 1.4826 * float(mad),
        "RMSE": float(np.sqrt(np.mean(as_float**2))),
    }


#: Statistics compared to 1e-12 relative; all others must be exactly equal.
FLOATING_SUMS = {"MEAN", "SUM", "SUM_SQUARES", "STD", "RMSE"}


def assert_matches_numpy(result: dict, expected: dict) -> None:
    for name, value in expected.items():
        if name in FLOATING_SUMS:
            assert result[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(result[name]), name
        else:
            assert result[name] == value, name


@pytest.fixture(scope="session")
def processes_backend() -> Iterator[Backend]:
    """Two real local worker processes, shared by the tests that need them."""
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=2))
    backend.start()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def sequential_backend() -> Backend:
    return Backend(BackendConfig(mode=BackendMode.SEQUENTIAL, workers=1))


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A QGIS plugin folder holding this repository under the plugin's name."""
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / PLUGIN_NAME).symlink_to(ROOT, target_is_directory=True)
    return plugins


@pytest.fixture(scope="session")
def loaded_plugin(qgis_app, plugin_dir: Path):
    """QGIS Processing initialised, with the plugin loaded through its classFactory
    as qgis_process loads it (no iface)."""
    if QGIS_PLUGINS not in sys.path:
        sys.path.append(QGIS_PLUGINS)
    sys.path.insert(0, str(plugin_dir))
    from processing.core.Processing import Processing

    Processing.initialize()
    import importlib

    plugin = importlib.import_module(PLUGIN_NAME).classFactory(None)
    plugin.initProcessing()
    yield plugin
    plugin.unload()


def pyqgis_script(plugin_dir: Path, body: str) -> str:
    """A PyQGIS script for a fresh process: QGIS and Processing initialised as QGIS does
    before it loads plugins, then ``body`` (which loads the plugin itself)."""
    preamble = f"""
import json, sys, time
sys.path[:0] = [{str(plugin_dir)!r}, {QGIS_PLUGINS!r}]
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
"""
    return preamble + textwrap.dedent(body)


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory) -> Path:
    """The zip ``make package`` builds (same script), in a temporary folder."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return Path(built.stdout.strip())


@pytest.fixture(scope="session")
def qgis_process(plugin_zip, tmp_path_factory):
    """Run qgis_process with the zip installed into a throw-away profile."""
    home = tmp_path_factory.mktemp("qgis_process")
    plugins, profile = home / "plugins", home / "profile"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "QGIS_PLUGINPATH": str(plugins),
        "QGIS_CUSTOM_CONFIG_PATH": str(profile),
        "QT_QPA_PLATFORM": "offscreen",
    }

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [QGIS_PROCESS, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    # for a run that a test stops itself: qgis_process started in the background
    call.start = lambda *args: subprocess.Popen(  # type: ignore[attr-defined]
        [QGIS_PROCESS, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    enabled = call("plugins", "enable", PLUGIN_NAME)
    assert enabled.returncode == 0, enabled.stderr
    return call


@pytest.fixture(scope="session", autouse=True)
def layer_tree_view(qgis_iface):
    """A real layer tree view for the test interface: from QGIS 3.44, Processing hands
    ``iface.layerTreeView()`` to C++ when it loads results, where pytest-qgis' interface
    answers with a mock."""
    from qgis.core import QgsLayerTreeModel, QgsProject
    from qgis.gui import QgsLayerTreeView

    view = QgsLayerTreeView()
    model = QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view)
    view.setModel(model)
    qgis_iface.layerTreeView = lambda: view
    yield view
    del qgis_iface.layerTreeView
    view.setModel(None)


@pytest.fixture
def dialog_ready(loaded_plugin, qgis_iface, monkeypatch):
    """The plugin, and the test QGIS interface (pytest-qgis's, with a real map canvas)
    given the real browser model that the Processing dialog asks it for."""
    from qgis.gui import QgsBrowserGuiModel

    model = QgsBrowserGuiModel()
    monkeypatch.setattr(qgis_iface, "browserModel", lambda: model, raising=False)
    return loaded_plugin


#: Generated imagery for the time-series tests: one site in UTM zone 31 and two on
#: either side of the 31/32 boundary.
SITES = [
    Site("paris", 2.3512, 48.8566),
    Site("west", 5.9913, 45.0013),
    Site("east", 6.0117, 45.0021),
]
#: Two acquisitions before processing baseline 04.00 (25 January 2022), six after.
DATES = [date(2022, 1, d) for d in (5, 15)] + [
    date(2022, m, d) for m, d in ((2, 4), (2, 14), (2, 24), (3, 6), (3, 16), (3, 26))
]


@pytest.fixture(scope="session")
def sample_stac(tmp_path_factory):
    """A real STAC API per convention and a Range file server on 127.0.0.1."""
    with serve_catalogue(tmp_path_factory.mktemp("catalogue"), SITES, DATES) as served:
        yield served


def layers_loaded_from(path: Path) -> list:
    """The project's layers read from ``path`` (a GeoPackage's layers add ``|layername=``)."""
    from qgis.core import QgsProject

    layers = QgsProject.instance().mapLayers().values()
    return [layer for layer in layers if layer.source().startswith(str(path))]


@pytest.fixture(scope="session")
def slow_stac(tmp_path_factory):
    """The sample catalogue behind a file server that takes 150 ms per request, so that
    a cancel lands in the middle of a run."""
    root = tmp_path_factory.mktemp("slow-store")
    with serve_catalogue(root, SITES, DATES, conventions=("earth-search",), latency_ms=150) as (
        served,
        _,
    ):
        yield served.stac_urls["earth-search"]


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """``folder`` on a file system of ``size`` (tmpfs, e.g. "16k"; needs the right to
    mount, as root: the test is skipped without it), unmounted afterwards (lazily: a
    worker of the shared backend may still hold a file of it open)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a 16 KiB file system."""
    with small_disk(tmp_path / "full", "16k") as folder:
        yield folder
