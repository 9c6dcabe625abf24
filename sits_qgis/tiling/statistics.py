"""Exact statistics of one raster band, computed tile by tile in worker processes.

GeoUtils' ``get_stats`` computes its statistics on a raster in memory, and its tiled
collect can only combine sums, counts, minima and maxima. Here every statistic is
exact out of core:

- moments (count, sum, sum of squares, mean, standard deviation) combine per-tile
  float64 partial results (Chan's parallel update for the variance, ``math.fsum`` for
  sums) and equal numpy's float64 results to ~1e-15 relative;
- median, percentiles and NMAD are order statistics, passed through numpy's own
  functions, so they are the very values numpy returns on the whole band.

Passes over the raster: the first computes the moments and keeps a sample of the
values; a band of at most ``SAMPLE_TARGET`` pixels is then done (the sample is every
value). Otherwise a second pass finds the order statistics inside brackets drawn from
the sample (``brackets``); only if a bracket missed do radix-selection passes
(``quantiles``) finish the job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import Backend
from ..backend.runner import IsCancelled
from ..progress import Progress
from .brackets import Plan, Request, answer, exact_in_float64, sample_stride
from .engine import resolve_backend, run_tiles
from .quantiles import (
    Query,
    Selector,
    absolute_deviations,
    combine,
    evaluate,
    median_from,
    median_ranks,
    percentile_from,
    quantile_ranks,
)
from .reader import RasterInfo, check_bands, raster_info, read_valid_values
from .tiles import TileWindow, tile_grid

NMAD_FACTOR = 1.4826
#: The percentiles the statistics need: quartiles for the IQR, and P90.
PERCENTILES = (25, 75, 90)
#: Share of the progress bar given to the first pass (it does the most work).
FIRST_PASS_SHARE = 0.4

STATISTIC_NAMES = (
    "MEAN",
    "MEDIAN",
    "MIN",
    "MAX",
    "SUM",
    "SUM_SQUARES",
    "STD",
    "COUNT",
    "TOTAL_COUNT",
    "VALID_PERCENT",
    "P90",
    "IQR",
    "NMAD",
    "RMSE",
)


@dataclass(frozen=True)
class Moments:
    """Sums and extremes of a set of values, mergeable across tiles."""

    count: int = 0
    total: float = 0.0
    sum_squares: float = 0.0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    minimum: Any = None
    maximum: Any = None

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        if values.size == 0:
            return cls()
        total, sum_squares, m2 = _float64_sums(values)
        return cls(
            count=int(values.size),
            total=total,
            sum_squares=sum_squares,
            mean=total / values.size,
            m2=m2,
            minimum=values.min(),
            maximum=values.max(),
        )


def _float64_sums(values: np.ndarray, block: int = 16384) -> tuple[float, float, float]:
    """Sum, sum of squares and sum of squared deviations from the mean, in float64.

    Computed through two small reused buffers rather than tile-sized float64
    temporaries (whose allocation and page faults cost more than the arithmetic), and
    with ``np.sum`` (pairwise, fixed order) rather than ``np.dot``, whose BLAS reduction
    order depends on threading: the same tile must give the same bits in a worker
    process and in the calling thread.
    """
    size = values.size
    buffer = np.empty(min(block, size), dtype=np.float64)
    squares = np.empty_like(buffer)
    total = sum_squares = 0.0
    for start in range(0, size, block):
        part, square = buffer[: min(block, size - start)], squares[: min(block, size - start)]
        np.copyto(part, values[start : start + block])
        total += float(part.sum())
        np.multiply(part, part, out=square)
        sum_squares += float(square.sum())
    mean = total / size
    m2 = 0.0
    for start in range(0, size, block):
        part, square = buffer[: min(block, size - start)], squares[: min(block, size - start)]
        np.copyto(part, values[start : start + block])
        part -= mean
        np.multiply(part, part, out=square)
        m2 += float(square.sum())
    return total, sum_squares, m2


def merge_moments(parts: Sequence[Moments]) -> Moments:
    """One ``Moments`` for the union of the parts' values.

    The variance uses Chan et al.'s pairwise update (stable, unlike summing squares);
    sums use ``math.fsum`` so that their order (tiles finish in any order) cannot
    change the result.
    """
    parts = [p for p in parts if p.count]
    if not parts:
        return Moments()
    count = sum(p.count for p in parts)
    total = math.fsum(p.total for p in parts)
    mean = total / count
    m2 = math.fsum(p.m2 + p.count * (p.mean - mean) ** 2 for p in parts)
    return Moments(
        count=count,
        total=total,
        sum_squares=math.fsum(p.sum_squares for p in parts),
        mean=mean,
        m2=m2,
        minimum=min(p.minimum for p in parts),
        maximum=max(p.maximum for p in parts),
    )


@dataclass
class TileStatistics:
    """Statistics of one tile, for the tile layer (computed on the tile in memory)."""

    tile: TileWindow
    total_count: int
    count: int
    mean: float | None = None
    median: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    std: float | None = None
    sum: float | None = None


@dataclass
class RasterStatistics:
    """The statistics of a band; every statistic is None when no pixel is valid."""

    values: dict[str, float | int | None]
    tiles: list[TileStatistics] = field(default_factory=list)
    passes: int = 0

    def __getitem__(self, name: str) -> float | int | None:
        return self.values[name]


# -- worker side ------------------------------------------------------------------------
def first_pass(
    tile: TileWindow, path: str, band: int, stride: int, with_tile_stats: bool
) -> tuple[int, Moments, np.ndarray, TileStatistics | None]:
    """Pixel count, moments and a sample (every ``stride``-th valid value) of one tile."""
    values = read_valid_values(path, band, tile)
    moments = Moments.of(values)
    tile_stats = None
    if with_tile_stats:
        tile_stats = TileStatistics(tile, tile.height * tile.width, int(values.size))
        if values.size:
            tile_stats.mean = moments.mean
            tile_stats.median = float(np.median(values))
            tile_stats.minimum = float(moments.minimum)
            tile_stats.maximum = float(moments.maximum)
            tile_stats.std = math.sqrt(moments.m2 / values.size)
            tile_stats.sum = moments.total
    sample = values[::stride].copy() if stride > 1 else values
    return tile.height * tile.width, moments, sample, tile_stats


def bracket_pass(
    tile: TileWindow, path: str, band: int, request: Request
) -> tuple[list[tuple[int, np.ndarray]], int]:
    """Counts and values of one tile for the brackets of ``request``."""
    return answer(read_valid_values(path, band, tile), request)


def selection_pass(
    tile: TileWindow, path: str, band: int, queries: Sequence[Query], centre: Any
) -> list[object]:
    """Answers of a radix-selection pass for one tile, on the values or, when ``centre``
    is given, on their absolute deviations from it (computed exactly as numpy would)."""
    values = read_valid_values(path, band, tile)
    if centre is not None:
        values = absolute_deviations(values, centre)
    return evaluate(values, queries)


# -- main process -----------------------------------------------------------------------
@dataclass
class _Run:
    """What every pass of one statistics run shares."""

    info: RasterInfo
    band: int
    tiles: list[TileWindow]
    backend: Backend
    progress: Progress | None
    is_cancelled: IsCancelled | None
    passes: int = 0

    def report(self) -> Progress | None:
        """The current pass's progress (percent of its tiles) as percent of the whole run.

        The number of passes is known only as they go (usually 2), so the first pass gets
        the first 40% and each later pass half of what remains; the run ends at 100%.
        """
        if self.progress is None:
            return None
        start = 0.0
        for _ in range(self.passes):
            start += FIRST_PASS_SHARE if start == 0.0 else (1.0 - start) / 2
        width = FIRST_PASS_SHARE if start == 0.0 else (1.0 - start) / 2
        outer = self.progress
        return lambda done: outer(100.0 * start + width * done)

    def run(self, per_tile: Callable[..., Any], *args: Any) -> list[Any]:
        report = self.report()
        self.passes += 1
        by_tile = dict(
            run_tiles(
                per_tile,
                self.tiles,
                (self.info.path, self.band, *args),
                backend=self.backend,
                progress=report,
                is_cancelled=self.is_cancelled,
            )
        )
        return [by_tile[tile] for tile in self.tiles]  # grid order, whatever finished first

    def result(
        self, values: dict[str, float | int | None], tiles: list[TileStatistics]
    ) -> RasterStatistics:
        """The run's result; the progress bar is full."""
        if self.progress is not None:
            self.progress(100.0)
        return RasterStatistics(values, tiles, self.passes)

    def select(self, selector: Selector, dtype: np.dtype, centre: Any) -> dict[int, Any]:
        """Run selection passes until every rank of ``selector`` is known."""
        while not selector.done:
            queries = selector.queries()
            answers = self.run(selection_pass, queries, centre)
            selector.feed(combine(queries, answers, dtype))
        return selector.values()


def _wanted_ranks(count: int) -> tuple[tuple[int, ...], dict[int, tuple[int, int, float]]]:
    percentile_ranks = {p: quantile_ranks(count, np.true_divide(p, 100)) for p in PERCENTILES}
    ranks = set(median_ranks(count))
    for below, above, _ in percentile_ranks.values():
        ranks.update((below, above))
    return tuple(sorted(ranks)), percentile_ranks


def raster_statistics(
    path: str,
    band: int = 1,
    chunk_size: int = 512,
    *,
    backend: Backend | None = None,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
    with_tile_stats: bool = False,
) -> RasterStatistics:
    """Exact statistics of the valid pixels (not nodata, not NaN) of one band.

    ``progress`` receives a percentage. With ``with_tile_stats``, statistics of each tile
    are returned too (for a tile layer).
    """
    info = raster_info(path)
    check_bands(info, [band])
    tiles = tile_grid(info.height, info.width, chunk_size, info.block_shape)
    run = _Run(info, band, tiles, resolve_backend(backend), progress, is_cancelled)
    dtype = np.dtype(info.dtypes[band - 1])
    stride = sample_stride(info.height * info.width)
    results = run.run(first_pass, stride, with_tile_stats)
    total_count = sum(r[0] for r in results)
    moments = merge_moments([r[1] for r in results])
    tile_stats = [r[3] for r in results] if with_tile_stats else []
    values: dict[str, float | int | None] = dict.fromkeys(STATISTIC_NAMES)
    values.update(COUNT=moments.count, TOTAL_COUNT=total_count)
    values["VALID_PERCENT"] = 100.0 * moments.count / total_count if total_count else 0.0
    if moments.count == 0:
        return run.result(values, tile_stats)

    sample = np.concatenate([r[2] for r in results])
    if stride == 1:  # the sample is every valid value: numpy itself gives the answer
        median = np.median(sample)
        # q as a float64 array: float64 results under numpy 1 and 2 (see percentile_from)
        percentiles = {p: np.percentile(sample, np.array(p, np.float64)) for p in PERCENTILES}
        mad = np.median(absolute_deviations(sample, median))
    else:
        median, percentiles, mad = _order_statistics(run, sample, moments.count, dtype)
    del sample

    values.update(
        MEAN=moments.mean,
        MEDIAN=_plain(median),
        MIN=_plain(moments.minimum),
        MAX=_plain(moments.maximum),
        SUM=moments.total,
        SUM_SQUARES=moments.sum_squares,
        STD=math.sqrt(moments.m2 / moments.count),
        P90=_plain(percentiles[90]),
        IQR=_plain(percentiles[75] - percentiles[25]),
        NMAD=NMAD_FACTOR * _plain(mad),
        RMSE=math.sqrt(moments.sum_squares / moments.count),
    )
    return run.result(values, tile_stats)


def _order_statistics(
    run: _Run, sample: np.ndarray, count: int, dtype: np.dtype
) -> tuple[Any, dict[int, Any], Any]:
    """Median, percentiles and median absolute deviation of all valid values.

    One bracket pass guided by the sample; radix selection for whatever it missed, or
    for everything when the brackets would bring back too many values.
    """
    ranks, percentile_ranks = _wanted_ranks(count)
    middle = median_ranks(count)
    plan = Plan.from_sample(sample, count, ranks, middle, with_mad=exact_in_float64(dtype))
    if plan.affordable:
        combined, inner = plan.combine(run.run(bracket_pass, plan.request))
        order = plan.order_statistics(combined)
    else:
        combined, inner, order = [], 0, {}
    missing = [r for r in ranks if r not in order]
    if missing:
        order.update(run.select(Selector(missing, count, dtype), dtype, None))

    median = median_from([order[r] for r in middle], dtype)
    percentiles = {
        p: percentile_from(order[lo], order[hi], weight)
        for p, (lo, hi, weight) in percentile_ranks.items()
    }
    deviation_dtype = absolute_deviations(np.zeros(1, dtype=dtype), median).dtype
    deviations = plan.mad_order_statistics(combined, inner, median) if combined else None
    if deviations is None:
        selector = Selector(middle, count, deviation_dtype)
        deviations = run.select(selector, deviation_dtype, median)
    return median, percentiles, median_from([deviations[r] for r in middle], deviation_dtype)


def _plain(value: Any) -> float | int:
    """A numpy scalar as a Python number (ints stay ints), for callers and JSON."""
    return value.item() if isinstance(value, np.generic) else value
