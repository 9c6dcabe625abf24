"""One backend per QGIS session: started on first use, reused, stopped at unload.

Starting local workers costs one to two seconds; keeping them between runs makes the
second run of an algorithm start at once. A run with different settings replaces the
backend.
"""

from __future__ import annotations

import atexit
import threading

from .config import BackendConfig
from .runner import Backend

_lock = threading.Lock()
_backend: Backend | None = None


def get_backend(config: BackendConfig) -> Backend:
    """The session's backend for ``config``, started if needed."""
    backend = session_backend(config)
    backend.start()
    return backend


def session_backend(config: BackendConfig) -> Backend:
    """The session's backend for ``config``, made (not started) if needed: a run that
    searches first starts it with ``start_soon``, so that its workers start meanwhile."""
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
