"""What the pre-start checks found and did, and the error that stops ``up`` when one failed."""

from __future__ import annotations

from prodserver.errors import ProdserverError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prodserver.errors import Problem


class PrestartFailed(ProdserverError):
    """At least one pre-start check failed (each one printed above the message)."""


class Report:
    """What the checks found, and what they did (for ``check --deploy``'s summary).

    A plain class, not a dataclass: ``up`` builds one before every start (issue 17)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.done: list[str] = []
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"Report(problems={self.problems!r}, done={self.done!r}, notes={self.notes!r})"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
