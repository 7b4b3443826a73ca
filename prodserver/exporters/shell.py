"""Rendering interpolation pieces as POSIX shell words.

Used by the Procfile (the platform runs each line with a shell) and wherever another format
must fall back to ``/bin/sh -c`` to evaluate a reference's modifier (``${X:-default}``).
Literal text is single-quoted (nothing is special inside single quotes); a reference is
expanded inside double quotes so that its value is never split into words or globbed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from prodserver.template import Piece, Ref

# Inside double quotes these keep a special meaning and need a backslash.
# Text that means itself anywhere in a shell word.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")
_DQ_SPECIAL = re.compile(r'([\\"$`])')


def word(pieces: Sequence[Piece]) -> str:
    """One shell word that expands to the text ``pieces`` describe."""
    if not pieces:
        return "''"
    parts: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(shlex.quote(piece))
        else:
            parts.append('"' + _ref(piece) + '"')
    return "".join(parts)


def _ref(ref: Ref) -> str:
    if ref.op is None:
        return "${" + ref.name + "}"
    return "${" + ref.name + ref.op + _dq_word(ref.word) + "}"


def _dq_word(pieces: Sequence[Piece]) -> str:
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            # The literal part of a modifier's word gets its own double quotes: inside them a
            # "}" or "'" is plain text in both dash and bash (bare, bash would treat "'" as
            # a quote even within the outer double quotes).
            if _PLAIN.fullmatch(piece):
                out.append(piece)
            else:
                out.append('"' + _DQ_SPECIAL.sub(r"\\\1", piece) + '"')
        else:
            out.append(_ref(piece))
    return "".join(out)


def command(argv: Sequence[Sequence[Piece]]) -> str:
    """A shell command line running ``argv`` (each item one word)."""
    return " ".join(word(pieces) for pieces in argv)
