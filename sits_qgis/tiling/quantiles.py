"""Exact order statistics of data spread over tiles, without holding the data.

Radix selection: each pass over the tiles either counts, for the values whose key
starts with a known prefix, the next 16 bits of their keys (a histogram, summed across
tiles), or, once few enough values share the prefix, collects them. The histogram
tells which bin holds the wanted rank, which lengthens the prefix. A 32-bit type needs
one histogram pass and one collecting pass; memory is a 65,536-bin histogram per query
plus at most ``COLLECT_LIMIT`` collected values.

numpy's quantile and median are then applied to the order statistics found, so that
results are bit-identical to numpy on the whole array (same interpolation, same dtype).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .order_keys import from_key, key_space, to_keys

#: Bits of the key resolved by one histogram pass (a 65,536-bin histogram).
STEP_BITS = 16
#: Largest number of values collected in memory to finish a selection.
COLLECT_LIMIT = 1 << 22


class Query(NamedTuple):
    """What one pass computes per tile for the values whose key starts with ``prefix``
    (``prefix_bits`` long): a histogram of the next bits, or the values themselves."""

    prefix: int
    prefix_bits: int
    collect: bool


def _matching(keys: np.ndarray, query: Query, bits: int) -> np.ndarray:
    if query.prefix_bits == 0:
        return np.ones(keys.shape, dtype=bool)
    return keys >> keys.dtype.type(bits - query.prefix_bits) == keys.dtype.type(query.prefix)


def evaluate(values: np.ndarray, queries: Sequence[Query]) -> list[object]:
    """Worker side: the answer of each query for one tile's valid values.

    A histogram is returned sparse (bin indices, counts): most of the 65,536 bins of a
    tile are empty, and results cross a process boundary.
    """
    if not queries:
        return []
    _, _, bits = key_space(values.dtype)
    keys = to_keys(values)
    answers: list[object] = []
    for query in queries:
        inside = _matching(keys, query, bits) if query.prefix_bits else None
        if query.collect:
            answers.append(values if inside is None else values[inside])
            continue
        step = min(STEP_BITS, bits - query.prefix_bits)
        chosen = keys if inside is None else keys[inside]
        shift = bits - query.prefix_bits - step
        digits = (chosen >> chosen.dtype.type(shift)) & chosen.dtype.type((1 << step) - 1)
        counts = np.bincount(digits.astype(np.intp), minlength=1 << step)
        nonzero = np.flatnonzero(counts)
        answers.append((nonzero.astype(np.uint32), counts[nonzero]))
    return answers


@dataclass
class _Pending:
    """The search for one rank: prefix found so far and the rank within it."""

    rank: int
    prefix: int = 0
    prefix_bits: int = 0
    rank_in_prefix: int = 0
    count_in_prefix: int = 0
    value: object = None


@dataclass
class Selector:
    """Finds the values at given ranks (0-based, in sorted order) of ``total`` values.

    Drive it with ``queries()`` -> run a pass over the tiles with ``evaluate`` ->
    ``feed(combined answers)`` until ``done``.
    """

    ranks: Sequence[int]
    total: int
    dtype: np.dtype
    collect_limit: int = COLLECT_LIMIT
    _pending: list[_Pending] = field(init=False)
    _bits: int = field(init=False)

    def __post_init__(self) -> None:
        self._bits = key_space(self.dtype)[2]
        self._pending = [
            _Pending(rank=r, rank_in_prefix=r, count_in_prefix=self.total)
            for r in sorted(set(self.ranks))
        ]

    def _query_of(self, p: _Pending) -> Query:
        collect = p.count_in_prefix <= self.collect_limit
        return Query(p.prefix, p.prefix_bits, collect)

    @property
    def done(self) -> bool:
        return all(p.value is not None for p in self._pending)

    def queries(self) -> list[Query]:
        """The distinct queries the next pass must answer."""
        return sorted({self._query_of(p) for p in self._pending if p.value is None})

    def feed(self, answers: dict[Query, object]) -> None:
        """Advance every unresolved rank with the combined answers of a pass."""
        for p in self._pending:
            if p.value is not None:
                continue
            query = self._query_of(p)
            answer = answers[query]
            if query.collect:
                p.value = np.sort(answer)[p.rank_in_prefix]
                continue
            cumulative = np.cumsum(answer)
            digit = int(np.searchsorted(cumulative, p.rank_in_prefix, side="right"))
            before = int(cumulative[digit - 1]) if digit else 0
            step = min(STEP_BITS, self._bits - p.prefix_bits)
            p.prefix = (p.prefix << step) | digit
            p.prefix_bits += step
            p.rank_in_prefix -= before
            p.count_in_prefix = int(answer[digit])
            if p.prefix_bits == self._bits:  # every bit known: many equal values
                p.value = from_key(p.prefix, self.dtype)

    def values(self) -> dict[int, object]:
        """The value found at each rank."""
        return {p.rank: p.value for p in self._pending}


def combine(
    queries: Sequence[Query], per_tile: Iterable[list[object]], dtype: np.dtype
) -> dict[Query, object]:
    """Main-process side: sum the tiles' histograms and join their collected values."""
    bits = key_space(dtype)[2]
    hist: dict[Query, np.ndarray] = {
        q: np.zeros(1 << min(STEP_BITS, bits - q.prefix_bits), dtype=np.int64)
        for q in queries
        if not q.collect
    }
    collected: dict[Query, list[np.ndarray]] = {q: [] for q in queries if q.collect}
    for answers in per_tile:
        for query, answer in zip(queries, answers):
            if query.collect:
                collected[query].append(answer)
            else:
                index, counts = answer
                hist[query][index] += counts
    result: dict[Query, object] = dict(hist)
    for query, parts in collected.items():
        result[query] = np.concatenate(parts) if parts else np.empty(0)
    return result


# -- numpy's definitions applied to order statistics ----------------------------------
def quantile_ranks(count: int, q: float) -> tuple[int, int, float]:
    """Ranks below and above numpy's linear quantile ``q`` (0..1), and its weight.

    Computed as numpy computes them ((n - 1) * q in float64), clipped like numpy.
    """
    virtual = (count - 1) * np.float64(q)
    below = int(np.floor(virtual))
    above = min(below + 1, count - 1)
    below = min(below, count - 1)
    return below, above, float(virtual - np.floor(virtual))


def percentile_from(lo: np.generic, hi: np.generic, weight: float) -> np.generic:
    """numpy's percentile given the two order statistics around it.

    Calling numpy's own quantile on the two values (at the same weight) reproduces its
    interpolation and dtype rules exactly, which re-writing the formula would not. The
    weight goes as a float64 array: under numpy 2's promotion rules (NEP 50) a Python
    float would let float32 values give a float32 result, rounded where numpy 1 gave
    float64; an array keeps the float64 result on both.
    """
    return np.quantile(np.array([lo, hi]), np.array(weight, dtype=np.float64))


def median_ranks(count: int) -> tuple[int, ...]:
    """The ranks numpy's median averages (one for odd counts, two for even)."""
    half = count // 2
    return (half,) if count % 2 else (half - 1, half)


def absolute_deviations(values: np.ndarray, median: Any) -> np.ndarray:
    """``|values - median|`` in a dtype fixed by the two dtypes alone (numpy 2's rule).

    numpy 1 chose the dtype of ``int16 values - float64 median`` from the median's value
    (float32, rounding the deviations), numpy 2 from its type (float64, NEP 50): the same
    raster gave two MADs. Naming the dtype makes every numpy give numpy 2's exact answer;
    float32 values keep float32 deviations from their float32 median, as on both.
    """
    dtype = np.promote_types(values.dtype, np.asarray(median).dtype)
    return np.abs(np.subtract(values, median, dtype=dtype))


def median_from(values: Sequence[np.generic], dtype: np.dtype) -> np.generic:
    """numpy's median of the middle order statistics (its mean of one or two values)."""
    return np.median(np.array(values, dtype=dtype))
