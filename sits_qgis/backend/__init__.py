"""Where work runs: local worker processes, threads, the calling thread or a cluster.

Importing this package does not import dask: the plugin reads the settings at QGIS
start-up, and dask is imported only when a backend starts.
"""

from .config import BackendConfig, BackendMode
from .runner import Backend, Task
from .session import get_backend, session_backend, shutdown

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendMode",
    "Task",
    "get_backend",
    "session_backend",
    "shutdown",
]
