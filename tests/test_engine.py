"""The engine process as QGIS uses it: what runs where, a killed engine, cancel, and
the engine environment's set-up failing or cancelled without harm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import PLUGIN_NAME, SITES, pyqgis_script, small_disk, write_raster
from qgis.core import QgsSettings

from sits_qgis.engine.client import EngineClient, EngineDied, running_session
from sits_qgis.environment.build import SetupError, build_environment
from sits_qgis.environment.layout import environment_dir, read_stamp, write_stamp
from sits_qgis.errors import Cancelled

#: What QGIS's process must never import (issue 11): the engine's heavy packages.
ENGINE_ONLY = (
    "rasterio", "odc", "pystac_client", "xarray", "netCDF4", "spyndex", "dask",
    "distributed", "pyproj", "shapely",
)  # fmt: skip


def big_raster(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    return write_raster(tmp_path / "big.tif", rng.normal(size=(2048, 2048)).astype("float32"))


@pytest.mark.slow
def test_qgis_process_imports_no_engine_package_after_every_algorithm(
    plugin_dir, sample_stac, tmp_path
):
    """Every algorithm run through processing.run in a PyQGIS process, then its modules."""
    served, _ = sample_stac
    raster = write_raster(tmp_path / "r.tif", np.arange(10000, dtype="float32").reshape(100, 100))
    points = tmp_path / "points.geojson"
    lon, lat = SITES[0].lon, SITES[0].lat
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 1},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}}]}))  # fmt: skip
    url = served.stac_urls["earth-search"]
    common = f"'STAC_URL': {url!r}, 'START_DATE': '2022-01-01', 'END_DATE': '2022-03-31'"
    script = pyqgis_script(
        plugin_dir,
        f"""
        import processing
        before = {{m.split('.')[0] for m in sys.modules}}  # QGIS's own (3.40: shapely)
        import {PLUGIN_NAME}
        plugin = {PLUGIN_NAME}.classFactory(None)
        plugin.initProcessing()
        out = {str(tmp_path)!r}
        processing.run('sits:rasterstatistics', {{'INPUT': {str(raster)!r}, 'BAND': 1}})
        processing.run('sits:rasterfilter', {{'INPUT': {str(raster)!r}, 'OUTPUT': out + '/f.tif'}})
        processing.run('sits:searchstac', {{'INPUT': {str(points)!r}, {common},
                       'OUTPUT': out + '/items.gpkg'}})
        processing.run('sits:extracttimeseries', {{'INPUT': {str(points)!r}, {common},
                       'BANDS': 'red', 'INDICES': 'NDVI', 'OUTPUT': out + '/t.csv'}})
        processing.run('sits:extractcubes', {{'INPUT': {str(points)!r}, {common},
                       'BANDS': 'red', 'PATCH_X': 4, 'PATCH_Y': 4,
                       'OUTPUT_FOLDER': out + '/cubes', 'OUTPUT_INDEX': out + '/i.gpkg'}})
        loaded = sorted(({{m.split('.')[0] for m in sys.modules}} - before) & set({ENGINE_ONLY!r}))
        print(json.dumps({{"loaded": loaded}}))
        plugin.unload()
        """,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"loaded": []}
    assert (tmp_path / "t.csv").read_text().count("\n") > 1  # the runs did their work
    assert list((tmp_path / "cubes").glob("*.nc"))


def descendants(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


@pytest.mark.slow
def test_a_killed_engine_is_a_clear_error_leaves_no_process_and_the_next_run_works(
    loaded_plugin, tmp_path
):
    from qgis import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    raster = big_raster(tmp_path)
    params = {"INPUT": str(raster), "BAND": 1, "CHUNK_SIZE": 64}
    processing.run("sits:rasterstatistics", params)  # the engine and its workers are up
    engine = running_session()
    pids = [engine.process.pid, *descendants(engine.process.pid)]
    assert len(pids) >= 3

    feedback = QgsProcessingFeedback()

    def kill_when_running(progress: float) -> None:
        if progress > 0 and engine.alive():
            os.kill(engine.process.pid, 9)

    feedback.progressChanged.connect(kill_when_running)
    with pytest.raises(QgsProcessingException, match="engine process stopped during the run"):
        processing.run("sits:rasterstatistics", params, feedback=feedback)
    deadline = time.monotonic() + 10
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(pids) == []  # the engine's workers went with it
    result = processing.run("sits:rasterstatistics", params)  # a fresh engine
    assert result["COUNT"] == 2048 * 2048
    assert running_session().process.pid != pids[0]


@pytest.mark.slow
def test_cancel_stops_the_engine_within_a_second_and_writes_nothing(loaded_plugin, tmp_path):
    from qgis import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    raster = big_raster(tmp_path)
    output = tmp_path / "filtered.tif"
    feedback = QgsProcessingFeedback()
    cancelled_at: list[float] = []

    def cancel_once(progress: float) -> None:
        if progress > 0 and not cancelled_at:
            cancelled_at.append(time.monotonic())
            feedback.cancel()

    feedback.progressChanged.connect(cancel_once)
    params = {"INPUT": str(raster), "FILTER": 3, "SIZE": 7, "CHUNK_SIZE": 64,
              "OUTPUT": str(output)}  # fmt: skip
    # a cancel is a failure, as everywhere in QGIS (qgis_process exits non-zero)
    with pytest.raises(QgsProcessingException, match="Cancelled: no output was written"):
        processing.run("sits:rasterfilter", params, feedback=feedback)
    assert time.monotonic() - cancelled_at[0] < 1.0
    assert list(tmp_path.glob("filtered*")) == []  # nothing at the destination


def test_an_engine_that_cannot_start_says_its_first_error_lines(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ImportError: libgdal.so.36: cannot open' >&2\nexit 3\n")
    broken.chmod(0o755)
    client = EngineClient(str(broken))
    with pytest.raises(Exception, match=r"did not start: ImportError: libgdal\.so\.36"):
        client.start()


def test_engine_errors_keep_the_users_words_and_a_crash_is_engine_died(tmp_path):
    raster = write_raster(tmp_path / "r.tif", np.ones((20, 20), "float32"))
    client = EngineClient(sys.executable)
    client.start()
    try:
        with pytest.raises(Exception, match="Band 3 does not exist") as caught:
            client.call("raster_statistics", {"path": str(raster), "band": 3, "chunk_size": 16,
                        "backend": {"mode": "sequential", "workers": 1}})  # fmt: skip
        assert caught.value.parameter == "BAND"
        threading.Timer(0.5, lambda: os.kill(client.process.pid, 9)).start()
        with pytest.raises(EngineDied, match="next run starts a new engine"):
            client.call("imported_modules", {}, is_cancelled=lambda: time.sleep(1) or False)
            client.call("imported_modules", {})
    finally:
        client.close()


def test_a_caller_that_fails_on_an_event_stops_the_engines_work(tmp_path):
    """A sink that refuses a feature raises in the caller's event handler: the error
    reaches the caller, and the engine's run stops too (nothing is written)."""
    raster = big_raster(tmp_path)
    params = {"path": str(raster), "band": 1, "filter": "median", "size": 7, "sigma": 0,
              "chunk_size": 64, "backend": {"mode": "sequential", "workers": 1}}  # fmt: skip
    client = EngineClient(sys.executable)
    client.start()
    try:
        started = time.monotonic()
        done = client.call("raster_filter", {**params, "output": str(tmp_path / "whole.tif")})
        whole = time.monotonic() - started  # how long a run that is not stopped takes
        assert Path(done["output"]).is_file()

        def refuse(event: str, data: object) -> None:
            raise RuntimeError("the sink refused a feature")

        output = tmp_path / "stopped.tif"
        with pytest.raises(RuntimeError, match="the sink refused a feature"):
            client.call("raster_filter", {**params, "output": str(output)}, refuse)
        time.sleep(whole + 1.0)  # the whole run's time, and more
        assert list(tmp_path.glob("stopped*")) == []
        assert client.call("imported_modules", {})  # the engine still answers
    finally:
        client.close()


# -- the engine environment's set-up ---------------------------------------------------


def previous_environment(folder: Path) -> Path:
    """A stand-in for a working environment made earlier: what must survive."""
    env = environment_dir(folder)
    env.mkdir(parents=True)
    write_stamp(env, {"lock_sha256": "earlier"})
    return env


def test_a_failed_set_up_names_the_package_and_keeps_the_previous_environment(tmp_path):
    previous = previous_environment(tmp_path)
    lock = tmp_path / "bad.lock"
    lock.write_text("sits-no-such-package-here==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    lines: list[str] = []
    with pytest.raises(SetupError, match="sits-no-such-package-here"):
        build_environment(tmp_path, lock=lock, python="/usr/bin/python3", log=lines.append)
    assert read_stamp(previous) == {"lock_sha256": "earlier"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".setup")] == []


def test_a_cancelled_set_up_keeps_the_previous_environment(tmp_path):
    previous = previous_environment(tmp_path)
    progress: list[float] = []
    with pytest.raises(Cancelled):
        build_environment(
            tmp_path,
            python="/usr/bin/python3",
            log=lambda _: None,
            progress=progress.append,
            is_cancelled=lambda: bool(progress),  # once the venv is made, during pip
        )
    assert read_stamp(previous) == {"lock_sha256": "earlier"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".setup")] == []


def test_the_proxy_reaches_pip_and_an_unreachable_index_is_said(tmp_path, monkeypatch):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no local mirror: the index itself
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(SetupError, match="package index cannot be reached"):
        build_environment(
            tmp_path, python="/usr/bin/python3", proxy=f"http://127.0.0.1:{port}",
            log=lambda _: None,
        )  # fmt: skip
    # pip went through the proxy: "ProxyError('Cannot connect to proxy." (pip 23, Debian
    # 12), "proxy connection error: ('Unable to connect to proxy'" (pip 26, sid); a direct
    # connection says neither
    assert "connect to proxy" in (tmp_path / "pip.log").read_text()


def make_wheel(folder: Path, name: str, version: str, payload: int = 0) -> Path:
    """A real, minimal pure-Python wheel (``payload`` random bytes inside), made here so
    that the set-up's failures can be tested offline."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/payload.bin": os.urandom(payload),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def lock_for(path: Path, pins: dict[str, str]) -> Path:
    """A lock file: ``name==version`` -> sha256 hex."""
    path.write_text(
        "".join(f"{pin} \\\n    --hash=sha256:{digest}\n" for pin, digest in pins.items())
    )
    return path


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_up_offline(folder: Path, wheels: Path, lock: Path) -> Path:
    """The set-up from a wheelhouse with Debian's Python, as sits:setupengine runs it."""
    return build_environment(
        folder, wheelhouse=str(wheels), lock=lock, python="/usr/bin/python3", log=lambda _: None
    )


def test_a_file_that_does_not_match_the_lock_is_refused(tmp_path):
    previous = previous_environment(tmp_path / "engine")
    wheel = make_wheel(tmp_path / "wheels", "sitsdemo", "1.0")
    lock = lock_for(tmp_path / "lock.txt", {"sitsdemo==1.0": "1" * 64})
    assert sha256(wheel) != "1" * 64
    with pytest.raises(SetupError, match="does not match the hash in the plugin's lock"):
        set_up_offline(tmp_path / "engine", tmp_path / "wheels", lock)
    assert read_stamp(previous) == {"lock_sha256": "earlier"}


def test_a_wheelhouse_without_a_package_names_it(tmp_path):
    previous = previous_environment(tmp_path / "engine")
    wheel = make_wheel(tmp_path / "wheels", "sitsdemo", "1.0")
    lock = lock_for(
        tmp_path / "lock.txt", {"sitsdemo==1.0": sha256(wheel), "sitsabsent==2.0": "2" * 64}
    )
    with pytest.raises(SetupError, match=r"has no file of sitsabsent==2\.0"):
        set_up_offline(tmp_path / "engine", tmp_path / "wheels", lock)
    assert read_stamp(previous) == {"lock_sha256": "earlier"}


def test_a_full_disk_is_said_and_the_previous_environment_stays(tmp_path):
    with small_disk(tmp_path / "small_disk", "40m") as disk:
        previous = previous_environment(disk)
        wheel = make_wheel(tmp_path / "wheels", "sitsbig", "1.0", payload=48 * 2**20)
        lock = lock_for(tmp_path / "lock.txt", {"sitsbig==1.0": sha256(wheel)})
        with pytest.raises(SetupError, match="is full"):
            set_up_offline(disk, tmp_path / "wheels", lock)
        assert read_stamp(previous) == {"lock_sha256": "earlier"}
        assert [p.name for p in disk.iterdir() if p.name.startswith(".setup")] == []


def test_a_python_without_venv_names_the_package_to_install(tmp_path):
    """Debian's Python without python3-venv answers ``-m venv`` with this message."""
    python = tmp_path / "bin" / "python3.11"
    python.parent.mkdir()
    python.write_text(
        "#!/bin/sh\necho 'The virtual environment was not created successfully because"
        " ensurepip is not'\necho 'available.  On Debian/Ubuntu systems, you need to install"
        " the python3-venv'\nexit 1\n"
    )
    python.chmod(0o755)
    with pytest.raises(SetupError, match=r"sudo apt install python3\.11-venv"):
        build_environment(tmp_path / "engine", python=str(python), log=lambda _: None)


def test_an_existing_environment_without_the_packages_is_refused_with_what_it_lacks(
    loaded_plugin,
):
    from qgis import processing
    from qgis.core import QgsProcessingException

    from processing_provider import settings

    before = settings.engine_python()
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("sits:setupengine", {"EXISTING_PYTHON": "/usr/bin/python3"})
    message = str(refused.value)
    assert "(EXISTING_PYTHON): /usr/bin/python3 cannot run the engine" in message
    assert "rasterio cannot be imported" in message and "Traceback" not in message
    assert settings.engine_python() == before  # nothing remembered
    used = processing.run("sits:setupengine", {"EXISTING_PYTHON": sys.executable})
    try:
        assert used["PYTHON"] == sys.executable and settings.engine_python() == sys.executable
    finally:
        settings.set_engine_python(before)


def test_an_environment_with_too_old_versions_says_which(tmp_path):
    """A real venv whose numpy is an old release (its metadata), the rest missing."""
    from sits_qgis.environment.probe import probe

    env = tmp_path / "old"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(env)], check=True)
    [site] = list(env.glob("lib/python3*/site-packages"))
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("__version__ = '1.21.6'\n")
    (site / "numpy-1.21.6.dist-info").mkdir()
    (site / "numpy-1.21.6.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: numpy\nVersion: 1.21.6\n"
    )
    report = probe(str(env / "bin" / "python"))
    assert not report.ok
    assert "numpy is 1.21.6, the engine needs 1.23 or later" in report.summary()
    assert "rasterio cannot be imported" in report.summary()


def test_qgis_proxy_settings_become_pips_proxy(loaded_plugin):
    from processing_provider.setup_engine import qgis_proxy

    settings = QgsSettings()
    keys = ("proxyEnabled", "proxyType", "proxyHost", "proxyPort", "proxyUser", "proxyPassword")
    saved = {k: settings.value(f"proxy/{k}") for k in keys}
    try:
        for key, value in zip(keys, (True, "HttpProxy", "proxy.example", "3128", "ann", "p@ss")):
            settings.setValue(f"proxy/{key}", value)
        # pragma: allowlist nextline secret (a made-up password of this test)
        assert qgis_proxy() == "http://ann:p%40ss@proxy.example:3128"
        settings.setValue("proxy/proxyType", "DefaultProxy")  # the system's: pip reads it too
        assert qgis_proxy() == ""
        settings.setValue("proxy/proxyType", "HttpProxy")
        settings.setValue("proxy/proxyEnabled", False)
        assert qgis_proxy() == ""
    finally:
        for key, value in saved.items():
            if value is None:
                settings.remove(f"proxy/{key}")
            else:
                settings.setValue(f"proxy/{key}", value)


def test_no_python_for_the_environment_is_said(tmp_path):
    with pytest.raises(SetupError, match=r"There is no Python at /nowhere/python3\.11"):
        build_environment(tmp_path / "engine", python="/nowhere/python3.11", log=lambda _: None)
    assert not environment_dir(tmp_path / "engine").exists()


@pytest.mark.slow
def test_the_engine_and_its_workers_stop_when_qgis_dies(plugin_dir, tmp_path):
    """QGIS killed (no unload, no exit handler): the end of the engine's input stops it."""
    raster = write_raster(tmp_path / "r.tif", np.ones((64, 64), "float32"))
    script = pyqgis_script(
        plugin_dir,
        f"""
        import processing, {PLUGIN_NAME}
        from sits_qgis.engine.client import running_session
        plugin = {PLUGIN_NAME}.classFactory(None)
        plugin.initProcessing()
        processing.run('sits:rasterstatistics', {{'INPUT': {str(raster)!r}, 'BAND': 1}})
        print(running_session().process.pid, flush=True)
        time.sleep(600)
        """,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    qgis = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        engine_pid = int(qgis.stdout.readline())
        pids = [engine_pid, *descendants(engine_pid)]
        assert len(pids) >= 3  # the engine and its two workers
    finally:
        qgis.kill()
        qgis.wait()
    deadline = time.monotonic() + 20
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(pids) == []
