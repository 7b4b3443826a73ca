"""The error types a user can see.

Every error the user caused is a :class:`ProdserverError`: it carries an exit code, a message that
says what went wrong, and optionally where (file, line, column, key path) and a hint on how to fix
it. The CLI prints these without a traceback (``--debug`` shows one). Anything else that escapes
is a bug and exits with :data:`ExitCode.INTERNAL`.
"""

from __future__ import annotations

import os
import sys

from prodserver import codes
from prodserver.exitcodes import ExitCode

# Location and Problem (dataclasses) live in prodserver.problems and are imported from here on
# first use: every command imports this module, few of them build a problem (issue 17).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from prodserver.problems import Location, Problem, unique_problems

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "Location",
    "OutputError",
    "Problem",
    "ProdserverError",
    "SpawnError",
    "UsageError",
    "raise_problems",
    "silence_stdout",
    "unique_problems",
]
_LAZY = ("Location", "Problem", "unique_problems")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from prodserver import problems

        return getattr(problems, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        if location is None:
            from prodserver.problems import Location

            location = Location()
        self.location = location
        self.code = code

    @property
    def problems(self) -> Sequence[Problem]:
        from prodserver.problems import Problem

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
