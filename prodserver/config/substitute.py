"""Step 4 of resolution: ``${VAR}`` substitution, compatible with Docker Compose interpolation.

The grammar, for a variable name ``NAME`` (``[A-Za-z_][A-Za-z0-9_]*``, ASCII only):

==================  ==========================================================================
``$NAME``           the value of NAME; unset becomes empty and is reported in ``unset``
``${NAME}``         the same, delimited
``${NAME:-word}``   ``word`` when NAME is unset *or empty*
``${NAME-word}``    ``word`` when NAME is unset
``${NAME:?msg}``    an error naming NAME, ``msg`` and the key path when NAME is unset or empty
``${NAME?msg}``     the same, only when NAME is unset
``${NAME:+word}``   ``word`` when NAME is set and not empty, else empty
``${NAME+word}``    ``word`` when NAME is set (even empty), else empty
``$$``              a literal ``$``
==================  ==========================================================================

``word`` and ``msg`` may themselves hold expressions (``${A:-${B:-x}}``), nested up to
``max_depth`` levels; they are evaluated only when used. Only ``${`` opens a nested level, so a
``}`` inside a default always closes the expression (there is no escape for it).

Like Compose, a ``$`` followed by anything other than a name, ``{`` or ``$`` is kept as written:
``$1``, ``$ ``, a trailing ``$`` and ``$(date)`` stay literal text. There is no command
substitution and no recursion: the value of a variable is inserted as is and never scanned again,
so a value holding ``${OTHER}`` stays ``${OTHER}``.

Malformed expressions are errors: an unclosed ``${``, ``${}``, ``${ A}``, ``${A B}``, ``${1}``,
or an unknown operator (``${A:x}``).

**Export mode.** When ``keep`` is given and returns True for a variable that an expression
consults, that whole top-level expression is written back exactly as it was written
(``${PORT:-8000}`` stays ``${PORT:-8000}``) so the consumer (Compose, a shell, systemd) resolves it
at run time. In that mode the output as a whole stays valid interpolation syntax: every literal
``$`` of the result (from ``$$``, a lone ``$``, a variable's value or an evaluated default) is
written as ``$$``, so each single ``$`` left in the output starts a kept expression and an
exporter can translate both reliably. Without ``keep``, ``$$`` simply becomes ``$``. A variable is
only consulted when its value is needed: in ``${A:-${PORT}}`` with ``A`` set and non-empty,
``PORT`` is never looked at and the value of ``A`` is used.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NoReturn

from prodserver.config.secrets import mask_url_passwords
from prodserver.errors import ConfigError, Location

__all__ = ["Substituted", "is_whole_expression", "references", "substitute"]

_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
# Longest first so ":-" is not read as an unknown ":" followed by "-".
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_NESTED_STOP = re.compile(r"[$}]")
# Python's own recursion limit must never be what stops a deeply nested expression.
_DEPTH_CEILING = 200
_CACHED_LENGTH = 4096
_SYNTAX_HINT = (
    "write $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, "
    "${NAME:+alternative}; use $$ for a literal $"
)


@dataclass(frozen=True, slots=True)
class Substituted:
    """The result of :func:`substitute`.

    ``whole`` is True when the input was exactly one expression (``"${WORKERS:-2}"``), so the
    caller may coerce ``text`` to the type the schema asks for (unless ``kept``). ``unset`` names
    the variables that were unset without a default and became empty (the caller warns).
    ``kept`` is True when at least one expression was written back verbatim for ``keep``.
    ``used`` names every variable whose value was consulted, in order of first use.
    """

    text: str
    whole: bool
    unset: tuple[str, ...]
    kept: bool
    used: tuple[str, ...]


# -- the syntax tree -------------------------------------------------------------------------


class _Dollar:
    """A ``$$`` in the source: ``$`` when substituting, ``$$`` again in export mode."""

    __slots__ = ()


_DOLLAR = _Dollar()


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    op: str | None  # None for $NAME and ${NAME}
    arg: tuple[_Node, ...]  # the parsed default, message or alternative
    raw: str  # exactly as written, for export mode


_Node = str | _Dollar | _Var


class _SyntaxProblem(Exception):
    """Raised by the cached parser; turned into a ConfigError with the caller's location."""

    def __init__(self, message: str, code: str = "PS130") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _excerpt(text: str, start: int, limit: int = 40) -> str:
    piece = text[start : start + limit]
    return piece + ("..." if len(text) > start + limit else "")


def _parse_level(text: str, pos: int, depth: int, max_depth: int) -> tuple[tuple[_Node, ...], int]:
    """Parse from ``pos``; at depth > 0 stop after the ``}`` that closes this level."""
    nodes: list[_Node] = []
    n = len(text)
    while True:
        if depth:
            m = _NESTED_STOP.search(text, pos)
            i = m.start() if m else -1
        else:
            i = text.find("$", pos)
        if i < 0:
            if depth:
                raise _SyntaxProblem("unclosed '${'")
            if pos < n:
                nodes.append(text[pos:])
            return tuple(nodes), n
        if i > pos:
            nodes.append(text[pos:i])
        if text[i] == "}":  # only reachable when depth > 0
            return tuple(nodes), i + 1
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            nodes.append(_DOLLAR)
            pos = i + 2
        elif nxt in _NAME_START:
            j = i + 2
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            nodes.append(_Var(text[i + 1 : j], None, (), text[i:j]))
            pos = j
        elif nxt == "{":
            var, pos = _parse_braced(text, i, depth, max_depth)
            nodes.append(var)
        else:
            # Compose keeps a "$" that starts no expression: "$1", "$(", "$ ", a trailing "$".
            nodes.append("$")
            pos = i + 1


def _parse_braced(text: str, start: int, depth: int, max_depth: int) -> tuple[_Var, int]:
    """Parse the ``${...}`` that starts at ``start``; return it and the index after it."""
    n = len(text)
    j = start + 2
    if j < n and text[j] in _NAME_START:
        j += 1
        while j < n and text[j] in _NAME_CHARS:
            j += 1
    name = text[start + 2 : j]
    if j >= n:
        raise _SyntaxProblem(f"unclosed '${{' in {_excerpt(text, start)!r}")
    if not name:
        if text[j] == "}":
            raise _SyntaxProblem("empty '${}'")
        raise _SyntaxProblem(f"invalid variable name in {_excerpt(text, start)!r}")
    if text[j] == "}":
        return _Var(name, None, (), text[start : j + 1]), j + 1
    op = next((o for o in _OPERATORS if text.startswith(o, j)), None)
    if op is None:
        raise _SyntaxProblem(f"unexpected {text[j]!r} after ${{{name} in {_excerpt(text, start)!r}")
    if depth + 1 > max_depth:
        raise _SyntaxProblem(f"expressions nested more than {max_depth} levels deep", code="PS133")
    try:
        arg, end = _parse_level(text, j + len(op), depth + 1, max_depth)
    except _SyntaxProblem as exc:
        if exc.message == "unclosed '${'":
            raise _SyntaxProblem(f"unclosed '${{' in {_excerpt(text, start)!r}") from None
        raise
    return _Var(name, op, arg, text[start:end]), end


def _parse(text: str, max_depth: int) -> tuple[_Node, ...]:
    # Configuration strings repeat across profiles and instances: parse each short one once,
    # and never let the cache hold on to huge strings.
    if len(text) <= _CACHED_LENGTH:
        return _parse_cached(text, max_depth)
    return _parse_level(text, 0, 0, min(max_depth, _DEPTH_CEILING))[0]


@lru_cache(maxsize=2048)
def _parse_cached(text: str, max_depth: int) -> tuple[_Node, ...]:
    return _parse_level(text, 0, 0, min(max_depth, _DEPTH_CEILING))[0]


def _syntax_error(exc: _SyntaxProblem, text: str, where: Location | None) -> ConfigError:
    hint = "flatten the nested defaults" if exc.code == "PS133" else _SYNTAX_HINT
    # The text is the configuration as written, but it may still hold a literal URL password.
    message = mask_url_passwords(
        f"invalid substitution in {_excerpt(text, 0, 80)!r}: {exc.message}"
    )
    return ConfigError(
        message,
        hint=hint,
        location=where,
        code=exc.code,
    )


# -- evaluation ------------------------------------------------------------------------------


class _Kept(Exception):
    """A kept variable was consulted: the enclosing top-level expression stays verbatim."""


class _Evaluator:
    def __init__(
        self,
        lookup: Mapping[str, str],
        keep: Callable[[str], bool] | None,
        where: Location | None,
        max_output: int,
    ) -> None:
        self.lookup = lookup
        self.keep = keep
        self.where = where
        self.max_output = max_output
        self.used: dict[str, None] = {}  # ordered set
        self.unset: dict[str, None] = {}
        self.kept = False

    def join(self, nodes: tuple[_Node, ...], *, top: bool) -> str:
        # In export mode the top level writes template syntax: literal "$" doubled, kept
        # expressions as written. Below the top level everything is plain text.
        template = top and self.keep is not None
        parts: list[str] = []
        size = 0
        for node in nodes:
            if isinstance(node, str):
                piece = node.replace("$", "$$") if template else node
            elif isinstance(node, _Dollar):
                piece = "$$" if template else "$"
            elif template:
                try:
                    piece = self.value(node).replace("$", "$$")
                except _Kept:
                    self.kept = True
                    piece = node.raw
            else:
                piece = self.value(node)
            size += len(piece)
            if size > self.max_output:
                raise ConfigError(
                    f"substitution produces more than {self.max_output} characters",
                    hint="a variable is repeated too often or holds a huge value; "
                    "check the expression and the variables it uses",
                    location=self.where,
                    code="PS132",
                )
            parts.append(piece)
        return "".join(parts)

    def value(self, var: _Var) -> str:
        name, op = var.name, var.op
        self.used[name] = None
        if self.keep is not None and self.keep(name):
            raise _Kept
        value = self.lookup.get(name)
        if value is not None and self.keep is not None:
            # In export mode the lookup holds templates: a variable that is not kept has only
            # literal text, each "$" written "$$". Back to plain text, as everything below
            # expects (the top level doubles it again once), or "pa$word" came out "pa$$word".
            value = value.replace("$$", "$")
        if op is None:
            if value is None:
                self.unset[name] = None
                return ""
            return value
        if value is None or (op[0] == ":" and value == ""):
            if op[-1] == "-":
                return self.join(var.arg, top=False)
            if op[-1] == "?":
                self._required(var, value)
            return ""  # "+": no alternative for a missing variable
        if op[-1] == "+":
            return self.join(var.arg, top=False)
        return value

    def _required(self, var: _Var, value: str | None) -> NoReturn:
        message = self.join(var.arg, top=False).strip()
        state = "not set" if value is None else "empty"
        at = f" (needed by {self.where.key_path})" if self.where and self.where.key_path else ""
        text = f"{var.name} is {state}{at}"
        if message:
            text += f": {message}"
        raise ConfigError(
            text,
            hint=f"set {var.name} in the environment, a .env file or an [env] table",
            location=self.where,
            code="PS131",
        )


# -- the public functions --------------------------------------------------------------------


def substitute(
    text: str,
    lookup: Mapping[str, str],
    *,
    keep: Callable[[str], bool] | None = None,
    where: Location | None = None,
    max_output: int = 1 << 20,
    max_depth: int = 16,
) -> Substituted:
    """Substitute every expression in ``text`` with values from ``lookup`` (single pass).

    Raises :class:`ConfigError` for a malformed expression (PS130), a ``${NAME:?msg}`` whose
    variable is missing (PS131), an output longer than ``max_output`` characters (PS132) or
    defaults nested deeper than ``max_depth`` (PS133). See the module docstring for the grammar
    and for export mode (``keep``).
    """
    if "$" not in text:
        return Substituted(text, False, (), False, ())
    try:
        nodes = _parse(text, max_depth)
    except _SyntaxProblem as exc:
        raise _syntax_error(exc, text, where) from None
    ev = _Evaluator(lookup, keep, where, max_output)
    result = ev.join(nodes, top=True)
    whole = len(nodes) == 1 and isinstance(nodes[0], _Var)
    return Substituted(result, whole, tuple(ev.unset), ev.kept, tuple(ev.used))


def references(text: str) -> tuple[str, ...]:
    """Every variable ``text`` refers to, defaults included, in order of first appearance.

    Raises :class:`ConfigError` when ``text`` holds a malformed expression.
    """
    if "$" not in text:
        return ()
    try:
        nodes = _parse(text, _DEPTH_CEILING)
    except _SyntaxProblem as exc:
        raise _syntax_error(exc, text, None) from None
    found: dict[str, None] = {}
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, _Var):
            found[node.name] = None
            stack.extend(reversed(node.arg))
    return tuple(found)


def is_whole_expression(text: str) -> bool:
    """True when ``text`` is exactly one expression (``"$PORT"``, ``"${WORKERS:-2}"``)."""
    if not text.startswith("$"):
        return False
    try:
        nodes = _parse(text, _DEPTH_CEILING)
    except _SyntaxProblem:
        return False
    return len(nodes) == 1 and isinstance(nodes[0], _Var)
