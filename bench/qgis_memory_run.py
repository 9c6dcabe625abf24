"""One QGIS-side process for ``bench_qgis_memory.py``: PyQGIS with the plugin loaded as
qgis_process loads it, then the same extraction run several times in a row; after each
run, this process's resident memory (the engine and its workers are other processes)
as one JSON line on stdout.

    python bench/qgis_memory_run.py PLUGINS_DIR STAC_URL POINTS END OUT_DIR OUTPUT...

Each OUTPUT is ``gpkg`` (a GeoPackage table in OUT_DIR) or ``memory`` (a temporary
layer, which holds every row in this process by design).
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import threading
import time
from pathlib import Path

import psutil

QGIS_PLUGINS = "/usr/share/qgis/python/plugins"
MIB = 2**20


def sample(process: psutil.Process, peak: list[int], done: threading.Event) -> None:
    """Keep the highest resident memory of ``process`` in ``peak[0]`` until ``done``."""
    while not done.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        done.wait(0.1)


def main() -> None:
    plugins, url, points, end, out = sys.argv[1:6]
    outputs = sys.argv[6:]
    sys.path[:0] = [plugins, QGIS_PLUGINS]
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    import processing
    from processing.core.Processing import Processing

    Processing.initialize()
    plugin = importlib.import_module("sits_plugin").classFactory(None)
    plugin.initProcessing()
    me = psutil.Process()
    gc.collect()
    print(json.dumps({"phase": "loaded", "rss_mib": me.memory_info().rss / MIB}), flush=True)
    for number, output in enumerate(outputs):
        peak = [0]
        done = threading.Event()
        sampler = threading.Thread(target=sample, args=(me, peak, done), daemon=True)
        sampler.start()
        started = time.perf_counter()
        destination = (
            "TEMPORARY_OUTPUT" if output == "memory" else str(Path(out) / f"run{number}.gpkg")
        )
        result = processing.run(
            "sits:extracttimeseries",
            {
                "INPUT": points, "ID_FIELD": "id", "STAC_URL": url,
                "COLLECTION": "sentinel-2-l2a", "START_DATE": "2023-01-01", "END_DATE": end,
                "BANDS": "red,nir", "OUTPUT": destination,
            },
        )  # fmt: skip
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        rows = result["ROWS"]
        holding = me.memory_info().rss / MIB
        del result
        gc.collect()
        print(json.dumps({
            "phase": f"run {number + 1}", "output": output, "rows": rows,
            "seconds": seconds, "peak_rss_mib": peak[0] / MIB,
            "rss_with_result_mib": holding, "rss_after_mib": me.memory_info().rss / MIB,
        }), flush=True)  # fmt: skip
    plugin.unload()


if __name__ == "__main__":
    main()
