"""Running a per-tile function over a tile grid on the backend.

Shared by the public collect function and the statistics: tiles are grouped into
tasks (see ``group_tiles``), each task runs in a worker and returns one result per
tile, and results come back as tasks finish, with progress in tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..backend import Backend, BackendConfig, Task, get_backend
from ..backend.runner import IsCancelled, describe_exception
from ..errors import WorkItemError
from ..progress import Progress, percent
from ..wording import plural
from .reader import close_datasets
from .tiles import TileWindow, group_tiles

#: Pixels per task: about 16 MiB of float32, a few tenths of a second of work, so that
#: dask's per-task cost (milliseconds) stays a small fraction.
PIXELS_PER_TASK = 1 << 22


def run_group(
    per_tile: Callable[..., Any],
    tiles: Sequence[TileWindow],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> list[Any]:
    """Worker side: apply ``per_tile`` to each tile of a group, naming a failing tile."""
    results = []
    try:
        for tile in tiles:
            try:
                results.append(per_tile(tile, *args, **kwargs))
            except Exception as exc:
                raise WorkItemError(tile.label, describe_exception(exc)) from None
    finally:
        close_datasets()  # the tiles of a group share open datasets; none outlives it
    return results


def resolve_backend(backend: Backend | None) -> Backend:
    """The given backend, or the session's default one (local worker processes)."""
    return backend if backend is not None else get_backend(BackendConfig())


def run_tiles(
    per_tile: Callable[..., Any],
    tiles: Sequence[TileWindow],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    backend: Backend | None = None,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
) -> Iterator[tuple[TileWindow, Any]]:
    """Yield ``(tile, per_tile(tile, *args, **kwargs))`` as tiles finish.

    ``progress`` receives the percent of tiles done (``sits_qgis.progress``).
    """
    backend = resolve_backend(backend)
    kwargs = dict(kwargs or {})
    groups = group_tiles(tiles, PIXELS_PER_TASK, min_tasks=4 * backend.config.workers)
    tasks = (
        Task(
            label=f"{group[0].label} (and {plural(len(group) - 1, 'more tile')})"
            if len(group) > 1
            else group[0].label,
            func=run_group,
            args=(per_tile, group, args, kwargs),
        )
        for group in groups
    )
    done = 0
    for task, results in backend.run(tasks, is_cancelled):
        group = task.args[1]
        yield from zip(group, results)
        done += len(group)
        if progress is not None:
            progress(percent(done, len(tiles)))
