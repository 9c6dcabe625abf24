"""A QGIS user's path: the zip in a fresh profile with no PYTHONPATH and no engine, the
set-up through qgis_process (from the package index, then from a wheelhouse with the
network unused), and the algorithms on the new, isolated engine, equal to their oracles."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import (
    PLUGIN_NAME,
    QGIS_PROCESS,
    assert_matches_numpy,
    numpy_statistics,
    valid_values,
    write_raster,
)
from stac_oracle import point_value
from test_timeseries_algorithms import MASKED, SITES, sites_geojson

from sits_qgis.environment.layout import LOCK, environment_dir, lock_digest, read_stamp

ALGORITHMS = (
    "sits:rasterstatistics", "sits:rasterfilter", "sits:searchstac",
    "sits:extracttimeseries", "sits:extractcubes", "sits:setupengine",
)  # fmt: skip
#: A proxy where nothing listens: any use of the network fails at once.
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}  # fmt: skip


@pytest.fixture(scope="module")
def fresh_qgis(plugin_zip, tmp_path_factory):
    """qgis_process with the zip unpacked into a new profile, as a new user has it: no
    PYTHONPATH, no engine."""
    home = tmp_path_factory.mktemp("fresh_qgis")
    plugins, profile = home / "plugins", home / "profile"
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SITS_ENGINE_PYTHON")}
    base |= {
        "QGIS_PLUGINPATH": str(plugins),
        "QGIS_CUSTOM_CONFIG_PATH": str(profile),
        "QT_QPA_PLATFORM": "offscreen",
    }

    def call(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [QGIS_PROCESS, *args], capture_output=True, text=True, env=base | (env or {}),
            timeout=900,
        )  # fmt: skip

    assert call("plugins", "enable", PLUGIN_NAME).returncode == 0
    return call


def results(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return json.loads(done.stdout[done.stdout.index("{") :])["results"]


def test_without_an_engine_everything_is_listed_and_a_run_says_how_to_set_it_up(
    fresh_qgis, tmp_path
):
    listing = fresh_qgis("list").stdout
    assert all(algorithm in listing for algorithm in ALGORITHMS)
    for algorithm in ALGORITHMS:
        assert fresh_qgis("help", algorithm).returncode == 0
    raster = write_raster(tmp_path / "r.tif", np.ones((20, 20), "float32"))
    points = sites_geojson(tmp_path / "points.geojson")
    for run in (
        ("sits:rasterstatistics", f"INPUT={raster}", "BAND=1"),
        (
            "sits:extracttimeseries",
            f"INPUT={points}",
            "STAC_URL=earth-search",
            f"OUTPUT={tmp_path / 't.csv'}",
        ),
    ):
        done = fresh_qgis("run", run[0], "--", *run[1:])
        said = done.stdout + done.stderr
        assert done.returncode != 0
        assert "The SITS engine is not set up: use Plugins > SITS > Set up the engine" in said
        assert "Traceback" not in said


@pytest.mark.slow
def test_set_up_online_then_offline_from_a_wheelhouse_then_every_result_is_exact(
    fresh_qgis, sample_stac, tmp_path
):
    online = results(
        fresh_qgis("run", "sits:setupengine", "--json", "--", f"FOLDER={tmp_path / 'online'}")
    )
    assert Path(online["PYTHON"]).is_file()
    assert read_stamp(online["ENVIRONMENT"])["lock_sha256"] == lock_digest()
    assert read_stamp(online["ENVIRONMENT"])["source"] == "package index"

    wheelhouse = tmp_path / "wheelhouse"  # what `make wheelhouse` does
    subprocess.run(
        [online["PYTHON"], "-m", "pip", "download", "-q", "--require-hashes",
         "--only-binary=:all:", "-r", str(LOCK), "-d", str(wheelhouse)],
        check=True, timeout=600,
    )  # fmt: skip
    offline = results(
        fresh_qgis(
            "run", "sits:setupengine", "--json", "--", f"FOLDER={tmp_path / 'offline'}",
            f"WHEELHOUSE={wheelhouse}", env=NO_NETWORK,
        )
    )  # fmt: skip
    env_dir = environment_dir(tmp_path / "offline")
    assert offline["ENVIRONMENT"] == str(env_dir)
    assert read_stamp(env_dir)["source"] == "wheelhouse"
    pip_log = (tmp_path / "offline" / "pip.log").read_text()
    assert str(wheelhouse) in pip_log  # the wheelhouse reached pip
    assert "Getting page" not in pip_log and "Starting new HTTPS" not in pip_log  # no index

    # the engine is now the offline one (FOLDER is remembered), isolated from QGIS's Python
    data = np.random.default_rng(5).normal(100, 20, (300, 410)).astype("float32")
    data[:40, :60] = -9999
    raster = write_raster(tmp_path / "dem.tif", data, -9999.0, block=64)
    stats = results(
        fresh_qgis("run", "sits:rasterstatistics", "--json", "--", f"INPUT={raster}",
                   "BAND=1", "CHUNK_SIZE=64")
    )  # fmt: skip
    assert_matches_numpy(stats, numpy_statistics(valid_values(data, -9999.0)))

    out = tmp_path / "max3.tif"
    results(
        fresh_qgis("run", "sits:rasterfilter", "--json", "--", f"INPUT={raster}", "FILTER=0",
                   "SIZE=3", "CHUNK_SIZE=64", f"OUTPUT={out}")
    )  # fmt: skip
    padded = np.pad(np.where(data == -9999, -np.inf, data), 1, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3)).max(axis=(2, 3))
    expected = np.where(data == -9999, -9999, windows).astype("float32")
    with rasterio.open(out) as filtered:
        assert np.array_equal(filtered.read(1), expected)

    served, _ = sample_stac
    url = served.stac_urls["earth-search"]
    table = tmp_path / "series.csv"
    series = results(
        fresh_qgis(
            "run", "sits:extracttimeseries", "--json", "--",
            f"INPUT={sites_geojson(tmp_path / 'points.geojson')}", "ID_FIELD=name",
            f"STAC_URL={url}", "START_DATE=2022-01-01", "END_DATE=2022-03-26",
            "BANDS=red,nir", f"OUTPUT={table}",
        )
    )  # fmt: skip
    assert series["FAILED"] == 0 and series["SEARCHES"] == 1
    with table.open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == series["ROWS"]
    import pystac_client

    search = pystac_client.Client.open(url).search(collections=["sentinel-2-l2a"])
    items = {(i.id.split("_")[2], i.datetime.date().isoformat()): i for i in search.items()}
    checked = 0
    for row in rows:  # the pixel under each point, read with rasterio from the same COGs
        site = next(s for s in SITES if s.name == row["feature_id"])
        item = items.get((site.name, row["date"][:10]))
        assert item is not None, (row, sorted(items)[:5])
        if point_value(item.assets["scl"].href, site.lon, site.lat) in MASKED:
            assert row["status"] == "masked" and row["red"] == ""
            continue
        for band in ("red", "nir"):
            assert float(row[band]) == point_value(item.assets[band].href, site.lon, site.lat)
        checked += 1
    assert checked >= len(rows) // 2
