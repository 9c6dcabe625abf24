"""The SITS multiprocessing tutorial case, run by SITS 0.7.5 itself against any STAC API.

Run it with the SITS venv (``bench/setup_sits.sh``), never the project's::

    .bench-sits-venv/bin/python bench/sits_reference.py --stac-url http://127.0.0.1:PORT \\
        --points /work/shared/data/europe_random_points.geojson \\
        --start 2023-01-01 --end 2023-12-31 --bands blue,green,red,nir \\
        --mode image --out DIR --workers 2 --mask

It does what the tutorial "Multiprocessing" (kenoz/SITS_utils,
docs/source/tutorials/colab_sits_ex04.ipynb, formerly examples/colab_sits_ex02.ipynb)
does for the 24 random points over Europe, with SITS's own classes:
``sits.Vec2gdf(points)``, ``set_buffer('gdf', 0.01)`` (degrees), ``set_bbox('buffer')``,
each bbox in EPSG:4326 (for the search) and in EPSG:3035 (for the cube), then
``sits.Multiproc(mode, 'nc', out)`` with ``addParams_stacAttack(provider='aws', bands=...)``,
``addParams_searchItems(start, end)``, ``addParams_loadCube(resolution=20)`` ('image') or
``addParams_loadCube(dimx=10, dimy=10, resolution=20)`` ('patch'), ``addParams_mask(...)``,
one ``fetch_func(bbox_4326, bbox_3035, gid, mask=..., gapfill=...)`` per point and
``dask_compute()`` (dask 'processes' scheduler, ``--workers`` processes). Each point gives
``OUT/fid-{gid}_sat_{mode}_{start}-{end}.nc`` (gid = the point's index, 0..23), written by
``StacAttack.to_nc`` (a previous run's ``fid-*_sat_{mode}_*.nc`` in OUT are deleted
first). Per point, SITS searches ``sentinel-2-l2a``, loads the bands with
``odc.stac.load`` (uint16, nodata 0, ``groupby='solar_day'``, 612 px chunks) on its geobox,
masks with the SCL band (``cube.where(~scl.isin(values))``, i.e. float32 with NaN, SCL included) and
optionally gap fills (``interpolate_na`` along time, then bfill/ffill).

Differences from the notebook, all deliberate:
- The notebook's search has ``query={"eo:cloud_cover": {"lt": 10}}``; not sent by default
  (``--max-cloud`` sends it) because ``rustac serve``'s memory backend does not implement
  the Query extension and silently returns no item at all when it is present.
- Bands: the notebook loads B03 B04 B08 SCL from Planetary Computer; here ``--bands``
  (Earth Search v1 asset keys) plus ``--mask-band`` (``scl``) when masking.
- End date: the notebook passes midnight datetimes (``datetime(2025, 1, 1)`` to end 2024);
  ``--end 2023-12-31`` is sent as 2023-12-31T23:59:59 so the whole last day is included.
- Mask values: the notebook's 'image' cell uses [0, 1, 3, 8, 9, 10], its 'patch' cell
  SITS's default [3, 8, 9, 10]; here ``--mask-values`` (default 0,1,3,8,9,10) for both.
- Gap filling (the notebook's ``gapfill=True``) is off unless ``--gapfill``.

Runtime patches (monkeypatched here and, through dask's worker initializer, in every
worker process; site-packages is untouched):
1. ``StacAttack.__init__`` wrapped to point the provider at ``--stac-url``: SITS hard-codes
   its providers' URLs (``prov_stac``: Planetary Computer and Earth Search) in __init__.
   ``provider='aws'`` is used (Earth Search v1 conventions, no URL signing).
2. ``StacAttack.mask = StacAttack.mask_conf`` (only with ``--mask``): ``Multiproc``'s task
   calls ``imgcoll.mask(**ma_kwargs)`` but 0.7.5 renamed that method ``mask_conf``, so any
   ``fetch_func(..., mask=True)`` dies with AttributeError. ``mask_conf`` stores the mask in
   ``self.mask`` (shadowing the alias on the instance), which ``mask_apply()`` then uses.
Plumbing (not a SITS patch): ``dask.config`` gets ``num_workers=--workers`` and a
``multiprocessing.initializer`` that applies the patches in the spawned workers (dask's
default 'spawn' context starts fresh interpreters that re-import an unpatched SITS);
``sys.stdout`` is pointed at stderr in every process so that SITS's print()s (e.g.
"Datetime parsing failed: ..." for datetimes without fractional seconds) cannot mix with
the JSON line, which is the only thing on stdout.

Known SITS 0.7.5 problems left as they are (not on this path or not fatal):
- ``Multiproc.addParams_gapfill`` raises NameError (``mask_values`` undefined): not called;
  ``fetch_func(..., gapfill=True)`` runs ``gapfill()`` with its defaults anyway, and
  ``mask_apply(**gf_kwargs)`` then gets no argument, as it must.
- ``Multiproc`` merges per-call ``fetch_func`` kwargs into the instance's shared option
  dicts (they leak to later features); none are passed here, so nothing leaks.
- No retries and no per-feature error isolation: one failing feature makes
  ``dask.compute`` raise and the run stop; the JSON then has ``error``, and the features
  without an output file count as failed.

Output: one JSON line on stdout: ``ok``, ``seconds`` (wall time of the SITS work: geometry,
graph and ``dask_compute``, imports excluded), ``total_seconds`` (since interpreter start),
``features``/``done``/``failed``, ``files``, ``bytes``, ``time_steps`` (per file),
``max_rss_mib`` (largest single process: this one or a worker), ``error``, versions and
the options used.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import time
import traceback
import warnings
from datetime import datetime
from pathlib import Path

T0 = time.perf_counter()

warnings.filterwarnings("ignore")  # as the tutorial does

import dask  # noqa: E402
import geopandas  # noqa: E402, F401
import pandas as pd  # noqa: E402
import sits  # noqa: E402
from sits import sits as sits_mod  # noqa: E402

_ORIGINAL_INIT = sits_mod.StacAttack.__init__


def apply_patches(stac_url: str, mask: bool) -> None:
    """Monkeypatch SITS (idempotent); also run in each dask worker process."""
    warnings.filterwarnings("ignore")
    # SITS print()s (e.g. "Datetime parsing failed"): keep stdout for the JSON line.
    sys.stdout = sys.stderr
    stac_attack = sits_mod.StacAttack

    @functools.wraps(_ORIGINAL_INIT)
    def init(self, *args, **kwargs):
        _ORIGINAL_INIT(self, *args, **kwargs)
        # Patch 1: the provider's hard-coded URL -> the benchmark's STAC API.
        self.stac = dict(self.stac, stac=stac_url, modifier=None, patch_url=None)

    stac_attack.__init__ = init
    if mask:
        # Patch 2: Multiproc calls StacAttack.mask(), renamed mask_conf() in 0.7.5.
        stac_attack.mask = stac_attack.mask_conf


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stac-url", required=True, help="STAC API root, e.g. http://127.0.0.1:8080")
    p.add_argument("--points", required=True, help="point layer (the tutorial's rand_pts.geojson)")
    p.add_argument("--start", default="2023-01-01", help="first day, YYYY-MM-DD")
    p.add_argument("--end", default="2023-12-31", help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--bands", default="blue,green,red,nir", help="asset keys, comma-separated")
    p.add_argument("--mode", choices=["image", "patch"], required=True)
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--workers", type=int, default=2, help="dask worker processes")
    p.add_argument(
        "--mask",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="SCL mask (needs patch 2; default on)",
    )
    p.add_argument("--mask-band", default="scl")
    p.add_argument("--mask-values", default="0,1,3,8,9,10")
    p.add_argument("--gapfill", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--collection", default="sentinel-2-l2a")
    p.add_argument("--buffer-deg", type=float, default=0.01, help="tutorial: 0.01 degree")
    p.add_argument("--crs", type=int, default=3035, help="output EPSG (tutorial: 3035)")
    p.add_argument("--resolution", type=float, default=20, help="tutorial: 20 (m)")
    p.add_argument("--patch-size", type=int, default=10, help="patch dimx = dimy (tutorial: 10)")
    p.add_argument(
        "--max-cloud",
        type=float,
        default=None,
        help='send query={"eo:cloud_cover": {"lt": X}} (tutorial: 10; rustac ignores '
        "the Query extension and returns nothing)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N points")
    return p.parse_args(argv)


def tutorial_bboxes(points: str, buffer_deg: float, crs: int, limit: int | None) -> pd.DataFrame:
    """The tutorial's section 2: buffer, bbox, bbox in 4326 and in the output CRS."""
    pts = sits_mod.Vec2gdf(points)
    pts.set_buffer("gdf", buffer_deg)
    pts.set_bbox("buffer")
    bbox_latlong = pd.concat([pts.bbox, pts.bbox["geometry"].bounds], axis=1)
    bbox_latlong["bbox_4326"] = bbox_latlong[["minx", "miny", "maxx", "maxy"]].values.tolist()
    bbox_proj = pts.bbox.to_crs(crs)
    proj_bounds = pd.concat([bbox_proj, bbox_proj["geometry"].bounds], axis=1)
    proj_bounds["bbox_proj"] = proj_bounds[["minx", "miny", "maxx", "maxy"]].values.tolist()
    table = pd.concat([bbox_latlong["bbox_4326"], proj_bounds["bbox_proj"]], axis=1)
    return table if limit is None else table.iloc[:limit]


def run(args: argparse.Namespace) -> dict:
    bands = [b.strip() for b in args.bands.split(",") if b.strip()]
    if args.mask and args.mask_band not in bands:
        bands.append(args.mask_band)
    mask_values = [int(v) for v in args.mask_values.split(",") if v.strip()]
    start = datetime.strptime(args.start, "%Y-%m-%d")
    end = datetime.strptime(args.end, "%Y-%m-%d").replace(hour=23, minute=59, second=59)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"fid-*_sat_{args.mode}_*.nc"):  # a previous run's outputs
        stale.unlink()

    apply_patches(args.stac_url, args.mask)
    report: dict = {
        "tool": "sits",
        "mode": args.mode,
        "ok": False,
        "error": "",
        "options": {
            "stac_url": args.stac_url,
            "bands": bands,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "workers": args.workers,
            "mask": args.mask,
            "mask_values": mask_values if args.mask else None,
            "gapfill": args.gapfill,
            "crs": args.crs,
            "resolution": args.resolution,
            "patch_size": args.patch_size if args.mode == "patch" else None,
            "buffer_deg": args.buffer_deg,
            "max_cloud": args.max_cloud,
        },
        "patches": ["StacAttack.__init__: provider URL -> --stac-url"]
        + (["StacAttack.mask = StacAttack.mask_conf"] if args.mask else []),
        "versions": _versions(),
    }

    t_start = time.perf_counter()
    table = tutorial_bboxes(args.points, args.buffer_deg, args.crs, args.limit)
    multi = sits_mod.Multiproc(args.mode, "nc", str(out))
    multi.addParams_stacAttack(provider="aws", collection=args.collection, bands=bands)
    search_kwargs = {}
    if args.max_cloud is not None:
        search_kwargs["query"] = {"eo:cloud_cover": {"lt": args.max_cloud}}
    multi.addParams_searchItems(date_start=start, date_end=end, **search_kwargs)
    if args.mode == "image":
        multi.addParams_loadCube(resolution=args.resolution, crs_out=args.crs)
    else:
        multi.addParams_loadCube(
            dimx=args.patch_size, dimy=args.patch_size, resolution=args.resolution, crs_out=args.crs
        )
    if args.mask:
        multi.addParams_mask(mask_band=args.mask_band, mask_values=mask_values)
    for gid, (bbox_4326, bbox_proj) in enumerate(zip(table["bbox_4326"], table["bbox_proj"])):
        multi.fetch_func(bbox_4326, bbox_proj, gid, mask=args.mask, gapfill=args.gapfill)

    initializer = functools.partial(apply_patches, args.stac_url, args.mask)
    with dask.config.set({"num_workers": args.workers, "multiprocessing.initializer": initializer}):
        try:
            multi.dask_compute()  # scheduler 'processes', as in the tutorial
            report["ok"] = True
        except Exception as exc:
            # dask appends the worker's traceback to the message: first line only here.
            first_line = (str(exc).strip().splitlines() or [""])[0]
            report["error"] = f"{type(exc).__name__}: {first_line}"
            report["traceback"] = str(exc)[-3000:]
    report["seconds"] = round(time.perf_counter() - t_start, 3)

    files, time_steps, nbytes = [], {}, 0
    done = 0
    for gid in range(len(table)):
        found = sorted(out.glob(f"fid-{gid}_sat_{args.mode}_*.nc"))
        if found:
            done += 1
        for path in found:
            files.append(str(path))
            nbytes += path.stat().st_size
            time_steps[path.name] = _time_steps(path)
    report.update(
        features=len(table),
        done=done,
        failed=len(table) - done,
        files=files,
        bytes=nbytes,
        time_steps=time_steps,
    )
    if report["ok"] and done != len(table):
        report["ok"] = False
        report["error"] = report["error"] or f"only {done} of {len(table)} outputs written"
    return report


def _time_steps(path: Path) -> int | None:
    try:
        import netCDF4

        with netCDF4.Dataset(path) as ds:
            return len(ds.dimensions["time"]) if "time" in ds.dimensions else None
    except Exception:
        return None


def _versions() -> dict:
    import netCDF4
    import odc.stac
    import pystac_client
    import rasterio
    import xarray

    return {
        "sits": sits.__version__,
        "dask": dask.__version__,
        "odc_stac": odc.stac.__version__,
        "pystac_client": pystac_client.__version__,
        "xarray": xarray.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "netCDF4": netCDF4.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    json_out = sys.stdout
    try:
        report = run(args)
    except Exception as exc:
        report = {
            "tool": "sits",
            "mode": args.mode,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8)[-3000:],
        }
    report["total_seconds"] = round(_process_age(), 3)
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report["max_rss_mib"] = round(max(self_rss, child_rss) / 1024, 1)
    report["max_rss_mib_main"] = round(self_rss / 1024, 1)
    report["max_rss_mib_worker"] = round(child_rss / 1024, 1)
    print(json.dumps(report), file=json_out, flush=True)
    return 0 if report.get("ok") else 1


def _process_age() -> float:
    """Seconds since this interpreter started (imports included)."""
    try:
        with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - T0


if __name__ == "__main__":
    sys.exit(main())
