"""The supervisor's decisions: what to start, when to restart, how to stop, and the exit code.

The :class:`Supervisor` never sleeps and never touches the operating system directly. It is
driven by four kinds of events: :meth:`start`, :meth:`handle_signal` (signals arrive through
the event loop, never in a handler), :meth:`handle_children` (something exited) and
:meth:`tick` (time passed: a grace period or a backoff ran out). The clock, the spawner and the
output are injected, so tests replay event histories with fakes and a hand-moved clock; the
real event loop is :mod:`prodserver.runtime.loop`.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Sequence
from typing import Protocol

from prodserver.config.model import ResolvedProject
from prodserver.exitcodes import ExitCode, signal_exit_code
from prodserver.runtime.clock import Clock
from prodserver.runtime.lookup import ExecutableNotFound, find_executable
from prodserver.runtime.process import FINAL, State, Unit, Verdict
from prodserver.runtime.spawner import Spawner, SpawnFailed

#: how often group membership is re-checked while waiting for a group to empty; exits of
#: adopted processes wake the loop sooner (they are our children thanks to the subreaper)
GROUP_POLL = 0.05


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


def describe_exit(code: int) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL (exit code 137)``."""
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            return f"exited with code {code}"
        return f"was killed by {name} (exit code {code})"
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

    # -- timing ----------------------------------------------------------------------------

    def _grace(self, unit: Unit) -> float:
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
        if self._strays:
            times.append(now + GROUP_POLL)
            if self._stray_kill_at is not None and not self._strays_killed:
                times.append(self._stray_kill_at)
        return min(times) if times else None

    # -- events ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every instance whose dependencies allow it."""
        self.spawner.prepare()
        self._schedule()
        self._check_done()

    def handle_signal(self, signum: int) -> None:
        """A signal the event loop took off its queue."""
        if signum not in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            return
        name = signal.Signals(signum).name
        if not self.stopping:
            hint = " (Ctrl-C again to kill them at once)" if signum == signal.SIGINT else ""
            self.hooks.say(None, f"{name} received: stopping all processes{hint}")
            self.begin_stop()
        elif signum == signal.SIGINT:
            self.force("second Ctrl-C: killing every process now")

    def handle_children(self) -> None:
        """Collect exited children and act on them."""
        for pid, returncode in self.spawner.reap():
            unit = self.by_pid.pop(pid, None)
            if unit is not None:
                self._main_exited(unit, returncode)
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
                self._kill(unit, f"killed with SIGKILL after {self._grace(unit):g}s grace")
        self._check_groups()
        if not self.stopping:
            for unit in self.units:
                if unit.state is State.BACKOFF and now >= unit.restart_at and unit.gone:
                    self._spawn(unit)
            self._schedule()
        self._advance_stop()
        self._check_done()

    def begin_stop(self, *, quiet: bool = False) -> None:
        """Stop everything gracefully, dependants before what they depend on."""
        if self.stopping:
            return
        self.stopping = True
        for unit in self.units:
            if unit.state is State.WAITING:
                unit.state = State.SKIPPED
            elif unit.state is State.BACKOFF:
                unit.state = State.STOPPED
        self._advance_stop()
        self._check_done()

    def force(self, text: str) -> None:
        """Skip every grace period: SIGKILL every group still there."""
        self.begin_stop()
        self.hooks.say(None, text)
        for unit in self.units:
            if unit.handle is not None and not unit.killed:
                self._kill(unit, None)
        if self._strays:
            self.spawner.kill_pids(self._strays, signal.SIGKILL)
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
                    self.hooks.say(unit, f"not started: {why}")
                    progress = True

    def _spawn(self, unit: Unit) -> None:
        inst = unit.instance
        env = dict(inst.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.extra_env)
        cwd = unit.spec.cwd
        unit.stop_requested = False
        unit.kill_at = None
        unit.killed = False
        unit.exit_code = None
        try:
            program = find_executable(inst.argv[0] if inst.argv else "", env, cwd)
            handle = self.spawner.spawn((program, *inst.argv[1:]), env, cwd)
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
        unit.ready = unit.instance.healthcheck is None
        unit.started_at = self.clock.monotonic()
        unit.state = State.RUNNING
        self.by_pid[handle.pid] = unit
        restarts = f" (restart {unit.restart.total})" if unit.restart.total else ""
        self.hooks.say(unit, f"started with pid {handle.pid}{restarts}")
        self.hooks.attached(unit)

    def _start_failed(self, unit: Unit, message: str, code: int) -> None:
        unit.ever_started = False
        unit.started_at = self.clock.monotonic()
        self.hooks.say(unit, f"could not start: {message}")
        self._decide(unit, code)

    # -- exits -----------------------------------------------------------------------------

    def _main_exited(self, unit: Unit, returncode: int) -> None:
        self.hooks.exited(unit)
        code = signal_exit_code(-returncode) if returncode < 0 else returncode
        unit.exit_code = code
        unit.main_alive = False
        if unit.stop_requested:
            unit.state = State.STOPPED
            if code == signal_exit_code(unit.spec.stop_signal):
                self.hooks.say(unit, f"stopped by {unit.spec.stop_signal.name}")
            else:
                self.hooks.say(unit, f"stopped ({describe_exit(code)})")
        elif self.stopping:
            unit.state = State.EXITED
            self.hooks.say(unit, describe_exit(code))
        else:
            self._decide(unit, code)
        handle = unit.handle
        if handle is not None and self.spawner.group_alive(handle):
            if unit.kill_at is None:
                # the main process is gone but left members in its group: they go too
                self.hooks.say(unit, "stopping what is left of its process group")
                self.spawner.send(handle, unit.spec.stop_signal, group=True)
                unit.kill_at = self.clock.monotonic() + self._grace(unit)
        else:
            self._release(unit)

    def _decide(self, unit: Unit, code: int) -> None:
        """An instance ended on its own: restart it, note it completed, or end the run."""
        unit.exit_code = code
        what = describe_exit(code)
        if unit.restart.wants_restart(code):
            uptime = self.clock.monotonic() - unit.started_at
            delay = unit.restart.next_delay(uptime)
            if delay is None:
                unit.state = State.GAVE_UP
                policy = unit.spec.restart
                self.hooks.say(
                    unit,
                    f"{what}; given up after {unit.restart.streak} restarts, each run "
                    f"shorter than {policy.window:g}s",
                )
                self._end_run(unit, code)
                return
            unit.state = State.BACKOFF
            unit.restart_at = self.clock.monotonic() + delay
            limit = unit.spec.restart.max_restarts
            count = f" ({unit.restart.streak} of {limit})" if limit else ""
            self.hooks.say(unit, f"{what}; restarting in {delay:g}s{count}")
            return
        if unit.spec.oneshot and code == 0:
            unit.state = State.COMPLETED
            self.hooks.say(unit, "completed (exit code 0)")
            return
        unit.state = State.EXITED
        self.hooks.say(unit, what)
        self._end_run(unit, code)

    def _end_run(self, unit: Unit, code: int) -> None:
        if self.trigger_code is None:
            self.trigger_code = code
        if not self.stopping:
            self.hooks.say(None, f"{unit.label} ended the run: stopping all processes")
        self.begin_stop()

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

    def _stop(self, unit: Unit) -> None:
        assert unit.handle is not None
        spec = unit.spec
        group = spec.kill_mode == "group"
        unit.stop_requested = True
        unit.state = State.STOPPING
        unit.kill_at = self.clock.monotonic() + self._grace(unit)
        self.spawner.send(unit.handle, spec.stop_signal, group=group)

    def _kill(self, unit: Unit, text: str | None) -> None:
        assert unit.handle is not None
        unit.killed = True
        self.spawner.kill(unit.handle)
        if self.stopping:
            self.forced = True
        if text:
            self.hooks.say(unit, text)

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

    def _sweep_strays(self) -> bool:
        """Stop processes that escaped their groups; True while some are still there."""
        known: Iterable[int] = self.helpers
        strays = self.spawner.strays(known)
        self._strays = strays
        if not strays:
            return False
        now = self.clock.monotonic()
        if self._stray_kill_at is None:
            grace = max((self._grace(u) for u in self.units), default=10.0)
            pids = ", ".join(map(str, strays))
            self.hooks.say(None, f"stopping processes that left their process group: {pids}")
            self.spawner.kill_pids(strays, signal.SIGTERM)
            self._stray_kill_at = now + grace
        elif now >= self._stray_kill_at and not self._strays_killed:
            self.spawner.kill_pids(strays, signal.SIGKILL)
            self._strays_killed = True
            self.forced = True
        return True

    def exit_code(self) -> int:
        """The code ``prodserver up`` exits with, once :attr:`done`."""
        if self.trigger_code is not None:
            return self.trigger_code
        return int(ExitCode.FORCED_STOP) if self.forced else int(ExitCode.OK)
