"""Step 1 of resolution: find the configuration and read it into plain data with line numbers.

A source is one of ``prodserver.toml``, ``[tool.prodserver]`` in ``pyproject.toml``, or a
``Procfile`` (read strictly, with its ``.env``). Reading never executes anything and turns every
failure of the file or the parser into a :class:`ConfigError` with file, line and column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prodserver.errors import ConfigError, Location, Problem

CONFIG_NAME = "prodserver.toml"
PYPROJECT_NAME = "pyproject.toml"
PROCFILE_NAME = "Procfile"
FILE_ENV = "PRODSERVER_FILE"
#: honcho's variable naming the Procfile (in the environment or the .env of the directory)
PROCFILE_ENV = "PROCFILE"
#: a configuration larger than this is refused before parsing (a real one is a few KiB)
MAX_CONFIG_BYTES = 4 * 1024 * 1024

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


# -- discovery -------------------------------------------------------------------------------


def discover(
    file: Path | None = None, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The configuration file to use: ``file``, else ``$PRODSERVER_FILE``, else walk up."""
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    explicit = file if file is not None else (Path(env[FILE_ENV]) if env.get(FILE_ENV) else None)
    if explicit is not None:
        path = explicit if explicit.is_absolute() else base / explicit
        origin = "--file" if file is not None else FILE_ENV
        if "\x00" in str(path) or len(path.name) > 255:
            raise ConfigError(
                f"{origin} names an impossible path", location=Location(file=path), code="PS101"
            )
        if path.is_dir():
            raise ConfigError(
                f"{path} is a directory, not a configuration file ({origin})",
                hint=f"name the file itself, e.g. {path / CONFIG_NAME}",
                location=Location(file=path),
                code="PS101",
            )
        if not path.exists():
            raise ConfigError(
                f"configuration file {path} does not exist ({origin})",
                location=Location(file=path),
                code="PS101",
            )
        return path
    for directory in (base.resolve(), *base.resolve().parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT_NAME
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
        if directory == base.resolve():
            named = _procfile_variable(base, env)
            if named is not None:
                return named
        procfile = directory / PROCFILE_NAME
        if procfile.is_file():
            return procfile
    raise ConfigError(
        f"no {CONFIG_NAME} found in {base} or any parent directory",
        hint="create one with `prodserver init`, or name it with -f/--file or $PRODSERVER_FILE",
        code="PS101",
    )


def _procfile_variable(base: Path, env: Mapping[str, str]) -> Path | None:
    """honcho's ``PROCFILE`` (the environment's, else the ``.env`` here) names the Procfile."""
    from prodserver.config.envfiles import read_env_file

    name = env.get(PROCFILE_ENV)
    origin = f"${PROCFILE_ENV}"
    if not name:
        try:
            dotenv = read_env_file(base / ".env", optional=True)
        except ConfigError:
            dotenv = None  # reported when (and if) the configuration loads it
        name = dotenv.values.get(PROCFILE_ENV) if dotenv is not None else None
        origin = f"{PROCFILE_ENV} in {base / '.env'}"
    if not name:
        return None
    path = base / name
    if not path.is_file():
        raise ConfigError(
            f"the Procfile {path} named by {origin} does not exist",
            hint=f"correct {PROCFILE_ENV}, or remove it to use ./{PROCFILE_NAME}",
            location=Location(file=path),
            code="PS101",
        )
    return path


def _has_tool_table(pyproject: Path) -> bool:
    try:
        text = read_bounded(pyproject, what="pyproject.toml").decode("utf-8", "replace")
    except ConfigError:
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*prodserver\s*[\].]", text, re.MULTILINE) is not None


def kind_of(path: Path) -> SourceKind:
    if path.name == PYPROJECT_NAME:
        return "pyproject"
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "procfile"


# -- reading ---------------------------------------------------------------------------------


def read_bounded(path: Path, *, what: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``; every failure a ConfigError.

    Only a regular file is read: a FIFO, a terminal or a device (``/dev/zero``) is refused
    before a byte is read, and opening never blocks (``O_NONBLOCK``: a FIFO without a writer
    would hang ``open`` itself). The limit does not trust ``st_size`` (``/proc`` files say 0,
    a file may grow): at most ``limit + 1`` bytes are read, and one byte too many is an error.
    """
    import stat

    loc = Location(file=path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist", location=loc, code="PS101") from None
    except PermissionError:
        raise ConfigError(
            f"cannot read {what} {path}: permission denied", location=loc, code="PS101"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a directory, not a {what}", location=loc, code="PS101"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot read {what} {path}: {reason}", location=loc, code="PS101"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path} is a directory, not a {what}", location=loc, code="PS101")
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"{what} {path} is not a regular file (a FIFO, a socket or a device)",
                hint="name a file: prodserver reads only regular files",
                location=loc,
                code="PS101",
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {path}: {exc.strerror or exc}", location=loc, code="PS101"
        ) from None
    finally:
        os.close(fd)
    if total > limit:
        raise ConfigError(
            f"{what} {path} is larger than the limit of {limit} bytes",
            hint="is this really a prodserver configuration?",
            location=loc,
            code="PS102",
        )
    return b"".join(chunks)


def read_text(path: Path, *, what: str = "configuration file") -> str:
    """The file's text, with every way that can fail turned into a clear ConfigError."""
    data = read_bounded(path, what=what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ConfigError(
            f"{what} contains a NUL byte", location=Location(path, line), code="PS102"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8",
            location=Location(path, line, col),
            code="PS102",
        ) from None


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
            code="PS103",
        ) from None
    except RecursionError:
        raise ConfigError(
            "invalid TOML: nested too deeply",
            hint="flatten the nested arrays or tables",
            location=Location(path),
            code="PS103",
        ) from None


def _parse_data(text: str, path: Path, kind: SourceKind) -> dict[str, Any]:
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
            code="PS103",
        ) from None
    except ValueError as exc:  # json.JSONDecodeError
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        raise ConfigError(
            f"invalid JSON: {getattr(exc, 'msg', exc)}",
            location=Location(path, line, col),
            code="PS103",
        ) from None
    except ImportError:
        raise ConfigError(
            "reading YAML needs PyYAML", hint="pip install pyyaml", code="PS103"
        ) from None
    except Exception as exc:  # yaml.YAMLError and its subclasses
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            location=Location(
                path, mark.line + 1 if mark else None, mark.column + 1 if mark else None
            ),
            code="PS103",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the configuration must be a table (an object), not {type(data).__name__}",
            location=Location(path),
            code="PS103",
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
                code="PS400",
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
                code="PS400",
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
                    code="PS103",
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


def _split_key(key: str) -> KeyPath:
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
        header = _HEADER.match(line)
        if header and not _KEYLINE.match(line):
            table = _split_key(header.group("key"))
            lines.setdefault(table, number)
            continue
        m = _KEYLINE.match(line)
        if not m:
            continue
        path = table + _split_key(m.group("key"))
        lines.setdefault(path, number)
        rest = line[m.end() :]
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_multiline = quote
        if "{" in rest:
            # members of an inline table on the same line: `healthcheck = { http = "..." }`
            for inner in re.finditer(r"([A-Za-z0-9_-]+)\s*=", rest):
                lines.setdefault((*path, inner.group(1)), number)
    return LineIndex(lines)


def read_source(path: Path) -> RawSource:
    """Read ``path`` (of any supported kind) into a :class:`RawSource`."""
    kind = kind_of(path)
    if kind == "procfile":
        return _read_procfile(path)
    text = read_text(path)
    if kind in ("json", "yaml"):
        return RawSource(path, kind, _parse_data(text, path, kind), LineIndex())
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
                code="PS101",
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
