"""Readiness over the systemd notify protocol, in both directions.

Downwards: each instance gets its own ``NOTIFY_SOCKET``, a unix datagram socket in a private
(0700) directory of the run, created the first time the instance starts. ``SO_PASSCRED`` makes
the kernel attach the sender's real pid to every message, so the supervisor believes only the
instance's main process (:meth:`Supervisor.handle_notify`); a per-instance socket also means
one instance can never speak for another. gunicorn, for one, sends ``READY=1`` by itself when
``NOTIFY_SOCKET`` is set.

Upwards: when prodserver itself runs under systemd (``Type=notify``, ``NOTIFY_SOCKET`` set in
its own environment), :func:`notify_upstream` tells systemd ``READY=1`` once every required
instance is ready and ``STOPPING=1`` when the stop begins. That outer socket never reaches a
child (the supervisor removes it from their environments).
"""

from __future__ import annotations

import _socket
import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prodserver.runtime.process import Unit

#: ``struct ucred``: pid, uid, gid (three C ints)
_UCRED_SIZE = 12
#: notifications are small; a larger datagram is cut and its tail ignored
MAX_MESSAGE = 4096


def parse_message(data: bytes) -> dict[str, str]:
    """``b"READY=1\\nSTATUS=ok"`` into ``{"READY": "1", "STATUS": "ok"}``."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition("=")
        if sep and key:
            fields[key] = value
    return fields


class NotifyHub:
    """The per-instance notification sockets of one run."""

    def __init__(
        self,
        directory: Path,
        deliver: Callable[[Unit, int, Mapping[str, str]], None],
        watch: Callable[[int, Callable[[], None]], None],
        unwatch: Callable[[int], None],
    ) -> None:
        self.directory = directory
        self._deliver = deliver
        self._watch = watch
        self._unwatch = unwatch
        self._socks: dict[int, tuple[_socket.socket, str]] = {}
        #: id(unit) -> its socket path (units live as long as the run)
        self._paths: dict[int, str] = {}
        self._next = 0

    def env_for(self, unit: Unit) -> Mapping[str, str]:
        """The ``NOTIFY_SOCKET`` of ``unit`` (created on its first start)."""
        existing = self._paths.get(id(unit))
        if existing is not None:
            return {"NOTIFY_SOCKET": existing}
        self._next += 1
        path = str(self.directory / f"n{self._next}")
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        try:
            # the directory before the socket's umask: it needs its search bit (0700)
            if not self.directory.exists():
                self.directory.mkdir(mode=0o700)
            old = os.umask(0o177)
            try:
                sock.bind(path)
            finally:
                os.umask(old)
        except OSError:
            # (a path too long for a unix socket, a full disk): the instance still runs,
            # it just cannot notify; readiness falls back to its probe
            sock.close()
            return {}
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
        sock.setblocking(False)
        fd = sock.fileno()
        self._socks[fd] = (sock, path)
        self._paths[id(unit)] = path
        self._watch(fd, lambda: self._receive(fd, unit))
        return {"NOTIFY_SOCKET": path}

    def _receive(self, fd: int, unit: Unit) -> None:
        sock, _path = self._socks[fd]
        space = _socket.CMSG_SPACE(_UCRED_SIZE)
        while True:
            try:
                data, ancillary, _flags, _addr = sock.recvmsg(MAX_MESSAGE, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            pid = None
            for level, kind, payload in ancillary:
                if (
                    level == _socket.SOL_SOCKET
                    and kind == _socket.SCM_CREDENTIALS
                    and len(payload) >= _UCRED_SIZE
                ):
                    pid = int.from_bytes(payload[:4], sys.byteorder, signed=True)
            if pid is None:
                continue  # no credentials: nothing to authenticate it by
            self._deliver(unit, pid, parse_message(data))

    def close(self) -> None:
        for fd, (sock, path) in list(self._socks.items()):
            self._unwatch(fd)
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._socks.clear()
        try:
            self.directory.rmdir()  # it holds only the sockets: no shutil (and bz2, lzma) needed
        except FileNotFoundError:
            pass  # never made: no instance started
        except OSError:
            import shutil  # something else in it

            shutil.rmtree(self.directory, ignore_errors=True)


def notify_upstream(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` to the service manager that started prodserver, if any."""
    environ = os.environ if environ is None else environ
    target = environ.get("NOTIFY_SOCKET")
    if not target:
        return False
    address = "\0" + target[1:] if target.startswith("@") else target
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        sock.sendto(message.encode(), address)
    except OSError:
        return False
    finally:
        sock.close()
    return True
