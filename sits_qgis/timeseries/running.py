"""The running half of a time-series run, and its two entry points: ``extract_table``
(rows per feature and date) and ``extract_cubes`` (one netCDF per feature).

Each entry point searches and plans at once (``planning``), so that what the output
needs before any pixel is read (the plan, the table's columns) is there when it
returns; the features' outcomes come as the returned run is iterated, problems first,
then results as the workers finish. Starting the workers overlaps the search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..backend import Backend, Task
from ..errors import SitsError
from ..partials import remove_stale_partials
from .cubes import CubeJob, CubeOutcome, write_cubes
from .features import FeatureLayer, unique_names
from .load import READER_MODULE, FeatureJob
from .options import CubeOptions, SeriesOptions, TableOptions
from .pixel_grid import Grid, to_grid_crs
from .planning import (
    IsCancelled,
    RunPlan,
    batch_label,
    batches,
    cube_target,
    plan_run,
    table_kind,
    table_target,
)
from .table import FeatureOutcome, column_names, extract_features, problem_row

#: What the workers' table and cube tasks import, for ``Backend.start_soon`` to import
#: while the catalogue is searched (about a second per worker, paid by the first task
#: otherwise; xarray imports dask.array when it makes its first array).
TABLE_WORKER_IMPORTS = (
    "pandas", "pyproj", READER_MODULE, "odc.geo.geobox", f"{__package__}.table",
)  # fmt: skip
CUBE_WORKER_IMPORTS = (
    *TABLE_WORKER_IMPORTS, "xarray", "dask.array", "netCDF4", f"{__package__}.cubes",
)  # fmt: skip

OutcomeT = TypeVar("OutcomeT")


@dataclass
class PlannedRun(Generic[OutcomeT]):
    """A run whose search and plan are done; iterating it runs the features, once."""

    plan: RunPlan
    outcomes: Iterator[OutcomeT]

    def __iter__(self) -> Iterator[OutcomeT]:
        return self.outcomes


@dataclass
class TableRun(PlannedRun[FeatureOutcome]):
    """A table run, with its value columns (known before running, for the output's
    fields)."""

    columns: list[str]

    def rows(self, outcome: FeatureOutcome) -> list[dict[str, Any]]:
        """The rows of an outcome, or its one status row when it has none."""
        if outcome.rows:
            return outcome.rows
        return [problem_row(outcome.feature_id, self.columns, outcome.status, outcome.message)]


def extract_table(
    layer: FeatureLayer,
    options: SeriesOptions,
    table: TableOptions,
    backend: Backend,
    *,
    points: bool,
    is_cancelled: IsCancelled | None = None,
) -> TableRun:
    """Search and plan now; each feature's rows as the run is iterated. ``points``: the
    layer holds points (with no BUFFER, their pixel's values rather than statistics)."""
    backend.start_soon(TABLE_WORKER_IMPORTS)
    plan = plan_run(layer, options, table.buffer, table_target, is_cancelled)
    kind = table_kind(points, table.buffer)
    outcomes = _table_outcomes(plan, table, backend, is_cancelled)
    return TableRun(plan, outcomes, column_names(plan.spec, table, kind))


def _table_outcomes(
    plan: RunPlan, table: TableOptions, backend: Backend, is_cancelled: IsCancelled | None
) -> Iterator[FeatureOutcome]:
    """Outcomes of every feature: problems first, then results as workers finish. The
    backend's start comes first, so that its failure is said before any outcome."""
    backend.start()
    for planned in plan.features:
        if planned.problem:
            yield FeatureOutcome(
                planned.feature_id, status=planned.problem[0], message=planned.problem[1]
            )
    tasks = (
        Task(batch_label(batch), extract_features, (batch, plan.spec, table))
        for batch in batches(plan.jobs)
    )
    for _, outcomes in backend.run(tasks, is_cancelled):
        yield from outcomes


def extract_cubes(
    layer: FeatureLayer,
    options: SeriesOptions,
    cube: CubeOptions,
    backend: Backend,
    *,
    labels: dict[str, float] | None = None,
    resume: bool = False,
    is_cancelled: IsCancelled | None = None,
) -> PlannedRun[CubeOutcome]:
    """Search and plan now; write every feature's cube as the run is iterated. ``labels``:
    class values by feature id, burnt into the cubes they touch. With ``resume``, a
    feature whose cube is in the folder, written with the same parameters, keeps it (a
    cube there is complete: it is renamed into place only when written); one written
    with other parameters stops the run, saying which differ."""
    backend.start_soon(CUBE_WORKER_IMPORTS)
    plan = plan_run(layer, options, cube.buffer, cube_target(cube), is_cancelled)
    return PlannedRun(plan, _cube_outcomes(plan, cube, backend, labels or {}, resume, is_cancelled))


def _cube_outcomes(
    plan: RunPlan,
    options: CubeOptions,
    backend: Backend,
    labels: dict[str, float],
    resume: bool,
    is_cancelled: IsCancelled | None,
) -> Iterator[CubeOutcome]:
    """Kept cubes and problems first, then cubes as workers write them."""
    backend.start()
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
        "cube_mode": options.mode.value,
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
    shapes = LabelShapes(plan, labels)

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


def cube_file_names(plan: RunPlan, options: CubeOptions) -> dict[str, str]:
    """``fid-<safe id>_<mode>_<start>_<end>.nc`` per feature, unique and safe."""
    names = unique_names(p.feature_id for p in plan.features)
    span = f"{plan.options.start:%Y%m%d}_{plan.options.end:%Y%m%d}"
    return {fid: f"fid-{name}_{options.mode.value}_{span}.nc" for fid, name in names.items()}


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

        geobox = job.target.geobox
        grid = Grid(str(geobox.crs), abs(geobox.affine.a))
        extent = shapely.geometry.box(*geobox.extent.to_crs("EPSG:4326").boundingbox)
        return tuple(
            (shapely.to_wkb(to_grid_crs(self.shapes[n][0], grid)), self.shapes[n][1])
            for n in sorted(self.tree.query(extent, predicate="intersects"))
        )
