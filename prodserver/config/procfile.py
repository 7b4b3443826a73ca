"""A ``Procfile`` as a configuration source: foreman and honcho syntax, read strictly.

Each line is ``name: command`` with a name of letters, digits, ``_`` and ``-``; blank lines and
``#`` comments are ignored; CRLF line endings and a UTF-8 BOM are accepted. Lines are split the way
honcho splits them (:meth:`str.splitlines`), and an entry line is read exactly as honcho reads it,
so every Procfile this module accepts means the same to honcho and foreman.

Where foreman and honcho silently skip a line they cannot read (and so silently never start that
process), this module reports it. Every problem is reported at once, each with its line:

- a line that is not ``name: command`` (an indented entry, ``web : cmd``, stray text) — PS160
- a name that is not safe as a file name (``web.1``, ``api/v2``, ``-web``), with a suggestion
  (exports turn names into unit, service and file names) — PS161
- a name defined twice, naming both lines — PS162
- no entries at all — PS163
- an entry without a command (``web:``) — PS164

Names that differ only in case (``web`` and ``Web``) are allowed with a warning (PS165): they
collide on case-insensitive file systems and in Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.config.secrets import mask_url_passwords
from prodserver.config.shellline import direct_argv, unquoted
from prodserver.declarations.keys import NAME_PATTERN, NAME_RULE
from prodserver.errors import ConfigError, Location, Problem, raise_problems
from prodserver.readfile import read_text

__all__ = [
    "RELEASE",
    "ProcfileEntry",
    "ProcfileParse",
    "parse_procfile",
    "process_table",
    "read_procfile",
]

#: Heroku's release phase: run to completion before the other process types start
RELEASE = "release"

# The entry syntax of foreman and honcho; the command starts after the whitespace that follows ":".
_ENTRY = re.compile(r"([A-Za-z0-9_-]+):\s*(.*)", re.DOTALL)
_SHOW = 60  # characters of an offending line shown in a message


@dataclass(frozen=True)
class ProcfileEntry:
    """One process of a Procfile: its name, its command as written, and its 1-based line."""

    name: str
    command: str
    line: int


@dataclass(frozen=True)
class ProcfileParse:
    """The entries of a Procfile in file order, and warnings about it."""

    entries: tuple[ProcfileEntry, ...]
    warnings: tuple[Problem, ...] = ()

    def commands(self) -> dict[str, str]:
        """The entries as a name -> command mapping, in file order."""
        return {entry.name: entry.command for entry in self.entries}

    def processes(self) -> dict[str, dict[str, Any]]:
        """The raw ``[processes]`` tables that mean what a Procfile runner does with the file."""
        release = any(entry.name == RELEASE for entry in self.entries)
        return {entry.name: process_table(entry, release=release) for entry in self.entries}


def process_table(entry: ProcfileEntry, *, release: bool = False) -> dict[str, Any]:
    """The raw process table of one Procfile line, meaning what ``/bin/sh -c LINE`` means.

    A line without shell syntax and without variables runs directly (its ``command`` string is
    split into exactly the words sh would build, and holds no ``$`` for substitution to touch).
    Any other line runs through ``/bin/sh -c`` (``shell = true``: prodserver substitutes
    nothing, the shell expands the variables at run time from the process's environment, and
    ``exec`` makes a simple command the process itself). ``release`` is a oneshot; when the file
    has one, every other line waits for it to complete.
    """
    table: dict[str, Any] = {"command": entry.command}
    if direct_argv(entry.command) is None:
        table["shell"] = True
    if entry.name == RELEASE:
        table["oneshot"] = True
    elif release:
        table["depends_on"] = {RELEASE: "completed"}
    return table


def read_procfile(path: Path) -> ProcfileParse:
    """Read and parse the Procfile at ``path``; an unreadable or non-UTF-8 file is an error."""
    if "\x00" in str(path):
        # The OS cannot name such a file; pathlib would raise ValueError.
        raise ConfigError(
            f"Procfile name {str(path)!r} contains a NUL byte", code=codes.FILE_UNREADABLE
        )
    # read_text turns every OSError (ENAMETOOLONG, EACCES, a FIFO...) into a PS101 ConfigError
    return parse_procfile(read_text(path, what="Procfile"), path=path)


def parse_procfile(text: str, *, path: Path) -> ProcfileParse:
    """Parse the text of a Procfile; ``path`` is used in messages."""
    entries: list[ProcfileEntry] = []
    seen: dict[str, int] = {}
    seen_folded: dict[str, ProcfileEntry] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = Location(file=path, line=number)
        match = _ENTRY.fullmatch(line)
        if match is None:
            problems.append(_unparseable(line, where))
            continue
        name, command = match.groups()
        problem = _entry_problem(name, command, where, seen)
        if problem is not None:
            problems.append(problem)
            continue
        entry = ProcfileEntry(name, command, number)
        folded = seen_folded.get(name.casefold())
        if folded is not None:
            warnings.append(_differ_in_case(folded, name, where))
        seen[name] = number
        seen_folded.setdefault(name.casefold(), entry)
        entries.append(entry)
    if not problems and not entries:
        problems.append(
            Problem(
                codes.PROCFILE_EMPTY,
                "the Procfile defines no processes",
                Location(file=path),
                "add one line per process, e.g. `web: gunicorn app.wsgi`",
            )
        )
    raise_problems(problems, f"{path} has {len(problems)} invalid lines")
    return ProcfileParse(tuple(entries), tuple(warnings))


def _entry_problem(
    name: str, command: str, where: Location, seen: Mapping[str, int]
) -> Problem | None:
    """What is wrong with the entry ``name: command`` (None: nothing)."""
    if not command.strip():
        return Problem(
            codes.PROCFILE_NO_COMMAND,
            f"process {name!r} has no command",
            where,
            f"write the command after the colon: {name}: <command>",
        )
    if not re.fullmatch(NAME_PATTERN, name):  # a leading '-' or '_', or too long
        return _bad_name(name, where)
    if name in seen:
        return Problem(
            codes.PROCFILE_DUPLICATE_NAME,
            f"process {name!r} is defined twice, on lines {seen[name]} and {where.line}",
            where,
            "process names must be unique: rename or remove one of them",
        )
    if unquoted(command) is None:
        return Problem(
            codes.PROCFILE_SHELL_SYNTAX,
            f"the command of {name!r} has an unterminated quote or substitution: "
            "sh cannot parse it",
            where,
            "close every ' \" ` $( and ${ the command opens",
        )
    return None


def _differ_in_case(first: ProcfileEntry, name: str, where: Location) -> Problem:
    return Problem(
        codes.PROCFILE_NAMES_DIFFER_IN_CASE,
        f"process names {first.name!r} (line {first.line}) and {name!r} differ only in case",
        where,
        "they collide on case-insensitive file systems and in Kubernetes names",
        severity="warning",
    )


def _unparseable(line: str, where: Location) -> Problem:
    """The most helpful description of a line that is not ``name: command``."""
    shown = mask_url_passwords(line.strip())
    shown = repr(shown[:_SHOW] + "..." if len(shown) > _SHOW else shown)
    if _ENTRY.fullmatch(line.strip()):
        return Problem(
            codes.PROCFILE_BAD_LINE,
            f"line {where.line} is indented: {shown}",
            where,
            "remove the leading whitespace (foreman and honcho would silently skip this process)",
        )
    head, colon, _ = line.partition(":")
    candidate = head.strip()
    if colon and candidate and not any(c.isspace() for c in candidate):
        if re.fullmatch(r"[A-Za-z0-9_-]+", candidate):
            return Problem(
                codes.PROCFILE_BAD_LINE,
                f"line {where.line} has a space before the colon: {shown}",
                where,
                f"write it as `{candidate}: <command>`",
            )
        return _bad_name(candidate, where)
    return Problem(
        codes.PROCFILE_BAD_LINE,
        f"line {where.line} is not `name: command`: {shown}",
        where,
        "each line is `name: command`; comments start with #",
    )


def _bad_name(name: str, where: Location) -> Problem:
    suggestion = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "web"
    shown = name if len(name) <= _SHOW else name[:_SHOW] + "..."
    return Problem(
        codes.PROCFILE_BAD_NAME,
        f"process name {shown!r} is not safe as a file name (it names units and services too)",
        where,
        f"{NAME_RULE}: e.g. {suggestion[:63]!r}",
    )
