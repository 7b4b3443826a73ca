"""Making a child's bytes safe to show: control characters and broken UTF-8.

A child may write anything: a cursor movement, a carriage return that overwrites the
prefix, an escape that retitles the terminal, half a UTF-8 sequence. Shown through
prodserver, its lines must stay its own lines.
"""

from __future__ import annotations

import re

# Control bytes that would let a child move the cursor, overwrite a prefix or start a line
# on its own when the output is later shown in a terminal or split by a tool. Tab stays.
_CONTROL = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
_CONTROL_NO_NL = _CONTROL.replace(b"\n", b"")
_CONTROL_RE = re.compile(b"[" + re.escape(_CONTROL_NO_NL) + b"]")
# Looked for one by one: ``byte in data`` is a vectorised ``memchr``, and 31 of them over a
# 64 KiB chunk cost less than one byte-by-byte pass (``translate`` or a regex) over it.
_CONTROL_BYTES = tuple(bytes([byte]) for byte in _CONTROL_NO_NL)


def has_control(data: bytes) -> bool:
    """Whether ``data`` holds a control byte other than newline and tab."""
    return any(byte in data for byte in _CONTROL_BYTES)


# Unicode line separators that ``str.splitlines`` treats as line breaks (NEL, LS, PS).
UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")


def _caret(match: re.Match[bytes]) -> bytes:
    byte = match.group()[0]
    return b"^?" if byte == 0x7F else b"^" + bytes([byte + 64])


def neutralise(data: bytes) -> bytes:
    """``data`` with control characters shown as ``^X`` (caret notation), newlines kept."""
    if has_control(data):
        data = _CONTROL_RE.sub(_caret, data)
    return data


def cut_utf8(data: bytes, limit: int) -> int:
    """An index near ``limit`` that does not split a UTF-8 sequence."""
    cut = limit
    # step back over at most 3 continuation bytes (0b10xxxxxx)
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit
