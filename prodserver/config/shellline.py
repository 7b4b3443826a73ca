"""What a POSIX shell would do with one command line, decided without running a shell.

A Procfile line means what ``/bin/sh -c LINE`` means. Two questions decide how prodserver runs
it with the same result:

- :func:`direct_argv`: can it run without a shell? Only when the line holds nothing a shell
  would interpret beyond quoting and word splitting (no ``$``, no operators, no globs, no
  backslashes, no assignment, no builtin): then :func:`shlex.split` builds exactly the argv
  that sh would build.
- :func:`exec_form`: when a shell is needed, can the program replace the shell (``exec``)? That
  is so for one simple command, possibly after ``NAME=value`` assignments: the program then
  receives the stop signal itself and its exit status is the process's. A compound line
  (``;``, ``&&``, ``|``, ``&``, a subshell, a reserved word) or a builtin keeps its shell.

The scanner understands single and double quotes, backslashes, ``$(...)``, ``${...}`` and
backticks well enough to find the *unquoted* characters; anything it is unsure about keeps the
shell, which is always correct (only the ``exec`` optimisation or the direct run is lost).
"""

from __future__ import annotations

import re
import shlex

__all__ = ["direct_argv", "exec_form", "unquoted"]

# The POSIX reserved words, and the builtins that must run in the shell itself (or that behave
# differently from the program of the same name: dash's `echo` interprets backslashes).
_RESERVED = frozenset(
    [
        "!",
        "{",
        "}",
        "case",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "fi",
        "for",
        "if",
        "in",
        "then",
        "until",
        "while",
        "function",
        "select",
        "[[",
        "]]",
    ]
)
_BUILTINS = frozenset(
    [
        ".",
        ":",
        "alias",
        "bg",
        "break",
        "cd",
        "command",
        "continue",
        "echo",
        "eval",
        "exec",
        "exit",
        "export",
        "false",
        "fg",
        "getopts",
        "hash",
        "jobs",
        "kill",
        "local",
        "printf",
        "pwd",
        "read",
        "readonly",
        "return",
        "set",
        "shift",
        "source",
        "test",
        "times",
        "trap",
        "true",
        "type",
        "ulimit",
        "umask",
        "unalias",
        "unset",
        "wait",
        "[",
    ]
)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Unquoted characters that make a line more than one simple command.
_COMPOUND = re.compile(r"[;|()\n]|(?<![<>])&")
# Unquoted characters a shell interprets in a simple command (beyond quotes and spaces).
_SPECIAL = re.compile(r"[$`\\<>*?\[\]{}!]|(^|\s)[#~]")
_MASK = "_"


def unquoted(line: str) -> str | None:
    """``line`` with every quoted or substituted character replaced by ``_``.

    Positions are kept, so an index into the result is an index into ``line``. ``None`` when
    the quoting is unbalanced (the shell would fail to parse it).
    """
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                return None
            out.append(_MASK * (end + 1 - i))
            i = end + 1
        elif c == '"':
            end = _closing_double(line, i + 1)
            if end < 0:
                return None
            out.append(_MASK * (end + 1 - i))
            i = end + 1
        elif c == "\\":
            out.append(_MASK * min(2, n - i))
            i += 2
        elif c == "`":
            end = _closing_backtick(line, i + 1)
            if end < 0:
                return None
            out.append(_MASK * (end + 1 - i))
            i = end + 1
        elif c == "$" and i + 1 < n and line[i + 1] in "({":
            end = _closing_bracket(line, i + 1)
            if end < 0:
                return None
            out.append(_MASK * (end + 1 - i))
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _closing_double(line: str, i: int) -> int:
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i
        if c == "`":
            i = _closing_backtick(line, i + 1)
            if i < 0:
                return -1
        elif c == "$" and i + 1 < len(line) and line[i + 1] in "({":
            i = _closing_bracket(line, i + 1)
            if i < 0:
                return -1
        i += 1
    return -1


def _closing_backtick(line: str, i: int) -> int:
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "`":
            return i
        i += 1
    return -1


def _closing_bracket(line: str, i: int) -> int:
    """The index of the bracket that closes the ``(`` or ``{`` at ``i``, quotes respected."""
    opening = line[i]
    closing = ")" if opening == "(" else "}"
    depth = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and opening == "(":
            i = line.find("'", i + 1)
            if i < 0:
                return -1
        elif c == '"':
            i = _closing_double(line, i + 1)
            if i < 0:
                return -1
        elif c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _words(masked: str) -> list[tuple[int, str]]:
    """The unquoted words of a masked line with their start index."""
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", masked)]


def _first_command_word(line: str, masked: str) -> tuple[int, str] | None:
    """Skip leading ``NAME=value`` assignments: the command word and its index, if any."""
    for start, masked_word in _words(masked):
        if _ASSIGNMENT.match(line[start:]) and _ASSIGNMENT.match(masked_word):
            continue
        return start, line[start : start + len(masked_word)]
    return None


def direct_argv(line: str) -> list[str] | None:
    """The argv sh would build from ``line`` when no shell is needed to build it, else None."""
    if "$" in line or "`" in line or "\\" in line:
        return None
    masked = unquoted(line)
    if masked is None or _COMPOUND.search(masked) or _SPECIAL.search(masked):
        return None
    words = _words(masked)
    if not words or _ASSIGNMENT.match(words[0][1]):
        return None
    first = _first_command_word(line, masked)
    if first is None or first[1] in _RESERVED or first[1] in _BUILTINS:
        return None
    try:
        argv = shlex.split(line)
    except ValueError:
        return None
    return argv or None


def exec_form(line: str) -> str:
    """``line`` with ``exec`` before its program when it is one simple command, else as is."""
    masked = unquoted(line)
    if masked is None or _COMPOUND.search(masked):
        return line
    first = _first_command_word(line, masked)
    if first is None:
        return line
    start, word = first
    if word in _RESERVED or word in _BUILTINS or masked[start] != word[0]:
        # a builtin stays in the shell; a quoted or substituted command word is left alone
        return line
    return line[:start] + "exec " + line[start:]
