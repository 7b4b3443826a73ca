"""Reading the Compose-style interpolation text of an export resolution.

In a resolution made with ``for_export=True`` every argv word and environment value is text in
Docker Compose's interpolation syntax: a variable known only at run time stays a reference
(``${PORT}``, ``${SECRET_KEY}``, possibly with a modifier such as ``${X:-default}``) and a
literal dollar sign is written ``$$``. Each exporter needs that text in its own syntax, so it is
parsed once here into literal pieces and :class:`Ref` pieces, and each format renders them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from prodserver.errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the modifiers Compose (and POSIX sh) understand, longest first so ":-" wins over "-"
_OPS = (":-", ":?", ":+", "-", "?", "+")


@dataclass(frozen=True)
class Ref:
    """A reference to a variable resolved where the export runs: ``${name<op><word>}``."""

    name: str
    #: ``None`` for a plain ``${NAME}``; otherwise one of ``:- - :? ? :+ +``
    op: str | None = None
    #: the modifier's word, itself interpolation pieces
    word: tuple[Piece, ...] = ()


Piece = str | Ref


def parse(text: str) -> tuple[Piece, ...]:
    """Split interpolation ``text`` into literal strings and :class:`Ref` pieces.

    Adjacent literal characters are merged, so a word without references parses to one
    string (or to nothing for the empty string).
    """
    pieces, end = _parse(text, 0, nested=False)
    assert end == len(text)
    return pieces


def _parse(text: str, pos: int, *, nested: bool) -> tuple[tuple[Piece, ...], int]:
    out: list[Piece] = []
    literal: list[str] = []
    while pos < len(text):
        char = text[pos]
        if nested and char == "}":
            break
        if char != "$":
            literal.append(char)
            pos += 1
            continue
        nxt = text[pos + 1 : pos + 2]
        if nxt == "$":
            literal.append("$")
            pos += 2
            continue
        if nxt == "{":
            ref, pos = _parse_braced(text, pos + 2)
            if literal:
                out.append("".join(literal))
                literal = []
            out.append(ref)
            continue
        match = _NAME.match(text, pos + 1)
        if match:
            if literal:
                out.append("".join(literal))
                literal = []
            out.append(Ref(match.group()))
            pos = match.end()
            continue
        # A lone "$" is literal text in Compose as in sh.
        literal.append("$")
        pos += 1
    if literal:
        out.append("".join(literal))
    return tuple(out), pos


def _parse_braced(text: str, pos: int) -> tuple[Ref, int]:
    match = _NAME.match(text, pos)
    if not match:
        raise _malformed(text)
    name = match.group()
    pos = match.end()
    if text[pos : pos + 1] == "}":
        return Ref(name), pos + 1
    for op in _OPS:
        if text.startswith(op, pos):
            word, end = _parse(text, pos + len(op), nested=True)
            if text[end : end + 1] != "}":
                raise _malformed(text)
            return Ref(name, op, word), end + 1
    raise _malformed(text)


def _malformed(text: str) -> ConfigError:
    # The resolver only hands over well-formed text; this names the value if it did not.
    return ConfigError(
        f"cannot export {text!r}: it is not valid interpolation text",
        hint="write a literal $ as $$ and references as ${NAME}",
        code="PS630",
    )


def refs(pieces: tuple[Piece, ...]) -> Iterator[Ref]:
    """Every reference in ``pieces``, nested ones (inside a modifier's word) included."""
    for piece in pieces:
        if isinstance(piece, Ref):
            yield piece
            yield from refs(piece.word)


def names(text: str) -> set[str]:
    """The names of the variables ``text`` refers to."""
    return {ref.name for ref in refs(parse(text))}


def is_literal(text: str) -> bool:
    """Whether ``text`` holds no reference (only literal text and ``$$``)."""
    return not any(isinstance(p, Ref) for p in parse(text))


def literal(text: str) -> str:
    """The literal value of reference-free ``text`` (``$$`` becomes ``$``)."""
    pieces = parse(text)
    assert all(isinstance(p, str) for p in pieces), text
    return "".join(p for p in pieces if isinstance(p, str))


def has_modifier(pieces: tuple[Piece, ...]) -> bool:
    """Whether any reference uses a modifier (``${X:-d}``) that only a shell can evaluate."""
    return any(ref.op is not None for ref in refs(pieces))


def compose_text(pieces: tuple[Piece, ...]) -> str:
    """Pieces back to Compose interpolation text (the inverse of :func:`parse`)."""
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("$", "$$"))
        elif piece.op is None:
            out.append("${" + piece.name + "}")
        else:
            out.append("${" + piece.name + piece.op + compose_text(piece.word) + "}")
    return "".join(out)


def substitute(pieces: tuple[Piece, ...], mapping: dict[str, str]) -> tuple[Piece, ...]:
    """Replace references to names in ``mapping`` by their literal value.

    Used where a format fixes a variable itself (``PORT`` inside a container). A modifier on
    a replaced reference is evaluated as Compose would for a set variable.
    """
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Ref) and piece.name in mapping:
            value = mapping[piece.name]
            if piece.op in (None, "-", "?") or (piece.op in (":-", ":?") and value):
                out.append(value)
            elif piece.op in (":-",):
                out.extend(substitute(piece.word, mapping))
            elif piece.op == ":?":
                out.append(value)
            elif piece.op == "+" or (piece.op == ":+" and value):
                out.extend(substitute(piece.word, mapping))
            # ":+" with an empty value yields nothing
        elif isinstance(piece, Ref):
            out.append(Ref(piece.name, piece.op, substitute(piece.word, mapping)))
        else:
            out.append(piece)
    merged: list[Piece] = []
    for piece in out:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + piece
        elif piece != "":
            merged.append(piece)
    return tuple(merged)


def inline(
    pieces: tuple[Piece, ...], definitions: dict[str, tuple[Piece, ...]], depth: int = 8
) -> tuple[Piece, ...]:
    """Replace references to ``definitions`` by the definitions' own pieces.

    For a format that resolves every reference from outside (Compose reads ``${X}`` from the
    shell it runs in, not from the container's environment), a variable the configuration
    defines must be written as its definition. A reference with a modifier is replaced only
    when the definition is literal (then the modifier is evaluated here).
    """
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Ref) and piece.name in definitions and depth:
            definition = definitions[piece.name]
            if piece.op is None:
                out.extend(inline(definition, definitions, depth - 1))
                continue
            if all(isinstance(p, str) for p in definition):
                value = "".join(p for p in definition if isinstance(p, str))
                out.extend(substitute((piece,), {piece.name: value}))
                continue
        if isinstance(piece, Ref) and piece.word:
            out.append(Ref(piece.name, piece.op, inline(piece.word, definitions, depth)))
        else:
            out.append(piece)
    return substitute(tuple(out), {})
