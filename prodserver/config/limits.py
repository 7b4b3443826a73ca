"""Every bound prodserver puts on what a configuration can ask for, in one place.

A configuration is code, but code that ``check`` must be able to judge, and a value from the
environment is data that must never make ``up`` hang, crash or spawn without limit. Each
bound here has an error code and a test in ``tests/security/test_hostile_inputs.py``:

==============================  ==================================  =======
what                            bound                               code
==============================  ==================================  =======
a file read as configuration,   regular files only, at most 4 MiB   PS101,
``.env``, Procfile, settings    (read, not trusted from st_size)    PS102
YAML aliases                    100,000 values once expanded        PS400
``extends`` chain               64 profiles deep                    PS401
substitution                    1 MiB per string, 32 MiB in all     PS132
``scale`` / ``--scale``         0 to 1,000 instances                PS137
durations                       see :data:`DURATION_BOUNDS`         PS402
==============================  ==================================  =======
"""

from __future__ import annotations

from prodserver.config.units import format_duration
from prodserver.declarations.defaults import MAX_SCALE

__all__ = [
    "DURATION_BOUNDS",
    "MAX_DURATION",
    "MAX_EXTENDS_DEPTH",
    "MAX_SCALE",
    "MAX_SUBSTITUTED_TOTAL",
    "duration_problem",
]

#: the deepest ``extends`` chain (a real one is two or three profiles)
MAX_EXTENDS_DEPTH = 64
#: the most text substitution may produce for one resolution, all strings together: a small
#: file whose variables fan out (``A1 = "${A0}${A0}..."``) stays small in memory
MAX_SUBSTITUTED_TOTAL = 32 * 1024 * 1024
#: the longest duration anywhere: past it no timer makes sense, and far past it the
#: operating system's clocks overflow (``1e300`` once crashed ``up``)
MAX_DURATION = 7 * 86400.0

#: (where, key) -> (minimum, maximum) seconds. ``where`` is the table holding the key
#: (``healthcheck``, ``restart``) or ``*`` for a key of the process itself. A minimum keeps a
#: typo (``interval = "0s"``) from starting hundreds of probes or restarts a second.
DURATION_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("healthcheck", "interval"): (0.1, MAX_DURATION),
    ("healthcheck", "timeout"): (0.01, MAX_DURATION),
    ("healthcheck", "start_period"): (0.0, MAX_DURATION),
    ("restart", "backoff"): (0.01, MAX_DURATION),
    ("*", "backoff"): (0.01, MAX_DURATION),
    ("restart", "backoff_max"): (0.01, MAX_DURATION),
    ("restart", "window"): (0.0, MAX_DURATION),
    ("*", "stop_timeout"): (0.0, MAX_DURATION),
}


def duration_problem(path: tuple[str, ...], seconds: float) -> str | None:
    """Why ``seconds`` is out of bounds for the key at ``path``, or None when it is fine."""
    key = path[-1] if path else ""
    where = path[-2] if len(path) >= 2 and path[-2] in ("healthcheck", "restart") else "*"
    low, high = DURATION_BOUNDS.get((where, key), (0.0, MAX_DURATION))
    if seconds < low:
        return f"{key} must be at least {format_duration(low)}"
    if seconds > high:
        return f"{key} must be at most {format_duration(high)} ({high:g} seconds)"
    return None
