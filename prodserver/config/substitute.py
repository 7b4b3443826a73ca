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
``max_depth`` levels; they are evaluated only when used. As in Compose, braces inside a word
balance: ``${JSON:-{"a":1}}`` gives ``{"a":1}``, and the first ``}`` that closes no ``{`` of
the word ends the expression. A word whose ``{`` never closes (``${A:-{x}``) ends at the first
``}``, as Compose reads it too.

Like Compose, a ``$`` followed by anything other than a name, ``{`` or ``$`` is kept as written:
``$1``, ``$ ``, a trailing ``$`` and ``$(date)`` stay literal text. There is no command
substitution and no recursion: the value of a variable is inserted as is and never scanned again,
so a value holding ``${OTHER}`` stays ``${OTHER}``.

Malformed expressions are errors: an unclosed ``${``, ``${}``, ``${ A}``, ``${A B}``, ``${1}``,
or an unknown operator (``${A:x}``).

**Kept references.** When ``keep`` is given and returns True for a variable that an expression
consults, that whole top-level expression stays a reference: ``Substituted.template`` holds it
as a :class:`~prodserver.template.Ref` (with its modifier and its unevaluated word) beside the
literal text, and each consumer renders it in its own syntax. ``Substituted.text`` is the same
value as Compose interpolation text (every literal ``$`` written ``$$``). Without ``keep``,
``$$`` simply becomes ``$``. A variable is only consulted when its value is needed: in
``${A:-${PORT}}`` with ``A`` set and non-empty, ``PORT`` is never looked at and the value of
``A`` is used. :func:`parse_template` reads interpolation text as a template, every
expression a reference.

The parser of the grammar is :mod:`.substitute_syntax`; this module evaluates its tree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from prodserver import codes
from prodserver.config.substitute_syntax import (
    DEPTH_CEILING,
    Dollar,
    Node,
    SyntaxProblem,
    Var,
    parse,
    syntax_error,
)
from prodserver.errors import ConfigError, Location
from prodserver.template import Piece, Ref, Template

__all__ = ["Substituted", "is_whole_expression", "parse_template", "references", "substitute"]


@dataclass(frozen=True, slots=True)
class Substituted:
    """The result of :func:`substitute`.

    ``whole`` is True when the input was exactly one expression (``"${WORKERS:-2}"``), so the
    caller may coerce ``text`` to the type the schema asks for (unless ``kept``). ``unset`` names
    the variables that were unset without a default and became empty (the caller warns).
    ``kept`` is True when at least one expression was written back verbatim for ``keep``.
    ``used`` names every variable whose value was consulted, in order of first use.
    ``template`` is the result as data: literal text and, for each kept expression, a
    :class:`~prodserver.template.Ref` (``text`` is the same value as interpolation text).
    """

    text: str
    whole: bool
    unset: tuple[str, ...]
    kept: bool
    used: tuple[str, ...]
    template: Template = field(default_factory=Template, compare=False)


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
        #: the top level as data: literal text and kept references
        self.pieces: list[Piece] = []

    def join(self, nodes: tuple[Node, ...], *, top: bool) -> str:
        # In export mode the top level writes template syntax: literal "$" doubled, kept
        # expressions as written. Below the top level everything is plain text.
        template = top and self.keep is not None
        parts: list[str] = []
        size = 0
        for node in nodes:
            if isinstance(node, str):
                piece = node.replace("$", "$$") if template else node
                if top:
                    self.pieces.append(node)
            elif isinstance(node, Dollar):
                piece = "$$" if template else "$"
                if top:
                    self.pieces.append("$")
            elif template:
                try:
                    value = self.value(node)
                    piece = value.replace("$", "$$")
                    self.pieces.append(value)
                except _Kept:
                    self.kept = True
                    piece = node.raw
                    self.pieces.append(_ref(node))
            else:
                piece = self.value(node)
                if top:
                    self.pieces.append(piece)
            size += len(piece)
            if size > self.max_output:
                raise ConfigError(
                    f"substitution produces more than {self.max_output} characters",
                    hint="a variable is repeated too often or holds a huge value; "
                    "check the expression and the variables it uses",
                    location=self.where,
                    code=codes.SUBSTITUTION_TOO_LONG,
                )
            parts.append(piece)
        return "".join(parts)

    def value(self, var: Var) -> str:
        name, op = var.name, var.op
        self.used[name] = None
        if self.keep is not None and self.keep(name):
            raise _Kept
        value = self.lookup.get(name)
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

    def _required(self, var: Var, value: str | None) -> NoReturn:
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
            code=codes.REQUIRED_VARIABLE_MISSING,
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
        return Substituted(text, False, (), False, (), Template.of(text))
    try:
        nodes = parse(text, max_depth)
    except SyntaxProblem as exc:
        raise syntax_error(exc, text, where) from None
    ev = _Evaluator(lookup, keep, where, max_output)
    result = ev.join(nodes, top=True)
    whole = len(nodes) == 1 and isinstance(nodes[0], Var)
    # without ``keep`` the top level's pieces are the text's own: Template.of(*ev.pieces),
    # without merging them again
    template = Template.of(*ev.pieces) if keep is not None else Template.of(result)
    return Substituted(result, whole, tuple(ev.unset), ev.kept, tuple(ev.used), template)


def _ref(var: Var) -> Ref:
    return Ref(var.name, var.op, _pieces(var.arg))


def _pieces(nodes: tuple[Node, ...]) -> tuple[Piece, ...]:
    out: list[Piece] = []
    for node in nodes:
        if isinstance(node, Dollar):
            out.append("$")
        elif isinstance(node, Var):
            out.append(_ref(node))
        else:
            out.append(node)
    return Template.of(*out).pieces


def parse_template(text: str) -> Template:
    """Interpolation ``text`` as a template, every expression kept as a reference.

    Raises :class:`ConfigError` when ``text`` holds a malformed expression.
    """
    if "$" not in text:
        return Template.of(text)
    try:
        nodes = parse(text, DEPTH_CEILING)
    except SyntaxProblem as exc:
        raise syntax_error(exc, text, None) from None
    return Template(_pieces(nodes))


def references(text: str) -> tuple[str, ...]:
    """Every variable ``text`` refers to, defaults included, in order of first appearance.

    Raises :class:`ConfigError` when ``text`` holds a malformed expression.
    """
    if "$" not in text:
        return ()
    try:
        nodes = parse(text, DEPTH_CEILING)
    except SyntaxProblem as exc:
        raise syntax_error(exc, text, None) from None
    found: dict[str, None] = {}
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, Var):
            found[node.name] = None
            stack.extend(reversed(node.arg))
    return tuple(found)


def is_whole_expression(text: str) -> bool:
    """True when ``text`` is exactly one expression (``"$PORT"``, ``"${WORKERS:-2}"``)."""
    if not text.startswith("$"):
        return False
    try:
        nodes = parse(text, DEPTH_CEILING)
    except SyntaxProblem:
        return False
    return len(nodes) == 1 and isinstance(nodes[0], Var)
