"""The engine as the algorithms, the dialogs and the dock use it, from QGIS's process.

Which Python runs the engine (the environment the set-up made in the engine folder,
an existing environment chosen in the settings, or ``SITS_ENGINE_PYTHON`` for scripted
roll-outs and tests), the session's engine process, and its errors as Processing
messages. Nothing here imports the engine's heavy packages: they live in the engine
process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback
from qgis.PyQt.QtCore import QCoreApplication, QThread

from sits_qgis.engine.client import EngineClient, EngineError, session_client
from sits_qgis.environment.layout import (
    environment_dir,
    environment_python,
    lock_digest,
    other_pythons,
    read_stamp,
)
from sits_qgis.errors import Cancelled

from . import settings

#: An environment variable naming the engine's Python overrides the settings.
PYTHON_VARIABLE = "SITS_ENGINE_PYTHON"
HOW_TO_SET_UP = (
    "use Plugins > SITS > Set up the engine… (or run the Processing algorithm 'Set up"
    " the engine', sits:setupengine); it takes a few minutes, once"
)
NOT_SET_UP = f"The SITS engine is not set up: {HOW_TO_SET_UP}."


@dataclass(frozen=True)
class EngineStatus:
    """Which Python runs the engine, or why none can (``problem``, in the user's words);
    ``outdated``: an environment exists but was made from another lock."""

    python: str = ""
    problem: str = ""
    outdated: bool = False


def engine_status() -> EngineStatus:
    """The engine's interpreter from the settings, checked without starting it."""
    chosen = os.environ.get(PYTHON_VARIABLE) or settings.engine_python()
    if chosen:
        if not Path(chosen).is_file():
            return EngineStatus(
                problem=f"The SITS engine's Python set in the settings ({chosen}) does not"
                " exist: correct it in Processing options > Providers > SITS, or clear it"
                f" and {HOW_TO_SET_UP}."
            )
        return EngineStatus(python=chosen)
    env_dir = environment_dir(settings.engine_folder())
    python = environment_python(env_dir)
    stamp = read_stamp(env_dir)
    if stamp is None or not python.is_file():
        others = other_pythons(settings.engine_folder())
        if others:
            running = ".".join(map(str, sys.version_info[:2]))
            return EngineStatus(
                problem=f"The SITS engine in {settings.engine_folder()} was made for Python"
                f" {' and '.join(others)}, and this QGIS runs Python {running}: it must be"
                f" set up again for this Python. To do it, {HOW_TO_SET_UP}.",
                outdated=True,
            )
        return EngineStatus(problem=NOT_SET_UP)
    if stamp.get("lock_sha256") != lock_digest():
        return EngineStatus(
            problem="The SITS engine must be updated: this version of the plugin needs other"
            f" package versions than the engine in {env_dir} has. To update it,"
            f" {HOW_TO_SET_UP} (the current engine stays in place until the new one is"
            " complete).",
            outdated=True,
        )
    return EngineStatus(python=str(python))


def engine_python() -> str:
    """The engine's interpreter; without one, a ``QgsProcessingException`` that says what
    to do (a plain one: QGIS prints a traceback for subclasses made in Python)."""
    status = engine_status()
    if status.problem:
        raise QgsProcessingException(status.problem)
    return status.python


def client() -> EngineClient:
    """The session's engine process, started if needed."""
    python = engine_python()
    try:
        return session_client(python)
    except EngineError as exc:
        raise QgsProcessingException(str(exc)) from None


def processing_message(exc: EngineError) -> str:
    """An engine error as the Processing log shows it: the parameter named first."""
    if exc.kind == "unexpected":
        return f"Unexpected error in the engine ({exc}). Please report it with the Processing log."
    return f"{exc.parameter}: {exc}" if exc.parameter else str(exc)


#: How often a wait in qgis_process lets Qt deliver Ctrl+C (seconds).
SIGNAL_POLL_S = 0.2


def cancel_check(feedback: QgsProcessingFeedback | None) -> Callable[[], bool] | None:
    """``feedback.isCanceled`` for a wait on the engine. In qgis_process it also lets
    Qt deliver a pending Ctrl+C: qgis_process turns SIGINT into a cancel only while it
    processes Qt events, which it does on a progress change at most every 2 s, so a run
    whose last progress came less than 2 s before its end never heard the Ctrl+C."""
    if feedback is None:
        return None
    if QgsApplication.platform() != "qgis_process":
        return feedback.isCanceled
    last = [0.0]

    def check() -> bool:
        now = time.monotonic()
        application = QCoreApplication.instance()
        if (
            now - last[0] >= SIGNAL_POLL_S
            and application is not None
            and QThread.currentThread() == application.thread()
        ):
            last[0] = now
            QCoreApplication.processEvents()
        return feedback.isCanceled()

    return check


def call(
    op: str,
    params: dict[str, Any],
    feedback: QgsProcessingFeedback | None = None,
    on_event: Callable[[str, Any], None] | None = None,
) -> Any:
    """Run ``op`` in the engine with the backend of the settings; progress and log lines
    reach ``feedback``, other events ``on_event``. Raises ``Cancelled`` on cancel and
    ``QgsProcessingException`` with the user's words on any error."""

    def event(name: str, data: Any) -> None:
        if name == "progress":
            if feedback is not None:
                feedback.setProgress(data)
        elif name == "log":
            if feedback is not None:
                if data.get("level") == "warning":
                    feedback.pushWarning(data["text"])
                else:
                    feedback.pushInfo(data["text"])
        elif on_event is not None:
            on_event(name, data)

    request = dict(params)
    request.setdefault("backend", settings.backend_settings())
    try:
        # qgis_process exits after a cancel (its Ctrl+C): the engine is killed at once
        # rather than asked to stop, so that it exits within a second
        return client().call(
            op, request, event, cancel_check(feedback),
            kill_on_cancel=QgsApplication.platform() == "qgis_process",
        )  # fmt: skip
    except Cancelled:
        raise
    except EngineError as exc:
        raise QgsProcessingException(processing_message(exc)) from None
