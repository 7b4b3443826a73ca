"""Reading a file the user named: bounded, regular files only, every failure a ConfigError."""

from __future__ import annotations

import os
from pathlib import Path

from prodserver import codes
from prodserver.errors import ConfigError, Location

#: a configuration larger than this is refused before parsing (a real one is a few KiB)
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def read_bounded(path: Path, *, what: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``; every failure a ConfigError.

    Only a regular file is read: a FIFO, a terminal or a device (``/dev/zero``) is refused
    before a byte is read, and opening never blocks (``O_NONBLOCK``: a FIFO without a writer
    would hang ``open`` itself). The limit does not trust ``st_size`` (``/proc`` files say 0,
    a file may grow): at most ``limit + 1`` bytes are read, and one byte too many is an error.
    """
    loc = Location(file=path)
    fd = _open_nonblocking(path, what, loc)
    try:
        _refuse_special(fd, path, what, loc)
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {path}: {exc.strerror or exc}",
            location=loc,
            code=codes.FILE_UNREADABLE,
        ) from None
    finally:
        os.close(fd)
    if total > limit:
        raise ConfigError(
            f"{what} {path} is larger than the limit of {limit} bytes",
            hint="is this really a prodserver configuration?",
            location=loc,
            code=codes.FILE_NOT_TEXT,
        )
    return b"".join(chunks)


def _open_nonblocking(path: Path, what: str, loc: Location) -> int:
    """``os.open`` without blocking on a FIFO and without a controlling terminal."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(
            f"{what} {path} does not exist", location=loc, code=codes.FILE_UNREADABLE
        ) from None
    except PermissionError:
        raise ConfigError(
            f"cannot read {what} {path}: permission denied",
            location=loc,
            code=codes.FILE_UNREADABLE,
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a directory, not a {what}", location=loc, code=codes.FILE_UNREADABLE
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot read {what} {path}: {reason}", location=loc, code=codes.FILE_UNREADABLE
        ) from None


def _refuse_special(fd: int, path: Path, what: str, loc: Location) -> None:
    """A directory, FIFO, socket or device opened as ``fd`` is refused before a byte is read."""
    import stat

    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        raise ConfigError(
            f"{path} is a directory, not a {what}", location=loc, code=codes.FILE_UNREADABLE
        )
    if not stat.S_ISREG(mode):
        raise ConfigError(
            f"{what} {path} is not a regular file (a FIFO, a socket or a device)",
            hint="name a file: prodserver reads only regular files",
            location=loc,
            code=codes.FILE_UNREADABLE,
        )


def read_text(path: Path, *, what: str = "configuration file") -> str:
    """The file's text, with every way that can fail turned into a clear ConfigError."""
    data = read_bounded(path, what=what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ConfigError(
            f"{what} contains a NUL byte", location=Location(path, line), code=codes.FILE_NOT_TEXT
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8",
            location=Location(path, line, col),
            code=codes.FILE_NOT_TEXT,
        ) from None
