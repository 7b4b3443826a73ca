"""Live reload: what changed between the running configuration and the one just read.

``prodserver reload`` (or SIGHUP to ``up``) re-reads the configuration exactly as ``up`` first
read it: the same file, profile, ``--env-file`` files, ``--scale`` and ``--port``, and the
environment ``up`` was started with (not the environment of whoever sent the signal). A
configuration that does not resolve changes nothing. Otherwise every selected process is in
one of these groups:

- **added**: it starts, once its dependencies allow, like any process at start-up;
- **removed**: it is stopped gracefully (its dependants first, if they go too);
- **changed** (anything of it differs: argv, environment, ports, probe, policy, scale): its
  instances are stopped, and the new ones start once the old ones are gone (ports are free
  again) and their dependencies allow, in dependency order, with health gating;
- **unchanged**: not touched, except that a process with a ``reload_signal`` gets that
  signal, to reload in place (gunicorn re-reads its application on SIGHUP).

A process's position in the file only decides its default port, so moving it is a change
only when its port changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.errors import ProdserverError
from prodserver.runtime.audit import FieldValue
from prodserver.runtime.process import State, Unit
from prodserver.runtime.run import Run, select_processes
from prodserver.runtime.spawner import Undeliverable


@dataclass(frozen=True)
class Plan:
    """What a reload does, process by process (names in the new start order)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def summary(self) -> str:
        """``added: beat; changed: web; unchanged: worker`` (empty groups left out)."""
        parts = [
            f"{what}: {', '.join(names)}"
            for what, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
                ("unchanged", self.unchanged),
            )
            if names
        ]
        return "; ".join(parts) or "no processes"


def _comparable(spec: ProcessSpec) -> ProcessSpec:
    return spec._replace(position=0)


def plan(
    old: ResolvedProject, old_names: list[str], new: ResolvedProject, new_names: list[str]
) -> Plan:
    """The difference between two selections of processes."""
    before = set(old_names)
    added = tuple(n for n in new_names if n not in before)
    removed = tuple(n for n in old_names if n not in set(new_names))
    changed: list[str] = []
    unchanged: list[str] = []
    for name in new_names:
        if name in before:
            same = _comparable(old.processes[name]) == _comparable(new.processes[name])
            (unchanged if same else changed).append(name)
    return Plan(added, removed, tuple(changed), tuple(unchanged))


class Reloading:
    """Applies a reload to a running :class:`~prodserver.runtime.run.Run`."""

    def __init__(
        self,
        run: Run,
        *,
        read: Callable[[], ResolvedProject] | None,
        stop: Callable[[Unit], None],
        schedule: Callable[[], None],
    ) -> None:
        self.run = run
        #: reads the configuration again as ``up`` first read it; raises on a bad one
        self._read = read
        self._stop = stop
        self._schedule = schedule

    def reload(self, why: str) -> dict[str, Any]:
        """Read the configuration again and apply what changed; the outcome, for the asker."""
        run = self.run
        if self._read is None:
            run.say(None, "warning", f"{why}: this up cannot read its configuration again")
            return {"ok": False, "problems": ["this up cannot read its configuration again"]}
        if run.stopping:
            run.say(None, "warning", f"{why}: ignored, everything is stopping")
            return {"ok": False, "problems": ["everything is stopping"]}
        began = run.clock.monotonic()
        try:
            project = self._read()
        except ProdserverError as exc:
            found = getattr(exc, "problems", None) or []
            problems = [p.render() for p in found] or [exc.message]
            text = f"{why}: the configuration is not valid; nothing changed"
            run.say(None, "reload_failed", text, problems=len(problems))
            for problem in problems:
                run.say(None, "reload_failed", f"  {problem}")
            return {"ok": False, "problems": problems}
        outcome = self.apply(project, why)
        # what the reload cost on the loop: reading the file again, the diff, the signals
        outcome["seconds"] = round(run.clock.monotonic() - began, 4)
        return outcome

    def apply(self, project: ResolvedProject, why: str) -> dict[str, Any]:
        """Make ``project`` the running configuration, touching only what changed."""
        run = self.run
        new_names = select_processes(project, run.names)
        todo = plan(run.project, run.selected, project, new_names)
        for name in (*todo.removed, *todo.changed):
            for unit in run.by_process.get(name, ()):
                self._retire(unit)
        run.replace(project, keep=todo.unchanged)
        signalled = self._signal(project, todo.unchanged)
        fields: dict[str, FieldValue] = {
            "added": ",".join(todo.added),
            "removed": ",".join(todo.removed),
            "changed": ",".join(todo.changed),
            "unchanged": ",".join(todo.unchanged),
            "signalled": ",".join(signalled),
        }
        run.say(None, "reloaded", f"{why}: configuration reloaded ({todo.summary()})", **fields)
        self._schedule()
        return {"ok": True, **{k: list(getattr(todo, k)) for k in _GROUPS}, "signalled": signalled}

    def _signal(self, project: ResolvedProject, names: Iterable[str]) -> list[str]:
        """Send each unchanged process its ``reload_signal``; the labels of those sent one.

        Where the system cannot deliver it (Windows), the process is left alone and the
        log says so: nothing else stands in for a reload signal there.
        """
        run = self.run
        signalled: list[str] = []
        for name in names:
            sig = project.processes[name].reload_signal
            for unit in run.by_process[name]:
                if sig is None or unit.handle is None or not unit.main_alive:
                    continue
                try:
                    run.spawner.send(unit.handle, sig, group=False)
                except Undeliverable as exc:
                    run.say(unit, "warning", f"reload signal not sent: {exc}")
                    continue
                signalled.append(unit.label)
        return signalled

    def _retire(self, unit: Unit) -> None:
        run = self.run
        run.retiring.append(unit)
        if unit.state is State.RUNNING and unit.main_alive:
            self._stop(unit)
        elif unit.state is State.WAITING:
            unit.state = State.SKIPPED
        elif unit.state is State.BACKOFF:
            unit.state = State.STOPPED


_GROUPS = ("added", "removed", "changed", "unchanged")
