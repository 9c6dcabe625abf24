"""The packaged plugin in qgis_process, as a user installs it from the zip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import assert_matches_numpy, numpy_statistics, valid_values, write_raster

from sits_qgis.wording import plural


def test_lists_the_algorithm(qgis_process):
    call = qgis_process
    listing = call("list")
    assert "sits:rasterstatistics" in listing.stdout
    help_text = call("help", "sits:rasterstatistics").stdout
    assert "Tiled raster statistics" in help_text and "CHUNK_SIZE" in help_text


def test_runs_with_json_output_and_exact_values(qgis_process, tmp_path):
    call = qgis_process
    data = np.random.default_rng(3).normal(10, 2, (300, 410)).astype("float32")
    data[:50, :50] = -9999
    path = write_raster(tmp_path / "r.tif", data, -9999.0, block=64)
    done = call(
        "run",
        "sits:rasterstatistics",
        "--json",
        "--",
        f"INPUT={path}",
        "BAND=1",
        "CHUNK_SIZE=128",
        f"OUTPUT_TILES={tmp_path / 'tiles.gpkg'}",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.index("{") :])
    results = report["results"]
    assert_matches_numpy(results, numpy_statistics(valid_values(data, -9999.0)))
    assert results["TOTAL_COUNT"] == data.size
    assert Path(results["OUTPUT_TILES"]).is_file()
    assert "leaked" not in done.stderr  # the workers were shut down at exit


def test_bad_band_is_a_message_not_a_traceback(qgis_process, tmp_path):
    call = qgis_process
    path = write_raster(tmp_path / "r.tif", np.zeros((20, 20), "uint8"), None)
    done = call("run", "sits:rasterstatistics", "--", f"INPUT={path}", "BAND=2", "CHUNK_SIZE=16")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Band (BAND): Band 2 does not exist" in output
    assert "Traceback" not in output


def test_a_truncated_raster_is_a_message_without_dask_noise(qgis_process, tmp_path):
    """A GeoTIFF cut short after its header: the run fails with a message that names
    the tile and the file's problem; no traceback, neither ours nor dask's."""
    data = np.random.default_rng(5).normal(0, 1, (600, 600)).astype("float32")
    path = write_raster(tmp_path / "cut.tif", data, None, block=64)
    size = path.stat().st_size
    with open(path, "r+b") as raster:
        raster.truncate(int(size * 0.6))
    done = qgis_process(
        "run", "sits:rasterfilter", "--", f"INPUT={path}", "FILTER=2", "SIZE=3",
        "CHUNK_SIZE=128", f"OUTPUT={tmp_path / 'out.tif'}",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output and "See previous exception" not in output
    assert "distributed." not in output  # dask's own log lines
    assert "cut.tif" in output or "tile" in output, output[-2000:]
    assert not (tmp_path / "out.tif").exists()


def test_a_table_run_killed_with_sigkill_resumes_to_the_clean_result(
    qgis_process, slow_stac, tmp_path
):
    """qgis_process killed (SIGKILL) once some features are finished; the same run with
    RESUME=true reads only the others, and its table is row for row a clean run's."""
    import csv
    import signal
    import time

    from conftest import SITES

    points = tmp_path / "points.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": s.name},
         "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]}} for s in SITES
    ]}))  # fmt: skip
    common = [f"INPUT={points}", "ID_FIELD=name", f"STAC_URL={slow_stac}",
              "COLLECTION=sentinel-2-l2a", "START_DATE=2022-01-01", "END_DATE=2022-03-26",
              "BANDS=red,nir"]  # fmt: skip
    clean, table = tmp_path / "clean.csv", tmp_path / "series.csv"
    done = qgis_process("run", "sits:extracttimeseries", "--", *common, f"OUTPUT={clean}")
    assert done.returncode == 0, done.stdout + done.stderr
    journal = tmp_path / ".series.csv.sits-journal.jsonl"
    run = qgis_process.start("run", "sits:extracttimeseries", "--", *common, f"OUTPUT={table}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if journal.exists() and '"outcome"' in journal.read_text():
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(30)
    finished = journal.read_text().count('"outcome"')
    assert 1 <= finished < len(SITES), "the kill did not land in the middle of the run"
    resumed = qgis_process(
        "run", "sits:extracttimeseries", "--", *common, f"OUTPUT={table}", "RESUME=true"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"RESUME: the interrupted run finished {plural(finished, 'feature')}" in (
        resumed.stdout + resumed.stderr
    )

    def rows(path: Path) -> list[dict]:
        with open(path, newline="") as handle:
            return sorted(csv.DictReader(handle), key=lambda r: (r["feature_id"], r["date"]))

    assert rows(table) == rows(clean)
    assert not journal.exists()


def test_ctrl_c_stops_qgis_process_and_everything_it_started(qgis_process, slow_stac, tmp_path):
    """SIGINT (Ctrl+C) in the middle of a run: qgis_process cancels, kills the engine's
    process group at once (its workers too), says so and exits non-zero; nothing it
    started outlives it."""
    import signal
    import time

    import psutil
    from conftest import SITES

    points = tmp_path / "points.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": s.name},
         "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]}} for s in SITES
    ]}))  # fmt: skip
    table = tmp_path / "series.csv"
    run = qgis_process.start(
        "run", "sits:extracttimeseries", "--", f"INPUT={points}", "ID_FIELD=name",
        f"STAC_URL={slow_stac}", "COLLECTION=sentinel-2-l2a", "START_DATE=2022-01-01",
        "END_DATE=2022-03-26", "BANDS=red,nir", f"OUTPUT={table}",
    )  # fmt: skip
    deadline = time.monotonic() + 120
    started: list = []
    while time.monotonic() < deadline and run.poll() is None and len(started) < 3:
        started = psutil.Process(run.pid).children(recursive=True)  # engine and workers
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before the test could stop it"
    signalled = time.monotonic()
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=30)[0].decode()
    exit_seconds = time.monotonic() - signalled
    assert run.returncode != 0 and "Cancelled" in output, output
    assert exit_seconds < 1.0  # measured 0.15-0.17 s
    _, alive = psutil.wait_procs(started, timeout=5)
    assert not alive, [p.cmdline() for p in alive]
    assert not table.exists()
