"""The backend's settings, in QGIS's Processing options (Providers > SITS).

They are read at every run, so a change applies to the next run: the session's
backend is restarted when its settings differ (see ``sits_qgis.backend.session``).
"""

from __future__ import annotations

from processing.core.ProcessingConfig import ProcessingConfig, Setting
from qgis.core import QgsProcessingException

from sits_qgis.backend.config import BackendConfig, BackendMode, default_workers
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

#: (label shown in the options, engine mode), in the order the list shows them.
MODES = (
    ("Local worker processes (dask.distributed)", BackendMode.PROCESSES),
    ("Threads in the QGIS process", BackendMode.THREADS),
    ("In the calling thread, one task at a time (debugging)", BackendMode.SEQUENTIAL),
    ("Existing dask scheduler (address below)", BackendMode.SCHEDULER),
)


def _settings() -> list[Setting]:
    return [
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
    ]


def register() -> None:
    """Add the settings to the Processing options and read their saved values."""
    for setting in _settings():
        ProcessingConfig.addSetting(setting)
    ProcessingConfig.readSettings()


def unregister() -> None:
    """Remove the settings from the Processing options (plugin unload)."""
    for name in (MODE, WORKERS, MEMORY, SCHEDULER, CATALOGUE, HTTP_TIMEOUT, HTTP_RETRIES):
        ProcessingConfig.removeSetting(name)


def backend_config() -> BackendConfig:
    """The backend settings as the engine takes them."""
    mode_index = ProcessingConfig.getSetting(MODE) or 0
    return BackendConfig(
        mode=MODES[int(mode_index)][1],
        workers=int(ProcessingConfig.getSetting(WORKERS) or default_workers()),
        memory_per_worker_mib=int(ProcessingConfig.getSetting(MEMORY) or 0),
        scheduler_address=str(ProcessingConfig.getSetting(SCHEDULER) or ""),
    )


def default_catalogue() -> str:
    """The catalogue the time-series algorithms propose (their STAC_URL default)."""
    return str(ProcessingConfig.getSetting(CATALOGUE) or DEFAULT_CATALOGUE).strip()


def http_settings() -> HttpSettings:
    """The HTTP timeout and retries of the STAC API and of GDAL's image reads."""
    timeout = ProcessingConfig.getSetting(HTTP_TIMEOUT)
    retries = ProcessingConfig.getSetting(HTTP_RETRIES)
    try:
        return HttpSettings(
            float(DEFAULT_HTTP.timeout_s if timeout in (None, "") else timeout),
            int(DEFAULT_HTTP.retries if retries in (None, "") else retries),
        )
    except (SitsError, ValueError) as exc:
        raise QgsProcessingException(
            f"Processing options > Providers > SITS: {exc} Correct the HTTP settings there."
        ) from None
