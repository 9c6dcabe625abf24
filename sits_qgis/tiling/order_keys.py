"""Unsigned integer keys that sort in the same order as the values they stand for.

Exact quantiles out of core are found by radix selection on these keys: a histogram of
their leading bits, combined across tiles, tells which narrow range holds the wanted
rank without sorting or keeping the data. Floats are mapped by the usual bit trick
(flip all bits of negatives, the sign bit of positives), signed integers by flipping
the sign bit; NaN never reaches here (it is not a valid pixel).
"""

from __future__ import annotations

import numpy as np


def key_space(dtype: np.dtype) -> tuple[np.dtype, np.dtype, int]:
    """The dtype values are taken as, the unsigned key dtype, and the number of key bits.

    float16 is widened to float32 (exactly) because numpy has no 16-bit bit tricks
    worth the special case; booleans count as uint8.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        dtype = np.dtype(np.float32)
    if dtype == np.bool_:
        dtype = np.dtype(np.uint8)
    if dtype.kind not in "fiu":
        raise TypeError(f"no order keys for values of type {dtype}")
    unsigned = np.dtype(f"u{dtype.itemsize}")
    return dtype, unsigned, dtype.itemsize * 8


def to_keys(values: np.ndarray) -> np.ndarray:
    """Keys of ``values`` (a 1-D array of finite or infinite numbers, no NaN)."""
    dtype, unsigned, bits = key_space(values.dtype)
    values = np.ascontiguousarray(values, dtype=dtype)
    raw = values.view(unsigned)
    top = unsigned.type(1 << (bits - 1))
    if dtype.kind == "u":
        return raw
    if dtype.kind == "i":
        return raw ^ top
    negative = values < 0
    keys = raw | top
    np.invert(raw, out=keys, where=negative)
    return keys


def from_key(key: int, dtype: np.dtype) -> np.generic:
    """The value whose key is ``key``, as a scalar of ``dtype``."""
    original = np.dtype(dtype)
    dtype, unsigned, bits = key_space(original)
    top = 1 << (bits - 1)
    if dtype.kind == "u":
        raw = key
    elif dtype.kind == "i":
        raw = key ^ top
    else:
        raw = key ^ top if key & top else ~key & ((1 << bits) - 1)
    value = np.array([raw], dtype=unsigned).view(dtype)[0]
    return original.type(value)
