"""A feature's own problem, as opposed to a mistake of the whole run (``SitsError``):
it becomes that feature's status and message, and the other features go on."""

from __future__ import annotations

from ..redact import scrubbed, without_queries


class FeatureProblem(Exception):
    """A problem of one feature (reported in its status), not of the whole run."""


def problem_message(exc: Exception) -> str:
    """A feature's problem as its status message: ours as written, others with their type."""
    if isinstance(exc, FeatureProblem):
        return str(exc)
    # a library's text may repeat a signed address or a URL with credentials
    return scrubbed(without_queries(f"{type(exc).__name__}: {exc}"))
