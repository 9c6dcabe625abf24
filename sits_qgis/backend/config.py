"""Where the work runs: the backend's settings as one immutable value.

A value object (rather than loose settings) lets the session compare the settings of
a new run with those of the running backend and restart it only when they changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

from ..errors import SitsError


class BackendMode(str, Enum):
    """The four places work can run, in the order the settings list offers them."""

    PROCESSES = "processes"  # local dask.distributed worker processes (default)
    THREADS = "threads"  # dask.distributed workers as threads of this process
    SEQUENTIAL = "sequential"  # in the calling thread, one task after another
    SCHEDULER = "scheduler"  # an existing dask scheduler, by address


def default_workers() -> int:
    """One worker per core, at least one."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BackendConfig:
    """Settings of a backend.

    ``memory_per_worker_mib`` of 0 lets dask share the machine's memory between the
    workers; a positive value caps each worker (dask pauses, then restarts, a worker
    that goes over it).
    """

    mode: BackendMode = BackendMode.PROCESSES
    workers: int = default_workers()
    memory_per_worker_mib: int = 0
    scheduler_address: str = ""
    # Tiles or features submitted but not yet collected, per worker: this bounds the
    # memory held by results waiting to be consumed, whatever the size of the input.
    tasks_in_flight_per_worker: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.mode, BackendMode):
            object.__setattr__(self, "mode", BackendMode(self.mode))
        if self.workers < 1:
            raise SitsError(
                f"The number of workers must be at least 1, not {self.workers}.",
                parameter="workers",
            )
        if self.memory_per_worker_mib < 0:
            raise SitsError(
                "The memory per worker must be 0 (no limit) or a positive number of MiB,"
                f" not {self.memory_per_worker_mib}.",
                parameter="memory per worker",
            )
        if self.mode is BackendMode.SCHEDULER and not self.scheduler_address.strip():
            raise SitsError(
                "The backend is set to use an existing dask scheduler, but no scheduler"
                " address is given: set one (e.g. tcp://192.0.2.10:8786) or choose"
                " local worker processes.",
                parameter="scheduler address",
            )

    @property
    def max_in_flight(self) -> int:
        """How many tasks may be submitted and not yet consumed at any time."""
        return self.workers * self.tasks_in_flight_per_worker
