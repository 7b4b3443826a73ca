"""The error types a user can see.

Every error the user caused is a :class:`ProdserverError`: it carries an exit code, a message that
says what went wrong, and optionally where (file, line, column, key path) and a hint on how to fix
it. The CLI prints these without a traceback (``--debug`` shows one). Anything else that escapes
is a bug and exits with :data:`ExitCode.INTERNAL`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prodserver import codes
from prodserver.exitcodes import ExitCode


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file and optionally a line and column (1-based), and a key path."""

    file: Path | None = None
    line: int | None = None
    column: int | None = None
    key_path: str | None = None

    def render(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.key_path:
            parts.append(self.key_path)
        return ": ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One configuration problem: a stable code, what, where, and a hint."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    hint: str | None = None
    severity: str = "error"  # "error" or "warning"

    def render(self) -> str:
        where = self.location.render()
        text = f"{where}: {self.message}" if where else self.message
        code = f" {self.code}" if self.code != codes.USAGE else ""
        text = f"{self.severity}{code}: {text}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def unique_problems(problems: Iterable[Problem]) -> list[Problem]:
    """The problems in their order, each once.

    A dict keeps the order and finds each problem in O(1): a list look-up made a file with
    thousands of errors take seconds per thousand.
    """
    return list(dict.fromkeys(problems))


class ProdserverError(Exception):
    """Base class of every error caused by user input or the environment."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        code: str = codes.USAGE,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location or Location()
        self.code = code

    @property
    def problems(self) -> Sequence[Problem]:
        return (Problem(self.code, self.message, self.location, self.hint),)

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class UsageError(ProdserverError):
    """The command line was wrong."""

    exit_code = ExitCode.USAGE


class ConfigError(ProdserverError):
    """The configuration cannot be read, resolved or validated.

    It may carry several problems at once: validation reports everything it finds.
    """

    exit_code = ExitCode.CONFIG

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        code: str = codes.CONFIG_INVALID,
        problems: Iterable[Problem] | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location, code=code)
        self._problems = tuple(problems) if problems is not None else None

    @property
    def problems(self) -> Sequence[Problem]:
        if self._problems:
            return self._problems
        return super().problems

    def render(self) -> str:
        if self._problems:
            errors = [p for p in self._problems if p.severity == "error"]
            head = f"{self.message} ({len(errors)} error{'s' if len(errors) != 1 else ''})"
            return head + "\n" + "\n".join(p.render() for p in self._problems)
        return super().render()


def raise_problems(problems: Sequence[Problem], summary: str) -> None:
    """Raise the problems of one file: one as itself, several as one :class:`ConfigError`
    (``summary`` above the list, the first problem's code, location and hint); none: return."""
    if len(problems) == 1:
        only = problems[0]
        raise ConfigError(only.message, location=only.location, hint=only.hint, code=only.code)
    if problems:
        raise ConfigError(
            summary,
            location=problems[0].location,
            hint=problems[0].hint,
            code=problems[0].code,
            problems=problems,
        )


class BackendUnavailable(ProdserverError):
    """A backend's package is not installed or its executable cannot be found."""

    exit_code = ExitCode.UNAVAILABLE


class OutputError(ProdserverError):
    """An output file could not be written safely."""

    exit_code = ExitCode.CANTCREAT


class SpawnError(ProdserverError):
    """A process could not be started."""

    exit_code = ExitCode.SPAWN


def silence_stdout() -> None:
    """The reader of our standard output went away (``| head``): point it at /dev/null, so
    that the interpreter's final flush does not print another error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
