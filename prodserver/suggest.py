"""The one "did you mean" of prodserver: the closest known name to a misspelt one.

Used for unknown keys, backends, profiles, processes and choices alike (as pip does with
``difflib.get_close_matches``), so every message suggests the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

#: how alike two names must be (difflib's ratio) to be suggested
CUTOFF = 0.6


def closest(name: str, candidates: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The known name closest to ``name``, or None when none is close enough."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """``did you mean 'x'?`` for a misspelt ``name``, or None."""
    found = closest(name, candidates, cutoff=cutoff)
    return f"did you mean {found!r}?" if found else None
