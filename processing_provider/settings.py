"""The engine's and the backend's settings, in QGIS's Processing options (Providers > SITS).

They are read at every run, so a change applies to the next run: the engine restarts
its backend when the backend settings differ (see ``sits_qgis.backend.session``).
"""

from __future__ import annotations

import os
from typing import Any

from processing.core.ProcessingConfig import ProcessingConfig, Setting
from qgis.core import QgsApplication, QgsProcessingException

from sits_qgis.backend.config import BackendMode, default_workers
from sits_qgis.errors import SitsError
from sits_qgis.stac.client import DEFAULT_HTTP, HttpSettings

GROUP = "SITS"
MODE = "SITS_BACKEND_MODE"
WORKERS = "SITS_BACKEND_WORKERS"
MEMORY = "SITS_BACKEND_MEMORY_MIB"
SCHEDULER = "SITS_BACKEND_SCHEDULER"
CATALOGUE = "SITS_DEFAULT_CATALOGUE"
DEFAULT_CATALOGUE = "earth-search"
HTTP_TIMEOUT = "SITS_HTTP_TIMEOUT"
HTTP_RETRIES = "SITS_HTTP_RETRIES"
ENGINE_FOLDER = "SITS_ENGINE_FOLDER"
ENGINE_PYTHON = "SITS_ENGINE_PYTHON"
CREDENTIAL_HOSTS = "SITS_CREDENTIAL_HOSTS"
LOCAL_FILES = "SITS_LOCAL_FILES"
BLOCK_CACHE_MIB = "SITS_BLOCK_CACHE_MIB"
BLOCK_CACHE_FOLDER = "SITS_BLOCK_CACHE_FOLDER"
#: The block cache's size unless the user sets one: none, since it takes disk space,
#: which is the user's to give.
DEFAULT_BLOCK_CACHE_MIB = 0

#: (label shown in the options, engine mode), in the order the list shows them.
MODES = (
    ("Local worker processes (dask.distributed)", BackendMode.PROCESSES),
    ("Threads in the engine process", BackendMode.THREADS),
    ("In the engine process, one task at a time (debugging)", BackendMode.SEQUENTIAL),
    ("An existing dask scheduler (at the 'Dask scheduler address')", BackendMode.SCHEDULER),
)


def default_cache_folder() -> str:
    """Where image blocks are cached unless the user chooses: the QGIS profile's folder."""
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "sits_cache")


def default_engine_folder() -> str:
    """Where the set-up makes the engine environments: the QGIS profile's folder."""
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "sits_engine")


def _settings() -> list[Setting]:
    return [
        Setting(
            GROUP,
            ENGINE_FOLDER,
            "Engine environments folder (empty = the QGIS profile's sits_engine folder)",
            # empty by default: QGIS refuses to save its options while a FOLDER setting
            # names a folder that does not exist, as the profile's does until the set-up
            "",
            valuetype=Setting.FOLDER,
        ),
        Setting(
            GROUP,
            ENGINE_PYTHON,
            "Or the Python of an existing environment for the engine (empty = the folder's)",
            "",
            valuetype=Setting.FILE,
        ),
        Setting(
            GROUP,
            MODE,
            "Where the work runs",
            MODES[0][0],
            valuetype=Setting.SELECTION,
            options=[label for label, _ in MODES],
        ),
        Setting(GROUP, WORKERS, "Number of workers (processes or threads)", default_workers()),
        Setting(GROUP, MEMORY, "Memory per worker process, in MiB (0 = share the machine's)", 0),
        Setting(
            GROUP,
            SCHEDULER,
            "Dask scheduler address (for an existing cluster)",
            "",
            placeholder="tcp://192.0.2.10:8786",
        ),
        Setting(
            GROUP,
            CATALOGUE,
            "Default catalogue of the time-series algorithms (preset or STAC API URL)",
            DEFAULT_CATALOGUE,
            placeholder="earth-search, planetary-computer or https://...",
        ),
        Setting(
            GROUP,
            HTTP_TIMEOUT,
            "HTTP timeout in seconds (STAC API and image reads)",
            DEFAULT_HTTP.timeout_s,
        ),
        Setting(
            GROUP,
            HTTP_RETRIES,
            "HTTP retries after a failed request (STAC API and image reads)",
            DEFAULT_HTTP.retries,
        ),
        Setting(
            GROUP,
            CREDENTIAL_HOSTS,
            "Other hosts of image files that get the catalogue's credentials (comma-separated;"
            " the catalogue's own host and its profile's always do)",
            "",
            placeholder="data.example.org",
        ),
        Setting(
            GROUP,
            LOCAL_FILES,
            "Read assets that a catalogue gives as local files or GDAL paths",
            False,
        ),
        Setting(
            GROUP,
            BLOCK_CACHE_MIB,
            "Block cache of image files on disk, in MiB (a rerun fetches nothing twice;"
            " 0 = no cache)",
            DEFAULT_BLOCK_CACHE_MIB,
        ),
        Setting(
            GROUP,
            BLOCK_CACHE_FOLDER,
            "Block cache folder (empty = the QGIS profile's sits_cache folder)",
            # empty by default, as the engine folder: QGIS refuses to save its options
            # while a FOLDER setting names a folder that does not exist yet
            "",
            valuetype=Setting.FOLDER,
        ),
    ]


def register() -> None:
    """Add the settings to the Processing options and read their saved values."""
    for setting in _settings():
        ProcessingConfig.addSetting(setting)
    ProcessingConfig.readSettings()


def unregister() -> None:
    """Remove the settings from the Processing options (plugin unload)."""
    for setting in _settings():
        ProcessingConfig.removeSetting(setting.name)


def backend_settings() -> dict[str, Any]:
    """The backend settings as the engine's ``BackendConfig`` takes them (plain data)."""
    mode_index = ProcessingConfig.getSetting(MODE) or 0
    return {
        "mode": MODES[int(mode_index)][1].value,
        "workers": int(ProcessingConfig.getSetting(WORKERS) or default_workers()),
        "memory_per_worker_mib": int(ProcessingConfig.getSetting(MEMORY) or 0),
        "scheduler_address": str(ProcessingConfig.getSetting(SCHEDULER) or ""),
    }


def engine_folder() -> str:
    """The folder of the engine environments (the set-up's FOLDER, remembered)."""
    return str(ProcessingConfig.getSetting(ENGINE_FOLDER) or default_engine_folder()).strip()


def engine_python() -> str:
    """The Python of an existing environment chosen for the engine, or empty."""
    return str(ProcessingConfig.getSetting(ENGINE_PYTHON) or "").strip()


def remember_engine_folder(folder: str) -> None:
    """The set-up's folder becomes the one the next runs use."""
    ProcessingConfig.setSettingValue(ENGINE_FOLDER, folder)


def default_catalogue() -> str:
    """The catalogue the time-series algorithms propose (their STAC_URL default)."""
    return str(ProcessingConfig.getSetting(CATALOGUE) or DEFAULT_CATALOGUE).strip()


def http_settings() -> dict[str, Any]:
    """The HTTP timeout and retries of the STAC API and of GDAL's image reads, checked
    here so that a wrong setting is named before the engine starts."""
    timeout = ProcessingConfig.getSetting(HTTP_TIMEOUT)
    retries = ProcessingConfig.getSetting(HTTP_RETRIES)
    try:
        http = HttpSettings(
            float(DEFAULT_HTTP.timeout_s if timeout in (None, "") else timeout),
            int(DEFAULT_HTTP.retries if retries in (None, "") else retries),
        )
    except (SitsError, ValueError) as exc:
        raise QgsProcessingException(
            f"Processing options > Providers > SITS: {exc} Correct the HTTP settings there."
        ) from None
    return {"timeout_s": http.timeout_s, "retries": http.retries}


def access_settings() -> dict[str, Any]:
    """Which other hosts get the credentials, whether local files may be read, and the
    block cache (its folder and size; a size of 0 or less: none)."""
    hosts = str(ProcessingConfig.getSetting(CREDENTIAL_HOSTS) or "")
    size = ProcessingConfig.getSetting(BLOCK_CACHE_MIB)  # a number: the options check it
    mib = int(DEFAULT_BLOCK_CACHE_MIB if size in (None, "") else size)
    folder = str(ProcessingConfig.getSetting(BLOCK_CACHE_FOLDER) or "").strip()
    return {
        "credential_hosts": [h.strip() for h in hosts.split(",") if h.strip()],
        "local_files": bool(ProcessingConfig.getSetting(LOCAL_FILES)),
        "block_cache": {"folder": folder or default_cache_folder(), "max_mib": mib},
    }


def set_engine_python(python: str) -> None:
    """An existing environment's Python, checked, becomes the engine's."""
    ProcessingConfig.setSettingValue(ENGINE_PYTHON, python)
