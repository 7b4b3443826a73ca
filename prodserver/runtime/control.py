"""The control socket of a running ``prodserver up``, and the client ``prodserver status`` uses.

Where: the project's runtime directory, :func:`runtime_dir`:
``$XDG_RUNTIME_DIR/prodserver/<hash>/`` when ``XDG_RUNTIME_DIR`` names a directory (systemd
sets it for every login session; it is private to the user and emptied at logout), otherwise
``<tmp>/prodserver-<uid>/<hash>/`` (the way tmux and ssh-agent do it). ``<hash>`` is the first
16 hex digits of the SHA-256 of the project root, so each project has its own directory and
nothing is written into the project itself. Every directory prodserver creates there is
mode 0700 and must be owned by the user; the socket is mode 0600. No TCP: only a process of
the same user can connect.

Protocol: one JSON object per line. The client sends ``{"command": "status"}``; the server
answers with one JSON object and closes the connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prodserver.errors import ProdserverError
from prodserver.exitcodes import ExitCode

SOCKET_NAME = "control.sock"
#: requests larger than this are refused (a status request is a few bytes)
MAX_REQUEST = 4096


def runtime_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The per-project runtime directory (not created; see :func:`ensure_private_dir`)."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "prodserver" / digest
    return Path(tempfile.gettempdir()) / f"prodserver-{os.getuid()}" / digest


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and its prodserver parent) mode 0700, refusing one we do not own."""
    for directory in (path.parent, path):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise ProdserverError(
                f"{directory} is not a directory owned by you",
                hint="remove it, or set XDG_RUNTIME_DIR to a private directory",
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(directory, 0o700)
    return path


class ControlServer:
    """Accepts status requests on a unix socket; every call happens on the event loop."""

    def __init__(
        self,
        directory: Path,
        handler: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        watch: Callable[[int, Callable[[], None]], None],
        unwatch: Callable[[int], None],
    ) -> None:
        self.path = directory / SOCKET_NAME
        self._handler = handler
        self._watch = watch
        self._unwatch = unwatch
        self._conns: dict[int, tuple[socket.socket, bytearray]] = {}
        self.sock: socket.socket | None = None

    def open(self) -> str | None:
        """Listen; returns a warning instead when another live ``up`` owns the socket."""
        if self.path.exists():
            if _answers(self.path):
                return (
                    f"another prodserver up of this project owns {self.path}; "
                    "prodserver status will show that one"
                )
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        sock.setblocking(False)
        self.sock = sock
        self._watch(sock.fileno(), self._accept)
        return None

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            fd = conn.fileno()
            self._conns[fd] = (conn, bytearray())
            self._watch(fd, lambda fd=fd: self._read(fd))  # type: ignore[misc]

    def _read(self, fd: int) -> None:
        conn, buf = self._conns[fd]
        try:
            data = conn.recv(MAX_REQUEST)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        buf += data
        if data and b"\n" not in buf and len(buf) < MAX_REQUEST:
            return
        line = bytes(buf).split(b"\n", 1)[0]
        try:
            request = json.loads(line) if line else {}
            reply = dict(self._handler(request)) if isinstance(request, dict) else {}
        except ValueError:
            reply = {"error": "a request is one JSON object on one line"}
        payload = (json.dumps(reply) + "\n").encode()
        # the reply fits the socket buffer; a client that does not read loses it, never us
        with contextlib.suppress(OSError):
            conn.send(payload)
        self._drop(fd)

    def _drop(self, fd: int) -> None:
        conn, _ = self._conns.pop(fd)
        self._unwatch(fd)
        conn.close()

    def close(self) -> None:
        for fd in list(self._conns):
            self._drop(fd)
        if self.sock is not None:
            self._unwatch(self.sock.fileno())
            self.sock.close()
            self.sock = None
            with contextlib.suppress(OSError):
                self.path.unlink()


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class NotRunning(ProdserverError):
    """No ``prodserver up`` runs for this project."""

    exit_code = ExitCode.NOT_RUNNING


def request(directory: Path, command: Mapping[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send ``command`` to the ``up`` serving ``directory``; raises :class:`NotRunning`."""
    path = directory / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunning(
                "no prodserver up is running for this project",
                hint=f"start one with prodserver up (looked for {path})",
            ) from None
        sock.sendall((json.dumps(dict(command)) + "\n").encode())
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise NotRunning(f"cannot talk to prodserver up at {path}: {exc}") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data)
    except ValueError:
        raise NotRunning(f"prodserver up at {path} gave no answer") from None
    if not isinstance(reply, dict):
        raise NotRunning(f"prodserver up at {path} gave an unexpected answer")
    return reply
