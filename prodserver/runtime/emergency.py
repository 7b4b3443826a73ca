"""The last resort: whatever ends ``up`` other than a completed stop stops every child first.

A bug in prodserver (an exception escaping the event loop), an ``OverflowError`` from an
absurd duration, a ``MemoryError``: the supervisor's own state can no longer be trusted, so
this works from the operating system's facts only, through the same :class:`Spawner`: every
process group still known gets its stop signal and SIGCONT, every process that left its group
(the subreaper made it our child) gets SIGTERM, all share one deadline, and whatever is still
there at the deadline is killed with SIGKILL. Exits are reaped while waiting, so nothing is
left behind, not even a zombie. It blocks: the loop it would otherwise run on is what failed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from prodserver.runtime.process import Unit
from prodserver.runtime.spawner import Spawner

if TYPE_CHECKING:
    from prodserver.runtime.supervisor import Supervisor

#: how often groups are re-checked while waiting for them to empty
POLL = 0.02
#: the longest an emergency stop waits before SIGKILL, whatever the configured grace
MAX_GRACE = 10.0


def stop_everything(
    units: Sequence[Unit],
    spawner: Spawner,
    known: Iterable[int] = (),
    *,
    grace: float,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Stop every group of ``units`` and every stray; True if something had to be killed.

    ``known``: pids prodserver started that are not instances (the guardian): left alone.
    """
    skip = set(known)
    handles = [u.handle for u in units if u.handle is not None]
    for unit in units:
        if unit.handle is not None:
            group = unit.spec.kill_mode == "group"
            spawner.stop(unit.handle, unit.spec.stop_signal, group=group)
    strays = spawner.strays(skip)
    spawner.stop_pids(strays)
    deadline = monotonic() + min(max(grace, 0.0), MAX_GRACE)
    while True:
        spawner.reap()
        handles = [h for h in handles if spawner.group_alive(h)]
        strays = spawner.strays(skip)
        if not handles and not strays:
            return False
        if monotonic() >= deadline:
            break
        sleep(POLL)
    for _ in range(100):  # a process may fork while we kill: repeat until nothing is found
        for handle in handles:
            spawner.kill(handle)
        spawner.kill_pids(strays)
        sleep(POLL)
        spawner.reap()
        handles = [h for h in handles if spawner.group_alive(h)]
        strays = spawner.strays(skip)
        if not handles and not strays:
            break
    return True


def abandon(sup: Supervisor) -> bool:
    """Stop everything ``sup`` started, from the operating system's facts (its own state
    is not trusted any more), leaving its helpers (guardian, probes) alone."""
    known = set(sup.helpers)
    if sup.prober is not None:
        with contextlib.suppress(Exception):
            known |= sup.prober.pids()
    grace = max((sup.grace(u) for u in sup.units), default=0.0)
    return stop_everything(sup.units, sup.spawner, known, grace=grace)
