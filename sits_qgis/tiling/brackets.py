"""Exact order statistics in one more pass, guided by a sample of the values.

The first statistics pass also keeps a regular sample of the valid values (about a
million). From its sorted sample, each wanted rank gets a bracket of values that holds
it with near certainty; one pass then counts the values below each bracket and
collects the few inside it, and the rank is picked from the collected values. The
median absolute deviation is bracketed the same way in that same pass: before the
median is known exactly, the values whose deviation may be near the MAD lie in two
zones around the median's bracket, and those in between surely deviate less.

Every answer is checked against the counts; a bracket that missed (a sample unlike
the raster) is reported, and the caller falls back to radix selection (``quantiles``),
so results are exact whatever the sample. On the benchmark rasters this makes the
statistics 2 passes instead of 4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .quantiles import absolute_deviations

#: Values sampled by the first pass, in all (about 4 MiB of float32).
SAMPLE_TARGET = 1 << 20
#: Half-width of a bracket, in standard errors of the sample's rank fraction.
BRACKET_SIGMAS = 6.0
#: Most values the bracket pass may bring back to the main process. Brackets hold a
#: fixed fraction of the values, so for very large rasters (over about 2 Gi pixels)
#: they would outgrow any fixed memory: radix selection, whose memory is fixed, is
#: used instead.
BRACKET_BUDGET = 1 << 24


def sample_stride(pixels: int) -> int:
    """Every how many valid values of a tile the sample keeps one."""
    return max(1, math.ceil(pixels / SAMPLE_TARGET))


@dataclass(frozen=True)
class Interval:
    """Values ``lo <= v <= hi`` (None: unbounded) to collect, and whether to count the
    values below ``lo``."""

    lo: Any
    hi: Any
    count_below: bool = True


@dataclass(frozen=True)
class Request:
    """What the bracket pass computes per tile."""

    intervals: tuple[Interval, ...]
    #: Open interval (lo, hi) whose values are only counted (the MAD's sure zone).
    inner: tuple[Any, Any] | None = None


def answer(values: np.ndarray, request: Request) -> tuple[list[tuple[int, np.ndarray]], int]:
    """Worker side: for each interval, values below it and values in it; inner count."""
    answers = []
    for interval in request.intervals:
        keep = np.ones(values.shape, dtype=bool)
        below = 0
        if interval.lo is not None:
            keep &= values >= interval.lo
            if interval.count_below:
                below = values.size - int(np.count_nonzero(keep))
        if interval.hi is not None:
            keep &= values <= interval.hi
        answers.append((below, values[keep]))
    inner = 0
    if request.inner is not None:
        lo, hi = request.inner
        inner = int(np.count_nonzero((values > lo) & (values < hi)))
    return answers, inner


def _bracket(sorted_sample: np.ndarray, fraction: float) -> tuple[Any, Any]:
    """Sample values around ``fraction`` (0..1) wide enough to hold the true rank."""
    size = sorted_sample.size
    half = BRACKET_SIGMAS * math.sqrt(fraction * (1 - fraction) / size) + 2 / size
    lo_index = math.floor((fraction - half) * (size - 1))
    hi_index = math.ceil((fraction + half) * (size - 1))
    lo = sorted_sample[lo_index] if lo_index >= 0 else None
    hi = sorted_sample[hi_index] if hi_index <= size - 1 else None
    return lo, hi


def _outward(value: float, direction: float) -> float:
    """One float64 step away from the zone: covers the rounding of one addition."""
    return float(np.nextafter(value, direction))


@dataclass
class Plan:
    """Brackets for some ranks of the values and for the median absolute deviation."""

    median_ranks: tuple[int, ...]
    request: Request
    rank_interval: dict[int, int]  # rank -> index of its interval
    mad_zones: tuple[int, ...]  # indices of the intervals that form the MAD's zones
    mad_bounds: tuple[Any, Any] | None  # (dl, dh), in the deviations' dtype
    expected_values: int  # values the bracket pass is expected to collect

    @property
    def affordable(self) -> bool:
        """Whether the collected values should fit in ``BRACKET_BUDGET``."""
        return self.expected_values <= BRACKET_BUDGET

    @classmethod
    def from_sample(
        cls,
        sample: np.ndarray,
        count: int,
        ranks: Sequence[int],
        median_ranks: Sequence[int],
        with_mad: bool,
    ) -> Plan:
        ordered = np.sort(sample)
        intervals: list[Interval] = []
        rank_interval: dict[int, int] = {}
        for rank in sorted(set(ranks)):
            lo, hi = _bracket(ordered, rank / max(count - 1, 1))
            interval = Interval(lo, hi)
            if interval not in intervals:
                intervals.append(interval)
            rank_interval[rank] = intervals.index(interval)
        zones: tuple[int, ...] = ()
        inner = mad_bounds = None
        lows = [intervals[rank_interval[r]].lo for r in median_ranks]
        highs = [intervals[rank_interval[r]].hi for r in median_ranks]
        if with_mad and None not in lows and None not in highs:
            ma, mb = min(lows, key=float), max(highs, key=float)
            deviations = np.sort(absolute_deviations(sample, np.median(sample)))
            dl, dh = _bracket(deviations, 0.5)
            dl = deviations[0] if dl is None else dl
            dh = deviations[-1] if dh is None else dh
            mad_bounds = (dl, dh)
            b1 = _outward(float(ma) - float(dh), -np.inf)
            b2 = _outward(float(mb) - float(dl), np.inf)
            b3 = _outward(float(ma) + float(dl), -np.inf)
            b4 = _outward(float(mb) + float(dh), np.inf)
            if b2 < b3:
                intervals += [Interval(b1, b2, False), Interval(b3, b4, False)]
                inner = (b2, b3)
            else:
                intervals.append(Interval(b1, b4, False))
            zones = tuple(range(len(intervals) - (2 if inner else 1), len(intervals)))
        # every sampled value stands for count / sample.size values of the raster
        sampled_inside = sum(_inside(ordered, interval) for interval in intervals)
        return cls(
            expected_values=math.ceil(sampled_inside * count / sample.size),
            median_ranks=tuple(median_ranks),
            request=Request(tuple(intervals), inner),
            rank_interval=rank_interval,
            mad_zones=zones,
            mad_bounds=mad_bounds,
        )

    def combine(
        self, per_tile: Sequence[tuple[list[tuple[int, np.ndarray]], int]]
    ) -> tuple[list[tuple[int, np.ndarray]], int]:
        """Main-process side: the counts summed and the values joined across tiles."""
        combined = []
        for index in range(len(self.request.intervals)):
            below = sum(tile[0][index][0] for tile in per_tile)
            parts = [tile[0][index][1] for tile in per_tile]
            combined.append((below, np.concatenate(parts)))
        return combined, sum(tile[1] for tile in per_tile)

    def order_statistics(self, combined: list[tuple[int, np.ndarray]]) -> dict[int, Any]:
        """The value at each rank whose bracket held it (missed ranks are left out)."""
        found = {}
        for index in set(self.rank_interval.values()):
            below, values = combined[index]
            positions = {
                rank: rank - below
                for rank, i in self.rank_interval.items()
                if i == index and 0 <= rank - below < values.size
            }
            if positions:  # partial ordering at the wanted positions only: linear time
                ordered = np.partition(values, sorted(set(positions.values())))
                found.update({rank: ordered[pos] for rank, pos in positions.items()})
        return found

    def mad_order_statistics(
        self, combined: list[tuple[int, np.ndarray]], inner: int, median: Any
    ) -> dict[int, Any] | None:
        """The deviations at the median ranks, or None if a bracket missed."""
        if self.mad_bounds is None:
            return None
        dl, dh = self.mad_bounds
        zone_values = np.concatenate([combined[i][1] for i in self.mad_zones])
        deviations = absolute_deviations(zone_values, median)
        positions = [rank - inner for rank in self.median_ranks]
        if not all(0 <= position < deviations.size for position in positions):
            return None
        deviations = np.partition(deviations, positions)
        found = {}
        for rank, position in zip(self.median_ranks, positions):
            value = deviations[position]
            # the values counted in the inner zone deviate by at most dl, those outside
            # the zones by at least dh: the pick is the rank only between the two
            if not dl <= value <= dh:
                return None
            found[rank] = value
        return found


def _inside(ordered: np.ndarray, interval: Interval) -> int:
    """How many values of a sorted array ``interval`` holds."""
    start = 0 if interval.lo is None else np.searchsorted(ordered, interval.lo, "left")
    end = ordered.size if interval.hi is None else np.searchsorted(ordered, interval.hi, "right")
    return int(end - start)


def exact_in_float64(dtype: np.dtype) -> bool:
    """Whether every value of ``dtype`` is a float64 (zone bounds are float64)."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or (dtype.kind in "iu" and dtype.itemsize <= 4)
