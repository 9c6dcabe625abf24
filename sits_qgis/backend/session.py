"""One backend per QGIS session: started on first use, reused, stopped at unload.

Starting local workers costs one to two seconds; keeping them between runs makes the
second run of an algorithm start at once. A run with different settings replaces the
backend.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence

from .config import BackendConfig
from .runner import Backend

_lock = threading.Lock()
_backend: Backend | None = None


def get_backend(config: BackendConfig) -> Backend:
    """The session's backend for ``config``, started if needed."""
    backend = _session_backend(config)
    backend.start()
    return backend


def start_backend_soon(config: BackendConfig, warm_imports: Sequence[str] = ()) -> None:
    """Have the session's backend for ``config`` start (and its workers import
    ``warm_imports``) in the background; a later ``get_backend`` waits for it."""
    _session_backend(config).start_soon(warm_imports)


def _session_backend(config: BackendConfig) -> Backend:
    """The session's backend for ``config``, made (not started) if needed."""
    global _backend
    with _lock:
        if _backend is not None and _backend.config != config:
            _backend.close()
            _backend = None
        if _backend is None:
            _backend = Backend(config)
            # qgis_process and scripts exit without unloading the plugin: stop the
            # workers then too, so that no process or semaphore is left behind.
            atexit.register(shutdown)
        return _backend


def shutdown() -> None:
    """Stop the session's backend, if one was started (the plugin's unload calls this)."""
    global _backend
    with _lock:
        if _backend is not None:
            _backend.close()
            _backend = None
