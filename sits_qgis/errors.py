"""Errors the engine raises, phrased for the user of a tool rather than a programmer.

The Processing algorithms turn them into ``QgsProcessingException`` messages as they
are; a raw traceback must never reach a QGIS user.
"""

from __future__ import annotations


class SitsError(Exception):
    """A problem the user can fix: says which parameter or setting is wrong and why.

    ``parameter`` names the Processing parameter or setting at fault, if any, so that
    a caller can point at it.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class TaskFailed(SitsError):
    """A task (one tile, one feature) raised an exception in a worker.

    The message names the task (``label``) and carries the worker's message, so that
    the user knows which part of the input to look at.
    """

    def __init__(self, label: str, worker_message: str) -> None:
        super().__init__(f"{label} failed: {worker_message}")
        self.label = label
        self.worker_message = worker_message


class Cancelled(Exception):
    """The run was cancelled by the user; outstanding work has been stopped."""


class WorkItemError(Exception):
    """Raised inside a worker when one item of a task (a tile of a group) fails.

    Carries the item's own label across the process boundary, so that the user is
    told which tile failed rather than which group of tiles. Pickles by its arguments.
    """

    def __init__(self, label: str, message: str) -> None:
        super().__init__(label, message)
        self.label = label
        self.message = message

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"
