"""One process instance as the supervisor sees it: a small state machine.

::

    WAITING ──deps met──> RUNNING ──exit──> COMPLETED  (oneshot, code 0)
       │                    │  │ ──exit──> BACKOFF ──delay──> RUNNING   (restart policy)
       │                    │  │ ──exit──> EXITED | GAVE_UP            (ends the run)
       │                    │  └─stop───> STOPPING ──group empty──> STOPPED
       └──dependency failed or stop──> SKIPPED

A state says what the *main* process is doing; whether its process group still has members is
tracked separately (:attr:`Unit.handle` stays set until the group is empty), because a process
counts as stopped only once nothing of it is left.

Dependency conditions are answered by :meth:`Unit.reached`. ``started`` means the instance was
spawned; ``completed`` means it exited with 0; ``healthy`` reads :attr:`Unit.ready`, which is
set at start when nothing checks the instance's readiness (no probe, or a liveness-only probe),
and by its :class:`~prodserver.runtime.health.Health` otherwise. Health is tracked beside the
state rather than as more states: a RUNNING instance is starting, healthy or unhealthy.
"""

from __future__ import annotations

import enum

from prodserver.config.model import Instance, ProcessSpec
from prodserver.runtime.health import Health
from prodserver.runtime.restart import RestartTracker
from prodserver.runtime.spawner import ChildHandle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prodserver.config.model import DependencyCondition


class State(enum.Enum):
    """Where an instance is in its life."""

    WAITING = "waiting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"
    COMPLETED = "completed"
    EXITED = "exited"
    GAVE_UP = "gave-up"
    STOPPED = "stopped"
    SKIPPED = "skipped"


#: states after which the instance never runs again in this run of prodserver
FINAL = frozenset({State.COMPLETED, State.EXITED, State.GAVE_UP, State.STOPPED, State.SKIPPED})


class Verdict(enum.Enum):
    """What a dependency means for a waiting instance right now."""

    GO = "go"
    WAIT = "wait"
    NEVER = "never"


class Unit:
    """One instance (``web.2``) and everything the supervisor tracks about it."""

    def __init__(self, spec: ProcessSpec, instance: Instance, color: int = 0) -> None:
        self.spec = spec
        self.instance = instance
        self.label = instance.label
        self.color = color
        self.state = State.WAITING
        self.restart = RestartTracker(spec.restart)
        #: the running child; None once its whole group is gone
        self.handle: ChildHandle | None = None
        self.pid: int | None = None
        self.main_alive = False
        self.ever_started = False
        #: health: True once the instance may be depended on as ``healthy``
        self.ready = False
        self.started_at = 0.0
        self.exit_code: int | None = None
        #: the signal that ended the last run, from its wait status (None: it exited)
        self.exit_signal: int | None = None
        #: prodserver asked this run to stop (so it is never restarted)
        self.stop_requested = False
        #: monotonic deadline after which the group gets SIGKILL
        self.kill_at: float | None = None
        self.killed = False
        #: monotonic time of the next start while in BACKOFF
        self.restart_at = 0.0
        #: the health of the current run, when the instance has a check
        self.health: Health | None = None
        #: why prodserver is stopping this run to start it again ("liveness", "memory")
        self.recycle: str | None = None
        #: the ``STATUS=`` text of its last notification, if it sent one
        self.notify_status: str | None = None
        #: a notification from a wrong pid was already reported for this run
        self.notify_warned = False
        #: the previous run's exit code (``exit_code`` is cleared by a restart)
        self.last_exit: int | None = None
        #: seconds from spawn to ready, for the current run
        self.ready_after: float | None = None
        #: restarts prodserver made for health or memory (also counted in ``restart.total``)
        self.recycles = 0

    def reset_run(self) -> None:
        """Forget the previous run's stop and exit, before a new start."""
        self.stop_requested = False
        self.kill_at = None
        self.killed = False
        self.exit_code = None
        self.exit_signal = None

    def running(self, handle: ChildHandle, now: float, health: Health | None) -> None:
        """The instance was just spawned as ``handle`` at ``now``."""
        self.handle = handle
        self.pid = handle.pid
        self.main_alive = True
        self.ever_started = True
        self.started_at = now
        self.health = health
        # a liveness-only probe does not gate dependants: such an instance is ready at once
        check = health.check if health is not None else None
        self.ready = check is None or check.role == "liveness"
        self.ready_after = 0.0 if self.ready else None
        self.notify_status = None
        self.notify_warned = False
        self.state = State.RUNNING

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def gone(self) -> bool:
        """Nothing of this instance is running (main process and group both gone)."""
        return self.handle is None

    @property
    def health_status(self) -> str:
        """``healthy``, ``unhealthy``, ``starting`` or ``-`` (nothing checks it)."""
        if self.health is None or self.state not in (State.RUNNING, State.STOPPING):
            return "-"
        return self.health.status

    def reached(self, condition: DependencyCondition) -> Verdict:
        """Whether this instance satisfies a dependant's ``condition``."""
        if condition == "completed":
            if self.state is State.COMPLETED:
                return Verdict.GO
            return Verdict.NEVER if self.state in FINAL else Verdict.WAIT
        ok = self.ready if condition == "healthy" else self.ever_started
        if ok:
            return Verdict.GO
        return Verdict.NEVER if self.state in FINAL else Verdict.WAIT

    def __repr__(self) -> str:
        return f"<Unit {self.label} {self.state.value} pid={self.pid}>"
