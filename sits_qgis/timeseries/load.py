"""Read one feature's window of every item, inside a worker.

Each asset of each item is opened with GDAL over HTTP (range requests: the header,
then only the blocks under the feature), read on the feature's grid with nearest
resampling (so native-grid values are the original pixel values) and the items of one
solar day are mosaicked, the first item with data winning, as odc-stac's
``groupby="solar_day"`` does. Reads run in a few threads because they wait on the
network, not on the CPU. GDAL's HTTP reads get retries with backoff and timeouts;
catalogue credentials, if any, are sent as headers and only live in memory.

Why not ``odc.stac.load`` (used until the benchmarks): it loads one geobox at a time,
so features sharing a tile opened every file again (1,000 points: 85,048 requests and
402 s, against 3,552 and 15 s here); it cannot skip the bands of dates the mask drops;
and GDAL's warper it relies on approximates the reprojection, taking a neighbouring
pixel for up to 0.1% of an EPSG:3035 cube's pixels (see ``resample``). The grids are
still odc-geo geoboxes.
"""

from __future__ import annotations

import importlib.util
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from .access import Access, gdal_path, shown
from .blockcache import BlockCache, cache_for
from .pixel_grid import Target, asset_crs, zone_pixels
from .problems import FeatureProblem, problem_message
from .remotefile import CachedOpener, FetchError
from .resample import GridKey, grid_key, pixel_map

T = TypeVar("T")

#: Waits between attempts at a file that failed for a passing reason (a dropped
#: connection, a body cut short, no answer): 0.5 s, 1 s, 2 s... at most 8 s, each
#: between half and one and a half times that (jitter).
RETRY_BASE_S = 0.5
RETRY_CAP_S = 8.0

#: Parallel reads inside one worker, because they wait on the network: against a
#: store that takes 20 ms per request, one feature's 365 files took 14.1 s with 1
#: thread and 4.4 s with 4 (rasterio); with GDAL's bindings, 3.1 s with 8, 2.1 s with 16
#: and 5.0 s with 32 (the Python test server no longer kept up).
READ_THREADS = 16
_read_pool: ThreadPoolExecutor | None = None
_read_pool_lock = threading.Lock()
#: Grids of the files read so far, by what the catalogue says of them (``_file_grid``).
_known_grids: dict[tuple[str, tuple[float, ...], tuple[int, int]], GridKey] = {}
MAX_KNOWN_GRIDS = 4096
#: Media types GDAL's GeoTIFF driver reads; naming the driver skips probing the others.
TIFF_MEDIA_TYPE = "image/tiff"
#: GDAL's own Python bindings are used when the engine's Python has them (a conda
#: environment, a system Python); the engine environment made from the package index
#: has only rasterio (GDAL publishes no wheels), which reads the same files.
GDAL_BINDINGS = importlib.util.find_spec("osgeo") is not None
#: Targets of one file read through one shared window (``_shared_window``): from this
#: many, when the window touches no block they do not need and holds at most 4 times
#: their pixels or at most FREE pixels (what one Sentinel-2 block holds), and never
#: more than MAX pixels (64 MiB of float32).
SHARED_READ_MIN_TARGETS = 8
SHARED_READ_FREE_PIXELS = 1024 * 1024
SHARED_READ_MAX_PIXELS = 16 * 1024 * 1024
#: What the read threads import, for the workers' warm-up.
READER_MODULE = "osgeo.gdal" if GDAL_BINDINGS else "rasterio"


@dataclass(frozen=True)
class FeatureJob:
    """Everything a worker needs to read one feature: small and picklable."""

    feature_id: str
    lon: float
    lat: float
    items: tuple[dict[str, Any], ...]
    target: Target
    assets: tuple[str, ...]
    access: Access = field(default_factory=Access)


@dataclass(frozen=True)
class MaskRule:
    """What the mask band hides, and the masked fraction above which a date is dropped:
    such a date is dropped whatever its bands hold, so they are not read.

    A pixel is masked when its value is one of ``values`` (classes, as Sentinel-2's SCL)
    or when any of ``bits`` is set in it (bit positions, as Landsat's ``qa_pixel`` or
    HLS' ``Fmask``); both may be given.
    """

    asset: str
    values: tuple[int, ...]
    max_masked: float
    bits: tuple[int, ...] = ()

    def masked(self, mask: np.ndarray) -> np.ndarray:
        """Which pixels of the mask band's values are masked."""
        hidden = np.isin(mask, self.values)
        if self.bits:
            if mask.dtype.kind not in "iu":
                raise FeatureProblem(
                    f"MASK_BITS: the mask band '{self.asset}' holds {mask.dtype} values;"
                    " bits need a band of whole numbers (a quality band such as qa_pixel or"
                    " Fmask): use MASK_VALUES for this band"
                )
            size = mask.dtype.itemsize * 8
            beyond = [b for b in self.bits if b >= size]
            if beyond:
                raise FeatureProblem(
                    f"MASK_BITS: bit {beyond[0]} does not exist in the mask band"
                    f" '{self.asset}' ({mask.dtype}: bits 0 to {size - 1})"
                )
            flags = np.array(sum(1 << b for b in self.bits), dtype=np.uint64)
            hidden |= (mask.astype(np.uint64, copy=False) & flags) != 0
        return hidden


@dataclass
class LoadedImages:
    """One feature's images, one per solar day, on its target grid.

    ``bands`` are (time, y, x) arrays in the files' data type, ``nodata`` the value
    that marks missing pixels in each (also where no item covers the pixel), and
    ``groups`` the items mosaicked into each date. ``skipped`` dates were dropped on
    their mask alone: only the mask band was read for them. ``failed`` says, for each
    date, why one of its files could not be read ("" when all were): such a date has
    no values, and the other dates of the feature go on.
    """

    times: np.ndarray
    groups: list[list[dict[str, Any]]]
    bands: dict[str, np.ndarray]
    nodata: dict[str, float]
    skipped: np.ndarray
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Read:
    """One asset of one item read on each job's grid (``None``: no overlap)."""

    values: list[np.ndarray | None]
    nodata: float
    dtype: np.dtype


def solar_dates(times: Sequence[Any], lon: float) -> list[Any]:
    """The local solar date of each time at longitude ``lon`` (odc-stac's day grouping)."""
    import pandas as pd

    shift = pd.Timedelta(hours=lon / 15.0)
    return [(pd.Timestamp(t) + shift).date() for t in times]


def item_times(items: Sequence[Mapping[str, Any]]) -> list[np.datetime64]:
    """Each item's acquisition time (naive UTC)."""
    from ..stac.search import item_datetime

    return [np.datetime64(item_datetime(i).replace(tzinfo=None), "ns") for i in items]


def group_by_solar_day(
    items: Sequence[dict[str, Any]], lon: float
) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """Items grouped by local solar day, sorted by day then time and id (as odc-stac);
    each group is dated by its first item."""
    times = item_times(items)
    days = solar_dates(times, lon)
    order = sorted(range(len(items)), key=lambda n: (days[n], times[n], items[n]["id"]))
    groups: list[list[dict[str, Any]]] = []
    dates: list[np.datetime64] = []
    last_day = None
    for n in order:
        if days[n] != last_day:
            groups.append([])
            dates.append(times[n])
            last_day = days[n]
        groups[-1].append(items[n])
    return np.array(dates, dtype="datetime64[ns]"), groups


def _asset_nodata(item: Mapping[str, Any], asset: str) -> float | None:
    """The catalogue's nodata for an asset (``raster:bands``), if it declares one."""
    bands = item["assets"][asset].get("raster:bands") or [{}]
    value = bands[0].get("nodata")
    return None if value is None else float(value)


@contextmanager
def _gdal_for_this_thread(options: Mapping[str, str]) -> Iterator[Any]:
    """GDAL with the reading settings for this thread only (in QGIS, GDAL is shared
    with the application and credential headers must not leak into it), its errors
    kept quiet and read back as messages."""
    from osgeo import gdal

    for key, value in options.items():
        gdal.SetThreadLocalConfigOption(key, value)
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield gdal
    finally:
        gdal.PopErrorHandler()
        for key in options:
            gdal.SetThreadLocalConfigOption(key, None)


def _read_asset(
    item: Mapping[str, Any], asset: str, targets: Sequence[GridKey | None], access: Access
) -> _Read:
    """One asset of one item on every target grid (``None``: a target that does not
    want this file), from one opening of the file; pixels the file does not cover are
    nodata. A signed address whose token is refused
    is signed again and read once more.

    Why GDAL's own bindings rather than rasterio here: an opening costs 0.6 ms of CPU
    against 2 ms, and they release the GIL while waiting on the network (32 threads
    kept 28.6 requests in flight against a 20 ms server; rasterio stays near 8).
    """
    read_once = _read_once_gdal if GDAL_BINDINGS else _read_once_rasterio
    attempts, renewed = 0, False
    while True:
        href = access.address(item, asset)
        attempts += 1
        started = time.monotonic()
        options = access.gdal_options(href)
        cache = _cache_for(access, href)
        if cache is not None:
            opener = CachedOpener(href, access, cache)
            read, reason = _read_once_rasterio(href, item, asset, targets, options, opener)
        else:
            read, reason = read_once(href, item, asset, targets, options)
        if read is not None:
            return read
        timed_out = time.monotonic() - started >= access.http.timeout_s
        if not renewed and access.renewable(href, reason):
            renewed = True  # a new token, once
            continue
        if attempts > access.http.retries or not access.transient(reason):
            break
        _forget_file(href)
        # backoff with jitter (not a secret: B311 does not apply), so that the
        # workers of a run do not come back together
        jitter = random.uniform(0.5, 1.5)  # nosec B311
        time.sleep(min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempts - 1)) * jitter)
    raise FeatureProblem(
        f"cannot read asset '{asset}' of item {item['id']} ({shown(href)}):"
        f" {access.said(reason, href, attempts, timed_out)}"
    )


def _forget_file(href: str) -> None:
    """Drop what GDAL keeps of a file (its size, its blocks) before reading it again."""
    if GDAL_BINDINGS:
        from osgeo import gdal

        clear = getattr(gdal, "VSICurlPartialClearCache", None)
        if clear is not None:
            clear(gdal_path(href))


def _read_once_gdal(
    href: str, item: Mapping[str, Any], asset: str, targets: Sequence[GridKey | None],
    options: Mapping[str, str],
) -> tuple[_Read | None, str]:  # fmt: skip
    """One attempt with GDAL's bindings: the read, or ``None`` and GDAL's reason."""
    tiff = str(item["assets"][asset].get("type", "")).startswith(TIFF_MEDIA_TYPE)
    with _gdal_for_this_thread(options) as gdal:
        try:
            # naming the driver skips probing the others; assets without a media type
            # (optional in STAC, absent in CMR-STAC) let GDAL probe (and GDAL 3.6's
            # bindings refuse allowed_drivers=None: "not a sequence")
            drivers = {"allowed_drivers": ["GTiff"]} if tiff else {}
            dataset = gdal.OpenEx(gdal_path(href), gdal.OF_RASTER | gdal.OF_READONLY, **drivers)
            read = None if dataset is None else _read_dataset(dataset, item, asset, targets)
        except RuntimeError as exc:  # GDAL's exceptions, if something in the process turned them on
            read, reason = None, str(exc)
        else:
            reason = gdal.GetLastErrorMsg()
        dataset = None  # closes the file
    return read, reason


def _rasterio_env(options: Mapping[str, str]) -> Any:
    """``rasterio.Env`` with GDAL's options; rasterio sets GDAL_CACHEMAX through GDAL's
    own call, which takes a number."""
    import rasterio

    return rasterio.Env(**{k: int(v) if k == "GDAL_CACHEMAX" else v for k, v in options.items()})


def _cache_for(access: Access, href: str) -> BlockCache | None:
    """The block cache that serves ``href``: http(s) files, while the run has a cache
    and this process's use of it has not been turned off (a full or read-only folder).
    ``s3://`` files stay with GDAL, which signs their requests."""
    if access.cache is None or not href.startswith(("http://", "https://")):
        return None
    cache = cache_for(access.cache)
    return None if cache.disabled else cache


def _read_once_rasterio(
    href: str, item: Mapping[str, Any], asset: str, targets: Sequence[GridKey | None],
    options: Mapping[str, str], opener: CachedOpener | None = None,
) -> tuple[_Read | None, str]:  # fmt: skip
    """``_read_once_gdal`` through rasterio: for an engine without GDAL's own bindings
    (rasterio raises where GDAL's bindings return ``None``), and for files read through
    the block cache (``opener``), whose failed fetch gives the reason."""
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    path = gdal_path(href) if opener is None else href
    try:
        with _rasterio_env(options), rasterio.open(path, opener=opener) as dataset:
            read = _read_targets(
                _FileLayout(
                    np.dtype(dataset.dtypes[0]),
                    dataset.nodata,
                    tuple(dataset.transform.to_gdal()),
                    (dataset.height, dataset.width),
                    lambda: dataset.crs.to_wkt() if dataset.crs else "",
                    tuple(dataset.block_shapes[0]),
                ),
                lambda row, col, height, width: dataset.read(
                    1, window=Window(col, row, width, height)
                ),
                item,
                asset,
                targets,
            )
    except (RasterioError, FetchError) as exc:
        return None, (opener.error if opener is not None and opener.error else str(exc))
    return read, ""


#: Headers read for items that state no grid, by (collection, tile, asset): the files of
#: one tile share their grid, so a long series costs one header per tile and band.
_headers: dict[tuple[Any, ...], tuple[str, tuple[float, ...]]] = {}
#: Item properties that name the tile an item belongs to, in the catalogues' conventions.
TILE_PROPERTIES = (
    "grid:code", "s2:mgrs_tile", "mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square",
    "landsat:wrs_path", "landsat:wrs_row", "modis:horizontal-tile", "modis:vertical-tile",
)  # fmt: skip


def _tile_key(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies an item's tile: its tiling properties, else its rounded bbox."""
    props = item.get("properties", {})
    named = tuple(props.get(name) for name in TILE_PROPERTIES)
    if any(v is not None for v in named):
        return named
    return tuple(round(float(v), 2) for v in item.get("bbox") or ())


def file_header(
    item: Mapping[str, Any], asset: str, access: Access
) -> tuple[str, tuple[float, ...]]:
    """The CRS (WKT) and GDAL geotransform of an asset, from its file's header: for items
    that state no grid. Read once per tile and band (``_headers``)."""
    import rasterio
    from rasterio.errors import RasterioError

    key = (item.get("collection"), _tile_key(item), asset)
    if key in _headers:
        return _headers[key]
    href = access.address(item, asset)
    try:
        with _rasterio_env(access.gdal_options(href)), rasterio.open(gdal_path(href)) as dataset:
            if not dataset.crs:
                raise FeatureProblem(
                    f"item {item['id']} states no CRS and its asset '{asset}' ({shown(href)}) has"
                    " none either: set CRS and RESOLUTION"
                )
            found = dataset.crs.to_wkt(), tuple(dataset.transform.to_gdal())
    except RasterioError as exc:
        raise FeatureProblem(
            f"item {item['id']} states no grid, and the header of its asset '{asset}'"
            f" ({shown(href)}) cannot be read: {access.said(str(exc), href)}"
        ) from None
    if len(_headers) >= MAX_KNOWN_GRIDS:
        _headers.clear()
    _headers[key] = found
    return found


def _read_dataset(
    dataset: Any, item: Mapping[str, Any], asset: str, targets: Sequence[GridKey | None]
) -> _Read | None:
    """Band 1 of an open GDAL dataset on every target grid (``None`` if a read failed)."""
    from osgeo import gdal_array

    band = dataset.GetRasterBand(1)
    layout = _FileLayout(
        np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(band.DataType)),
        band.GetNoDataValue(),
        tuple(dataset.GetGeoTransform()),
        (dataset.RasterYSize, dataset.RasterXSize),
        dataset.GetProjection,
        tuple(reversed(band.GetBlockSize())),  # GDAL says (x, y)
    )
    return _read_targets(
        layout,
        lambda row, col, height, width: band.ReadAsArray(col, row, width, height),
        item,
        asset,
        targets,
    )


@dataclass(frozen=True)
class _FileLayout:
    """What an open file says of itself: pixel type, nodata, geotransform, size, CRS,
    and its blocks' (rows, columns)."""

    dtype: np.dtype
    nodata: float | None
    transform: tuple[float, ...]
    shape: tuple[int, int]
    crs_wkt: Callable[[], str]
    block: tuple[int, int]


def _read_targets(
    layout: _FileLayout,
    read_window: Callable[[int, int, int, int], np.ndarray | None],
    item: Mapping[str, Any],
    asset: str,
    targets: Sequence[GridKey | None],
) -> _Read | None:
    """Band 1 of an open file on every target grid, whichever library opened it;
    ``read_window(row, col, height, width)`` reads a window (``None`` if it failed).
    A ``None`` target gets ``None``, as one the file does not overlap."""
    dtype, nodata = layout.dtype, layout.nodata
    if nodata is None:
        nodata = _asset_nodata(item, asset)
    if nodata is None:  # no nodata anywhere: pixels outside the file are 0 / NaN
        nodata = float("nan") if dtype.kind == "f" else 0.0
    grid = _file_grid(layout.transform, layout.shape, layout.crs_wkt, item, asset)
    maps = [None if target is None else pixel_map(target, grid) for target in targets]
    shared = _shared_window(
        [m.window for m in maps if m is not None and m.window is not None], layout.block
    )
    if shared is not None:
        whole = read_window(*shared)
        if whole is None:
            return None
    values: list[np.ndarray | None] = []
    for target, where in zip(targets, maps, strict=True):
        if target is None or where is None or where.window is None:
            values.append(None)
            continue
        row_off, col_off, height, width = (int(v) for v in where.window)
        if shared is None:
            block = read_window(row_off, col_off, height, width)
            if block is None:
                return None
        else:  # this target's window, cut from the shared one
            row, col = row_off - shared[0], col_off - shared[1]
            block = whole[row : row + height, col : col + width]
        image = np.full(target[2], nodata, dtype=dtype)
        image[where.covered] = block[where.rows, where.cols]
        values.append(image)
    return _Read(values, nodata, dtype)


def _shared_window(
    windows: Sequence[tuple[int, int, int, int]], block: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """One window that holds every target's window of a file, when reading it once is
    cheaper than reading them one by one: many points near one another (a read costs
    tens of microseconds of CPU whatever its size, and 10,000 points make 10,000 reads
    per file); never when it touches a block that none of them needs (a block fetched
    for nothing), nor when it would be mostly unused. ``None``: read them one by one."""
    if len(windows) < SHARED_READ_MIN_TARGETS:
        return None
    needed_blocks = set().union(*(_blocks(w, block) for w in windows))
    top = min(w[0] for w in windows)
    left = min(w[1] for w in windows)
    bottom = max(w[0] + w[2] for w in windows)
    right = max(w[1] + w[3] for w in windows)
    pixels = (bottom - top) * (right - left)
    needed = sum(w[2] * w[3] for w in windows)
    if pixels > SHARED_READ_MAX_PIXELS or pixels > max(4 * needed, SHARED_READ_FREE_PIXELS):
        return None
    shared = top, left, bottom - top, right - left
    return shared if _blocks(shared, block) == needed_blocks else None


def _blocks(window: tuple[int, int, int, int], block: tuple[int, int]) -> set[tuple[int, int]]:
    """The (row, column) of the file's blocks a window touches."""
    row, col, height, width = window
    rows = range(row // block[0], (row + height - 1) // block[0] + 1)
    cols = range(col // block[1], (col + width - 1) // block[1] + 1)
    return {(r, c) for r in rows for c in cols}


def _file_grid(
    transform: tuple[float, ...],
    shape: tuple[int, int],
    crs_wkt: Callable[[], str],
    item: Mapping[str, Any],
    asset: str,
) -> GridKey:
    """An open file's grid: its CRS (``crs_wkt()``), geotransform and size.

    The CRS is read from the file once per (CRS the catalogue declares, geotransform,
    size), not at every opening: GDAL builds it from the GeoKeys for 0.4 ms of CPU, four
    times the opening itself. Files without a declared CRS are always read (tiles of
    neighbouring UTM zones share their geotransforms).
    """
    from affine import Affine

    declared = asset_crs(item, asset)
    known = _known_grids.get((declared, transform, shape)) if declared else None
    if known is None:
        known = grid_key(crs_wkt(), Affine.from_gdal(*transform), shape)
        if declared:
            if len(_known_grids) >= MAX_KNOWN_GRIDS:  # a long run moves on to other tiles
                _known_grids.clear()
            _known_grids[(declared, transform, shape)] = known
    return known


def _missing(values: np.ndarray, nodata: float) -> np.ndarray:
    return np.isnan(values) if np.isnan(nodata) else values == nodata


def load_features(jobs: Sequence[FeatureJob], rule: MaskRule | None = None) -> list[LoadedImages]:
    """Every asset of the jobs' items on each job's grid, one image per solar day.

    The jobs share their items (``planning.batches`` groups them so): each file is
    opened once for all of them, which is what makes many points in one tile cheap.
    With a ``rule``, the mask band is read first and the other bands only for the jobs
    that keep the date (cloudy dates cost one file, not five; a job's cloudy date costs
    no block even when another job of the batch keeps it).
    """
    first = jobs[0]
    targets = [
        grid_key(
            job.target.geobox.crs.to_wkt(), job.target.geobox.affine, tuple(job.target.geobox.shape)
        )
        for job in jobs
    ]
    access = first.access
    layouts = [group_by_solar_day(job.items, job.lon) for job in jobs]
    items, assets = list(first.items), list(first.assets)
    reads: dict[tuple[str, str], _Read] = {}
    failures: dict[tuple[str, str], str] = {}  # the files that could not be read, and why
    masks: list[tuple[np.ndarray, float]] = []  # each job's mosaicked mask band, read first
    keepers: dict[str, set[int]] | None = None  # which jobs keep each item, by the mask
    if rule is not None and rule.asset in assets:
        _read_all(items, [rule.asset], targets, access, reads, failures)
        masks = [
            _mosaic(groups, rule.asset, index, reads, job.target)
            for index, (job, (_, groups)) in enumerate(zip(jobs, layouts, strict=True))
        ]
        keepers = _keepers(jobs, masks, layouts, rule, reads, failures)
        items = [item for item in items if item["id"] in keepers]
        assets.remove(rule.asset)
    _read_all(items, assets, targets, access, reads, failures, keepers)
    if failures and not reads:  # nothing could be read: the catalogue's or the link's fault
        raise FeatureProblem(next(iter(failures.values())))
    loaded = []
    for index, (job, (times, groups)) in enumerate(zip(jobs, layouts, strict=True)):
        bands: dict[str, np.ndarray] = {}
        nodata: dict[str, float] = {}
        for asset in job.assets:
            if masks and asset == rule.asset:
                bands[asset], nodata[asset] = masks[index]
            else:
                bands[asset], nodata[asset] = _mosaic(groups, asset, index, reads, job.target)
        failed = [
            next((failures[(i["id"], a)] for i in group for a in job.assets
                  if (i["id"], a) in failures and _wanted(keepers, i, a, index, rule)), "")
            for group in groups
        ]  # fmt: skip
        skipped = np.array(
            [not why and keepers is not None
             and not any(index in keepers.get(i["id"], ()) for i in group)
             for group, why in zip(groups, failed, strict=True)],
            dtype=bool,
        )  # fmt: skip
        loaded.append(LoadedImages(times, groups, bands, nodata, skipped, failed))
    return loaded


def _wanted(
    keepers: Mapping[str, set[int]] | None,
    item: Mapping[str, Any],
    asset: str,
    index: int,
    rule: MaskRule | None,
) -> bool:
    """Whether job ``index`` needed this file: every mask file, and the bands of the
    items it keeps (a file read for another job costs this job nothing if it fails)."""
    if keepers is None or rule is None or asset == rule.asset:
        return True
    return index in keepers.get(item["id"], ())


def outcomes_of_batch(
    jobs: Sequence[FeatureJob],
    rule: MaskRule | None,
    outcome: Callable[[int, FeatureJob, LoadedImages], T],
    failed: Callable[[str, str], T],
) -> list[T]:
    """Load a batch, then each feature's ``outcome(index, job, images)``; when the batch
    cannot be read (an unreadable file), every feature gets ``failed(id, message)``."""
    try:
        loaded = load_features(jobs, rule)
    except Exception as exc:  # every feature of the batch needs the files
        message = problem_message(exc)
        return [failed(job.feature_id, message) for job in jobs]
    return [
        outcome(n, job, images) for n, (job, images) in enumerate(zip(jobs, loaded, strict=True))
    ]


def _read_all(
    items: Sequence[Mapping[str, Any]],
    assets: Sequence[str],
    targets: Sequence[GridKey],
    access: Access,
    reads: dict[tuple[str, str], _Read],
    failures: dict[tuple[str, str], str],
    keepers: Mapping[str, set[int]] | None = None,
) -> None:
    """These assets of these items, each file opened once, in a few threads, into
    ``reads``; a file that cannot be read goes into ``failures`` with its reason, and
    costs only its own date. With ``keepers``, an item is read only on the grids of
    the jobs that keep it (the others get ``None``, as a file that misses them)."""

    def read(work: tuple[Mapping[str, Any], str]) -> _Read | str:
        item, asset = work
        wanted = targets if keepers is None else [
            target if index in keepers[item["id"]] else None
            for index, target in enumerate(targets)
        ]  # fmt: skip
        try:
            return _read_asset(item, asset, wanted, access)
        except Exception as exc:  # one file's problem is its date's, not the batch's
            return problem_message(exc)

    work = [(item, asset) for item in items for asset in assets]
    for (item, asset), result in zip(work, _reading_threads().map(read, work), strict=True):
        if isinstance(result, str):
            failures[(item["id"], asset)] = result
        else:
            reads[(item["id"], asset)] = result


def _reading_threads() -> ThreadPoolExecutor:
    """This process's read threads, started once and kept for every batch.

    Why not a pool per batch: pyproj sets a transformation up again in every thread
    that uses it (about 60 ms for EPSG:3035 to UTM), so fresh threads per batch spent
    most of a cube run's CPU on that.
    """
    global _read_pool
    with _read_pool_lock:
        if _read_pool is None:
            _read_pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="sits-read")
        return _read_pool


def _keepers(
    jobs: Sequence[FeatureJob],
    masks: Sequence[tuple[np.ndarray, float]],
    layouts: Sequence[tuple[np.ndarray, list[list[dict[str, Any]]]]],
    rule: MaskRule,
    reads: Mapping[tuple[str, str], _Read],
    failures: Mapping[tuple[str, str], str],
) -> dict[str, set[int]]:
    """For each item worth reading, the jobs (by index) that keep its date, judged on
    each job's mask alone (the same test ``series.clean_series`` makes, before the
    bands can only add gaps); not the dates whose mask could not be read (they fail,
    with the reason). Why per job: the points of one file are often in different
    blocks, and a block fetched for a point whose date is cloudy is a block for nothing
    (9% of the bytes of 100 points over 24 sites)."""
    keepers: dict[str, set[int]] = {}
    for index, (job, (mask, _), (_, groups)) in enumerate(zip(jobs, masks, layouts, strict=True)):
        try:
            zone = zone_pixels(job.target)
        except FeatureProblem:
            continue  # this feature fails with that message in its own series
        try:
            clear = (zone & ~rule.masked(mask)).sum(axis=(1, 2)) / zone.sum()
        except FeatureProblem:
            continue  # the same message becomes this feature's status
        for group, fraction in zip(groups, clear, strict=True):
            if any((item["id"], rule.asset) in failures for item in group):
                continue
            if 1.0 - fraction <= rule.max_masked:
                for item in _contributing(group, index, rule.asset, reads):
                    keepers.setdefault(item["id"], set()).add(index)
    return keepers


def _contributing(
    group: Sequence[dict[str, Any]], index: int, asset: str, reads: Mapping[tuple[str, str], _Read]
) -> Sequence[dict[str, Any]]:
    """The items of one date that give job ``index`` at least one pixel of its mask
    mosaic (the first item with data wins each pixel, as ``_mosaic``), or the whole group
    when none has data. Why: neighbouring tiles overlap (MGRS tiles by about 10 km), and
    a point in the overlap needs only the first tile's bands; reading the second one's
    cost 7% of the bytes of 100 points over 24 sites. A scene's bands have its mask's
    footprint, so the bands' mosaic takes the same items."""
    chosen: list[dict[str, Any]] = []
    covered: np.ndarray | None = None
    for item in group:
        read = reads.get((item["id"], asset))
        values = None if read is None else read.values[index]
        if values is None:
            continue
        has_data = ~_missing(values, read.nodata)
        fresh = has_data if covered is None else has_data & ~covered
        if fresh.any():
            chosen.append(item)
            covered = has_data if covered is None else covered | has_data
    return chosen or group


def _mosaic(
    groups: Sequence[Sequence[Mapping[str, Any]]],
    asset: str,
    index: int,
    reads: Mapping[tuple[str, str], _Read],
    target: Target,
) -> tuple[np.ndarray, float]:
    """One asset of one job per solar day, the first item with data winning each pixel;
    dates whose files were not read stay nodata (all NaN when none was read)."""
    shape = (len(groups), *target.geobox.shape)
    known = [reads[(i["id"], asset)] for g in groups for i in g if (i["id"], asset) in reads]
    if not known:
        return np.full(shape, np.nan, dtype=np.float32), float("nan")
    nodata = known[0].nodata
    images = np.full(shape, nodata, dtype=known[0].dtype)
    for step, group in enumerate(groups):
        for item in group:
            read = reads.get((item["id"], asset))
            values = None if read is None else read.values[index]
            if values is None:
                continue
            image = images[step]
            fill = _missing(image, nodata) & ~_missing(values, read.nodata)
            image[fill] = values[fill]
    return images, nodata
