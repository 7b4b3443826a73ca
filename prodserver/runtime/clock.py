"""The clock the supervisor reads, injected so that tests can move time by hand.

Deadlines (grace periods, restart backoff) use the monotonic clock only: a wall-clock jump
(NTP, a suspended laptop) must never kill a process early or late. The wall clock is used for
nothing but the timestamps printed next to log lines.
"""

from __future__ import annotations

import time

from prodserver.records import Protocol


class Clock(Protocol):
    """Where the supervisor gets its time from."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for deadlines)."""

    def wall(self) -> float:
        """Seconds since the epoch (for timestamps shown to the user)."""


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()
