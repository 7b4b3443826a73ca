"""Restart policies: whether a process that exited runs again, after how long, or never.

A *streak* counts the restarts of runs that were short: a run that lasted at least the policy's
``window`` resets it. The delay before the next start is ``backoff * 2**streak`` capped at
``backoff_max``; once the streak reaches ``max_restarts`` the process is given up on.

Counting short runs rather than restarts inside a sliding window matters: with a growing
backoff, a process that crashes right after starting would otherwise spread its restarts so
far apart that the window never holds ``max_restarts`` of them, and it would crash-loop forever.
"""

from __future__ import annotations

import enum

from prodserver.config.model import RestartPolicy
from prodserver.records import NamedTuple


class Action(enum.Enum):
    """What happens to an instance whose run ended on its own."""

    #: start it again after :attr:`Decision.delay`
    RESTART = "restart"
    #: it keeps failing: give up on it (that ends the run)
    GIVE_UP = "give-up"
    #: a oneshot that succeeded: done, dependants may go on
    COMPLETE = "complete"
    #: not restarted: the run ends with its code
    END = "end"


class Decision(NamedTuple):
    """The restart policy's answer for one exit."""

    action: Action
    #: seconds before the next start (RESTART only)
    delay: float = 0.0


class RestartTracker:
    """The restart bookkeeping of one process instance."""

    __slots__ = ("policy", "streak", "total")

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        #: consecutive short runs that were restarted
        self.streak = 0
        #: restarts so far in this run of prodserver
        self.total = 0

    def succeeded(self, code: int) -> bool:
        """Whether exit ``code`` counts as success (0, or one of ``success_exit_codes``)."""
        return code == 0 or code in self.policy.success_exit_codes

    def wants_restart(self, code: int) -> bool:
        """Whether the policy restarts a process that exited with ``code``.

        ``prevent_exit_codes`` win over every mode (systemd's ``RestartPreventExitStatus=``):
        a process that says "do not restart me" (gunicorn's 3 and 4) is not.
        """
        if code in self.policy.prevent_exit_codes:
            return False
        mode = self.policy.mode
        return mode == "always" or (mode == "on-failure" and not self.succeeded(code))

    def after_exit(self, code: int, uptime: float, *, oneshot: bool) -> Decision:
        """What to do with an instance that exited with ``code`` after ``uptime`` seconds."""
        if self.wants_restart(code):
            return self._again(uptime)
        if oneshot and self.succeeded(code):
            return Decision(Action.COMPLETE)
        return Decision(Action.END)

    def after_recycle(self, uptime: float) -> Decision:
        """prodserver stopped the instance to start it again (its memory guard)."""
        return self._again(uptime)

    def _again(self, uptime: float) -> Decision:
        delay = self.next_delay(uptime)
        if delay is None:
            return Decision(Action.GIVE_UP)
        return Decision(Action.RESTART, delay)

    def next_delay(self, uptime: float) -> float | None:
        """Seconds to wait before the next start, or None to give up.

        ``uptime`` is how long the run that just ended lasted.
        """
        policy = self.policy
        if uptime >= policy.window:
            self.streak = 0
        if policy.max_restarts and self.streak >= policy.max_restarts:
            return None
        delay = min(policy.backoff * (2.0**self.streak), policy.backoff_max)
        self.streak += 1
        self.total += 1
        return delay
