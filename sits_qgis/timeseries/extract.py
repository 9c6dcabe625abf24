"""A whole time-series run: check the request, search once, plan every feature, run
the features as tasks on the backend and hand their outcomes back as they finish.

The main process only searches and plans (small, fast); reading and computing happen
in the workers. Features covered by the same images go to the same task (up to
``BATCH_FEATURES``, or ``BATCH_POINTS`` points), which opens each file once for all of
them: a thousand points in one Sentinel-2 tile cost about as many file openings as one
point. A feature's own problem (no geometry, no image, an unreadable file) becomes its
status and the others go on.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..backend import Backend, Task
from ..choices import AUTO_MASK_BAND
from ..errors import SitsError
from ..partials import remove_stale_partials
from ..profiles import CollectionProfile
from ..stac import (
    AssetBand,
    Catalogue,
    SearchRequest,
    SearchResult,
    check_dates,
    resolve_bands,
    resolve_catalogue,
    search,
)
from .access import Access
from .blockcache import usable as usable_cache
from .cubes import CubeJob, CubeOutcome, write_cubes
from .defaults import band_aliases, choose_mask, conversion, guessed_note, with_documented_nodata
from .features import FeatureLayer, PlacedFeature, duplicate_ids, place_features, unique_names
from .grid import (
    Target,
    area_target,
    check_buffer_crs,
    check_crs,
    chosen_grid,
    envelope_geobox,
    patch_target,
    pixel_target,
    to_grid_crs,
)
from .indices import catalogue_name, plan_indices
from .load import READER_MODULE, FeatureJob, file_header
from .options import CubeMode, CubeOptions, SeriesOptions, TableOptions
from .problems import FeatureProblem
from .series import SeriesSpec, assets_to_load
from .table import (
    STATUS_ERROR,
    STATUS_NO_DATA,
    FeatureOutcome,
    column_names,
    extract_features,
    problem_row,
)

#: Metres per degree of latitude, to grow EPSG:4326 envelopes by a buffer in metres.
METRES_PER_DEGREE = 111_320.0
#: Common names of Sentinel-2-like reflectance bands (they get the baseline offset).
REFLECTANCE_NAMES = {
    "coastal", "blue", "green", "red", "rededge", "rededge1", "rededge2", "rededge3",
    "nir", "nir08", "nir09", "cirrus", "swir16", "swir22", "yellow", "pan",
}  # fmt: skip

#: Features in one task at most, and their target pixels at most: enough to open each
#: file once for many points, few enough to keep every worker busy and a task's
#: arrays (pixels x dates x bands) in tens of megabytes.
BATCH_FEATURES = 64
BATCH_PIXELS = 2**18
#: Features of one pixel each (points) in one task at most. Tasks that share images
#: each fetch the blocks they need, so a block under thousands of points was fetched
#: once per task of 64: measured on the real-size catalogue (bench_realscale.py),
#: 10,000 points moved 7.3 times the bytes their answer needs. A task's arrays stay
#: small (4,096 points x 73 dates x 5 bands: 12 MB); its 16 read threads keep the link
#: busy without other tasks.
BATCH_POINTS = 4096

#: What the workers' table and cube tasks import, for ``Backend.start_soon`` to import
#: while the catalogue is searched (about a second per worker, paid by the first task
#: otherwise; xarray imports dask.array when it makes its first array).
TABLE_WORKER_IMPORTS = (
    "pandas", "pyproj", READER_MODULE, "odc.geo.geobox", f"{__package__}.table",
)  # fmt: skip
CUBE_WORKER_IMPORTS = (
    *TABLE_WORKER_IMPORTS, "xarray", "dask.array", "netCDF4", f"{__package__}.cubes",
)  # fmt: skip

Progress = Callable[[int, int], None]
IsCancelled = Callable[[], bool]


@dataclass
class Planned:
    """One feature, ready to run (``job``) or reported as it is (``problem``)."""

    feature_id: str
    job: FeatureJob | None = None
    problem: tuple[str, str] | None = None
    geometry: Any = None


@dataclass
class RunPlan:
    """Everything decided before any pixel is read."""

    options: SeriesOptions
    spec: SeriesSpec
    search: SearchResult
    features: list[Planned] = field(default_factory=list)
    #: What the run chose in the user's place, for the log (e.g. a mask left out).
    notes: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> list[FeatureJob]:
        return [p.job for p in self.features if p.job is not None]


def check_options(options: SeriesOptions) -> None:
    """Whole-run mistakes, each naming its parameter; found without the network, so the
    Processing dialog runs this check before it starts."""
    check_dates(options.start, options.end)
    if not options.bands and not options.indices:
        raise SitsError("Give at least one band (e.g. red,nir) or one index.", "BANDS")
    if not 0 <= options.max_masked <= 1:
        raise SitsError("MAX_MASKED is a fraction between 0 and 1 (e.g. 0.5).", "MAX_MASKED")
    if not 0 <= options.max_cloud <= 100:
        raise SitsError("MAX_CLOUD is a percentage between 0 and 100.", "MAX_CLOUD")
    if options.resolution < 0:
        raise SitsError("RESOLUTION must be 0 (native) or a positive size.", "RESOLUTION")
    beyond = [b for b in options.mask_bits if not 0 <= b < 64]
    if beyond:
        raise SitsError(
            f"{beyond[0]} is not a bit position; bits count from 0 (the lowest)"
            " to at most 63 (e.g. 1,3,4 for Landsat's dilated cloud, cloud and shadow).",
            "MASK_BITS",
        )
    check_crs(options.crs, options.resolution)
    for name in options.indices:
        catalogue_name(name)


def _envelope(placed: PlacedFeature, buffer: float) -> tuple[float, float, float, float]:
    """The feature's EPSG:4326 envelope grown by ``buffer`` metres (generously)."""
    x0, y0, x1, y1 = placed.geometry.bounds
    dy = buffer / METRES_PER_DEGREE
    dx = dy / max(math.cos(math.radians(max(abs(y0), abs(y1)))), 0.01)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def build_spec(
    options: SeriesOptions,
    bands: dict[str, AssetBand],
    profile: CollectionProfile | None = None,
    notes: list[str] | None = None,
) -> SeriesSpec:
    """Resolve band names, the mask and the indices against the collection, with what
    its profile says (or, without one, what its metadata suggests, said in ``notes``)."""
    aliases = band_aliases(profile, bands)
    outputs = resolve_bands(options.bands, bands, options.collection, "BANDS", aliases)
    mask = choose_mask(options, bands, profile, aliases)
    plans = tuple(plan_indices(options.indices, bands, aliases))
    reflectance = {
        b.key
        for b in bands.values()
        if b.key != mask.asset and (b.scale or (b.common_name or "").lower() in REFLECTANCE_NAMES)
    }
    if notes is not None and profile is None:
        notes.extend(filter(None, [guessed_note(options, mask)]))
    elif notes is not None and options.mask_band.strip().lower() == AUTO_MASK_BAND:
        notes.append(f"Collection '{options.collection}': {mask.describe()} (its profile's).")
    return SeriesSpec(
        outputs={name: band.key for name, band in outputs.items()},
        mask_asset=mask.asset,
        mask_values=mask.values,
        mask_bits=mask.bits,
        max_masked=options.max_masked,
        gapfill=options.gapfill,
        indices=plans,
        harmonize=options.harmonize,
        reflectance_assets=frozenset(reflectance),
        conversions={
            key: conversion(band, profile, key in reflectance) for key, band in bands.items()
        },
        physical=options.physical,
    )


def credential_hosts(catalogue: Catalogue, options: SeriesOptions) -> frozenset[str]:
    """The hosts that get AUTHCFG's headers: the catalogue's, its profile's data hosts
    (NASA's LP DAAC serves its files from another host), and the user's."""
    own = urlsplit(catalogue.url).netloc.lower()
    listed = catalogue.profile.credential_hosts
    return frozenset(
        h.strip().lower() for h in (own, *listed, *options.credential_hosts) if h.strip()
    )


TargetFor = Callable[[Any, Any], Target]


def run_notes(options: SeriesOptions) -> list[str]:
    """What the run leaves out of the user's options, said in the log rather than
    refused: mask values or bits without a mask band (an empty MASK_BAND means no mask)."""
    if options.mask_band or not (options.mask_values or options.mask_bits):
        return []
    given = " and ".join(
        name for name, v in (("MASK_VALUES", options.mask_values),
                              ("MASK_BITS", options.mask_bits)) if v
    )  # fmt: skip
    return [f"MASK_BAND is empty: no pixel is masked, and {given} are not used."]


def nothing_found(options: SeriesOptions, features: int, rejected: str | None) -> SitsError:
    """A search that found no image for any feature: said once, as an error naming what
    to change, rather than as a table whose every row says 'no data'."""
    cloud = f" with at most {options.max_cloud:g} % cloud" if options.max_cloud < 100 else ""
    check = "START_DATE and END_DATE" + (", MAX_CLOUD" if cloud else "")
    return SitsError(
        f"No image of '{options.collection}' between {options.start} and {options.end}"
        f"{cloud} covers any of the {features} feature(s). Check {check}, and that INPUT"
        " lies where the collection has images (a layer whose CRS is set wrong lies"
        " elsewhere)." + (f" {rejected}" if rejected else "")
    )


def plan_run(
    layer: FeatureLayer,
    options: SeriesOptions,
    buffer: float,
    target_for: TargetFor,
    is_cancelled: IsCancelled | None = None,
) -> RunPlan:
    """Search once for every feature and decide each feature's items and grid.

    ``target_for(grid, geometry_in_grid_crs)`` gives the feature's target (pixel, area,
    image or patch).
    """
    check_options(options)
    check_buffer_crs(options.crs, buffer)
    doubles = duplicate_ids(layer.features)
    if doubles:
        shown = ", ".join(f"'{d}'" for d in doubles[:5])
        raise SitsError(
            f"Feature ids must be unique, but {shown} are used by more than one feature."
            " Choose another ID_FIELD (or leave it empty to use the feature ids).",
            "ID_FIELD",
        )
    placed = place_features(layer)
    usable = [p for p in placed if p.geometry is not None]
    import shapely
    from shapely.strtree import STRtree

    from ..stac import search_area

    area = (
        search_area(_envelope(p, buffer) for p in usable)
        if usable
        else shapely.geometry.box(0, 0, 0, 0)
    )
    catalogue = resolve_catalogue(options.stac_url)
    profile = catalogue.profile.collections.get(options.collection)
    result = search(
        SearchRequest(
            catalogue=catalogue,
            collection=options.collection,
            start=options.start,
            end=options.end,
            area=area,
            max_cloud=options.max_cloud,
            headers=options.headers,
            http=options.http,
        ),
        is_cancelled,
    )
    if usable and not result.items:
        raise nothing_found(options, len(usable), result.rejection_note())
    cache, cache_note = usable_cache(options.block_cache)
    notes = run_notes(options) + list(filter(None, [result.rejection_note(), cache_note]))
    spec = build_spec(options, result.bands, profile, notes)
    assets = assets_to_load(spec)
    items_read = with_documented_nodata(result.items, profile)
    footprints = [shapely.geometry.shape(i["geometry"]) for i in items_read]
    tree = STRtree(footprints)
    plan = RunPlan(options, spec, result, notes=notes)
    access = Access(
        headers=dict(options.headers),
        http=options.http,
        token_url=catalogue.token_url if catalogue.signs_assets else None,
        s3=dict(options.s3),
        requester_pays=bool(profile and profile.requester_pays),
        account=catalogue.profile.account,
        s3_endpoint=dict(catalogue.profile.s3_endpoint),
        credential_hosts=credential_hosts(catalogue, options),
        local_files=options.local_files,
        cache=cache,
    )
    # what the items do not state of their grid, their files' headers say
    header = functools.partial(file_header, access=access)
    for p in placed:
        feature_id = p.feature.id
        if p.geometry is None:
            plan.features.append(Planned(feature_id, problem=(STATUS_ERROR, p.problem)))
            continue
        reach = shapely.geometry.box(*_envelope(p, buffer)) if buffer > 0 else p.geometry
        items = [items_read[i] for i in sorted(tree.query(reach, predicate="intersects"))]
        if not items:
            message = (
                f"no image of {options.collection} covers this feature between"
                f" {options.start} and {options.end}"
                + (f" with at most {options.max_cloud:g}% cloud" if options.max_cloud < 100 else "")
            )
            plan.features.append(Planned(feature_id, problem=(STATUS_NO_DATA, message)))
            continue
        centre = p.geometry.centroid
        try:
            grid = chosen_grid(
                items, assets, centre.x, centre.y, options.crs, options.resolution, header
            )
            local = to_grid_crs(p.geometry, grid)
            if buffer > 0:
                local = local.buffer(buffer)
            target = target_for(grid, local)
        except (ValueError, SitsError, FeatureProblem) as exc:
            plan.features.append(Planned(feature_id, problem=(STATUS_ERROR, str(exc))))
            continue
        job = FeatureJob(feature_id, centre.x, centre.y, tuple(items), target, assets, access)
        plan.features.append(Planned(feature_id, job=job, geometry=p.geometry))
    return plan


def batches(jobs: Sequence[FeatureJob]) -> list[list[FeatureJob]]:
    """The jobs grouped by the items and assets they read, in tasks of bounded size."""
    shared: dict[tuple[Any, ...], list[FeatureJob]] = {}
    for job in jobs:
        key = (tuple(item["id"] for item in job.items), job.assets)
        shared.setdefault(key, []).append(job)
    result: list[list[FeatureJob]] = []
    for members in shared.values():
        points = all(math.prod(job.target.geobox.shape) == 1 for job in members)
        most = BATCH_POINTS if points else BATCH_FEATURES
        batch: list[FeatureJob] = []
        pixels = 0
        for job in members:
            size = math.prod(job.target.geobox.shape)
            if batch and (len(batch) >= most or pixels + size > BATCH_PIXELS):
                result.append(batch)
                batch, pixels = [], 0
            batch.append(job)
            pixels += size
        result.append(batch)
    return result


def batch_label(batch: Sequence[FeatureJob]) -> str:
    """How a task is named in messages: its feature, or its first and last."""
    if len(batch) == 1:
        return f"feature '{batch[0].feature_id}'"
    return f"{len(batch)} features ('{batch[0].feature_id}' to '{batch[-1].feature_id}')"


def table_target(options: TableOptions) -> TargetFor:
    """Point pixel for points without buffer; pixels whose centres are inside otherwise."""

    def target_for(grid: Any, geometry: Any) -> Target:
        if geometry.geom_type == "Point":
            return pixel_target(grid, geometry)
        if geometry.geom_type == "MultiPoint":
            if len(geometry.geoms) == 1:
                return pixel_target(grid, geometry.geoms[0])
            raise ValueError(
                f"a multi-point of {len(geometry.geoms)} points: split it into single"
                " points (Multipart to singleparts) or give a BUFFER"
            )
        return area_target(grid, geometry)

    return target_for


def cube_target(options: CubeOptions) -> TargetFor:
    """SITS's ``image`` (envelope on the grid) or ``patch`` (fixed size, centred)."""

    def target_for(grid: Any, geometry: Any) -> Target:
        if options.mode is CubeMode.PATCH:
            return patch_target(grid, geometry, options.patch_x, options.patch_y)
        return Target("image", envelope_geobox(grid, geometry))

    return target_for


def table_kind(layer_is_points: bool, buffer: float) -> str:
    """``pixel`` (values) for points without buffer, ``area`` (statistics) otherwise."""
    return "pixel" if layer_is_points and buffer <= 0 else "area"


def table_columns(plan: RunPlan, options: TableOptions, kind: str) -> list[str]:
    """The value columns of the output table, known before running."""
    return column_names(plan.spec, options, kind)


def run_table(
    plan: RunPlan,
    options: TableOptions,
    backend: Backend,
    is_cancelled: IsCancelled | None = None,
) -> Iterator[FeatureOutcome]:
    """Outcomes of every feature: problems first, then results as workers finish."""
    for planned in plan.features:
        if planned.problem:
            yield FeatureOutcome(
                planned.feature_id, status=planned.problem[0], message=planned.problem[1]
            )
    tasks = (
        Task(batch_label(batch), extract_features, (batch, plan.spec, options))
        for batch in batches(plan.jobs)
    )
    for _, outcomes in backend.run(tasks, is_cancelled):
        yield from outcomes


def outcome_rows(outcome: FeatureOutcome, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of an outcome, or its one status row when it has none."""
    if outcome.rows:
        return outcome.rows
    return [problem_row(outcome.feature_id, columns, outcome.status, outcome.message)]


def cube_file_names(plan: RunPlan, options: CubeOptions) -> dict[str, str]:
    """``fid-<safe id>_<mode>_<start>_<end>.nc`` per feature, unique and safe."""
    names = unique_names(p.feature_id for p in plan.features)
    mode = options.mode.name.lower()
    span = f"{plan.options.start:%Y%m%d}_{plan.options.end:%Y%m%d}"
    return {fid: f"fid-{name}_{mode}_{span}.nc" for fid, name in names.items()}


def run_cubes(
    plan: RunPlan,
    options: CubeOptions,
    backend: Backend,
    labels: dict[str, float] | None = None,
    is_cancelled: IsCancelled | None = None,
    resume: bool = False,
) -> Iterator[CubeOutcome]:
    """Write every feature's cube; outcomes as workers finish (problems first). With
    ``resume``, a feature whose cube is in the folder, written with the same parameters,
    keeps it (a cube there is complete: it is renamed into place only when written);
    one written with other parameters stops the run, saying which differ."""
    folder = Path(options.folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SitsError(
            f"Cannot create the output folder {folder}: {exc}", "OUTPUT_FOLDER"
        ) from None
    remove_stale_partials(folder)  # cubes a killed run left half-written
    names = cube_file_names(plan, options)
    provenance = plan.options.provenance() | {
        "cube_mode": options.mode.name.lower(),
        "patch_x": options.patch_x,
        "patch_y": options.patch_y,
        "buffer": options.buffer,
        "label_field": options.label_field,
    }
    kept = _kept_cubes(plan, folder, names, provenance) if resume else {}
    yield from kept.values()
    for planned in plan.features:
        if planned.problem:
            yield CubeOutcome(
                planned.feature_id, status=planned.problem[0], message=planned.problem[1]
            )
    shapes = LabelShapes(plan, labels or {})

    def cube_job(job: FeatureJob) -> CubeJob:
        return CubeJob(
            str(folder / names[job.feature_id]),
            provenance | {"feature_id": job.feature_id},
            shapes.touching(job),
        )

    tasks = (
        Task(batch_label(batch), write_cubes, (batch, plan.spec, [cube_job(j) for j in batch]))
        for batch in batches([job for job in plan.jobs if job.feature_id not in kept])
    )
    for _, outcomes in backend.run(tasks, is_cancelled):
        yield from outcomes


def _kept_cubes(
    plan: RunPlan, folder: Path, names: dict[str, str], provenance: dict[str, Any]
) -> dict[str, CubeOutcome]:
    """The cubes an interrupted run finished with these parameters, by feature id."""
    import netCDF4

    kept = {}
    for job in plan.jobs:
        path = folder / names[job.feature_id]
        if not path.is_file():
            continue
        try:
            with netCDF4.Dataset(path) as cube:
                recorded = json.loads(cube.getncattr("parameters"))
                dates, height, width = (len(cube.dimensions[d]) for d in ("time", "y", "x"))
        except (OSError, KeyError, AttributeError, ValueError):
            continue  # not one of ours, or unreadable: written again
        expected = provenance | {"feature_id": job.feature_id}
        differ = sorted(
            k for k in recorded.keys() | expected.keys() if recorded.get(k) != expected.get(k)
        )
        if differ:
            raise SitsError(
                f"the cube {path.name} in the output folder was written with other parameters"
                f" ({', '.join(k.upper() for k in differ)} differ): run with the same ones, or"
                " without RESUME to write every cube again.",
                "RESUME",
            )
        kept[job.feature_id] = CubeOutcome(
            job.feature_id, str(path), message="kept: written before, with the same parameters",
            dates=dates, shape=(height, width),
        )  # fmt: skip
    return kept


class LabelShapes:
    """The labelled features' EPSG:4326 geometries with their class values, indexed so
    that finding those that touch a cube is a tree query, not a pass over all of them."""

    def __init__(self, plan: RunPlan, labels: dict[str, float]) -> None:
        from shapely.strtree import STRtree

        self.shapes = [
            (p.geometry, labels[p.feature_id])
            for p in plan.features
            if p.geometry is not None and labels.get(p.feature_id) is not None
        ]
        self.tree = STRtree([geometry for geometry, _ in self.shapes])

    def touching(self, job: FeatureJob) -> tuple[tuple[bytes, float], ...]:
        """The labelled geometries that touch the job's cube, in the cube's CRS (WKB)."""
        if not self.shapes:
            return ()
        import shapely

        from .grid import Grid

        geobox = job.target.geobox
        grid = Grid(str(geobox.crs), abs(geobox.affine.a))
        extent = shapely.geometry.box(*geobox.extent.to_crs("EPSG:4326").boundingbox)
        return tuple(
            (shapely.to_wkb(to_grid_crs(self.shapes[n][0], grid)), self.shapes[n][1])
            for n in sorted(self.tree.query(extent, predicate="intersects"))
        )
