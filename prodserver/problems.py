"""One problem a user is shown: what, where (:class:`Location`), and a hint.

Re-exported by :mod:`prodserver.errors` (``from prodserver.errors import Problem``), which imports
this module only when a problem is built, so that a command that finds none never creates these
dataclasses (issue 17).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prodserver import codes

__all__ = ["Location", "Problem", "unique_problems"]


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
