"""A configuration read into plain data with line numbers: the types every reader shares.

Neutral ground: ``config`` (which reads and resolves), ``schema`` (which validates the data) and
``init`` all use these types, so none of them has to import another's internals for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prodserver.errors import Location, Problem

SourceKind = Literal["toml", "pyproject", "procfile", "django", "json", "yaml"]
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class LineIndex:
    """Which line of a TOML file defines each key path (best effort, for messages)."""

    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    prefix: KeyPath = ()

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        full = self.prefix + tuple(path)
        while full:
            line = self.lines.get(full)
            if line is not None:
                return line
            full = full[:-1]
        return None


@dataclass(frozen=True)
class RawSource:
    """A configuration read into plain data, before any resolution."""

    path: Path
    kind: SourceKind
    data: Mapping[str, Any]
    index: LineIndex
    warnings: tuple[Problem, ...] = ()
    #: the project name when the configuration does not set one (pyproject's [project] name)
    fallback_name: str | None = None

    @property
    def root(self) -> Path:
        return self.path.parent

    def location(self, path: KeyPath) -> Location:
        dotted = ".".join(path)
        return Location(file=self.path, line=self.index.line_of(path), key_path=dotted or None)
