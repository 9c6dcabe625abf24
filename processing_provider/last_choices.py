"""The choices of the last time-series extraction (catalogue, collection, bands,
indices, dates, mask, gap filling, credentials), kept in QGIS's settings so that the
dock's map tool starts from them: a click gives the series the user last asked for,
and the dock's fields edit them. Values are kept as the algorithm's parameters take
them, so the map tool hands them back to ``sits:extracttimeseries`` unchanged."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsSettings

from sits_qgis.redact import shown_url

#: The dates the time-series algorithms propose (their defaults too).
DEFAULT_START = "2023-01-01"
DEFAULT_END = "2023-12-31"
#: The parameters kept, with what the map tool uses before any extraction.
DEFAULTS: dict[str, str] = {
    "STAC_URL": "",  # empty: the Processing option's default catalogue
    "AUTHCFG": "",
    "COLLECTION": "sentinel-2-l2a",
    "BANDS": "red,nir",
    "INDICES": "NDVI",
    "START_DATE": DEFAULT_START,
    "END_DATE": DEFAULT_END,
    "MASK_BAND": "auto",
    "GAPFILL": "0",
}
PREFIX = "sits/last_series/"


def remember(choices: dict[str, Any]) -> None:
    """Keep these parameters' values (those of ``DEFAULTS``) as the last ones; a
    catalogue address holding a password or token is not kept (QGIS's settings are a
    plain file), and the default catalogue takes its place."""
    settings = QgsSettings()
    for name in DEFAULTS:
        if name in choices:
            value = str(choices[name])
            if name == "STAC_URL" and shown_url(value) != value:
                value = ""
            settings.setValue(PREFIX + name, value)


def recall() -> dict[str, str]:
    """The last values, or the defaults for those never chosen."""
    settings = QgsSettings()
    return {name: str(settings.value(PREFIX + name, default)) for name, default in DEFAULTS.items()}
