"""Parsing a configuration's text: TOML, JSON or YAML into plain data, and TOML's line numbers.

Every parser failure becomes a :class:`ConfigError` with line and column; YAML is refused when its
aliases expand beyond a limit (a "billion laughs" document), before anything is built.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.errors import ConfigError, Location
from prodserver.rawsource import KeyPath, LineIndex, SourceKind

_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """Parse TOML with :mod:`tomllib`; failures become ConfigError with line and column."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = col = None
        m = _TOML_POS.search(message)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        elif "end of document" in message:
            line = text.count("\n") + 1
        raise ConfigError(
            f"invalid TOML: {message[0].lower() + message[1:] if message else 'syntax error'}",
            hint="see https://toml.io for the syntax",
            location=Location(path, line, col),
            code=codes.FILE_SYNTAX,
        ) from None
    except RecursionError:
        raise ConfigError(
            "invalid TOML: nested too deeply",
            hint="flatten the nested arrays or tables",
            location=Location(path),
            code=codes.FILE_SYNTAX,
        ) from None


def parse_data(text: str, path: Path, kind: SourceKind) -> dict[str, Any]:
    """The same schema written as JSON or YAML (as `prodserver init --format` writes it)."""
    data: Any
    try:
        if kind == "json":
            import json

            data = json.loads(text)
        else:
            data = _load_yaml(text, path)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError(
            f"invalid {kind.upper()}: nested too deeply",
            hint="flatten the nested arrays or tables",
            location=Location(path),
            code=codes.FILE_SYNTAX,
        ) from None
    except ValueError as exc:  # json.JSONDecodeError
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        raise ConfigError(
            f"invalid JSON: {getattr(exc, 'msg', exc)}",
            location=Location(path, line, col),
            code=codes.FILE_SYNTAX,
        ) from None
    except ImportError:
        raise ConfigError(
            "reading YAML needs PyYAML", hint="pip install pyyaml", code=codes.FILE_SYNTAX
        ) from None
    except Exception as exc:  # yaml.YAMLError and its subclasses
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            location=Location(
                path, mark.line + 1 if mark else None, mark.column + 1 if mark else None
            ),
            code=codes.FILE_SYNTAX,
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the configuration must be a table (an object), not {type(data).__name__}",
            location=Location(path),
            code=codes.FILE_SYNTAX,
        )
    _check_keys(data, (), path)
    return data


#: the most values a YAML file may expand to once its aliases are followed: a real
#: configuration has a few hundred; "billion laughs" (nested aliases) has billions
MAX_YAML_NODES = 100_000


def _load_yaml(text: str, path: Path) -> Any:
    """``yaml.safe_load``, refusing a document whose aliases expand beyond a limit.

    PyYAML shares an aliased value instead of copying it, so loading a "billion laughs" file
    is fast; everything after (validation, merging, substitution) walks the expanded tree and
    would never finish. The node graph is measured first, before anything is built.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, path)
        if size > MAX_YAML_NODES:
            raise ConfigError(
                f"the YAML document expands to more than {MAX_YAML_NODES} values "
                "once its aliases are followed",
                hint="an alias (*name) repeats the whole anchored value; "
                "write the values out, or use profiles and extends",
                location=Location(path),
                code=codes.YAML_TOO_LARGE,
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: Any, path: Path) -> int:
    """How many nodes ``root`` stands for with every alias expanded (stops past the limit)."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:  # an alias of an enclosing anchor: a value that contains itself
            raise ConfigError(
                "the YAML document holds a value that contains itself (a recursive alias)",
                location=Location(path, node.start_mark.line + 1, node.start_mark.column + 1),
                code=codes.YAML_TOO_LARGE,
            )
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[Any] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _check_keys(value: Any, at: KeyPath, path: Path) -> None:
    """YAML allows keys that are not strings (null, numbers, booleans); TOML and JSON do not."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"the key {key!r} is not a string",
                    hint="quote it in the YAML file",
                    location=Location(path, key_path=".".join(at) or None),
                    code=codes.FILE_SYNTAX,
                )
            _check_keys(item, (*at, key), path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, (*at, str(index)), path)


_HEADER = re.compile(r"^\s*\[(\[)?\s*(?P<key>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
    r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*="""
)
_KEYPART = re.compile(r"""[A-Za-z0-9_-]+|"((?:[^"\\]|\\.)*)"|'([^']*)'""")


#: a dotted key of bare names only (``processes.web``): split without the quoting rules
_BARE_DOTTED = re.compile(r"[A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*")
_DOT = re.compile(r"\s*\.\s*")


def _split_key(key: str) -> KeyPath:
    if _BARE_DOTTED.fullmatch(key):
        return tuple(_DOT.split(key)) if "." in key else (key,)
    parts: list[str] = []
    for m in _KEYPART.finditer(key):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(m.group(2))
        else:
            parts.append(m.group(0))
    return tuple(parts)


def index_lines(text: str) -> LineIndex:
    """Map key paths to the line that defines them (tables, keys, and inline-table members)."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line) if "[" in line else None
        if header and not _KEYLINE.match(line):
            table = _split_key(header.group("key"))
            lines.setdefault(table, number)
            continue
        m = _KEYLINE.match(line) if "=" in line else None
        if not m:
            continue
        path = table + _split_key(m.group("key"))
        lines.setdefault(path, number)
        rest = line[m.end() :]
        if '"""' in rest or "'''" in rest:
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
        if "{" in rest:
            # members of an inline table on the same line: `healthcheck = { http = "..." }`
            for inner in re.finditer(r"([A-Za-z0-9_-]+)\s*=", rest):
                lines.setdefault((*path, inner.group(1)), number)
    return LineIndex(lines)
