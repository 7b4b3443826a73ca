"""``.env`` files: the lowest environment layer, read with python-dotenv's parser.

The syntax is python-dotenv's: ``KEY=value``, an optional ``export`` prefix, single or double
quotes (double quotes understand ``\\n``, ``\\t``, ``\\"``, ``\\\\`` and the other C escapes),
quoted values spanning several lines, ``#`` comments (after whitespace, for unquoted values),
empty values (``KEY=``), CRLF line endings and a UTF-8 BOM.

Values are literal, as in honcho: ``${OTHER}`` inside a ``.env`` value is kept as text and
never expanded while reading (python-dotenv's own interpolation is not used), so a password
holding ``$`` arrives intact.

Reading is stricter than python-dotenv, which skips what it cannot parse: a line that cannot be
parsed, a name without ``=`` and a name that is not a valid variable name are errors naming the
file and line; a message shows the name of an offending line, never its value (a line that
cannot be parsed cannot be trusted to say which part is a secret). All of a file's errors
are reported at once. When a name appears twice, the last one wins (as with python-dotenv) and
``lines`` points at it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodserver import codes
from prodserver.config.secrets import MASK
from prodserver.declarations.keys import ENV_NAME_PATTERN, ENV_NAME_RULE
from prodserver.errors import ConfigError, Location, Problem, raise_problems
from prodserver.readfile import read_text

if TYPE_CHECKING:
    from dotenv.parser import Binding

__all__ = ["EnvFile", "parse_env", "parse_env_spec", "read_env_file"]

#: names a .env file may set, as in the configuration's env tables (``${...}`` can use only
#: ``[A-Za-z_][A-Za-z0-9_]*``)
_VALID_NAME = re.compile(ENV_NAME_PATTERN)
_SHOW = 60  # characters of an offending line shown in a message


@dataclass(frozen=True)
class EnvFile:
    """The bindings of one ``.env`` file and the line that set each."""

    path: Path
    values: Mapping[str, str]
    lines: Mapping[str, int]


def parse_env_spec(spec: str) -> tuple[str, bool]:
    """Split an ``env_files`` entry into its name and whether it is optional.

    ``"?.env.local"`` is ``(".env.local", True)``; ``".env"`` is ``(".env", False)``.
    """
    optional = spec.startswith("?")
    name = spec[1:] if optional else spec
    if not name.strip():
        raise ConfigError(
            f"empty env file name {spec!r}",
            hint='name a file, e.g. ".env", or "?.env.local" for an optional one',
            code=codes.EMPTY_ENV_FILE_NAME,
        )
    return name, optional


def read_env_file(path: Path, *, optional: bool = False) -> EnvFile | None:
    """Read and parse the ``.env`` file ``path``; ``None`` when it is optional and missing."""
    if "\x00" in str(path):
        # The OS cannot name such a file; pathlib would raise ValueError.
        raise ConfigError(
            f"env file name {str(path)!r} contains a NUL byte",
            location=Location(key_path="env_files"),
            code=codes.EMPTY_ENV_FILE_NAME,
        )
    if not _exists(path):
        if optional:
            return None
        raise ConfigError(
            f".env file {path} does not exist",
            hint=f'create it, or prefix its name with "?" (e.g. "?{path.name}") '
            "to make it optional",
            location=Location(file=path),
            code=codes.FILE_UNREADABLE,
        )
    # read_text turns every OSError (ENAMETOOLONG, EACCES, a FIFO...) into a PS101 ConfigError
    return parse_env(read_text(path, what=".env file"), path=path)


def _exists(path: Path) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except OSError:  # e.g. a parent directory we may not search: reading reports it clearly
        return True


def parse_env(text: str, *, path: Path) -> EnvFile:
    """Parse the text of a ``.env`` file; ``path`` is used in messages and the result."""
    from dotenv.parser import parse_stream

    # python-dotenv strips a BOM itself; CRLF is folded so multi-line values get plain "\n".
    text = text.replace("\r\n", "\n")
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    for binding in parse_stream(io.StringIO(text)):
        # python-dotenv counts a binding from the blank lines before it: skip them
        raw = binding.original.string
        body = raw.lstrip()
        line = binding.original.line + raw[: len(raw) - len(body)].count("\n")
        problem = _binding_problem(binding, body, Location(file=path, line=line))
        if problem is not None:
            problems.append(problem)
        elif binding.key is not None and binding.value is not None:  # not a blank or comment
            values[binding.key] = binding.value
            lines[binding.key] = line
    raise_problems(problems, f"{path} has {len(problems)} invalid lines")
    return EnvFile(path=path, values=values, lines=lines)


def _binding_problem(binding: Binding, body: str, where: Location) -> Problem | None:
    """What is wrong with one binding of the file (None: a good one, a blank or a comment)."""
    if binding.error:
        line = where.line or 0
        span = body.rstrip("\n").count("\n")
        at = f"lines {line}-{line + span}" if span else f"line {line}"
        return Problem(
            codes.ENV_LINE_SYNTAX,
            f"cannot parse {at}: {_show(body)}",
            where,
            "write NAME=value; quote values with spaces or '#', "
            "and close every quote (a quoted value may span lines)",
        )
    key = binding.key
    if key is None:  # a blank line or a comment
        return None
    if binding.value is None:
        return Problem(
            codes.ENV_LINE_WITHOUT_EQUALS,
            # the word is not shown: a value pasted on a line of its own (a token) looks
            # exactly like a name
            "a word with no '=' and no value (not shown: it may be a secret)",
            where,
            "write NAME= for an empty value, or remove the line "
            "(the shell's environment reaches every process anyway)",
        )
    if not _VALID_NAME.fullmatch(key):
        return Problem(
            codes.ENV_NAME_INVALID, f"{key!r} is not a valid variable name", where, ENV_NAME_RULE
        )
    return None


def _show(original: str) -> str:
    """What a message may show of an offending binding: its name, never its value.

    A ``.env`` file holds secrets under any name (``DJANGO_SK``, a quoted ``"SECRET_KEY"``,
    a pasted token on a line of its own), and a line that cannot be parsed cannot be trusted
    to say where its value starts. So a message shows the text before the first ``=`` when
    it reads as a name, and otherwise nothing of the line at all.
    """
    first = original.split("\n", 1)[0].strip()
    name, eq, _value = first.partition("=")
    name = name.strip()
    bare = name.removeprefix("export ").strip().strip("'\"")
    if not eq or not _VALID_NAME.fullmatch(bare) or len(name) > _SHOW:
        return "(the line is not shown: it may hold a secret)"
    return repr(f"{name}={MASK}" if _value.strip() else f"{name}=")
