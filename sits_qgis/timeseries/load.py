"""Read one feature's windows of every item with odc-stac, inside a worker.

Only the feature's geobox is read from each Cloud-Optimized GeoTIFF (HTTP range
requests), one mosaic per solar day, with nearest resampling so that native-grid
values are the original pixel values. GDAL's HTTP reads get retries with backoff and
timeouts; catalogue credentials, if any, are sent as headers and only live in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .grid import Target

#: GDAL settings for reading COGs over HTTP: no directory listing, retries with
#: backoff, bounded waits, merged neighbouring ranges, a per-process block cache.
GDAL_HTTP_OPTIONS: dict[str, str | int] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.jp2",
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
    "GDAL_CACHEMAX": 256,  # rasterio wants an int (MB) for this one
}
#: Parallel reads inside one worker: reading is latency-bound, not CPU-bound.
READ_THREADS = 4


@dataclass(frozen=True)
class FeatureJob:
    """Everything a worker needs to read one feature: small and picklable."""

    feature_id: str
    lon: float
    lat: float
    items: tuple[dict[str, Any], ...]
    target: Target
    assets: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def gdal_options(headers: Mapping[str, str]) -> dict[str, str | int]:
    """GDAL's HTTP settings, with the catalogue's credential headers when there are any."""
    options = dict(GDAL_HTTP_OPTIONS)
    if headers:
        options["GDAL_HTTP_HEADERS"] = "\r\n".join(f"{k}: {v}" for k, v in headers.items())
    return options


def load_feature(job: FeatureJob) -> Any:
    """An ``xarray.Dataset`` (time, y, x) of the job's assets, native dtypes, sorted by time."""
    import odc.stac
    import pystac

    odc.stac.configure_rio(**gdal_options(job.headers))
    items = [pystac.Item.from_dict(item, preserve_dict=False) for item in job.items]
    dataset = odc.stac.load(
        items,
        bands=list(job.assets),
        geobox=job.target.geobox,
        groupby="solar_day",
        resampling="nearest",
        pool=READ_THREADS,
        fail_on_error=True,
    )
    return dataset.sortby("time")


def solar_dates(times: Sequence[Any], lon: float) -> list[Any]:
    """The local solar date of each time at longitude ``lon`` (odc-stac's day grouping)."""
    import pandas as pd

    shift = pd.Timedelta(hours=lon / 15.0)
    return [(pd.Timestamp(t) + shift).date() for t in times]
