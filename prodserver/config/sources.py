"""Step 1 of resolution: find the configuration and read it into plain data with line numbers.

A source is one of ``prodserver.toml``, ``[tool.prodserver]`` in ``pyproject.toml``, or a
``Procfile`` (read strictly, with its ``.env``). Reading never executes anything and turns every
failure of the file or the parser into a :class:`ConfigError` with file, line and column.

The pieces: :mod:`.discovery` finds the file, :mod:`prodserver.readfile` reads it safely,
:mod:`.parsing` parses it; the types are in :mod:`prodserver.rawsource`. The names the rest of
the package reads from here are re-exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.config.discovery import FILE_ENV, discover, kind_of
from prodserver.config.parsing import index_lines, parse_data, parse_toml
from prodserver.errors import ConfigError, Location
from prodserver.rawsource import KeyPath, LineIndex, RawSource
from prodserver.readfile import read_bounded, read_text

#: the names the rest of the package and its tests read from here
__all__ = [
    "FILE_ENV",
    "KeyPath",
    "LineIndex",
    "RawSource",
    "discover",
    "index_lines",
    "read_bounded",
    "read_source",
]


def read_source(path: Path) -> RawSource:
    """Read ``path`` (of any supported kind) into a :class:`RawSource`."""
    kind = kind_of(path)
    if kind == "procfile":
        return _read_procfile(path)
    text = read_text(path)
    if kind in ("json", "yaml"):
        return RawSource(path, kind, parse_data(text, path, kind), LineIndex())
    data = parse_toml(text, path)
    index = index_lines(text)
    if kind == "pyproject":
        tool = data.get("tool", {})
        section = tool.get("prodserver") if isinstance(tool, dict) else None
        if not isinstance(section, dict):
            raise ConfigError(
                f"{path} has no [tool.prodserver] table",
                hint="add [tool.prodserver] or use a prodserver.toml",
                location=Location(path),
                code=codes.FILE_UNREADABLE,
            )
        pep621 = data.get("project")
        name = pep621.get("name") if isinstance(pep621, dict) else None
        return RawSource(
            path,
            kind,
            section,
            LineIndex(index.lines, ("tool", "prodserver")),
            fallback_name=name if isinstance(name, str) else None,
        )
    return RawSource(path, kind, data, index)


def _read_procfile(path: Path) -> RawSource:
    """A Procfile as a source, read as Procfile runners read it; ``.env`` beside it is loaded."""
    from prodserver.config.procfile import read_procfile

    parsed = read_procfile(path)
    lines: dict[KeyPath, int] = {}
    for entry in parsed.entries:
        lines[("processes", entry.name)] = entry.line
        lines[("processes", entry.name, "command")] = entry.line
    data: dict[str, Any] = {"processes": parsed.processes()}
    if (path.parent / ".env").exists():
        data["project"] = {"env_files": [".env"]}
    return RawSource(path, "procfile", data, LineIndex(lines), parsed.warnings)
