"""Neighbourhood filters over the valid pixels of a window, tile-independent to the bit.

Definition (the algorithm's help repeats it): pixels outside the raster and nodata or
NaN pixels are missing; each output pixel is the filter over the valid pixels of its
window (gaussian: the weighted mean of the valid pixels, weights from a Gaussian of
``sigma`` renormalised over them); a window without a valid pixel gives nodata; a
nodata input pixel stays nodata.

Every output pixel is computed from its own window only, with a fixed order of
operations (sums accumulate offset by offset, never with ``np.sum`` over a window
axis, whose pairwise summation depends on memory layout). The result of a tile with
enough overlap is therefore bit-identical to the result on the whole array.
SciPy's filters are not used because they are not NaN-aware and SciPy is not among
the product's dependencies.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from enum import Enum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

GAUSSIAN_TRUNCATE = 4.0


class Filter(str, Enum):
    """The filters, in the order of the algorithm's FILTER enum."""

    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    MEAN = "mean"
    MEDIAN = "median"
    GAUSSIAN = "gaussian"
    STD = "std"


def gaussian_radius(sigma: float) -> int:
    """Half-width of the Gaussian window, as SciPy derives it (truncate 4.0)."""
    return int(GAUSSIAN_TRUNCATE * float(sigma) + 0.5)


def radius(kind: Filter, size: int, sigma: float | None) -> int:
    """Pixels each side of the centre that a filter reads (the overlap tiles need)."""
    return gaussian_radius(sigma) if kind is Filter.GAUSSIAN else size // 2


def output_dtype(kind: Filter, dtype: np.dtype) -> np.dtype:
    """Input dtype for order filters; float32 for the others (float64 stays float64)."""
    dtype = np.dtype(dtype)
    if kind in (Filter.MAXIMUM, Filter.MINIMUM, Filter.MEDIAN):
        return dtype
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _shifts(array: np.ndarray, width: int, axis: int) -> list[np.ndarray]:
    """The ``width`` shifted views whose element i covers window offsets i..i+width-1."""
    length = array.shape[axis] - width + 1
    index = [slice(None)] * array.ndim
    views = []
    for offset in range(width):
        index[axis] = slice(offset, offset + length)
        views.append(array[tuple(index)])
    return views


def _running(array: np.ndarray, width: int, combine: Callable, weights=None) -> np.ndarray:
    """Separable window reduction along rows then columns, offset by offset."""
    out = array
    for axis in (-1, -2):
        views = _shifts(out, width, axis)
        acc = views[0] * weights[0] if weights is not None else views[0].copy()
        for k, view in enumerate(views[1:], start=1):
            combine(acc, view * weights[k] if weights is not None else view, out=acc)
        out = acc
    return out


def gaussian_weights(sigma: float) -> np.ndarray:
    """SciPy's 1-D Gaussian kernel (normalised to sum 1) for ``sigma``."""
    r = gaussian_radius(sigma)
    x = np.arange(-r, r + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (float(sigma) ** 2) * x**2)
    return weights / weights.sum()


def apply_filter(
    tile: np.ma.MaskedArray, kind: Filter, size: int, sigma: float | None, nodata: float
) -> np.ndarray:
    """Filter a padded tile (rows, columns) and return its core.

    ``tile`` carries ``radius`` pixels of overlap on each side (masked beyond the
    raster's edge); the result has the tile's shape less that overlap and the filter's
    output dtype, with ``nodata`` where the window has no valid pixel or the centre
    pixel is missing.
    """
    kind = Filter(kind)
    r = radius(kind, size, sigma)
    width = 2 * r + 1
    data = np.ma.getdata(tile)
    valid = ~np.ma.getmaskarray(tile)
    out_dtype = output_dtype(kind, data.dtype)
    count = _running(valid.astype(np.int32), width, np.add)
    if kind in (Filter.MAXIMUM, Filter.MINIMUM):
        result = _extreme(data, valid, width, kind)
    elif kind is Filter.MEDIAN:
        result = _median(data, valid, width)
    elif kind is Filter.GAUSSIAN:
        weights = gaussian_weights(sigma)
        values = np.where(valid, data, 0).astype(np.float64)
        numerator = _running(values, width, np.add, weights)
        if valid.all():
            # Every window is full: the same running sum over ones gives one value for
            # all pixels, computed once (the bits are those of the per-pixel sum).
            ones = np.ones((width, width))
            denominator = _running(ones, width, np.add, weights)[0, 0]
        else:
            denominator = _running(valid.astype(np.float64), width, np.add, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = numerator / denominator
    elif kind in (Filter.MEAN, Filter.STD):
        values = np.where(valid, data, 0).astype(np.float64)
        total = _running(values, width, np.add)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            if kind is Filter.MEAN:
                result = mean
            else:
                squares = _running(values * values, width, np.add)
                result = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    else:  # a filter added to the enum (and to sits_qgis.choices) without its code
        raise ValueError(f"the {kind.value} filter has no implementation")
    centre_valid = valid[r : valid.shape[0] - r, r : valid.shape[1] - r]
    missing = (count == 0) | ~centre_valid
    result = _cast(result, out_dtype)
    result[missing] = nodata
    return result


def _extreme(data: np.ndarray, valid: np.ndarray, width: int, kind: Filter) -> np.ndarray:
    if np.issubdtype(data.dtype, np.floating):
        fill = -np.inf if kind is Filter.MAXIMUM else np.inf
    else:
        info = np.iinfo(data.dtype)
        fill = info.min if kind is Filter.MAXIMUM else info.max
    filled = np.where(valid, data, np.array(fill, dtype=data.dtype))
    return _running(filled, width, np.maximum if kind is Filter.MAXIMUM else np.minimum)


def _median(data: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """Median of the valid values of each window (mean of the two middle values when
    their number is even), computed in float64 and returned in float64; 64-bit integers,
    which float64 cannot hold beyond 2**53, exactly in their own type."""
    if data.dtype.kind in "iu" and data.dtype.itemsize == 8:
        return _integer_median(data, valid, width)
    values = np.where(valid, data.astype(np.float64), np.nan)
    windows = sliding_window_view(values, (width, width))
    flat = windows.reshape(*windows.shape[:2], width * width)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: nodata anyway
        return np.nanmedian(flat, axis=-1)


def _integer_median(data: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """``_median`` of 64-bit integers without leaving their type: each window sorted with
    its missing values as the type's largest (so its valid values come first, in order),
    the middle one taken, or the two middle ones averaged as integers and rounded half
    to even as ``_cast`` rounds float medians (numpy has no integer median; through
    float64, 86,834 of 88,804 medians of values near 2**60 were wrong). Windows with no
    valid value give 0, replaced by nodata by the caller."""
    top = np.iinfo(data.dtype).max
    values = np.where(valid, data, np.array(top, dtype=data.dtype))
    windows = sliding_window_view(values, (width, width))
    flat = np.sort(windows.reshape(*windows.shape[:2], width * width), axis=-1)
    count = sliding_window_view(valid, (width, width)).sum(axis=(-2, -1))
    low_rank = np.maximum(count - 1, 0) // 2
    high_rank = np.maximum(count, 1) // 2
    low = np.take_along_axis(flat, low_rank[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(flat, high_rank[..., None], axis=-1)[..., 0]
    # (low + high) / 2 without overflow: the halves and the halves' remainders
    floor = low // 2 + high // 2 + (low % 2 + high % 2) // 2
    half = (low % 2 + high % 2) % 2 == 1
    median = np.where(half & (floor % 2 == 1), floor + 1, floor)
    return np.where(count > 0, median, 0).astype(data.dtype)


def _cast(result: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``result`` in the output dtype; integers from float medians round half to even."""
    if np.issubdtype(dtype, np.integer) and np.issubdtype(result.dtype, np.floating):
        result = np.rint(np.nan_to_num(result))
    return result.astype(dtype)


def default_nodata(dtype: np.dtype) -> float:
    """The nodata an output gets when the input has none: NaN for floats, the dtype's
    lowest value for integers (documented in the algorithm's help)."""
    dtype = np.dtype(dtype)
    return math.nan if dtype.kind == "f" else float(np.iinfo(dtype).min)
