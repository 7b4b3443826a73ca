"""``up``'s command line as argparse parsed it last time, read back instead of parsed again.

Importing ``argparse`` (which brings ``gettext`` and ``locale``) and building ``up``'s parser is
about a tenth of a cached ``up``'s start. What argparse returns depends on nothing but the
command line's words, the environment (a default may read it), the working directory,
prodserver's own code and the interpreter: what :func:`prodserver.fastpath.key_of` hashes into a
key. So once argparse has parsed an ``up`` command line, the namespace it returned is written as
plain data (``marshal``: strings, numbers, lists, no code) in the user's private cache directory
under that key, and the next identical start reads it back before argparse is imported.

A namespace holding anything but plain data is not written; a missing, damaged, foreign or
other user's record is ignored (argparse parses, as always); ``--no-cache`` and
``PRODSERVER_NO_CACHE`` turn it off. Only ``up`` has records: ``run`` and ``exec`` have their own
fast path (:mod:`prodserver.fastpath`), and the other commands are not on anyone's start path.
A command line argparse refuses, or one with ``--help``, never gets here: argparse exits first.
"""

from __future__ import annotations

import marshal
import os
import types

from prodserver import fastpath

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

#: the header of a record (then the SHA-256 of the body, then the body)
MAGIC = b"prodserver-parsed-args\x00"
SUFFIX = ".args"
#: bumped whenever what a record holds changes shape
FORMAT = 1
#: the commands whose command lines are kept
COMMANDS = frozenset({"up"})
#: the types a record may hold, exactly (no subclass: an IntEnum would come back an int)
_PLAIN = (str, int, float, bool, type(None))


def record_path(words: Sequence[str], command: str | None) -> str | None:
    """Where the record of this command line is, or None when it may have none (a key over
    the whole environment: a caller that reads and then writes takes it once)."""
    if command not in COMMANDS or "--no-cache" in words or fastpath.disabled():
        return None
    directory = fastpath.cache_dir()
    if directory is None:
        return None
    try:
        key = fastpath.key_of(("parsed", FORMAT, tuple(words)), os.environ)
    except Exception:  # the working directory is gone, the package is zipped...: no record
        return None
    return os.path.join(directory, key + SUFFIX)


def _plain(value: object) -> bool:
    """Whether ``value`` is plain data, of exactly the types a namespace holds."""
    if type(value) in _PLAIN:
        return True
    if isinstance(value, list | tuple) and type(value) in (list, tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict) and type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


_ASK = "ask"  # record_path() of the words, found here


def read(words: Sequence[str], command: str | None, path: str | None = _ASK) -> Any:
    """The namespace argparse returned for ``words`` last time (attributes only, as the
    commands use it), or None: parse as usual. ``path``: :func:`record_path`'s answer."""
    try:
        if path is _ASK:
            path = record_path(words, command)
        body = None if path is None else fastpath.read_entry(path, MAGIC)
        # plain data (never code) from the user's own 0600 file, its SHA-256 checked
        values = None if body is None else marshal.loads(body)  # noqa: S302  # nosec B302
    except Exception:  # any doubt: argparse decides
        return None
    if not _plain(values) or type(values) is not dict:
        return None
    return types.SimpleNamespace(**values)


def write(
    words: Sequence[str], command: str | None, args: argparse.Namespace, path: str | None = _ASK
) -> None:
    """Keep what argparse made of ``words`` (best effort: a failure only costs the next start
    its parse). ``path``: :func:`record_path`'s answer."""
    values = dict(vars(args))
    if not _plain(values):
        return
    try:
        if path is _ASK:
            path = record_path(words, command)
        if path is None:
            return
        from pathlib import Path

        from prodserver.config.cache import MAX_ENTRIES
        from prodserver.config.cache_store import _write_entry

        directory, name = os.path.split(path)
        body = marshal.dumps(values)
        _write_entry(Path(directory), name, body, keep=MAX_ENTRIES, magic=MAGIC, suffix=SUFFIX)
    except Exception:  # noqa: S110  # nosec B110 - the next start parses again, as without it
        pass
