"""``init --from-procfile``: a well-known command as a typed backend, when nothing changes.

A Procfile line such as ``gunicorn shop.wsgi --bind 0.0.0.0:$PORT --workers 3`` becomes
``backend = "gunicorn"`` with ``app``, ``bind`` and ``workers``, which brings typed options,
default probes and the right stop signal. It is only done when it provably changes nothing the
program sees: every word of the line must be understood (the program, its subcommand, options
that the backend declares, the one positional application), and the argv that the backend then
builds, read back the same way, must hold exactly the same options, values and application.
Anything else (a flag the backend does not declare, a default the backend would add, a variable
other than ``$PORT``, shell syntax) keeps the line as a ``command``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prodserver.backends.base import Backend, Option
from prodserver.config.shellline import direct_argv

_PORT_TOKEN = "PRODSERVERPORT5999"  # noqa: S105 - a placeholder for $PORT, not a secret
_PORT_REF = re.compile(r"\$(?:PORT\b|\{PORT\})")


@dataclass(frozen=True)
class Program:
    """How one program's command line is laid out."""

    backend: str
    executable: str
    #: the subcommand that selects this backend (celery's ``worker``), if any
    subcommand: str | None = None
    #: short flags and their long form
    aliases: Mapping[str, str] | None = None
    #: the option given before the subcommand (celery's ``-A/--app``)
    leading: tuple[str, ...] = ()
    #: ``--host``/``--port`` that the backend builds from its ``bind`` option
    host_port: bool = False


PROGRAMS = (
    Program("gunicorn", "gunicorn", aliases={"-w": "--workers", "-b": "--bind", "-t": "--timeout"}),
    Program("uvicorn", "uvicorn", host_port=True),
    Program(
        "celery-worker",
        "celery",
        "worker",
        aliases={"-A": "--app", "-l": "--loglevel", "-c": "--concurrency", "-Q": "--queues"},
        leading=("--app",),
    ),
    Program(
        "celery-beat",
        "celery",
        "beat",
        aliases={"-A": "--app", "-l": "--loglevel"},
        leading=("--app",),
    ),
)


@dataclass(frozen=True)
class Parsed:
    options: dict[str, str | bool]
    app: str | None


def typed_table(command: str) -> dict[str, Any] | None:
    """The typed process table equivalent to the Procfile line ``command``, or None."""
    if len(_PORT_REF.findall(command)) != command.count("$"):
        return None  # a variable other than PORT: the shell's expansion rules would matter
    argv = direct_argv(_PORT_REF.sub(_PORT_TOKEN, command))
    if not argv:
        return None
    for program in PROGRAMS:
        table = _try(program, argv)
        if table is not None:
            return table
    return None


def _try(program: Program, argv: Sequence[str]) -> dict[str, Any] | None:
    from prodserver.backends.registry import get_backend

    if argv[0] != program.executable:
        return None
    backend = get_backend(program.backend)
    original = _parse(program, backend, argv)
    if original is None:
        return None
    table: dict[str, Any] = {"backend": program.backend}
    if original.app is not None:
        table["app"] = original.app
    from prodserver.config.django_translate import coerce_arg

    by_flag = {o.flag: o for o in backend.options if o.flag}
    options = dict(original.options)
    if program.host_port and ("--host" in options or "--port" in options):
        host, port = options.pop("--host", "127.0.0.1"), options.pop("--port", "8000")
        table["bind"] = f"{host}:{port}".replace(_PORT_TOKEN, "${PORT}")
    for flag, value in options.items():
        opt = by_flag.get(flag)
        if opt is None:
            return None
        if isinstance(value, str) and _PORT_TOKEN in value:
            table[opt.name] = value.replace(_PORT_TOKEN, "${PORT}")
        else:
            table[opt.name] = coerce_arg(opt.type, value)
    built = _built_argv(table)
    if built is None:
        return None
    again = _parse(program, backend, built)
    port_free = Parsed(
        {
            k: v.replace(_PORT_TOKEN, _PORT_VALUE) if isinstance(v, str) else v
            for k, v in original.options.items()
        },
        original.app,
    )
    return table if again == port_free else None


_PORT_VALUE = "5000"


def _built_argv(table: Mapping[str, Any]) -> list[str] | None:
    """The argv prodserver would run for ``table`` (PORT 5000, this machine's paths)."""
    from pathlib import Path

    from prodserver.config.resolve import resolve_with_provenance
    from prodserver.config.sources import LineIndex, RawSource
    from prodserver.errors import ConfigError

    source = RawSource(Path("Procfile"), "toml", {"processes": {"p": dict(table)}}, LineIndex())
    try:
        project, _ = resolve_with_provenance(
            source=source, environ={"PATH": "/usr/bin:/bin"}, port=int(_PORT_VALUE)
        )
    except ConfigError:
        return None
    return list(project.processes["p"].argv)


def _parse(program: Program, backend: Backend, argv: Sequence[str]) -> Parsed | None:
    """Every word understood, or None: options by long flag, and the one positional app."""
    by_flag: dict[str, Option] = {o.flag: o for o in backend.options if o.flag}
    aliases = program.aliases or {}
    words = list(argv[1:])
    options: dict[str, str | bool] = {}
    app: str | None = None
    seen_subcommand = program.subcommand is None
    i = 0
    while i < len(words):
        word = words[i]
        if not seen_subcommand and word == program.subcommand:
            seen_subcommand = True
            i += 1
            continue
        flag, eq, inline = word.partition("=")
        flag = aliases.get(flag, flag)
        if word.startswith("-") and word != "-":
            opt = _flag_option(program, by_flag, flag, seen_subcommand=seen_subcommand)
            taken = (
                None if opt is None or flag in options else _flag_value(opt, eq, inline, words, i)
            )
            if taken is None:
                return None
            options[flag], i = taken
            continue
        if app is None and seen_subcommand and program.subcommand is None:
            app = word
        else:
            return None
        i += 1
    if not seen_subcommand:
        return None
    if "--app" in options and program.subcommand is not None:
        app = str(options.pop("--app"))
    return Parsed(options, app)


def _flag_option(
    program: Program, by_flag: Mapping[str, Option], flag: str, *, seen_subcommand: bool
) -> Option | None:
    """The option a flag sets, or None where the command line is not one to rewrite."""
    if flag in program.leading:
        if seen_subcommand and program.subcommand is not None:
            return None  # celery 5 wants -A before the subcommand: keep it as it is
        return Option(flag.lstrip("-"), "string", "", flag=flag)
    if program.host_port and flag in ("--host", "--port"):
        return Option(flag.lstrip("-"), "string", "", flag=flag)
    opt = by_flag.get(flag)
    if opt is None or not seen_subcommand:
        return None
    return opt


def _flag_value(
    opt: Option, eq: str, inline: str, words: Sequence[str], i: int
) -> tuple[str | bool, int] | None:
    """(the flag's value, the index of the next word), or None where it has no value."""
    if opt.type == "boolean":
        return None if eq else (True, i + 1)
    if eq:
        return inline, i + 1
    if i + 1 < len(words):
        return words[i + 1], i + 2
    return None
