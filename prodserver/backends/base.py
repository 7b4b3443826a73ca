"""What a backend is: typed options declared once, and a translation of them into an argv.

A backend never runs anything. From one declaration (:class:`Option` list) come the argv
(:meth:`Backend.argv`), the backend's part of the JSON schema (:func:`option_schema`), the
generated backend reference in ``docs/`` and ``prodserver backends`` output.

Values reach :meth:`Backend.argv` already substituted, coerced and validated against the schema,
so a backend may trust their types.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from prodserver.backends.requirements import not_importable
from prodserver.options import KillMode, Option, OptionType
from prodserver.template import Deferred

__all__ = [
    "Backend",
    "BackendContext",
    "BackendInfo",
    "Option",
    "OptionType",
    "ProbeDefault",
    "flag_args",
    "standard_argv",
]


@dataclass(frozen=True)
class BackendContext:
    """What a backend may know about where it runs while it builds its argv."""

    #: the project root (directory of the configuration file)
    root: Path
    #: the process's full environment (PORT included when assigned)
    env: Mapping[str, str]
    #: the port assigned to this instance, or None
    port: int | None
    #: the process name (``web``)
    process: str
    #: the Python interpreter to use for ``python -m`` and ``manage.py`` invocations
    python: str = "python"
    #: the process's working directory (``cwd``), where it imports its modules from; None
    #: means the project root
    cwd: Path | None = None


@dataclass(frozen=True)
class ProbeDefault:
    """A backend's suggested health check, filled in from the instance's port/bind."""

    kind: Literal["http", "tcp"]
    target: str
    start_period: float = 0.0


class Backend:
    """Base class of every backend. Subclasses set the class attributes and ``argv``."""

    #: the value of ``backend = "..."`` in prodserver.toml
    name: ClassVar[str]
    #: one line for ``prodserver backends`` and the docs
    summary: ClassVar[str]
    #: the family: "web", "worker", "scheduler", "monitor", "command"
    kind: ClassVar[str] = "command"
    #: the extra to install (``pip install 'prodserver[EXTRA]'``); None for no package
    extra: ClassVar[str | None] = None
    #: import names that must be importable for the backend to work
    requires: ClassVar[tuple[str, ...]] = ()
    #: whether the process listens on a port (gets PORT assigned)
    listens: ClassVar[bool] = False
    #: how it shuts down gracefully: by default SIGTERM to the main process only, which most
    #: servers and workers take as "finish what is in hand, then exit" (a backend whose children
    #: must be signalled too, or that stops on another signal, says so)
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    kill_mode: ClassVar[KillMode] = "main"
    #: the typed options, in the order they are documented and emitted
    options: ClassVar[tuple[Option, ...]] = ()

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        """The command line for ``values`` (validated options, defaults filled in)."""
        raise NotImplementedError

    def default_healthcheck(
        self, values: Mapping[str, Any], ctx: BackendContext
    ) -> ProbeDefault | None:
        """A sensible readiness probe, or None (the health issue uses it)."""
        return None

    def missing_requirements(self) -> list[str]:
        """Import names in :attr:`requires` that are not installed (cheap: no import)."""
        return not_importable(self.requires)

    def install_hint(self) -> str | None:
        if self.extra is None:
            return None
        return f"pip install 'prodserver[{self.extra}]'"

    def option(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)


def flag_args(opt: Option, value: Any) -> list[str]:
    """The generic translation of one option value into argv words, per its declaration."""
    if value is None or opt.flag is None:
        return []
    if opt.type == "boolean":
        if value:
            return [opt.flag]
        return [opt.negative_flag] if opt.negative_flag else []
    if opt.type == "list":
        items = [str(v) for v in value]
        if not items:
            return []
        if opt.join is not None:
            return _emit(opt, opt.join.join(items))
        out: list[str] = []
        for item in items:
            out += _emit(opt, item)
        return out
    if opt.type == "duration":
        if isinstance(value, Deferred):  # left to the platform, already in seconds
            return _emit(opt, value)
        seconds = float(value)
        text = str(int(seconds)) if seconds == int(seconds) else repr(seconds)
        return _emit(opt, text)
    return _emit(opt, str(value))


def _emit(opt: Option, text: str) -> list[str]:
    assert opt.flag is not None
    if opt.equals:
        return [f"{opt.flag}={text}"]
    return [opt.flag, text]


def standard_argv(
    backend: Backend, values: Mapping[str, Any], *, skip: Sequence[str] = ()
) -> list[str]:
    """Every declared option that has a ``flag``, in declaration order, except ``skip``."""
    out: list[str] = []
    for opt in backend.options:
        if opt.name in skip:
            continue
        out += flag_args(opt, values.get(opt.name, opt.default))
    return out


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend and where it came from (for ``prodserver backends``)."""

    backend: Backend
    origin: str = "built-in"
    aliases: tuple[str, ...] = field(default_factory=tuple)
