"""The ``${VAR}`` grammar of :mod:`prodserver.config.substitute`, parsed into a syntax tree.

Parsing is separate from evaluation: a malformed expression is an error before any variable is
looked at (a typo in an unused default never waits for production), and the tree of a short
string is parsed once and cached (configuration strings repeat across profiles and instances).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

from prodserver import codes
from prodserver.config.secrets import mask_url_passwords
from prodserver.errors import ConfigError, Location

_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
# Longest first so ":-" is not read as an unknown ":" followed by "-".
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_NESTED_STOP = re.compile(r"[${}]")
# Python's own recursion limit must never be what stops a deeply nested expression.
DEPTH_CEILING = 200
_CACHED_LENGTH = 4096
_SYNTAX_HINT = (
    "write $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, "
    "${NAME:+alternative}; use $$ for a literal $"
)


# -- the tree -------------------------------------------------------------------------


class Dollar:
    """A ``$$`` in the source: ``$`` when substituting, ``$$`` again in export mode."""

    __slots__ = ()


DOLLAR = Dollar()


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    op: str | None  # None for $NAME and ${NAME}
    arg: tuple[Node, ...]  # the parsed default, message or alternative
    raw: str  # exactly as written, for export mode


Node = str | Dollar | Var


class SyntaxProblem(Exception):
    """Raised by the cached parser; turned into a ConfigError with the caller's location."""

    def __init__(self, message: str, code: str = codes.BAD_SUBSTITUTION) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def excerpt(text: str, start: int, limit: int = 40) -> str:
    piece = text[start : start + limit]
    return piece + ("..." if len(text) > start + limit else "")


def _parse_level(
    text: str, pos: int, depth: int, max_depth: int, *, balance: bool = True
) -> tuple[tuple[Node, ...], int]:
    """Parse from ``pos``; at depth > 0 stop after the ``}`` that closes this level.

    With ``balance``, a ``{`` inside the word makes the next ``}`` literal text.
    """
    nodes: list[Node] = []
    n = len(text)
    braces = 0
    while True:
        if depth:
            m = _NESTED_STOP.search(text, pos)
            i = m.start() if m else -1
        else:
            i = text.find("$", pos)
        if i < 0:
            if depth:
                raise SyntaxProblem("unclosed '${'")
            if pos < n:
                nodes.append(text[pos:])
            return tuple(nodes), n
        if i > pos:
            nodes.append(text[pos:i])
        if text[i] == "{":  # only reachable when depth > 0
            braces += balance
            nodes.append("{")
            pos = i + 1
            continue
        if text[i] == "}":  # only reachable when depth > 0
            if braces:
                braces -= 1
                nodes.append("}")
                pos = i + 1
                continue
            return tuple(nodes), i + 1
        node, pos = _parse_dollar(text, i, depth, max_depth)
        nodes.append(node)


def _parse_dollar(text: str, i: int, depth: int, max_depth: int) -> tuple[Node, int]:
    """The node that the ``$`` at ``i`` starts, and the index after it."""
    n = len(text)
    nxt = text[i + 1] if i + 1 < n else ""
    if nxt == "$":
        return DOLLAR, i + 2
    if nxt in _NAME_START:
        j = i + 2
        while j < n and text[j] in _NAME_CHARS:
            j += 1
        return Var(text[i + 1 : j], None, (), text[i:j]), j
    if nxt == "{":
        return _parse_braced(text, i, depth, max_depth)
    # Compose keeps a "$" that starts no expression: "$1", "$(", "$ ", a trailing "$".
    return "$", i + 1


def _parse_braced(text: str, start: int, depth: int, max_depth: int) -> tuple[Var, int]:
    """Parse the ``${...}`` that starts at ``start``; return it and the index after it."""
    n = len(text)
    j = start + 2
    if j < n and text[j] in _NAME_START:
        j += 1
        while j < n and text[j] in _NAME_CHARS:
            j += 1
    name = text[start + 2 : j]
    if j >= n:
        raise SyntaxProblem(f"unclosed '${{' in {excerpt(text, start)!r}")
    if not name:
        if text[j] == "}":
            raise SyntaxProblem("empty '${}'")
        raise SyntaxProblem(f"invalid variable name in {excerpt(text, start)!r}")
    if text[j] == "}":
        return Var(name, None, (), text[start : j + 1]), j + 1
    op = next((o for o in _OPERATORS if text.startswith(o, j)), None)
    if op is None:
        raise SyntaxProblem(f"unexpected {text[j]!r} after ${{{name} in {excerpt(text, start)!r}")
    if depth + 1 > max_depth:
        raise SyntaxProblem(
            f"expressions nested more than {max_depth} levels deep",
            code=codes.SUBSTITUTION_TOO_DEEP,
        )
    try:
        try:
            arg, end = _parse_level(text, j + len(op), depth + 1, max_depth)
        except SyntaxProblem as exc:
            if exc.message != "unclosed '${'":
                raise
            # a "{" of the word that never closes: the first "}" ends it (as in Compose)
            arg, end = _parse_level(text, j + len(op), depth + 1, max_depth, balance=False)
    except SyntaxProblem as exc:
        if exc.message == "unclosed '${'":
            raise SyntaxProblem(f"unclosed '${{' in {excerpt(text, start)!r}") from None
        raise
    return Var(name, op, arg, text[start:end]), end


def parse(text: str, max_depth: int) -> tuple[Node, ...]:
    # Configuration strings repeat across profiles and instances: parse each short one once,
    # and never let the cache hold on to huge strings.
    if len(text) <= _CACHED_LENGTH:
        return _parse_cached(text, max_depth)
    return _parse_level(text, 0, 0, min(max_depth, DEPTH_CEILING))[0]


@lru_cache(maxsize=2048)
def _parse_cached(text: str, max_depth: int) -> tuple[Node, ...]:
    return _parse_level(text, 0, 0, min(max_depth, DEPTH_CEILING))[0]


def syntax_error(exc: SyntaxProblem, text: str, where: Location | None) -> ConfigError:
    hint = (
        "flatten the nested defaults" if exc.code == codes.SUBSTITUTION_TOO_DEEP else _SYNTAX_HINT
    )
    # The text is the configuration as written, but it may still hold a literal URL password.
    message = mask_url_passwords(f"invalid substitution in {excerpt(text, 0, 80)!r}: {exc.message}")
    return ConfigError(
        message,
        hint=hint,
        location=where,
        code=exc.code,
    )
