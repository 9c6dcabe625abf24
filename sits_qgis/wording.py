"""Counts in messages as a reader expects them: "1 page", "2 pages" (not "1 pages").

Plain Python: QGIS's process (the provider's messages) and the engine use it alike.
"""

from __future__ import annotations

#: Plurals that do not take an "s".
IRREGULAR = {"search": "searches"}


def plural(count: int, word: str, words: str = "") -> str:
    """``count`` and ``word``, in the plural unless the count is 1: ``plural(1, "page")``
    is ``"1 page"``, ``plural(3, "page")`` ``"3 pages"``; ``words`` gives a plural
    that is not ``word + "s"`` (the last word of ``word`` is the one made plural)."""
    if count == 1:
        return f"{count:,} {word}"
    if not words:
        head, _, last = word.rpartition(" ")
        many = IRREGULAR.get(last, f"{last}s")
        words = f"{head} {many}" if head else many
    return f"{count:,} {words}"
