"""Values that stay references: literal text and ``${NAME}`` references, as data.

A value the configuration leaves to where an export runs (the platform's ``PORT``, a secret, a
variable the deploying machine provides) is a :class:`Template`: literal pieces and
:class:`Ref` pieces, each reference with its modifier (``${X:-default}``). It is built once, by
the one substitution grammar (:mod:`prodserver.config.substitute`), carried by the model, and
rendered by each consumer in its own syntax: ``up`` materialises it against the environment,
each exporter writes it in its format (a shell word, Compose ``${}``, Kubernetes ``$()``,
systemd ``${}``, supervisord ``%(ENV_X)s``), escaping the literal text for that format. Nothing
parses interpolation text a second time.

This module imports nothing of prodserver but :mod:`prodserver.records`: the configuration,
the backends and the exporters all use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from prodserver.records import NamedTuple, dataclass_view

__all__ = ["Deferred", "Piece", "Placeholders", "Ref", "Template"]


@dataclass_view
class Ref(NamedTuple):
    """A reference to a variable resolved where the value is used: ``${name<op><word>}``."""

    name: str
    #: ``None`` for a plain ``${NAME}``; otherwise one of ``:- - :? ? :+ +``
    op: str | None = None
    #: the modifier's word (the default, message or alternative), itself pieces
    word: tuple[Piece, ...] = ()


Piece = str | Ref


def _merge(pieces: list[Piece]) -> tuple[Piece, ...]:
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + piece
                continue
        out.append(piece)
    return tuple(out)


def _refs(pieces: tuple[Piece, ...]) -> Iterator[Ref]:
    for piece in pieces:
        if isinstance(piece, Ref):
            yield piece
            yield from _refs(piece.word)


def _evaluate(ref: Ref, value: str | None, word: tuple[Piece, ...]) -> tuple[Piece, ...] | None:
    """The pieces a reference stands for when its variable's value is known (Compose rules).

    ``None`` for a ``?`` modifier whose variable is missing (the caller decides what to do).
    """
    op = ref.op
    missing = value is None or (op is not None and op.startswith(":") and value == "")
    if op is None:
        return (value or "",)
    if op.endswith("+"):
        return () if missing else word
    if not missing:
        return (value or "",)
    if op.endswith("-"):
        return word
    return None


@dataclass_view
class Template(NamedTuple):
    """Literal text and references: one argv word, environment value or probe target."""

    pieces: tuple[Piece, ...] = ()

    @classmethod
    def of(cls, *pieces: Piece) -> Template:
        """A template from pieces; adjacent literal pieces are merged, empty ones dropped."""
        return cls(_merge(list(pieces)))

    @property
    def is_literal(self) -> bool:
        """Whether the value holds no reference."""
        for piece in self.pieces:  # noqa: SIM110 - a loop, not all(): called for every value
            if isinstance(piece, Ref):
                return False
        return True

    @property
    def literal(self) -> str:
        """The text of a reference-free value (raises ``ValueError`` if it holds one)."""
        if not self.is_literal:
            raise ValueError("the value holds a reference")
        return "".join(p for p in self.pieces if isinstance(p, str))

    def refs(self) -> Iterator[Ref]:
        """Every reference, nested ones (inside a modifier's word) included."""
        return _refs(self.pieces)

    def names(self) -> set[str]:
        """The names of the variables the value refers to."""
        return {ref.name for ref in self.refs()}

    def has_modifier(self) -> bool:
        """Whether a reference uses a modifier (``${X:-d}``), which only a shell evaluates."""
        return any(ref.op is not None for ref in self.refs())

    def with_values(self, values: Mapping[str, str]) -> Template:
        """References to names in ``values`` replaced by their value (modifiers evaluated).

        Used where a format fixes a variable itself (``PORT`` inside a container).
        """
        return Template(_with_values(self.pieces, values))

    def inline(self, definitions: Mapping[str, Template], depth: int = 8) -> Template:
        """References to ``definitions`` replaced by the definitions' own pieces.

        For a format that resolves every reference from outside (Compose reads ``${X}`` from
        the shell it runs in, not from the container's environment). A reference with a
        modifier is replaced only when the definition is literal.
        """
        return Template(_inline(self.pieces, definitions, depth)).with_values({})

    def materialise(self, env: Mapping[str, str]) -> str:
        """The text the value stands for in ``env`` (a missing required variable is empty)."""
        return "".join(_materialise(self.pieces, env))

    def compose_text(self) -> str:
        """The value in Docker Compose's interpolation syntax (a literal ``$`` is ``$$``)."""
        return _compose_text(self.pieces)


def _with_values(pieces: tuple[Piece, ...], values: Mapping[str, str]) -> tuple[Piece, ...]:
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        word = _with_values(piece.word, values)
        if piece.name in values:
            done = _evaluate(piece, values[piece.name], word)
            out.extend(done if done is not None else (values[piece.name],))
        else:
            out.append(Ref(piece.name, piece.op, word))
    return _merge(out)


def _inline(
    pieces: tuple[Piece, ...], definitions: Mapping[str, Template], depth: int
) -> tuple[Piece, ...]:
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Ref) and piece.name in definitions and depth:
            definition = definitions[piece.name]
            if piece.op is None:
                out.extend(_inline(definition.pieces, definitions, depth - 1))
                continue
            if definition.is_literal:
                out.extend(_with_values((piece,), {piece.name: definition.literal}))
                continue
        if isinstance(piece, Ref) and piece.word:
            out.append(Ref(piece.name, piece.op, _inline(piece.word, definitions, depth)))
        else:
            out.append(piece)
    return _merge(out)


def _materialise(pieces: tuple[Piece, ...], env: Mapping[str, str]) -> Iterator[str]:
    for piece in pieces:
        if isinstance(piece, str):
            yield piece
            continue
        done = _evaluate(piece, env.get(piece.name), piece.word)
        yield from _materialise(done or (), env)


def _compose_text(pieces: tuple[Piece, ...]) -> str:
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("$", "$$"))
        elif piece.op is None:
            out.append("${" + piece.name + "}")
        else:
            out.append("${" + piece.name + piece.op + _compose_text(piece.word) + "}")
    return "".join(out)


class Deferred(str):
    """A typed option's value left to where the export runs (``workers = "${N:-2}"``).

    It is the placeholder text of one reference (see :class:`Placeholders`): a backend writes
    it into argv like any value, and never converts it (a unit conversion of a value known only
    later is impossible; the platform's value must already be in the flag's unit).
    """

    __slots__ = ()


#: one character of Unicode's supplementary private use area stands for one reference while a
#: value passes through code that only handles text (a backend building argv)
_FIRST = 0xF0000
_LAST = 0xFFFFD
PLACEHOLDER = re.compile(f"[{chr(_FIRST)}-{chr(_LAST)}]")


class Placeholders:
    """Stands references in for text while a value passes through string-only code.

    A backend builds argv from option values with string operations (``host:port`` splits,
    f-strings); each reference travels through it as one private-use character, and the
    resulting words are turned back into templates. User text may not hold these characters
    (:meth:`check` finds them), so a placeholder can never be forged.
    """

    def __init__(self) -> None:
        self._refs: list[Ref] = []
        self._index: dict[Ref, int] = {}

    def encode(self, template: Template) -> str:
        """The template as text, each reference a placeholder character."""
        out: list[str] = []
        for piece in template.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            index = self._index.get(piece)
            if index is None:
                index = len(self._refs)
                if _FIRST + index > _LAST:
                    raise OverflowError("too many references")
                self._refs.append(piece)
                self._index[piece] = index
            out.append(chr(_FIRST + index))
        return "".join(out)

    @property
    def handed_out(self) -> bool:
        """Whether any placeholder was handed out: if not, no text holds one."""
        return bool(self._refs)

    def holds(self, text: str) -> bool:
        """Whether ``text`` holds a placeholder this object handed out (cheap: no template)."""
        return bool(self._refs) and PLACEHOLDER.search(text) is not None

    def decode(self, text: str) -> Template:
        """Text with placeholders back to a template.

        Only the placeholders this object handed out are references: with none handed out
        (a resolution that kept nothing), any text is literal.
        """
        if not self._refs or not PLACEHOLDER.search(text):
            return Template((text,) if text else ())  # Template.of(text), without the merge
        pieces: list[Piece] = []
        pos = 0
        for match in PLACEHOLDER.finditer(text):
            index = ord(match.group()) - _FIRST
            if index >= len(self._refs):
                continue
            pieces.append(text[pos : match.start()])
            pieces.append(self._refs[index])
            pos = match.end()
        pieces.append(text[pos:])
        return Template.of(*pieces)

    def shown(self, text: str) -> str:
        """``text`` fit for a message: each placeholder as the ``${...}`` it stands for.

        Messages are written while values pass through as placeholders (a typed option found
        to hold a reference); a user must read what they wrote, never a private-use character.
        """
        if not self._refs or not PLACEHOLDER.search(text):
            return text

        def one(match: re.Match[str]) -> str:
            index = ord(match.group()) - _FIRST
            if index >= len(self._refs):
                return match.group()
            return Template.of(self._refs[index]).compose_text()

        return PLACEHOLDER.sub(one, text)

    @staticmethod
    def check(text: str) -> str | None:
        """The first placeholder character in user text, or None."""
        match = PLACEHOLDER.search(text)
        return match.group() if match else None
