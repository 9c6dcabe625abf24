"""Functions the tests send to worker processes (module-level, so they pickle by name)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np


def pid_and_value(value: int) -> tuple[int, int]:
    return os.getpid(), value


def thread_and_pid(_: int) -> tuple[int, int]:
    return os.getpid(), threading.get_ident()


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


def fail_on(value: int, bad: int) -> int:
    if value == bad:
        raise ValueError(f"value {value} is not allowed")
    return value


def scaled_sum(tile: np.ma.MaskedArray, factor: float, *, offset: float = 0.0) -> float:
    """Positional and keyword arguments, as GeoUtils cannot pass them."""
    return float((tile * factor + offset).sum())


def box_sum_3x3(tile: np.ma.MaskedArray) -> np.ndarray:
    """Sum of each pixel's 3 x 3 neighbourhood (masked pixels count 0): needs depth 1."""
    filled = tile.filled(0).astype(np.float64)
    out = np.zeros_like(filled)
    padded = np.pad(filled, 1)
    for dr in range(3):
        for dc in range(3):
            out += padded[dr : dr + filled.shape[0], dc : dc + filled.shape[1]]
    return out


def total(array: np.ndarray) -> float:
    return float(np.sum(array))


def valid_count(tile: np.ma.MaskedArray) -> int:
    return int(tile.count())


def imported(names: list[str], _: int = 0) -> list[str]:
    """Which of these modules the worker has imported."""
    import sys

    return [name for name in names if name in sys.modules]
