"""What every part of the supervisor shares: the instances of one run and how to report.

:class:`Run` holds the selected instances (in start order), their indexes (by process, by
pid, dependants), the injected clock, spawner and hooks, the run-wide flags (stopping, the
code that ended the run, whether something was killed) and the one way to tell the outside
world about an event (masked like ``prodserver config``). The deciding parts
(:mod:`~prodserver.runtime.starting`, :mod:`~prodserver.runtime.exits`,
:mod:`~prodserver.runtime.stopping`, :mod:`~prodserver.runtime.healthpolicy`,
:mod:`~prodserver.runtime.sampling`) each hold a reference to it.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence

from prodserver.config.model import ResolvedProject
from prodserver.records import NamedTuple, Protocol
from prodserver.runtime.audit import Event, FieldValue
from prodserver.runtime.clock import Clock
from prodserver.runtime.process import Unit
from prodserver.runtime.spawner import Spawner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prodserver.runtime.metrics import UnitSample

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


class Notifier(Protocol):
    """Gives each instance its own ``NOTIFY_SOCKET`` (see :mod:`prodserver.runtime.notify`)."""

    def env_for(self, unit: Unit) -> Mapping[str, str]:
        """Variables that point ``unit``'s child at its notification socket."""


class Sampler(Protocol):
    """Measures the process trees of running instances (see :mod:`prodserver.runtime.metrics`)."""

    def sample(self, units: Sequence[Unit]) -> Mapping[str, UnitSample]:
        """One sample per running unit's label."""


class Hooks(Protocol):
    """What the supervisor tells the outside world (the event loop and the output)."""

    def attached(self, unit: Unit) -> None:
        """``unit`` was just spawned: start reading its output."""

    def exited(self, unit: Unit) -> None:
        """``unit``'s main process exited: write what is left of its output now."""

    def released(self, unit: Unit, pgid: int) -> None:
        """Nothing of ``unit``'s run is left: its process group ``pgid`` is empty."""

    def say(self, unit: Unit | None, text: str) -> None:
        """A message from prodserver, about ``unit`` or about the whole run."""


def signal_name(signum: int) -> str:
    """``SIGTERM``, or ``signal 42`` for a number this system has no name for."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


#: what a Windows console program ended by Ctrl-C or Ctrl-Break exits with
#: (``STATUS_CONTROL_C_EXIT``; no exit code on POSIX is that large)
CONSOLE_EVENT_EXIT = 0xC000013A


def describe_exit(code: int, signum: int | None = None) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL (exit code 137)``.

    Only the wait status says whether a signal ended a process: ``sh -c 'exit 130'``
    exited with code 130, it was not killed by SIGINT.
    """
    if signum is not None:
        return f"was killed by {signal_name(signum)} (exit code {code})"
    if code == CONSOLE_EVENT_EXIT:
        return f"was ended by Ctrl-C or Ctrl-Break, exit code 0x{code:X}"
    return f"exited with code {code}"


def exit_fields(code: int, signum: int | None) -> dict[str, FieldValue]:
    """``code``, plus ``signal`` when the wait status says a signal killed it."""
    fields: dict[str, FieldValue] = {"code": code}
    if signum is not None:
        fields["signal"] = signal_name(signum)
    return fields


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


class RunSettings(NamedTuple):
    """What a run is given from outside and keeps for its whole life, reloads included."""

    spawner: Spawner
    clock: Clock
    hooks: Hooks
    #: the processes asked for (``up NAME...``); a reload selects them again
    names: tuple[str, ...] = ()
    #: ``--stop-timeout``: the grace period of every stop instead of each process's own
    stop_timeout: float | None = None


class Run:
    """The instances of one run of ``up`` and the state every deciding part shares."""

    def __init__(self, project: ResolvedProject, settings: RunSettings) -> None:
        self.project = project
        self.spawner = settings.spawner
        self.clock = settings.clock
        self.hooks = settings.hooks
        self.stop_timeout = settings.stop_timeout
        self.names = settings.names
        self.selected = select_processes(project, self.names)
        self.units: list[Unit] = []
        self.by_process: dict[str, list[Unit]] = {}
        self.dependants: dict[str, set[str]] = {}
        #: instances of a previous configuration, stopping after a reload; they stay in
        #: :attr:`units` (to be stopped, killed, reaped) until nothing of them is left
        self.retiring: list[Unit] = []
        self._index(project, self.selected, keep=())
        self.by_pid: dict[int, Unit] = {}
        self.stopping = False
        #: the code of the instance whose exit ended the run, if one did
        self.trigger_code: int | None = None
        #: something had to be killed after its grace period during a stop
        self.forced = False
        #: every required instance is ready (sent upstream once, as systemd's READY=1)
        self.all_ready = False
        self.begun_at = self.clock.monotonic()
        from prodserver.config.display import masker_for

        self._masker = masker_for(project)

    def _index(self, project: ResolvedProject, selected: list[str], keep: Sequence[str]) -> None:
        all_names = list(project.processes)
        units: list[Unit] = []
        by_process: dict[str, list[Unit]] = {}
        dependants: dict[str, set[str]] = {}
        for name in selected:
            spec = project.processes[name]
            if name in keep:
                group = self.by_process[name]
            else:
                group = [Unit(spec, inst, all_names.index(name)) for inst in spec.instances]
            units.extend(group)
            by_process[name] = group
            for dep in spec.depends_on:
                dependants.setdefault(dep.name, set()).add(name)
        self.units = units + self.retiring
        self.by_process = by_process
        self.dependants = dependants

    def replace(self, project: ResolvedProject, keep: Sequence[str]) -> None:
        """Take ``project`` as the configuration: the processes in ``keep`` keep their
        instances, every other selected process gets new ones (waiting to start)."""
        from prodserver.config.display import masker_for

        selected = select_processes(project, self.names)
        self.project = project
        self.selected = selected
        self._index(project, selected, keep)
        self._masker = masker_for(project)

    def prune(self) -> None:
        """Forget retiring instances of which nothing is left."""
        if any(u.gone for u in self.retiring):
            gone = {id(u) for u in self.retiring if u.gone}
            self.retiring = [u for u in self.retiring if id(u) not in gone]
            self.units = [u for u in self.units if id(u) not in gone]

    def grace(self, unit: Unit) -> float:
        """The grace period of ``unit``'s stop (``--stop-timeout`` overrides its own)."""
        return self.stop_timeout if self.stop_timeout is not None else unit.spec.stop_timeout

    def say(self, unit: Unit | None, name: str, text: str, /, **fields: FieldValue) -> None:
        """Tell the outside world about event ``name`` (see :mod:`prodserver.runtime.audit`)."""
        self._event(unit, name, text, fields, quiet=False)

    def say_quietly(self, unit: Unit | None, name: str, text: str, /, **fields: FieldValue) -> None:
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

    def everything_ready(self) -> bool:
        """Every instance is running and ready, or a oneshot that completed."""
        from prodserver.runtime.process import State

        return all(
            (u.state is State.RUNNING and u.ready) or u.state is State.COMPLETED for u in self.units
        )
