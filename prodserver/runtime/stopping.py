"""Stopping: graceful then forced, group by group, with one deadline for the whole tree.

A stop sends an instance's stop signal (to its main process or its whole group), then
SIGCONT, as systemd does, so that a stopped (SIGSTOP) process sees it; after its grace
period on the monotonic clock the whole group gets SIGKILL, and the instance counts as gone
only once its group is empty. The spawner is asked in those words (stop, kill, stop or kill
these pids), never with a signal number this module would have to name: Windows defines
neither SIGKILL nor SIGCONT, and its spawner maps a stop to Ctrl-Break and a kill to the
end of the child's Job Object. Processes that left their group (``setsid``, a double fork)
are found through the subreaper once everything else is gone; they share the stop's one
deadline rather than getting a grace of their own, and a forced stop kills them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prodserver.runtime.process import State, Unit
from prodserver.runtime.run import Run
from prodserver.runtime.spawner import ChildHandle

#: how often group membership is re-checked while waiting for a group to empty; exits of
#: adopted processes wake the loop sooner (they are our children thanks to the subreaper)
GROUP_POLL = 0.05


class Stopper:
    """Sends stop signals, kills at deadlines, and watches groups empty."""

    def __init__(self, run: Run, *, known: Callable[[], Iterable[int]]) -> None:
        self.run = run
        #: pids prodserver started that are not instances (the guardian, probes)
        self._known = known
        self.strays: list[int] = []
        self._stray_kill_at: float | None = None
        #: the one deadline of the current stop: processes found after their parents died
        #: (escaped from their groups) share it instead of getting a fresh grace
        self._deadline: float | None = None
        #: a second Ctrl-C: everything known and found is killed at once
        self.forced_all = False

    def deadlines(self, now: float) -> list[float]:
        """Times at which :meth:`tick` has something to do."""
        times: list[float] = []
        for unit in self.run.units:
            if unit.handle is not None:
                if unit.kill_at is not None and not unit.killed:
                    times.append(unit.kill_at)
                if not unit.main_alive:
                    times.append(now + GROUP_POLL)
        if self.strays:
            times.append(now + GROUP_POLL)
            if self._stray_kill_at is not None and now < self._stray_kill_at:
                times.append(self._stray_kill_at)
        return times

    def tick(self, now: float) -> None:
        """Kill what outlived its grace; release groups that emptied."""
        for unit in self.run.units:
            due = unit.kill_at is not None and now >= unit.kill_at
            if unit.handle is not None and due and not unit.killed:
                grace = self.run.grace(unit)
                self.kill(unit, f"killed with SIGKILL after {grace:g}s grace")
        for unit in self.run.units:
            handle = unit.handle
            if handle is not None and not unit.main_alive and not self.group_alive(handle):
                self.release(unit)

    def group_alive(self, handle: ChildHandle) -> bool:
        """Whether anything of ``handle``'s process group is left."""
        return self.run.spawner.group_alive(handle)

    def advance(self) -> None:
        """During a stop: stop every running instance whose dependants are all gone."""
        if not self.run.stopping:
            return
        for unit in reversed(self.run.units):
            if unit.state is State.RUNNING and unit.main_alive and self._dependants_gone(unit):
                self.stop(unit)

    def _dependants_gone(self, unit: Unit) -> bool:
        run = self.run
        for name in run.dependants.get(unit.name, ()):
            for other in run.by_process.get(name, ()):
                if not other.gone:
                    return False
        return True

    def stop(self, unit: Unit, *, announced: bool = False) -> None:
        """Ask ``unit`` to stop: its stop signal now, SIGKILL after its grace."""
        assert unit.handle is not None
        run = self.run
        spec = unit.spec
        group = spec.kill_mode == "group"
        unit.stop_requested = True
        unit.state = State.STOPPING
        grace = run.grace(unit)
        unit.kill_at = run.clock.monotonic() + grace
        if run.stopping:
            self._deadline = max(self._deadline or 0.0, unit.kill_at)
        if not announced:
            run.say_quietly(
                unit,
                "process_stopping",
                f"sending {spec.stop_signal.name} ({grace:g}s grace)",
                signal=spec.stop_signal.name,
                group=group,
                grace=grace,
            )
        self.signal_stop(unit.handle, spec.stop_signal, group=group)

    def signal_stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """The stop signal, in the spawner's words (POSIX: then SIGCONT, as systemd does)."""
        self.run.spawner.stop(handle, sig, group=group)

    def kill(self, unit: Unit, text: str | None) -> None:
        """SIGKILL ``unit``'s whole group."""
        assert unit.handle is not None
        run = self.run
        unit.killed = True
        run.spawner.kill(unit.handle)
        if run.stopping:
            run.forced = True
        say = run.say if text else run.say_quietly
        say(unit, "process_killed", text or "killed with SIGKILL", signal="SIGKILL")

    def after_main_exit(self, unit: Unit) -> None:
        """``unit``'s main process exited: stop what is left of its group, or release it."""
        run = self.run
        handle = unit.handle
        if handle is None or not run.spawner.group_alive(handle):
            self.release(unit)
            return
        if unit.kill_at is None:
            # the main process is gone but left members in its group: they go too
            run.say(
                unit,
                "process_stopping",
                "stopping what is left of its process group",
                signal=unit.spec.stop_signal.name,
                group=True,
            )
            self.signal_stop(handle, unit.spec.stop_signal, group=True)
            unit.kill_at = run.clock.monotonic() + run.grace(unit)

    def release(self, unit: Unit) -> None:
        """Nothing of ``unit``'s run is left."""
        handle = unit.handle
        unit.handle = None
        unit.kill_at = None
        if handle is not None:
            self.run.hooks.released(unit, handle.pgid)

    def force(self) -> None:
        """Skip every grace: SIGKILL every group and every process found outside them."""
        self.forced_all = True
        for unit in self.run.units:
            if unit.handle is not None and not unit.killed:
                self.kill(unit, None)
        strays = self.run.spawner.strays(self._known())
        if strays:
            self.run.spawner.kill_pids(strays)

    def sweep_strays(self) -> bool:
        """Stop processes that escaped their groups; True while some are still there.

        They share the stop's one deadline: a process found after its parent was killed at
        the end of its grace is killed at once, not given a grace of its own.
        """
        run = self.run
        strays = run.spawner.strays(self._known())
        self.strays = strays
        if not strays:
            return False
        now = run.clock.monotonic()
        if self._stray_kill_at is None:
            self._stray_kill_at = self._first_found(strays, now)
        if self.forced_all or now >= self._stray_kill_at:
            # every sweep: one found late (its parent just died) is killed as soon as seen
            run.spawner.kill_pids(strays)
            run.forced = True
        return True

    def _first_found(self, strays: list[int], now: float) -> float:
        run = self.run
        deadline = self._deadline
        if deadline is None:
            deadline = now + max((run.grace(u) for u in run.units), default=10.0)
            self._deadline = deadline
        pids = ", ".join(map(str, strays))
        if self.forced_all or now >= deadline:
            run.say(
                None,
                "process_killed",
                f"killed with SIGKILL processes that left their process group: {pids}",
                signal="SIGKILL",
                pids=pids,
            )
        else:
            run.say(
                None,
                "process_stopping",
                f"stopping processes that left their process group: {pids} "
                f"(until the stop's deadline, {deadline - now:.1f}s)",
                signal="SIGTERM",
                pids=pids,
            )
            run.spawner.stop_pids(strays)
        return deadline
