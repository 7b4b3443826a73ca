"""prodserver's own events (the audit trail) and the rotating file they can be kept in.

An :class:`Event` is data first: a name from :data:`EVENT_NAMES`, fields (``pid``, ``code``,
``signal``, ``restart``, ``delay``, ``from``/``to``...) and the human line that the text
output has always shown. It *is* that line (a ``str``), so everything that passes
prodserver's messages along as text keeps working; the JSON printer and the log file read
its :attr:`Event.name` and :attr:`Event.fields`.

:class:`AuditLog` appends events as JSON lines to ``up --log-file PATH``. The file is opened
with ``O_NOFOLLOW`` (a symbolic link planted at PATH is refused, never written through),
``O_APPEND`` and ``O_CLOEXEC`` (no child inherits it), mode 0600, and rotated
``PATH -> PATH.1 -> ... -> PATH.N`` before a line would make it larger than its size limit.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from prodserver import codes
from prodserver.errors import OutputError, ProdserverError

#: every name an event can have
EVENT_NAMES = frozenset(
    {
        "config_loaded",
        "process_started",
        "process_exited",
        "process_restarting",
        "process_gave_up",
        "process_stopping",
        "process_killed",
        "health_changed",
        "reloaded",
        "reload_failed",
        "stopping",
        "stopped",
        "warning",
        "info",
    }
)

#: no child inherits the log file (``O_NOINHERIT`` is Windows' name for it)
_NO_INHERIT = getattr(os, "O_CLOEXEC", 0) or getattr(os, "O_NOINHERIT", 0)

#: ``--log-file-max-size`` default
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
#: ``--log-file-backups`` default
DEFAULT_BACKUPS = 5

FieldValue = str | int | float | bool | None


class Event(str):
    """One of prodserver's own events: its human line, plus :attr:`name` and :attr:`fields`.

    A ``quiet`` event is not shown in text output: it repeats what a neighbouring line
    already says (an exit followed by "restarting in 1s"), or it is only of interest to a
    machine (the configuration's hash). JSON output and the log file show every event.
    """

    name: str
    fields: Mapping[str, FieldValue]
    quiet: bool

    def __new__(
        cls,
        name: str,
        text: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        quiet: bool = False,
    ) -> Event:
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event name {name!r}")
        self = super().__new__(cls, text)
        self.name = name
        self.fields = dict(fields or {})
        self.quiet = quiet
        return self


def parse_size(text: str) -> int:
    """``"512"``, ``"64K"``, ``"10MB"``, ``"1GiB"`` -> bytes (K, M, G are powers of 1024)."""
    raw = text.strip().upper().replace(" ", "")
    for suffix in ("IB", "B"):
        if raw.endswith(suffix) and len(raw) > len(suffix):
            raw = raw[: -len(suffix)]
            break
    scale = 1
    if raw and raw[-1] in "KMG":
        scale = 1024 ** ("KMG".index(raw[-1]) + 1)
        raw = raw[:-1]
    if not raw.isdigit():
        raise ValueError(f"expected a size like 512, 64K or 10MB, got {text!r}")
    return int(raw) * scale


class AuditLog:
    """Appends lines to a file that is rotated by size; see the module doc."""

    def __init__(
        self, path: Path, *, max_size: int = DEFAULT_MAX_SIZE, backups: int = DEFAULT_BACKUPS
    ) -> None:
        if max_size <= 0:
            raise ValueError("the size limit must be positive")
        if backups < 0:
            raise ValueError("the number of backups cannot be negative")
        self.path = path
        self.max_size = max_size
        self.backups = backups
        #: writing failed (disk full...): the run goes on, the file is left alone
        self.failed: str | None = None
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NO_INHERIT | getattr(os, "O_NOFOLLOW", 0)
        # non-blocking only for the open: a FIFO planted at PATH must not hang the start
        try:
            fd = os.open(self.path, flags | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OutputError(
                    f"refusing --log-file {self.path}: it is a symbolic link",
                    hint="give the real path of the file, or remove the link",
                    code=codes.THROUGH_SYMLINK,
                ) from None
            if exc.errno == errno.ENXIO:
                raise OutputError(
                    f"refusing --log-file {self.path}: it is not a regular file",
                    code=codes.OUTPUT_NOT_REGULAR,
                ) from None
            raise OutputError(
                f"cannot open --log-file {self.path}: {exc.strerror}",
                code=codes.LOG_FILE_UNOPENABLE,
            ) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise OutputError(
                f"refusing --log-file {self.path}: it is not a regular file",
                code=codes.OUTPUT_NOT_REGULAR,
            )
        os.set_blocking(fd, True)
        # an existing file keeps its content but not a mode that lets others read it
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
        self._fd = fd
        self._size = info.st_size

    def write(self, line: bytes) -> None:
        """Append ``line`` (one whole line, newline included), rotating first if needed."""
        if self._fd < 0 or self.failed is not None:
            return
        try:
            if self._size and self._size + len(line) > self.max_size:
                self._rotate()
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self._size += written
        except OSError as exc:
            # the audit trail must not take the processes down with it
            self.failed = exc.strerror or str(exc)
        except ProdserverError as exc:  # something was planted at PATH while rotating
            self.failed = exc.message

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        name = str(self.path)
        if self.backups == 0:
            os.unlink(name)
        else:
            # os.replace renames a link itself, never what it points to
            for number in range(self.backups - 1, 0, -1):
                older = f"{name}.{number}"
                if os.path.lexists(older):
                    os.replace(older, f"{name}.{number + 1}")
            os.replace(name, f"{name}.1")
        self._open()

    def close(self) -> None:
        """Close the file (writing after this does nothing)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
