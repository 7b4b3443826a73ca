"""The supervisor: one run of ``up`` driven by events, deciding through its parts.

The :class:`Supervisor` never sleeps and never touches the operating system directly. It is
driven by a few kinds of events: :meth:`start`, :meth:`handle_signal` (signals arrive through
the event loop, never in a handler), :meth:`handle_children` (something exited),
:meth:`probe_result` and :meth:`handle_notify` (health news) and :meth:`tick` (time passed: a
grace period, a backoff, a probe's interval or timeout ran out). The clock, the spawner, the
prober, the metrics sampler and the output are injected, so tests replay event histories with
fakes and a hand-moved clock; the real event loop is :mod:`prodserver.runtime.loop`.

The decisions live in parts that share one :class:`~prodserver.runtime.run.Run`:
:mod:`~prodserver.runtime.starting` (dependency gates, spawns),
:mod:`~prodserver.runtime.exits` (what an exit means; the restart policy of
:mod:`~prodserver.runtime.restart` returns the decision), :mod:`~prodserver.runtime.stopping`
(graceful then forced, one deadline per stop), :mod:`~prodserver.runtime.healthpolicy`
(probes, notifications, readiness) and :mod:`~prodserver.runtime.sampling` (metrics, the
memory guard, status). Everything is wired once, here, when the supervisor is built.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Mapping, Sequence

from prodserver.config.model import ResolvedProject
from prodserver.exitcodes import ExitCode, signal_exit_code
from prodserver.runtime.audit import FieldValue
from prodserver.runtime.clock import Clock
from prodserver.runtime.exits import Exits
from prodserver.runtime.health import Prober
from prodserver.runtime.healthpolicy import HealthPolicy
from prodserver.runtime.process import FINAL, State, Unit
from prodserver.runtime.run import (
    Hooks,
    Notifier,
    Run,
    RunSettings,
    Sampler,
    describe_exit,
    select_processes,
)
from prodserver.runtime.sampling import Sampling
from prodserver.runtime.spawner import Spawner
from prodserver.runtime.starting import Starter
from prodserver.runtime.stopping import Stopper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from prodserver.runtime.reload import Reloading

__all__ = ["Hooks", "Notifier", "Sampler", "Supervisor", "select_processes"]


class Supervisor:
    """Runs the selected processes of a project until the run ends; see the module doc."""

    def __init__(
        self,
        project: ResolvedProject,
        *,
        spawner: Spawner,
        clock: Clock,
        hooks: Hooks,
        names: Sequence[str] = (),
        stop_timeout: float | None = None,
        extra_env: dict[str, str] | None = None,
        prober: Prober | None = None,
        notifier: Notifier | None = None,
        sampler: Sampler | None = None,
        sample_interval: float | None = None,
        helpers: Iterable[int] = (),
        on_all_ready: Callable[[], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
        on_sample: Callable[[], None] | None = None,
        reread: Callable[[], ResolvedProject] | None = None,
    ) -> None:
        self.run = Run(project, RunSettings(spawner, clock, hooks, tuple(names), stop_timeout))
        self.project = project
        self.spawner = spawner
        self.clock = clock
        self.prober = prober
        #: pids prodserver started that are not instances (the guardian); never strays
        self.helpers: frozenset[int] = frozenset(helpers)
        self.done = False
        self._on_stopping = on_stopping
        self.exits = Exits(self.run, end_run=self._end_run)
        self.starter = Starter(
            self.run, extra_env=extra_env, notifier=notifier, start_failed=self._start_failed
        )
        self.stopper = Stopper(self.run, known=self.known_pids)
        self.health = HealthPolicy(
            self.run,
            prober=prober,
            probe_done=self.probe_result,
            recycle=self._recycle,
            on_all_ready=on_all_ready,
        )
        #: reads the configuration again for a reload (None: this up cannot)
        self._reread = reread
        self._reloading: Reloading | None = None  # made at the first reload: most runs have none
        self.sampling = Sampling(
            self.run,
            sampler=sampler,
            interval=sample_interval,
            recycle=self._recycle,
            on_sample=on_sample,
        )

    # -- the shared state, for the loop and for tests -----------------------------------------

    @property
    def units(self) -> list[Unit]:
        return self.run.units

    @property
    def by_process(self) -> dict[str, list[Unit]]:
        return self.run.by_process

    @property
    def stopping(self) -> bool:
        return self.run.stopping

    @property
    def all_ready(self) -> bool:
        return self.run.all_ready

    def grace(self, unit: Unit) -> float:
        """The grace period of ``unit``'s stop."""
        return self.run.grace(unit)

    def known_pids(self) -> set[int]:
        """Processes prodserver started that are not instances (guardian, probes)."""
        known = set(self.helpers)
        if self.prober is not None:
            known |= self.prober.pids()
        return known

    # -- timing ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The monotonic time at which :meth:`tick` has something to do, or None."""
        run = self.run
        now = self.clock.monotonic()
        times = self.stopper.deadlines(now)
        if not run.stopping:
            times.extend(u.restart_at for u in run.units if u.state is State.BACKOFF)
            times.extend(self.health.deadlines())
            if self.sampling.next_at is not None:
                times.append(self.sampling.next_at)
        return min(times) if times else None

    # -- events ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every instance whose dependencies allow it."""
        self.spawner.prepare()
        self.sampling.begin()
        self.starter.schedule()
        self.health.check_ready()
        self._check_done()

    def handle_signal(self, signum: int) -> None:
        """A signal the event loop took off its queue."""
        if signum == getattr(signal, "SIGHUP", None):  # Windows has none: `prodserver reload`
            self.reload("SIGHUP received")
            return
        if signum not in (signal.SIGINT, signal.SIGTERM):
            return
        name = signal.Signals(signum).name
        if not self.run.stopping:
            hint = " (Ctrl-C again to kill them at once)" if signum == signal.SIGINT else ""
            self.run.say(
                None, "stopping", f"{name} received: stopping all processes{hint}", signal=name
            )
            self.begin_stop()
        elif signum == signal.SIGINT:
            self.force("second Ctrl-C: killing every process now", signal=name)

    def handle_children(self) -> None:
        """Collect exited children and act on them."""
        for pid, returncode in self.spawner.reap():
            unit = self.run.by_pid.pop(pid, None)
            if unit is not None:
                self._main_exited(unit, returncode)
            elif self.prober is not None and self.prober.reaped(pid, returncode):
                pass  # a ``cmd`` probe: its result came back through probe_result
            # anything else was an adopted orphan: reaping it is all there is to do
        self.tick()

    def probe_result(self, token: int, ok: bool, detail: str) -> None:
        """A probe ended (called on the loop's thread); a stale or late result is ignored."""
        if self.health.probe_result(token, ok, detail):
            self.tick()

    def handle_notify(self, unit: Unit, pid: int, fields: Mapping[str, str]) -> None:
        """A systemd-style notification arrived on ``unit``'s socket from ``pid``."""
        if self.health.notify(unit, pid, fields):
            self.tick()

    def tick(self) -> None:
        """Act on deadlines that passed and on groups that emptied."""
        run = self.run
        now = self.clock.monotonic()
        self.stopper.tick(now)
        run.prune()
        if not run.stopping:
            for unit in run.units:
                if unit.state is State.BACKOFF and now >= unit.restart_at and unit.gone:
                    self.starter.spawn(unit)
            self.health.work(now)
            if self.sampling.next_at is not None and now >= self.sampling.next_at:
                self.sampling.sample()
            self.starter.schedule()
            self.health.check_ready()
        self.stopper.advance()
        self._check_done()

    def begin_stop(self) -> None:
        """Stop everything gracefully, dependants before what they depend on."""
        run = self.run
        if run.stopping:
            return
        run.stopping = True
        self.health.cancel_all()
        if self._on_stopping is not None:
            self._on_stopping()
        for unit in run.units:
            if unit.state is State.WAITING:
                unit.state = State.SKIPPED
            elif unit.state is State.BACKOFF:
                unit.state = State.STOPPED
        self.stopper.advance()
        self._check_done()

    def force(self, text: str, **fields: FieldValue) -> None:
        """Skip every grace period: SIGKILL every group and every escaped process."""
        self.begin_stop()
        self.run.say(None, "stopping", text, forced=True, **fields)
        self.stopper.force()
        self._check_done()

    def reload(self, why: str = "reload asked for") -> dict[str, Any]:
        """Read the configuration again and apply what changed (see :mod:`.reload`)."""
        if self._reloading is None:
            from prodserver.runtime.reload import Reloading

            self._reloading = Reloading(
                self.run, read=self._reread, stop=self.stopper.stop, schedule=self._after_reload
            )
        return self._reloading.reload(why)

    def _after_reload(self) -> None:
        self.project = self.run.project
        self.tick()

    # -- status and metrics ----------------------------------------------------------------

    def sample(self) -> None:
        """Measure every running instance now and apply the memory guard."""
        self.sampling.sample()

    def status(self) -> dict[str, Any]:
        """What ``prodserver status`` shows (samples first when the last one is old)."""
        return self.sampling.status()

    def report(self) -> dict[str, Any]:
        """:meth:`status` from the last sample, without sampling."""
        return self.sampling.report()

    # -- routing between the parts ---------------------------------------------------------

    def _start_failed(self, unit: Unit, code: int) -> None:
        self.exits.decide(unit, code, announced=True)

    def _main_exited(self, unit: Unit, returncode: int) -> None:
        run = self.run
        run.hooks.exited(unit)
        code = signal_exit_code(-returncode) if returncode < 0 else returncode
        unit.exit_signal = -returncode if returncode < 0 else None
        unit.exit_code = code
        unit.last_exit = code
        unit.main_alive = False
        was_ready = unit.ready
        unit.ready = False
        if unit.health is not None and unit.health.in_flight:
            self.health.cancel_probe(unit.health.token)
        if unit.recycle is not None and not run.stopping:
            self._recycled(unit, code)
        elif unit.stop_requested:
            self.exits.stopped(unit, code)
        elif run.stopping:
            self.exits.during_stop(unit, code)
        else:
            self.exits.decide(unit, code)
        self.stopper.after_main_exit(unit)
        if was_ready:
            run.all_ready = run.all_ready and run.everything_ready()

    def _recycle(
        self, unit: Unit, reason: str, event: str, message: str, fields: Mapping[str, FieldValue]
    ) -> None:
        """Stop ``unit`` gracefully in order to start it again (health or memory)."""
        if self.run.stopping or unit.state is not State.RUNNING or not unit.main_alive:
            return
        unit.recycle = reason
        unit.recycles += 1
        self.run.say(unit, event, message, **fields)
        self.stopper.stop(unit, announced=event == "process_stopping")

    def _recycled(self, unit: Unit, code: int) -> None:
        reason = unit.recycle
        unit.recycle = None
        unit.stop_requested = False
        if reason == "liveness":
            # a failed liveness probe is a failure of the process whatever its exit code
            how = describe_exit(code, unit.exit_signal)
            self.exits.decide(unit, 1, f"stopped after failing its liveness probe ({how})")
        else:
            self.exits.after_memory_guard(unit, code)

    def _end_run(self, unit: Unit, code: int) -> None:
        run = self.run
        if run.trigger_code is None:
            run.trigger_code = code
        if not run.stopping:
            run.say(
                None,
                "stopping",
                f"{unit.label} ended the run: stopping all processes",
                trigger=unit.label,
                code=code,
            )
        self.begin_stop()

    # -- the end ---------------------------------------------------------------------------

    def _check_done(self) -> None:
        run = self.run
        if self.done or not all(unit.gone for unit in run.units):
            return
        if not run.stopping and not all(unit.state in FINAL for unit in run.units):
            return
        if self.stopper.sweep_strays():
            return
        self.done = True

    def exit_code(self) -> int:
        """The code ``prodserver up`` exits with, once :attr:`done`."""
        run = self.run
        if run.trigger_code is not None:
            return run.trigger_code
        return int(ExitCode.FORCED_STOP) if run.forced else int(ExitCode.OK)
