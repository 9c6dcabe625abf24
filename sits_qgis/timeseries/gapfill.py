"""Fill missing values along time, pixel by pixel, with the real time spacing.

SITS calls ``interpolate_na()`` without a dimension (a no-op) and then copies
neighbours, so ``[1, nan, nan, 4, nan]`` becomes ``[1, 4, 4, 4, 4]``. Here linear
filling interpolates between the previous and the next valid acquisition by their
dates (``[1, 2, 3, 4, 4]`` for equally spaced dates), and nearest takes the closer
one in time (the earlier on a tie). Before the first and after the last valid value
there is nothing to interpolate from: the nearest valid value is held, as SITS does.

Written with numpy rather than ``xarray.interpolate_na``: xarray calls its 1-D
interpolator once per pixel in Python, which is slow for image cubes, and needs
bottleneck (not installed) to hold the ends.
"""

from __future__ import annotations

import numpy as np

from .options import GapFill


def fill_gaps(values: np.ndarray, times: np.ndarray, method: GapFill) -> np.ndarray:
    """``values`` (time first, any other dims) with NaNs filled along time.

    ``times`` are the acquisition times as numbers (e.g. seconds). Pixels that are
    missing on every date stay missing. Valid values are never changed.
    """
    if method is GapFill.NONE or values.shape[0] == 0:
        return values
    count = values.shape[0]
    flat = values.reshape(count, -1)
    valid = np.isfinite(flat)
    step = np.arange(count)[:, np.newaxis]
    previous = np.maximum.accumulate(np.where(valid, step, -1), axis=0)
    following = np.minimum.accumulate(np.where(valid, step, count)[::-1], axis=0)[::-1]
    has_previous, has_following = previous >= 0, following < count
    previous, following = np.clip(previous, 0, count - 1), np.clip(following, 0, count - 1)
    before = np.take_along_axis(flat, previous, axis=0).astype(np.float64)
    after = np.take_along_axis(flat, following, axis=0).astype(np.float64)
    t = np.asarray(times, dtype=np.float64)
    t_before, t_after, t_now = t[previous], t[following], t[:, np.newaxis]
    if method is GapFill.LINEAR:
        span = np.where(t_after > t_before, t_after - t_before, 1.0)
        between = before + (t_now - t_before) / span * (after - before)
    else:
        between = np.where(t_now - t_before <= t_after - t_now, before, after)
    filled = np.where(has_previous & has_following, between, np.where(has_previous, before, after))
    out = np.where(valid, flat, filled).astype(values.dtype, copy=False)
    return out.reshape(values.shape)
