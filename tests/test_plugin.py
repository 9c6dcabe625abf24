"""The plugin as QGIS loads it: fast import, classFactory/initGui/unload, packaging."""

from __future__ import annotations

import ast
import configparser
import json
import subprocess
import sys
import zipfile

from conftest import PLUGIN_NAME, ROOT, pyqgis_script

HEAVY = (
    "dask",
    "distributed",
    "xarray",
    "odc",
    "rasterio",
    "pandas",
    "geopandas",
    "pystac_client",
    "netCDF4",
    "spyndex",
    "shapely",
    "pyproj",
)


def test_plugin_import_is_fast_and_light(plugin_dir):
    """QGIS start-up must not pay for dask and friends: measured in a fresh process."""
    # QGIS loads its Processing framework before plugins; only our cost is timed
    script = pyqgis_script(
        plugin_dir,
        f"""
        before = {{m.split(".")[0] for m in sys.modules}}  # QGIS's own (3.40: shapely)
        start = time.perf_counter()
        import {PLUGIN_NAME}
        plugin = {PLUGIN_NAME}.classFactory(None)
        plugin.initProcessing()
        elapsed = time.perf_counter() - start
        ids = [a.id() for a in QgsApplication.processingRegistry().algorithms()]
        heavy = sorted(({{m.split(".")[0] for m in sys.modules}} - before) & set({HEAVY!r}))
        print(json.dumps({{"seconds": elapsed, "heavy": heavy, "ids": ids}}))
        plugin.unload()
        """,
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(plugin_dir)},
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"plugin import + classFactory + initProcessing: {report['seconds'] * 1000:.0f} ms")
    assert report["heavy"] == []
    assert "sits:rasterstatistics" in report["ids"]
    assert report["seconds"] < 0.3  # measured: 7 ms; a regression guard, not a timing


def test_engine_never_imports_qgis():
    offenders = []
    for path in (ROOT / "sits_qgis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in {"qgis", "PyQt5"}]
    assert offenders == []
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, sits_qgis.tiling, sits_qgis.backend; print('qgis' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "False"


def test_classfactory_initgui_unload_with_an_iface(qgis_iface, loaded_plugin):
    """The plugin loaded as QGIS desktop loads it: menu entry, provider, then unload."""
    import importlib

    import psutil
    from qgis.core import QgsApplication

    from processing_provider import engine
    from sits_qgis.engine.client import running_session
    from ui.qt_compat import QAction

    registry = QgsApplication.processingRegistry()
    loaded_plugin.unload()  # the session's instance holds the provider id; lend it
    assert registry.providerById("sits") is None
    module = importlib.import_module(PLUGIN_NAME)
    plugin = module.classFactory(qgis_iface)
    plugin.initGui()
    try:
        assert plugin.provider is not None and plugin.provider.id() == "sits"
        assert plugin.menu.settings_action.text() == "Backend settings…"
        actions = qgis_iface.mainWindow().findChildren(QAction, "sitsBackendSettings")
        assert plugin.menu.settings_action in actions
        assert plugin.menu.dock_action.text() == "Time-series plot"
        assert plugin.menu.setup_action.text() == "Set up the engine…"
        test = plugin.menu.test_connections()  # the Processing settings reach the dialog
        assert test.config["mode"] == "processes" and test.catalogue_text == "earth-search"
        assert plugin.menu.test_dialog is test  # kept alive while it is open
        test.close()
        engine.call("test_backend", {"backend": {"mode": "processes", "workers": 1}})
        engine_process = psutil.Process(running_session().process.pid)
        pids = [engine_process.pid] + [p.pid for p in engine_process.children(recursive=True)]
        assert len(pids) >= 2  # the engine and its worker
    finally:
        plugin.unload()
    assert plugin.provider is None and plugin.menu is None
    assert running_session() is None  # unload stopped the engine and its workers
    import time

    deadline = time.monotonic() + 10  # the workers end just after the engine
    while time.monotonic() < deadline and [p for p in pids if psutil.pid_exists(p)]:
        time.sleep(0.1)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert registry.providerById("sits") is None
    loaded_plugin.initProcessing()  # give the provider back to the other tests
    assert registry.providerById("sits") is not None


def test_metadata_is_complete():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    for key in (
        "name",
        "qgisMinimumVersion",
        "description",
        "about",
        "version",
        "author",
        "email",
        "repository",
        "tracker",
        "homepage",
        "tags",
        "category",
        "icon",
        "hasProcessingProvider",
        "changelog",
    ):
        assert general.get(key, "").strip(), key
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["qgisMaximumVersion"] == "4.99"  # listed for QGIS 4 on plugins.qgis.org
    assert general["hasProcessingProvider"] == "yes"
    assert (ROOT / general["icon"]).is_file()
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()


def test_the_changelog_has_one_entry_per_release_with_what_it_brought():
    """The plugin manager shows the changelog: one line per release, newest first, the
    current version's among them, and the capabilities built since 0.1.0 named."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    entries = [line.strip() for line in general["changelog"].strip().splitlines()]
    releases = [entry.split(" - ", 1)[0] for entry in entries]
    assert all(" - " in entry for entry in entries), entries
    assert len(set(releases)) == len(releases) and general["version"] in releases
    assert releases[0] == "Unreleased"
    unreleased = entries[0].lower()
    for capability in (
        "extract time series", "extract cubes", "search a stac catalogue", "earth search",
        "planetary computer", "copernicus", "hls", "landsat", "modis", "by bits",
        "credentials", "block cache", "retries", "resume", "tls", "set up by the plugin",
        "3.22 to 4.x",
    ):  # fmt: skip
        assert capability in unreleased, capability


def test_the_plugin_manager_takes_qgis_3_22_to_4_and_refuses_older():
    """QGIS's own check (the plugin manager's), on the versions of metadata.txt."""
    sys.path.append("/usr/share/qgis/python")
    from pyplugin_installer.version_compare import isCompatible

    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    low, high = parser["general"]["qgisMinimumVersion"], parser["general"]["qgisMaximumVersion"]
    taken = {
        v: isCompatible(v, low, high)
        for v in ("3.16.0", "3.20.3", "3.22.0", "3.40.6", "3.44.15", "4.0.0", "4.2.1", "5.0.0")
    }
    assert taken == {"3.16.0": False, "3.20.3": False, "3.22.0": True, "3.40.6": True,
                     "3.44.15": True, "4.0.0": True, "4.2.1": True, "5.0.0": False}  # fmt: skip


def test_zip_has_one_top_folder_and_no_tests_or_caches(plugin_zip):
    version = configparser.ConfigParser()
    version.read(ROOT / "metadata.txt")
    assert plugin_zip.name == f"{PLUGIN_NAME}-{version['general']['version']}.zip"
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert {n.split("/")[0] for n in names} == {PLUGIN_NAME}
    assert f"{PLUGIN_NAME}/metadata.txt" in names
    assert f"{PLUGIN_NAME}/sits_qgis/tiling/statistics.py" in names
    assert not [n for n in names if "tests/" in n or "__pycache__" in n or n.endswith(".pyc")]
