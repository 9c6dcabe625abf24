"""The planning half of a time-series run: check the request, search once, decide
each feature's items and read target, and group the features into tasks.

The main process only searches and plans (small, fast); ``running`` hands the tasks
to the workers, which read and compute. Features covered by the same images go to the
same task (up to ``BATCH_FEATURES``, or ``BATCH_POINTS`` points), which opens each file
once for all of them: a thousand points in one Sentinel-2 tile cost about as many file
openings as one point. A feature's own problem (no geometry, no image, an unreadable
file) becomes its status and the others go on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..choices import AUTO_MASK_BAND
from ..errors import SitsError
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
from ..wording import plural
from .access import Access
from .blockcache import usable as usable_cache
from .defaults import band_aliases, choose_mask, conversion, guessed_note, with_documented_nodata
from .features import FeatureLayer, PlacedFeature, duplicate_ids, place_features
from .indices import catalogue_name, plan_indices
from .load import FeatureJob, file_header
from .options import CubeMode, CubeOptions, SeriesOptions, TableKind
from .pixel_grid import (
    Target,
    area_target,
    check_buffer_crs,
    check_crs,
    chosen_grid,
    image_target,
    patch_target,
    pixel_target,
    to_grid_crs,
)
from .problems import FeatureProblem
from .series import SeriesSpec, assets_to_load
from .status import STATUS_ERROR, STATUS_NO_DATA

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

IsCancelled = Callable[[], bool]
#: A feature's read target from its grid and its geometry in the grid's CRS.
TargetFor = Callable[[Any, Any], Target]


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


def credential_hosts(catalogue: Catalogue, users: Iterable[str]) -> frozenset[str]:
    """The hosts that get AUTHCFG's headers: the catalogue's, its profile's data hosts
    (NASA's LP DAAC serves its files from another host), and the ``users``' own."""
    own = urlsplit(catalogue.url).netloc.lower()
    listed = catalogue.profile.credential_hosts
    return frozenset(h.strip().lower() for h in (own, *listed, *users) if h.strip())


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
        f"{cloud} covers any of the {plural(features, 'feature')}. Check {check}, and that INPUT"
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
        credential_hosts=credential_hosts(catalogue, options.credential_hosts),
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


def table_target(grid: Any, geometry: Any) -> Target:
    """Point pixel for points without buffer; pixels whose centres are inside otherwise."""
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


def cube_target(options: CubeOptions) -> TargetFor:
    """SITS's ``image`` (envelope on the grid) or ``patch`` (fixed size, centred)."""

    def target_for(grid: Any, geometry: Any) -> Target:
        if options.mode is CubeMode.PATCH:
            return patch_target(grid, geometry, options.patch_x, options.patch_y)
        return image_target(grid, geometry)

    return target_for


def table_kind(layer_is_points: bool, buffer: float) -> TableKind:
    """Pixel values for points without buffer, zonal statistics otherwise: what every
    feature of the layer gets, so that the table's columns are known before running."""
    return TableKind.PIXEL if layer_is_points and buffer <= 0 else TableKind.AREA
