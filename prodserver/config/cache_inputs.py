"""The inputs of a cached resolution: recording what it reads, and checking them again.

Part of :mod:`prodserver.config.cache` (whose docstring says what the key and entries cover):
while resolving, :func:`_recording` watches ``open``, ``stat`` and ``listdir``; :func:`_inputs`
turns what was seen into the entry's list of inputs and :func:`_unchanged` compares that list
with the file system before an entry is used.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prodserver.fastpath import content_hash as _content
from prodserver.fastpath import listing as _listing
from prodserver.fastpath import looked_at as _looked_at
from prodserver.fastpath import unchanged as _unchanged

__all__ = ["_Recorder", "_Skip", "_inputs", "_recording", "_unchanged"]

_WRITE_FLAGS = ("w", "a", "x", "+")


class _Skip(Exception):
    """This resolution is not cached (the message says why)."""


# -- recording what the resolution reads ------------------------------------------------------


@dataclass
class _Recorder:
    #: path -> (os.stat signature when opened) for files opened to read
    opened: dict[str, tuple[int, ...] | None] = field(default_factory=dict)
    #: (path, follow symlinks) looked at without being read
    looked: set[tuple[str, bool]] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    unsupported: str = ""
    #: False while the recorder's owner does its own file work (writing a record) in the block
    active: bool = True

    def _refuse(self, why: str) -> None:
        """Keep the first reason this resolution cannot be cached."""
        self.unsupported = self.unsupported or why

    def look(self, path: Any, follow: bool, kw: Mapping[str, Any]) -> None:
        if not self.active:
            return
        name = _path_of(path)
        if name is None or kw.get("dir_fd") is not None:
            self._refuse("a file looked at through a descriptor")
        else:
            self.looked.add((name, follow))

    def read(self, path: Any, writing: bool, kw: Mapping[str, Any]) -> None:
        if not self.active:
            return
        name = _path_of(path)
        if writing:
            self._refuse(f"a file written while resolving: {path!r}")
        elif name is None or kw.get("dir_fd") is not None:
            self._refuse("a file read through a descriptor")
        elif name not in self.opened:
            self.opened[name] = _change_marks(name)

    def list(self, path: Any) -> None:
        if not self.active:
            return
        name = _path_of(path)
        if name is None:
            self._refuse("a directory listed through a descriptor")
        else:
            self.listed.add(name)


def _path_of(path: Any) -> str | None:
    if isinstance(path, int):
        return None
    try:
        return os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


def _change_marks(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@contextmanager
def _recording() -> Iterator[_Recorder]:
    """Watch the file system calls made inside the block (the resolution runs in one thread)."""
    rec = _Recorder()
    real_stat: Callable[..., Any] = os.stat
    real_lstat: Callable[..., Any] = os.lstat
    real_open: Callable[..., Any] = os.open
    real_listdir: Callable[..., Any] = os.listdir
    real_scandir: Callable[..., Any] = os.scandir

    def stat_(path: Any, *a: Any, **kw: Any) -> Any:
        rec.look(path, kw.get("follow_symlinks", True), kw)
        return real_stat(path, *a, **kw)

    def lstat_(path: Any, *a: Any, **kw: Any) -> Any:
        rec.look(path, False, kw)
        return real_lstat(path, *a, **kw)

    def open_(path: Any, flags: int, *a: Any, **kw: Any) -> Any:
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
        rec.read(path, writing, kw)
        return real_open(path, flags, *a, **kw)

    def listdir_(path: Any = ".") -> Any:
        rec.list(path)
        return real_listdir(path)

    def scandir_(path: Any = ".") -> Any:
        rec.list(path)
        return real_scandir(path)

    def make_open(original: Callable[..., Any]) -> Callable[..., Any]:
        def open_file(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
            rec.read(file, any(c in mode for c in _WRITE_FLAGS), kw)
            return original(file, mode, *a, **kw)

        return open_file

    patches: dict[tuple[Any, str], Callable[..., Any]] = {
        (os, "stat"): stat_,
        (os, "lstat"): lstat_,
        (os, "open"): open_,
        (os, "listdir"): listdir_,
        (os, "scandir"): scandir_,
        (io, "open"): make_open(io.open),
        (builtins, "open"): make_open(builtins.open),
    }
    saved = {key: getattr(*key) for key in patches}
    for (module, attr), function in patches.items():
        setattr(module, attr, function)
    try:
        yield rec
    finally:
        for (module, attr), function in saved.items():
            setattr(module, attr, function)


Input = tuple[str, str, Any]


def _inputs(rec: _Recorder) -> list[Input]:
    """Every input with what it holds now; raises _Skip if a file changed while it was read."""
    out: list[Input] = []
    for path, marks in sorted(rec.opened.items()):
        out.append(("file", path, _content(path)))
        if marks is not None and _change_marks(path) != marks:
            raise _Skip(f"{path} changed while it was read")
    for path, follow in sorted(rec.looked):
        if path not in rec.opened:
            out.append(("stat" if follow else "lstat", path, _looked_at(path, follow)))
    for path in sorted(rec.listed):
        out.append(("list", path, _listing(path)))
    return out
