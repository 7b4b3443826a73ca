"""The supervisor's decisions: what to start, when to restart, how to stop, and the exit code.

The :class:`Supervisor` never sleeps and never touches the operating system directly. It is
driven by a few kinds of events: :meth:`start`, :meth:`handle_signal` (signals arrive through
the event loop, never in a handler), :meth:`handle_children` (something exited),
:meth:`probe_result` and :meth:`handle_notify` (health news) and :meth:`tick` (time passed: a
grace period, a backoff, a probe's interval or timeout ran out). The clock, the spawner, the
prober, the metrics sampler and the output are injected, so tests replay event histories with
fakes and a hand-moved clock; the real event loop is :mod:`prodserver.runtime.loop`.

Health (see :mod:`prodserver.runtime.health`): a probe's ``role`` decides what failing means.
``readiness`` failing only marks the instance not ready (dependants that wait for it as
``healthy`` keep waiting; running ones are left alone). ``liveness`` failing stops the instance
gracefully and hands it to its restart policy as a failure; with ``restart = "no"`` that ends
the run like a failed exit, and ``up`` exits with 1. ``both`` (the default) does both.
An instance without a readiness check counts as ready as soon as it is started.

The memory guard (``max_memory``) stops an instance whose process tree grew past its limit and
starts it again after the policy's backoff, whatever its restart mode (the restart is
prodserver's decision, not a failure of the process); a process that keeps hitting the limit
right after starting is given up on like a crash loop.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from prodserver.config.model import ResolvedProject
from prodserver.exitcodes import ExitCode, signal_exit_code
from prodserver.runtime.audit import Event, FieldValue
from prodserver.runtime.clock import Clock
from prodserver.runtime.health import Health, Prober, Transition, describe
from prodserver.runtime.lookup import ExecutableNotFound, find_executable
from prodserver.runtime.process import FINAL, State, Unit, Verdict
from prodserver.runtime.spawner import ChildHandle, Spawner, SpawnFailed

if TYPE_CHECKING:
    from prodserver.runtime.metrics import UnitSample

#: how often group membership is re-checked while waiting for a group to empty; exits of
#: adopted processes wake the loop sooner (they are our children thanks to the subreaper)
GROUP_POLL = 0.05
#: variables of a service manager that started prodserver: they describe prodserver's own
#: service, so a child must never see them (it would notify systemd in prodserver's name)
SERVICE_VARIABLES = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
)
#: a status request reuses a metrics sample younger than this
FRESH_SAMPLE = 1.0


class Notifier(Protocol):
    """Gives each instance its own ``NOTIFY_SOCKET`` (see :mod:`prodserver.runtime.notify`)."""

    def env_for(self, unit: Unit) -> Mapping[str, str]:
        """Variables that point ``unit``'s child at its notification socket."""
        ...


class Sampler(Protocol):
    """Measures the process trees of running instances (see :mod:`prodserver.runtime.metrics`)."""

    def sample(self, units: Sequence[Unit]) -> Mapping[str, UnitSample]:
        """One sample per running unit's label."""
        ...


class Hooks(Protocol):
    """What the supervisor tells the outside world (the event loop and the output)."""

    def attached(self, unit: Unit) -> None:
        """``unit`` was just spawned: start reading its output."""
        ...

    def exited(self, unit: Unit) -> None:
        """``unit``'s main process exited: write what is left of its output now."""
        ...

    def released(self, unit: Unit, pgid: int) -> None:
        """Nothing of ``unit``'s run is left: its process group ``pgid`` is empty."""
        ...

    def say(self, unit: Unit | None, text: str) -> None:
        """A message from prodserver, about ``unit`` or about the whole run."""
        ...


def signal_name(signum: int) -> str:
    """``SIGTERM``, or ``signal 42`` for a number this system has no name for."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_exit(code: int, signum: int | None = None) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL (exit code 137)``.

    Only the wait status says whether a signal ended a process: ``sh -c 'exit 130'``
    exited with code 130, it was not killed by SIGINT.
    """
    if signum is not None:
        return f"was killed by {signal_name(signum)} (exit code {code})"
    return f"exited with code {code}"


def select_processes(project: ResolvedProject, names: Sequence[str]) -> list[str]:
    """``names`` plus everything they depend on, transitively, in start order."""
    if not names:
        return list(project.start_order())
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in wanted or name not in project.processes:
            continue
        wanted.add(name)
        stack.extend(dep.name for dep in project.processes[name].depends_on)
    return [name for name in project.start_order() if name in wanted]


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
    ) -> None:
        self.project = project
        self.spawner = spawner
        self.clock = clock
        self.hooks = hooks
        self.stop_timeout = stop_timeout
        self.extra_env = extra_env or {}
        self.units: list[Unit] = []
        self.by_process: dict[str, list[Unit]] = {}
        self.dependants: dict[str, set[str]] = {}
        order = select_processes(project, names)
        all_names = list(project.processes)
        for name in order:
            spec = project.processes[name]
            color = all_names.index(name)
            units = [Unit(spec, inst, color) for inst in spec.instances]
            self.units.extend(units)
            self.by_process[name] = units
            for dep in spec.depends_on:
                self.dependants.setdefault(dep.name, set()).add(name)
        self.by_pid: dict[int, Unit] = {}
        #: pids prodserver started that are not instances (the guardian); never strays
        self.helpers: set[int] = set()
        self.stopping = False
        self.done = False
        #: the code of the instance whose exit ended the run, if one did
        self.trigger_code: int | None = None
        #: something had to be killed after its grace period during a stop
        self.forced = False
        self._strays: list[int] = []
        self._stray_kill_at: float | None = None
        self._strays_killed = False
        #: the one deadline of the current stop: processes found after their parents died
        #: (escaped from their groups) share it instead of getting a fresh grace
        self._stop_deadline: float | None = None
        #: a second Ctrl-C: everything known and found is killed at once
        self._forced_all = False
        self.prober = prober
        self.notifier = notifier
        self.sampler = sampler
        #: seconds between metrics samples; None samples only when asked (``status``)
        self.sample_interval = sample_interval
        if sample_interval is None and any(u.spec.max_memory for u in self.units):
            self.sample_interval = 5.0
        self.samples: Mapping[str, UnitSample] = {}
        self.sampled_at: float | None = None
        self._next_sample: float | None = None
        self._probe_seq = 0
        self._probes: dict[int, Unit] = {}
        #: every required instance is ready (sent upstream once, as systemd's READY=1)
        self.all_ready = False
        self.on_all_ready: Callable[[], None] | None = None
        self.on_stopping: Callable[[], None] | None = None
        #: called after every metrics sample (``up --metrics`` publishes it)
        self.on_sample: Callable[[], None] | None = None
        self.begun_at = clock.monotonic()
        from prodserver.config.display import masker_for

        self._masker = masker_for(project)

    def _say(self, unit: Unit | None, name: str, text: str, /, **fields: FieldValue) -> None:
        """Tell the outside world about event ``name`` (see :mod:`prodserver.runtime.audit`)."""
        self._event(unit, name, text, fields, quiet=False)

    def _say_quietly(
        self, unit: Unit | None, name: str, text: str, /, **fields: FieldValue
    ) -> None:
        """An event that text output does not show (a neighbouring line says it already)."""
        self._event(unit, name, text, fields, quiet=True)

    def _event(
        self,
        unit: Unit | None,
        name: str,
        text: str,
        fields: Mapping[str, FieldValue],
        *,
        quiet: bool,
    ) -> None:
        # A program, a cwd or a probe URL may hold a secret (``${DB_PASSWORD}``): every
        # message and every text field goes through the same masker as ``prodserver config``.
        mask = self._masker.text
        clean = {k: mask(v) if isinstance(v, str) else v for k, v in fields.items()}
        self.hooks.say(unit, Event(name, mask(text), clean, quiet=quiet))

    def _exit_fields(self, code: int, signum: int | None) -> dict[str, FieldValue]:
        """``code``, plus ``signal`` when the wait status says a signal killed it."""
        fields: dict[str, FieldValue] = {"code": code}
        if signum is not None:
            fields["signal"] = signal_name(signum)
        return fields

    # -- timing ----------------------------------------------------------------------------

    def grace(self, unit: Unit) -> float:
        """The grace period of ``unit``'s stop (``--stop-timeout`` overrides its own)."""
        return self.stop_timeout if self.stop_timeout is not None else unit.spec.stop_timeout

    def next_deadline(self) -> float | None:
        """The monotonic time at which :meth:`tick` has something to do, or None."""
        now = self.clock.monotonic()
        times: list[float] = []
        for unit in self.units:
            if unit.handle is not None:
                if unit.kill_at is not None and not unit.killed:
                    times.append(unit.kill_at)
                if not unit.main_alive:
                    times.append(now + GROUP_POLL)
            if unit.state is State.BACKOFF and not self.stopping:
                times.append(unit.restart_at)
            if unit.health is not None and unit.state is State.RUNNING and not self.stopping:
                due = unit.health.next_deadline()
                if due is not None:
                    times.append(due)
        if self._next_sample is not None and not self.stopping:
            times.append(self._next_sample)
        if self._strays:
            times.append(now + GROUP_POLL)
            if self._stray_kill_at is not None and not self._strays_killed:
                times.append(self._stray_kill_at)
        return min(times) if times else None

    # -- events ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every instance whose dependencies allow it."""
        self.spawner.prepare()
        if self.sampler is not None and self.sample_interval is not None:
            # the first sample comes soon, so that status and metrics have numbers early
            self._next_sample = self.clock.monotonic() + min(1.0, self.sample_interval)
        self._schedule()
        self._check_ready()
        self._check_done()

    def handle_signal(self, signum: int) -> None:
        """A signal the event loop took off its queue."""
        if signum not in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            return
        name = signal.Signals(signum).name
        if not self.stopping:
            hint = " (Ctrl-C again to kill them at once)" if signum == signal.SIGINT else ""
            self._say(
                None, "stopping", f"{name} received: stopping all processes{hint}", signal=name
            )
            self.begin_stop()
        elif signum == signal.SIGINT:
            self.force("second Ctrl-C: killing every process now", signal=name)

    def handle_children(self) -> None:
        """Collect exited children and act on them."""
        for pid, returncode in self.spawner.reap():
            unit = self.by_pid.pop(pid, None)
            if unit is not None:
                self._main_exited(unit, returncode)
            elif self.prober is not None and self.prober.reaped(pid, returncode):
                pass  # a ``cmd`` probe: its result came back through probe_result
            # anything else was an adopted orphan: reaping it is all there is to do
        self.tick()

    def tick(self) -> None:
        """Act on deadlines that passed and on groups that emptied."""
        now = self.clock.monotonic()
        for unit in self.units:
            if (
                unit.handle is not None
                and unit.kill_at is not None
                and not unit.killed
                and now >= unit.kill_at
            ):
                self._kill(unit, f"killed with SIGKILL after {self.grace(unit):g}s grace")
        self._check_groups()
        if not self.stopping:
            for unit in self.units:
                if unit.state is State.BACKOFF and now >= unit.restart_at and unit.gone:
                    self._spawn(unit)
            self._health_work(now)
            if self._next_sample is not None and now >= self._next_sample:
                self.sample()
            self._schedule()
            self._check_ready()
        self._advance_stop()
        self._check_done()

    def begin_stop(self, *, quiet: bool = False) -> None:
        """Stop everything gracefully, dependants before what they depend on."""
        if self.stopping:
            return
        self.stopping = True
        for token in list(self._probes):
            self._cancel_probe(token)
        if self.on_stopping is not None:
            self.on_stopping()
        for unit in self.units:
            if unit.state is State.WAITING:
                unit.state = State.SKIPPED
            elif unit.state is State.BACKOFF:
                unit.state = State.STOPPED
        self._advance_stop()
        self._check_done()

    def force(self, text: str, **fields: FieldValue) -> None:
        """Skip every grace period: SIGKILL every group still there."""
        self.begin_stop()
        self._forced_all = True
        self._say(None, "stopping", text, forced=True, **fields)
        for unit in self.units:
            if unit.handle is not None and not unit.killed:
                self._kill(unit, None)
        strays = self._find_strays()
        if strays:
            self.spawner.kill_pids(strays, signal.SIGKILL)
            self._strays_killed = True
        self._check_done()

    # -- starting --------------------------------------------------------------------------

    def _verdict(self, unit: Unit) -> tuple[Verdict, str]:
        for dep in unit.spec.depends_on:
            for other in self.by_process.get(dep.name, ()):
                verdict = other.reached(dep.condition)
                if verdict is not Verdict.GO:
                    return verdict, f"{dep.name} was never {dep.condition}"
        return Verdict.GO, ""

    def _schedule(self) -> None:
        progress = True
        while progress and not self.stopping:
            progress = False
            for unit in self.units:
                if unit.state is not State.WAITING:
                    continue
                verdict, why = self._verdict(unit)
                if verdict is Verdict.GO:
                    self._spawn(unit)
                    progress = True
                elif verdict is Verdict.NEVER:
                    unit.state = State.SKIPPED
                    self._say(unit, "process_gave_up", f"not started: {why}", reason=why)
                    progress = True

    def _spawn(self, unit: Unit) -> None:
        inst = unit.instance
        env = dict(inst.env)
        for name in SERVICE_VARIABLES:
            env.pop(name, None)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.extra_env)
        if self.notifier is not None:
            env.update(self.notifier.env_for(unit))
        cwd = unit.spec.cwd
        unit.stop_requested = False
        unit.kill_at = None
        unit.killed = False
        unit.exit_code = None
        unit.exit_signal = None
        try:
            program = find_executable(inst.argv[0] if inst.argv else "", env, cwd)
            handle = self.spawner.spawn((program, *inst.argv[1:]), env, cwd, user=unit.spec.user)
        except ExecutableNotFound as exc:
            self._start_failed(unit, f"{exc.message} (in {cwd})", exc.code)
            return
        except SpawnFailed as exc:
            self._start_failed(unit, exc.message, exc.code)
            return
        unit.handle = handle
        unit.pid = handle.pid
        unit.main_alive = True
        unit.ever_started = True
        unit.started_at = self.clock.monotonic()
        check = unit.instance.healthcheck
        unit.health = Health(check, unit.started_at) if check is not None else None
        # a liveness-only probe does not gate dependants: such an instance is ready at once
        unit.ready = check is None or check.role == "liveness"
        unit.ready_after = 0.0 if unit.ready else None
        unit.notify_status = None
        unit.notify_warned = False
        unit.state = State.RUNNING
        self.by_pid[handle.pid] = unit
        restarts = f" (restart {unit.restart.total})" if unit.restart.total else ""
        self._say(
            unit,
            "process_started",
            f"started with pid {handle.pid}{restarts}",
            pid=handle.pid,
            restart=unit.restart.total,
        )
        self.hooks.attached(unit)

    def _start_failed(self, unit: Unit, message: str, code: int) -> None:
        unit.ever_started = False
        unit.started_at = self.clock.monotonic()
        self._say(unit, "process_exited", f"could not start: {message}", code=code, started=False)
        self._decide(unit, code, announced=True)

    # -- exits -----------------------------------------------------------------------------

    def _main_exited(self, unit: Unit, returncode: int) -> None:
        self.hooks.exited(unit)
        code = signal_exit_code(-returncode) if returncode < 0 else returncode
        unit.exit_signal = -returncode if returncode < 0 else None
        unit.exit_code = code
        unit.last_exit = code
        unit.main_alive = False
        was_ready = unit.ready
        unit.ready = False
        if unit.health is not None and unit.health.in_flight:
            self._cancel_probe(unit.health.token)
        if unit.recycle is not None and not self.stopping:
            self._recycled(unit, code)
        elif unit.stop_requested:
            unit.state = State.STOPPED
            fields = self._exit_fields(code, unit.exit_signal)
            if unit.exit_signal == unit.spec.stop_signal:
                self._say(
                    unit, "process_exited", f"stopped by {unit.spec.stop_signal.name}", **fields
                )
            else:
                self._say(
                    unit,
                    "process_exited",
                    f"stopped ({describe_exit(code, unit.exit_signal)})",
                    **fields,
                )
        elif self.stopping:
            unit.state = State.EXITED
            what = describe_exit(code, unit.exit_signal)
            self._say(unit, "process_exited", what, **self._exit_fields(code, unit.exit_signal))
        else:
            self._decide(unit, code)
        handle = unit.handle
        if handle is not None and self.spawner.group_alive(handle):
            if unit.kill_at is None:
                # the main process is gone but left members in its group: they go too
                self._say(
                    unit,
                    "process_stopping",
                    "stopping what is left of its process group",
                    signal=unit.spec.stop_signal.name,
                    group=True,
                )
                self._signal_stop(handle, unit.spec.stop_signal, group=True)
                unit.kill_at = self.clock.monotonic() + self.grace(unit)
        else:
            self._release(unit)
        if was_ready:
            self.all_ready = self.all_ready and self._everything_ready()

    def _decide(
        self, unit: Unit, code: int, what: str | None = None, *, announced: bool = False
    ) -> None:
        """An instance ended on its own: restart it, note it completed, or end the run.

        The exit is an event of its own (``process_exited``); when the decision's line says
        it too ("exited with code 1; restarting in 1s"), the exit event is quiet in text
        output. ``announced``: an exit event was already sent (a start that failed).
        """
        unit.exit_code = code
        what = what or describe_exit(code, unit.exit_signal)
        fields = self._exit_fields(code, unit.exit_signal)
        final = not unit.restart.wants_restart(code)
        if not announced and not final:
            self._say_quietly(unit, "process_exited", what, **fields)
        if unit.restart.wants_restart(code):
            uptime = self.clock.monotonic() - unit.started_at
            delay = unit.restart.next_delay(uptime)
            if delay is None:
                unit.state = State.GAVE_UP
                policy = unit.spec.restart
                self._say(
                    unit,
                    "process_gave_up",
                    f"{what}; given up after {unit.restart.streak} restarts, each run "
                    f"shorter than {policy.window:g}s",
                    restarts=unit.restart.streak,
                    **fields,
                )
                self._end_run(unit, code)
                return
            unit.state = State.BACKOFF
            unit.restart_at = self.clock.monotonic() + delay
            limit = unit.spec.restart.max_restarts
            count = f" ({unit.restart.streak} of {limit})" if limit else ""
            self._say(
                unit,
                "process_restarting",
                f"{what}; restarting in {delay:g}s{count}",
                restart=unit.restart.total,
                delay=delay,
                **fields,
            )
            return
        if unit.spec.oneshot and code == 0:
            unit.state = State.COMPLETED
            say = self._say_quietly if announced else self._say
            say(unit, "process_exited", "completed (exit code 0)", code=0)
            return
        unit.state = State.EXITED
        say = self._say_quietly if announced else self._say
        say(unit, "process_exited", what, **fields)
        self._end_run(unit, code)

    def _end_run(self, unit: Unit, code: int) -> None:
        if self.trigger_code is None:
            self.trigger_code = code
        if not self.stopping:
            self._say(
                None,
                "stopping",
                f"{unit.label} ended the run: stopping all processes",
                trigger=unit.label,
                code=code,
            )
        self.begin_stop()

    # -- health ----------------------------------------------------------------------------

    def _health_work(self, now: float) -> None:
        for unit in self.units:
            health = unit.health
            if health is None or unit.state is not State.RUNNING or not unit.main_alive:
                continue
            if health.in_flight and health.deadline is not None and now >= health.deadline:
                token = health.token
                self._cancel_probe(token)
                self._apply(
                    unit, health.finish(now, False, f"timed out after {health.check.timeout:g}s")
                )
            elif not health.in_flight:
                self._apply(unit, health.expire(now))
            if unit.state is State.RUNNING and health.due(now) and self.prober is not None:
                self._probe_seq += 1
                token = self._probe_seq
                self._probes[token] = unit
                health.begin(token, now)
                env = dict(unit.instance.env)
                for name in SERVICE_VARIABLES:
                    env.pop(name, None)
                self.prober.start(token, health.check, env, unit.spec.cwd, self.probe_result)

    def _cancel_probe(self, token: int) -> None:
        unit = self._probes.pop(token, None)
        if self.prober is not None:
            self.prober.cancel(token)
        if unit is not None and unit.health is not None and unit.health.token == token:
            unit.health.token = 0
            unit.health.deadline = None

    def probe_result(self, token: int, ok: bool, detail: str) -> None:
        """A probe ended (called on the loop's thread); a stale or late result is ignored."""
        unit = self._probes.pop(token, None)
        if unit is None or unit.health is None or unit.health.token != token:
            return
        if self.stopping or unit.state is not State.RUNNING:
            unit.health.token = 0
            return
        self._apply(unit, unit.health.finish(self.clock.monotonic(), ok, detail))
        self.tick()

    def handle_notify(self, unit: Unit, pid: int, fields: Mapping[str, str]) -> None:
        """A systemd-style notification arrived on ``unit``'s socket from ``pid``.

        Only the instance's main process is believed (systemd's ``NotifyAccess=main``): a
        worker or any other process that found the socket cannot mark it ready.
        """
        if pid != unit.pid or not unit.main_alive:
            if not unit.notify_warned:
                unit.notify_warned = True
                self._say(
                    unit,
                    "warning",
                    f"ignored a notification from pid {pid}: not its main process",
                    pid=pid,
                )
            return
        if "STATUS" in fields:
            unit.notify_status = fields["STATUS"]
        if fields.get("READY") == "1" and unit.state is State.RUNNING:
            health = unit.health
            if health is None:
                if not unit.ready:
                    unit.ready = True
                    self._say(
                        unit, "health_changed", "ready (READY=1)", to="ready", detail="READY=1"
                    )
            else:
                health.last_detail = "READY=1"
                self._apply(unit, health.succeeded(self.clock.monotonic()))
            self.tick()

    def _apply(self, unit: Unit, transition: Transition | None) -> None:
        health = unit.health
        if transition is None or health is None:
            return
        check = health.check
        detail = health.last_detail
        if transition is Transition.HEALTHY:
            if check.role != "liveness":
                unit.ready = True
            if health.first_success and health.ready_after is not None:
                # a liveness-only probe's first success is not a recovery either
                if unit.ready_after is None:
                    unit.ready_after = health.ready_after
                self._say(
                    unit,
                    "health_changed",
                    f"healthy after {health.ready_after:.1f}s ({detail})",
                    **{"from": "starting", "to": "healthy", "detail": detail},
                    ready_after=round(health.ready_after, 3),
                )
            else:
                self._say(
                    unit,
                    "health_changed",
                    f"healthy again ({detail})",
                    **{"from": "unhealthy", "to": "healthy", "detail": detail},
                )
            return
        # transitions only come on a change: from healthy if it ever was, else from starting
        was = "healthy" if health.ready_after is not None else "starting"
        change: dict[str, FieldValue] = {
            "from": was,
            "to": "unhealthy",
            "detail": detail,
            "failures": health.failures,
            "role": check.role,
        }
        failures = f" ({health.failures} failed probes)" if health.failures else ""
        what = f"unhealthy: {describe(check)}: {health.last_detail}{failures}"
        if check.role != "liveness":
            unit.ready = False
            self.all_ready = False
        if check.role == "readiness":
            self._say(unit, "health_changed", f"{what}; not ready until a probe succeeds", **change)
            return
        self._recycle(unit, "liveness", "health_changed", f"{what}; stopping it", change)

    def _recycle(
        self, unit: Unit, reason: str, event: str, message: str, fields: Mapping[str, FieldValue]
    ) -> None:
        """Stop ``unit`` gracefully in order to start it again (health or memory)."""
        if self.stopping or unit.state is not State.RUNNING or not unit.main_alive:
            return
        unit.recycle = reason
        unit.recycles += 1
        self._say(unit, event, message, **fields)
        self._stop(unit, announced=event == "process_stopping")

    def _recycled(self, unit: Unit, code: int) -> None:
        reason = unit.recycle
        unit.recycle = None
        unit.stop_requested = False
        if reason == "liveness":
            # a failed liveness probe is a failure of the process whatever its exit code
            how = describe_exit(code, unit.exit_signal)
            self._decide(unit, 1, f"stopped after failing its liveness probe ({how})")
            return
        uptime = self.clock.monotonic() - unit.started_at
        delay = unit.restart.next_delay(uptime)
        if delay is None:
            unit.state = State.GAVE_UP
            self._say(
                unit,
                "process_gave_up",
                f"given up: it exceeded max_memory {unit.restart.streak} times in a row",
                restarts=unit.restart.streak,
                reason="max_memory",
                **self._exit_fields(code, unit.exit_signal),
            )
            self._end_run(unit, int(ExitCode.FAILURE))
            return
        unit.state = State.BACKOFF
        unit.restart_at = self.clock.monotonic() + delay
        self._say(
            unit,
            "process_restarting",
            f"stopped by the memory guard ({describe_exit(code, unit.exit_signal)}); "
            f"restarting in {delay:g}s",
            restart=unit.restart.total,
            delay=delay,
            reason="max_memory",
            **self._exit_fields(code, unit.exit_signal),
        )

    def _everything_ready(self) -> bool:
        return all(
            (u.state is State.RUNNING and u.ready) or u.state is State.COMPLETED for u in self.units
        )

    def _check_ready(self) -> None:
        if self.all_ready or self.stopping or not self._everything_ready():
            return
        self.all_ready = True
        if self.on_all_ready is not None:
            self.on_all_ready()

    # -- metrics ---------------------------------------------------------------------------

    def sample(self) -> None:
        """Measure every running instance now and apply the memory guard."""
        now = self.clock.monotonic()
        if self.sample_interval is not None:
            self._next_sample = now + self.sample_interval
        if self.sampler is None:
            return
        running = [u for u in self.units if u.pid is not None and u.main_alive]
        self.samples = self.sampler.sample(running)
        self.sampled_at = now
        self.guard_memory(self.samples)
        if self.on_sample is not None:
            self.on_sample()

    def guard_memory(self, samples: Mapping[str, UnitSample]) -> None:
        """Restart an instance whose whole process tree uses more than its ``max_memory``."""
        for unit in self.units:
            limit = unit.spec.max_memory
            got = samples.get(unit.label)
            if not limit or got is None or unit.state is not State.RUNNING:
                continue
            if got.rss > limit:
                self._recycle(
                    unit,
                    "memory",
                    "process_stopping",
                    f"memory {format_bytes(got.rss)} exceeds max_memory "
                    f"{format_bytes(limit)} ({got.processes} processes): restarting it gracefully",
                    {
                        "reason": "max_memory",
                        "rss": got.rss,
                        "max_memory": limit,
                        "signal": unit.spec.stop_signal.name,
                    },
                )

    def status(self) -> dict[str, Any]:
        """What ``prodserver status`` shows: every instance and its numbers."""
        now = self.clock.monotonic()
        if self.sampler is not None and (
            self.sampled_at is None or now - self.sampled_at > FRESH_SAMPLE
        ):
            self.sample()
        return self.report()

    def report(self) -> dict[str, Any]:
        """:meth:`status` from the last sample, without sampling."""
        now = self.clock.monotonic()
        rows = []
        for unit in self.units:
            running = unit.main_alive and unit.state in (State.RUNNING, State.STOPPING)
            got = self.samples.get(unit.label) if running else None
            rows.append(
                {
                    "process": unit.name,
                    "instance": unit.instance.number,
                    "label": unit.label,
                    "state": unit.state.value,
                    "pid": unit.pid if running else None,
                    "uptime": round(now - unit.started_at, 3) if running else None,
                    "restarts": unit.restart.total,
                    "last_exit": unit.last_exit,
                    "health": unit.health_status,
                    "ready": unit.ready,
                    "ready_after": unit.ready_after,
                    "status_text": unit.notify_status,
                    "cpu_percent": got.cpu_percent if got else None,
                    "rss": got.rss if got else None,
                    "threads": got.threads if got else None,
                    "open_files": got.open_files if got else None,
                    "processes": got.processes if got else None,
                    "max_memory": unit.spec.max_memory,
                    "port": unit.instance.port,
                }
            )
        return {
            "project": self.project.name,
            "profile": self.project.profile,
            "root": str(self.project.root),
            "uptime": round(now - self.begun_at, 3),
            "stopping": self.stopping,
            "ready": self.all_ready,
            "processes": rows,
        }

    # -- stopping --------------------------------------------------------------------------

    def _advance_stop(self) -> None:
        if not self.stopping:
            return
        for unit in reversed(self.units):
            if unit.state is State.RUNNING and unit.main_alive and self._dependants_gone(unit):
                self._stop(unit)

    def _dependants_gone(self, unit: Unit) -> bool:
        for name in self.dependants.get(unit.name, ()):
            for other in self.by_process.get(name, ()):
                if not other.gone:
                    return False
        return True

    def _stop(self, unit: Unit, *, announced: bool = False) -> None:
        assert unit.handle is not None
        spec = unit.spec
        group = spec.kill_mode == "group"
        unit.stop_requested = True
        unit.state = State.STOPPING
        grace = self.grace(unit)
        unit.kill_at = self.clock.monotonic() + grace
        if self.stopping:
            self._stop_deadline = max(self._stop_deadline or 0.0, unit.kill_at)
        if not announced:
            self._say_quietly(
                unit,
                "process_stopping",
                f"sending {spec.stop_signal.name} ({grace:g}s grace)",
                signal=spec.stop_signal.name,
                group=group,
                grace=grace,
            )
        self._signal_stop(unit.handle, spec.stop_signal, group=group)

    def _signal_stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """The stop signal, then SIGCONT (as systemd does): a stopped process must see it."""
        self.spawner.send(handle, sig, group=group)
        if sig not in (signal.SIGKILL, signal.SIGCONT):
            self.spawner.send(handle, signal.SIGCONT, group=group)

    def _kill(self, unit: Unit, text: str | None) -> None:
        assert unit.handle is not None
        unit.killed = True
        self.spawner.kill(unit.handle)
        if self.stopping:
            self.forced = True
        say = self._say if text else self._say_quietly
        say(unit, "process_killed", text or "killed with SIGKILL", signal="SIGKILL")

    def _check_groups(self) -> None:
        for unit in self.units:
            handle = unit.handle
            if handle is not None and not unit.main_alive and not self.spawner.group_alive(handle):
                self._release(unit)

    def _release(self, unit: Unit) -> None:
        handle = unit.handle
        unit.handle = None
        unit.kill_at = None
        if handle is not None:
            self.hooks.released(unit, handle.pgid)

    # -- the end ---------------------------------------------------------------------------

    def _check_done(self) -> None:
        if self.done:
            return
        if not all(unit.gone for unit in self.units):
            return
        if not self.stopping and not all(unit.state in FINAL for unit in self.units):
            return
        if self._sweep_strays():
            return
        self.done = True

    def _find_strays(self) -> list[int]:
        known: Iterable[int] = self.helpers
        if self.prober is not None:
            known = self.helpers | self.prober.pids()
        return self.spawner.strays(known)

    def _sweep_strays(self) -> bool:
        """Stop processes that escaped their groups; True while some are still there.

        They share the stop's one deadline: a process found after its parent was killed at
        the end of its grace is killed at once, not given a grace of its own.
        """
        strays = self._find_strays()
        self._strays = strays
        if not strays:
            return False
        now = self.clock.monotonic()
        if self._stray_kill_at is None:
            deadline = self._stop_deadline
            if deadline is None:
                deadline = now + max((self.grace(u) for u in self.units), default=10.0)
                self._stop_deadline = deadline
            self._stray_kill_at = deadline
            pids = ", ".join(map(str, strays))
            if self._forced_all or now >= deadline:
                self._say(
                    None,
                    "process_killed",
                    f"killed with SIGKILL processes that left their process group: {pids}",
                    signal="SIGKILL",
                    pids=pids,
                )
            else:
                self._say(
                    None,
                    "process_stopping",
                    f"stopping processes that left their process group: {pids} "
                    f"(until the stop's deadline, {deadline - now:.1f}s)",
                    signal="SIGTERM",
                    pids=pids,
                )
                self.spawner.kill_pids(strays, signal.SIGTERM)
                self.spawner.kill_pids(strays, signal.SIGCONT)
        if self._forced_all or now >= self._stray_kill_at:
            # every sweep: one found late (its parent just died) is killed as soon as seen
            self.spawner.kill_pids(strays, signal.SIGKILL)
            self._strays_killed = True
            self.forced = True
        return True

    def exit_code(self) -> int:
        """The code ``prodserver up`` exits with, once :attr:`done`."""
        if self.trigger_code is not None:
            return self.trigger_code
        return int(ExitCode.FORCED_STOP) if self.forced else int(ExitCode.OK)


def format_bytes(n: float) -> str:
    """``512.0 MiB``: a size for messages and tables."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
