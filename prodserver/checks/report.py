"""What the pre-start checks found and did, and the error that stops ``up`` when one failed."""

from __future__ import annotations

from dataclasses import dataclass, field

from prodserver.errors import Problem, ProdserverError


class PrestartFailed(ProdserverError):
    """At least one pre-start check failed (each one printed above the message)."""


@dataclass
class Report:
    """What the checks found, and what they did (for ``check --deploy``'s summary)."""

    problems: list[Problem] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
