"""What the engine process can be asked to do: one function per operation.

Each takes the request's parameters (plain data, as ``protocol`` carries them) and the
request's ``Channel`` (progress, log lines, streamed results, cancel), and returns
plain data. The Processing algorithms in QGIS build these parameters; the names of
their Processing parameters appear in the engine's messages, so errors still point at
the field to correct.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from .. import __version__
from ..backend.config import BackendConfig
from ..choices import AUTO_MASK_BAND, CUBE_MODES
from ..choices import values as choice_values
from ..redact import shown_url
from ..wording import plural
from . import protocol
from .server import Channel

Operation = Callable[[dict[str, Any], Channel], Any]


def ready_info() -> dict[str, Any]:
    """What the engine says when it is up: versions, so the client can refuse a mismatch."""
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "engine": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "pid": os.getpid(),
    }


def _backend(params: dict[str, Any]) -> Any:
    """The session's backend for the request's settings, started if needed."""
    from ..backend import get_backend

    return get_backend(BackendConfig(**params.get("backend", {})))


def _unstarted_backend(params: dict[str, Any]) -> Any:
    """The session's backend for the request's settings, for a run that starts it while
    it searches the catalogue."""
    from ..backend import session_backend

    return session_backend(BackendConfig(**params.get("backend", {})))


# -- tiled rasters ---------------------------------------------------------------------


def raster_statistics(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Exact statistics of a band; with ``with_tiles``, each tile's own and the raster's
    geotransform (for the tile polygons)."""
    from ..tiling import raster_statistics as compute
    from ..tiling.reader import raster_info

    stats = compute(
        params["path"],
        int(params["band"]),
        int(params["chunk_size"]),
        with_tile_stats=bool(params.get("with_tiles")),
        backend=_backend(params),
        progress=channel.progress,
        is_cancelled=channel.is_cancelled,
    )
    tiles = [
        {
            "row": t.tile.row,
            "row_end": t.tile.row_end,
            "col": t.tile.col,
            "col_end": t.tile.col_end,
            "total_count": t.total_count,
            "count": t.count,
            "mean": t.mean,
            "median": t.median,
            "minimum": t.minimum,
            "maximum": t.maximum,
            "std": t.std,
            "sum": t.sum,
        }
        for t in stats.tiles
    ]
    transform = list(raster_info(params["path"]).transform)[:6] if tiles else None
    return {"values": stats.values, "tiles": tiles, "transform": transform}


def raster_filter(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """A filtered raster, written atomically by the engine."""
    from ..tiling.rasterfilter import raster_filter as run

    kind = params["filter"]
    output = run(
        params["path"],
        params["output"],
        kind,
        int(params["size"]),
        float(params["sigma"]) if kind == "gaussian" else None,
        int(params["band"]),
        int(params["chunk_size"]),
        cog=bool(params.get("cog")),
        backend=_backend(params),
        progress=channel.progress,
        is_cancelled=channel.is_cancelled,
    )
    return {"output": str(output)}


# -- STAC ------------------------------------------------------------------------------


def series_options(data: dict[str, Any]) -> Any:
    """``SeriesOptions`` from the request's plain data (dates as ISO text)."""
    from ..stac.client import HttpSettings
    from ..timeseries.options import GapFill, SeriesOptions

    return SeriesOptions(
        stac_url=data["stac_url"],
        collection=data["collection"],
        bands=tuple(data.get("bands", ())),
        start=date.fromisoformat(data["start"]),
        end=date.fromisoformat(data["end"]),
        max_cloud=float(data.get("max_cloud", 100.0)),
        resolution=float(data.get("resolution", 0.0)),
        crs=data.get("crs", ""),
        mask_band=data.get("mask_band", AUTO_MASK_BAND),
        mask_values=tuple(int(v) for v in data.get("mask_values", ())),
        mask_bits=tuple(int(v) for v in data.get("mask_bits", ())),
        max_masked=float(data.get("max_masked", 0.5)),
        gapfill=GapFill(int(data.get("gapfill", 0))),
        indices=tuple(data.get("indices", ())),
        harmonize=bool(data.get("harmonize", True)),
        physical=data.get("values", "stored") == "physical",
        headers=dict(data.get("headers", {})),
        s3=dict(data.get("s3", {})),
        credential_hosts=tuple(data.get("credential_hosts", ())),
        local_files=bool(data.get("local_files", False)),
        http=HttpSettings(**data.get("http", {})),
        block_cache=cache_settings(data.get("block_cache")),
    )


def cache_settings(data: dict[str, Any] | None) -> Any:
    """``CacheSettings`` from ``{"folder": path, "max_mib": size}``; ``None`` (no cache)
    when absent, without a folder or with a size of 0."""
    from ..timeseries.blockcache import CacheSettings

    if not data or not data.get("folder") or int(data.get("max_mib", 0)) <= 0:
        return None
    return CacheSettings(str(data["folder"]), int(data["max_mib"]) * 2**20)


def feature_layer(data: dict[str, Any]) -> Any:
    """``FeatureLayer`` from ``{"crs": WKT, "features": [[id, wkb base64, label]...]}``."""
    from ..timeseries.features import Feature, FeatureLayer

    features = tuple(
        Feature(str(fid), protocol.wkb_bytes(wkb), label) for fid, wkb, label in data["features"]
    )
    return FeatureLayer(features, data["crs"])


def check_series(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """The whole-run checks (no network) that the dialog runs before starting."""
    from ..stac import check_dates
    from ..timeseries.planning import check_options

    if "options" not in params:  # the search: dates only
        check_dates(date.fromisoformat(params["start"]), date.fromisoformat(params["end"]))
        return {}
    check_options(series_options(params["options"]))
    return {}


def search(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """One search; items as footprints (WKT in EPSG:4326) with their main properties."""
    import shapely

    from ..stac import SearchRequest, resolve_catalogue, search_area
    from ..stac import search as run
    from ..stac.client import HttpSettings
    from ..timeseries.pixel_grid import crs_label, item_crs

    request = SearchRequest(
        catalogue=resolve_catalogue(params["stac_url"]),
        collection=params["collection"],
        start=date.fromisoformat(params["start"]),
        end=date.fromisoformat(params["end"]),
        area=search_area([tuple(box) for box in params["envelopes"]]),
        max_cloud=float(params.get("max_cloud", 100.0)),
        headers=dict(params.get("headers", {})),
        http=HttpSettings(**params.get("http", {})),
    )
    result = run(request, channel.is_cancelled)
    if result.rejection_note():
        channel.log(result.rejection_note(), "warning")
    items = []
    for item in result.items:
        props = item.get("properties", {})
        geometry = item.get("geometry")
        items.append(
            {
                "id": item.get("id"),
                "datetime": props.get("datetime"),
                "cloud_cover": props.get("eo:cloud_cover"),
                "platform": props.get("platform"),
                "crs": crs_label(item_crs(item)),
                "processing_baseline": props.get("s2:processing_baseline"),
                "assets": ",".join(sorted(item.get("assets", {}))),
                "wkt": shapely.geometry.shape(geometry).wkt if geometry else None,
                # what showing the scene needs (its assets), without the geometry
                # (the footprint's own) and links (long, of no use to a reader)
                "item": {k: v for k, v in item.items() if k not in ("geometry", "links")},
            }
        )
    return {
        "items": items,
        "cloud_filter": result.cloud_filter,
        "dropped_by_client": result.dropped_by_client,
    }


def scene_sources(params: dict[str, Any], channel: Channel) -> list[dict[str, Any]]:
    """Each band of one searched item as QGIS's GDAL reads it (``scene.scene_sources``)."""
    from ..timeseries.scene import scene_sources as sources

    return sources(
        params["item"],
        params["stac_url"],
        params["collection"],
        params["bands"],
        headers=params.get("headers"),
        s3=params.get("s3"),
        users_hosts=params.get("credential_hosts", ()),
        local_files=bool(params.get("local_files", False)),
    )


def _layer_and_options(params: dict[str, Any], channel: Channel) -> tuple[Any, Any]:
    """The run's features and options; says the search about to be made."""
    layer = feature_layer(params["layer"])
    options = series_options(params["options"])
    channel.log(
        f"Searching {shown_url(options.stac_url)} for {plural(len(layer.features), 'feature')}..."
    )
    return layer, options


def _say_plan(plan: Any, channel: Channel) -> None:
    """The search's summary and what the run chose in the user's place."""
    channel.log(plan.search.summary())
    for note in plan.notes:
        channel.log(note, "warning")


def _search_counts(plan: Any) -> dict[str, int]:
    search = plan.search
    return {
        "items": len(search.items),
        "searches": search.api_requests.searches(),
        "search_pages": search.api_requests.count("/search"),
    }


def extract_table(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Rows per feature and date, streamed as ``outcome`` events after a ``plan`` event
    that gives the value columns and the number of features."""
    from ..timeseries.options import Statistic, TableOptions
    from ..timeseries.running import extract_table as extract

    table = TableOptions(
        float(params.get("buffer", 0.0)),
        tuple(Statistic(int(i)) for i in params.get("statistics", [0])),
    )
    layer, options = _layer_and_options(params, channel)
    run = extract(
        layer,
        options,
        table,
        _unstarted_backend(params),
        points=bool(params.get("points")),
        is_cancelled=channel.is_cancelled,
    )
    _say_plan(run.plan, channel)
    # at most one row per feature and item: QGIS's side warns before filling a
    # temporary layer (held in its memory) with hundreds of thousands of rows
    rows = sum(len(job.items) for job in run.plan.jobs)
    channel.emit("plan", {"columns": run.columns, "features": len(run.plan.features), "rows": rows})
    for outcome in run:
        channel.emit(
            "outcome",
            {
                "feature_id": outcome.feature_id,
                "status": outcome.status,
                "message": outcome.message,
                "ok": bool(outcome.rows),
                "rows": run.rows(outcome),
            },
        )
    return _search_counts(run.plan)


def extract_cubes(params: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """One netCDF per feature, written by the engine; outcomes streamed as they finish."""
    from ..timeseries.options import CubeMode, CubeOptions
    from ..timeseries.running import extract_cubes as extract

    cube = CubeOptions(
        folder=params["folder"],
        mode=CubeMode(choice_values(CUBE_MODES)[int(params["mode"])]),  # MODE's index
        patch_x=int(params["patch_x"]),
        patch_y=int(params["patch_y"]),
        buffer=float(params.get("buffer", 0.0)),
        label_field=params.get("label_field", ""),
    )
    labels = {str(k): float(v) for k, v in params.get("labels", {}).items()}
    layer, options = _layer_and_options(params, channel)
    run = extract(
        layer,
        options,
        cube,
        _unstarted_backend(params),
        labels=labels,
        resume=bool(params.get("resume", False)),
        is_cancelled=channel.is_cancelled,
    )
    _say_plan(run.plan, channel)
    channel.emit("plan", {"features": len(run.plan.features)})
    for outcome in run:
        channel.emit(
            "outcome",
            {
                "feature_id": outcome.feature_id,
                "path": outcome.path,
                "status": outcome.status,
                "message": outcome.message,
                "dates": outcome.dates,
                "width": outcome.shape[1],
                "height": outcome.shape[0],
            },
        )
    return _search_counts(run.plan)


# -- the backend -----------------------------------------------------------------------


def test_backend(params: dict[str, Any], channel: Channel) -> str:
    """Start (or reuse) the backend of the settings and run one task on it."""
    from ..backend import Task

    backend = _backend(params)
    [(_, pid)] = list(backend.run([Task("connection test", os.getpid)], channel.is_cancelled))
    where = "the engine process" if pid == os.getpid() else f"worker process {pid}"
    workers = backend.worker_pids()
    count = f"{plural(len(workers), 'local worker')}; " if workers else ""
    return f"OK: {count}a test task ran in {where}."


def imported_modules(params: dict[str, Any], channel: Channel) -> list[str]:
    """The modules loaded in the engine process (tests check what runs where)."""
    return sorted(sys.modules)


OPERATIONS: dict[str, Operation] = {
    "raster_statistics": raster_statistics,
    "raster_filter": raster_filter,
    "check_series": check_series,
    "search": search,
    "scene_sources": scene_sources,
    "extract_table": extract_table,
    "extract_cubes": extract_cubes,
    "test_backend": test_backend,
    "imported_modules": imported_modules,
}
