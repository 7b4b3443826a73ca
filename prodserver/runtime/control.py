"""The control socket of a running ``prodserver up``, and the client ``prodserver status`` uses.

Where: the project's runtime directory (:mod:`prodserver.runtime.rundir`), private to the
user (every directory mode 0700 and owned by the user); the socket is mode 0600: only a
process of the same user can connect.

Where Python has no unix sockets (Windows), the endpoint is a TCP socket on 127.0.0.1 with a
port the system picks, guarded by a random token (``secrets.token_urlsafe``): both are
written to ``control.json`` in the same private directory (created mode 0600, which on
Windows leaves the access list of the user's own temporary directory in charge), and a
request without that token is refused. Whoever can read the user's files can ask; nobody
else, even on the same machine. The transport is a parameter, so the loopback endpoint runs
(and is tested) on Linux too.

Protocol: one JSON object per line. The client sends ``{"command": "status"}`` (plus
``"token"`` on the loopback endpoint); the server answers with one JSON object and closes the
connection.

Limits (a client of the same user may still be careless or hostile, and ``up`` must go on):
at most :data:`MAX_CONNECTIONS` open at once, a new one replacing the oldest; a connection
that has not sent its request within :data:`IDLE_TIMEOUT` is dropped (checked whenever a
connection arrives or sends, so idle ones never hold more than the limit); a request is at
most :data:`MAX_REQUEST` bytes; an ``accept()`` that fails (out of file descriptors, EMFILE)
is survived: a spare descriptor is given up for a moment to take the waiting connection and
close it, so the listening socket does not stay readable and spin the event loop.
"""

from __future__ import annotations

# `json` and `secrets` are imported where they are used: most runs of `up` never
# answer a request, and every import here is paid at each start. The server's sockets are
# `_socket`'s, the C core of `socket`, whose import (its enums, `array`) would cost every start
# about 4 ms; clients (`prodserver status`) import `socket` itself.
import _socket
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from prodserver.errors import ProdserverError
from prodserver.exitcodes import ExitCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any, Literal

    Transport = Literal["unix", "tcp"]

SOCKET_NAME = "control.sock"
#: the loopback endpoint's port and token (where there are no unix sockets)
ENDPOINT_NAME = "control.json"
#: a unix socket, or a token-guarded TCP socket on 127.0.0.1
#: requests larger than this are refused (a status request is a few bytes)
MAX_REQUEST = 4096
#: connections served at once; one more replaces the oldest
MAX_CONNECTIONS = 16
#: seconds a connection may stay open without sending its request
IDLE_TIMEOUT = 2.0
#: the largest reply a client reads (a status of 1,000 instances is well under 1 MiB)
MAX_REPLY = 64 * 1024 * 1024


def default_transport() -> Transport:
    """Unix sockets where Python has them; the token-guarded loopback socket elsewhere."""
    return "unix" if hasattr(_socket, "AF_UNIX") else "tcp"


class ControlServer:
    """Accepts status requests on its endpoint; every call happens on the event loop.

    ``transport``: ``unix`` (a socket in ``directory``) or ``tcp`` (127.0.0.1, its port and
    token in ``directory``/control.json); the platform's default when None.
    """

    def __init__(
        self,
        directory: Path,
        handler: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        watch: Callable[[int, Callable[[], None]], None],
        unwatch: Callable[[int], None],
        *,
        clock: Callable[[], float] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.transport = transport or default_transport()
        #: the socket, or the file naming the loopback endpoint
        self.path = directory / (SOCKET_NAME if self.transport == "unix" else ENDPOINT_NAME)
        self._handler = handler
        self._watch = watch
        self._unwatch = unwatch
        #: fd -> (connection, request so far, when it was accepted), oldest first
        self._conns: dict[int, tuple[_socket.socket, bytearray, float]] = {}
        self.sock: _socket.socket | None = None
        self._spare: int | None = None
        self._clock = clock or time.monotonic
        #: what a loopback request must carry
        self.token: str | None = None

    def open(self) -> str | None:
        """Listen; returns a warning instead when another live ``up`` owns the endpoint."""
        if self.path.exists():
            if _answers(self.path.parent):
                return (
                    f"another prodserver up of this project owns {self.path}; "
                    "prodserver status will show that one"
                )
            self.path.unlink()
        sock = self._bind_unix() if self.transport == "unix" else self._bind_loopback()
        sock.listen(8)
        sock.setblocking(False)
        self.sock = sock
        self._spare = _open_spare()
        self._watch(sock.fileno(), self._accept)
        return None

    def _bind_unix(self) -> _socket.socket:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        return sock

    def _bind_loopback(self) -> _socket.socket:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            import secrets

            self.token = secrets.token_urlsafe(32)
            port = sock.getsockname()[1]
            _write_private(self.path, {"port": port, "token": self.token, "pid": os.getpid()})
        except BaseException:
            sock.close()
            raise
        return sock

    def _accept(self) -> None:
        assert self.sock is not None
        for _ in range(4 * MAX_CONNECTIONS):  # then back to the loop: others wait too
            self._expire()
            try:
                conn = _accepted(self.sock)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                if self._refuse_one():
                    continue  # the next one may be waiting too
                return
            if len(self._conns) >= MAX_CONNECTIONS:
                self._drop(next(iter(self._conns)))  # the oldest
            conn.setblocking(False)
            fd = conn.fileno()
            self._conns[fd] = (conn, bytearray(), self._clock())
            self._watch(fd, lambda fd=fd: self._read(fd))  # type: ignore[misc]

    def _refuse_one(self) -> bool:
        """``accept()`` failed: out of descriptors (EMFILE, ENFILE) or memory, or the peer
        gave up (ECONNABORTED). Take the waiting connection with the spare descriptor and
        close it, or the listening socket stays readable and the loop spins. True when a
        connection was taken."""
        if self._spare is None or self.sock is None:
            return False
        os.close(self._spare)
        self._spare = None
        try:
            conn = _accepted(self.sock)
        except OSError:
            return False
        else:
            conn.close()
            return True
        finally:
            self._spare = _open_spare()

    def _expire(self) -> None:
        """Drop the connections that have not sent a request in time."""
        now = self._clock()
        for fd, (_conn, _buf, since) in list(self._conns.items()):
            if now - since < IDLE_TIMEOUT:
                break  # oldest first: the rest are younger
            self._drop(fd)

    def _read(self, fd: int) -> None:
        import json

        self._expire()
        if fd not in self._conns:
            return
        conn, buf, _since = self._conns[fd]
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
            reply = self._answer(request) if isinstance(request, dict) else {}
        except ValueError:
            reply = {"error": "a request is one JSON object on one line"}
        payload = (json.dumps(reply) + "\n").encode()
        # the reply fits the socket buffer; a client that does not read loses it, never us
        with contextlib.suppress(OSError):
            conn.send(payload)
        self._drop(fd)

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The handler's reply; on the loopback endpoint only with the right token."""
        given = request.pop("token", None)
        if self.token is not None:
            import secrets  # only the loopback endpoint (Windows) has a token

            if not (
                isinstance(given, str)
                and secrets.compare_digest(given.encode(), self.token.encode())
            ):
                return {"error": "refused: wrong or missing token"}
        return dict(self._handler(request))

    def _drop(self, fd: int) -> None:
        conn, _buf, _since = self._conns.pop(fd)
        self._unwatch(fd)
        conn.close()

    def close(self) -> None:
        for fd in list(self._conns):
            self._drop(fd)
        if self.sock is not None:
            self._unwatch(self.sock.fileno())
            self.sock.close()
            self.sock = None
        if self._spare is not None:  # set once this server opened its endpoint
            os.close(self._spare)
            self._spare = None
            with contextlib.suppress(OSError):
                self.path.unlink()


def _accepted(sock: _socket.socket) -> _socket.socket:
    """The next connection on the listening ``sock`` (close-on-exec, as Python makes every
    descriptor); raises BlockingIOError when there is none."""
    fd, _address = sock._accept()  # type: ignore[attr-defined]  # what socket.accept() calls
    return _socket.socket(fileno=fd)


def _open_spare() -> int | None:
    """A descriptor kept in reserve for :meth:`ControlServer._refuse_one`."""
    try:
        return os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def _write_private(path: Path, content: Mapping[str, Any]) -> None:
    """Write ``content`` as JSON to ``path``, mode 0600 from its first byte, atomically."""
    import json

    temp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dict(content), out)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _connect(directory: Path, timeout: float) -> tuple[socket.socket, str | None, Path]:
    """A connection to the ``up`` serving ``directory``, the token it wants, and where it
    was found; raises OSError (FileNotFoundError when no endpoint is there)."""
    import socket

    unix = directory / SOCKET_NAME
    if hasattr(socket, "AF_UNIX") and unix.exists():
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(unix))
        except OSError:
            sock.close()
            if not (directory / ENDPOINT_NAME).exists():
                raise
        else:
            return sock, None, unix
    endpoint = directory / ENDPOINT_NAME
    port, token = _read_endpoint(endpoint)
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock, token, endpoint


def _read_endpoint(path: Path) -> tuple[int, str]:
    """The port and token in ``path``; OSError if it does not hold them."""
    import json

    with open(path, encoding="utf-8") as source:  # FileNotFoundError: no up is running
        text = source.read(MAX_REQUEST)
    try:
        data = json.loads(text)
        port, token = data["port"], data["token"]
    except (ValueError, KeyError, TypeError):
        raise ConnectionRefusedError(f"{path} does not name an endpoint") from None
    if not (isinstance(port, int) and 0 < port < 65536 and isinstance(token, str)):
        raise ConnectionRefusedError(f"{path} does not name an endpoint")
    return port, token


def _answers(directory: Path) -> bool:
    """Whether something accepts connections at ``directory``'s endpoint: a live ``up``
    (one that is busy still accepts; asking it would only wait)."""
    try:
        sock, _token, _where = _connect(directory, 1.0)
    except OSError:
        return False
    sock.close()
    return True


class NotRunning(ProdserverError):
    """No ``prodserver up`` runs for this project."""

    exit_code = ExitCode.NOT_RUNNING


def request(directory: Path, command: Mapping[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send ``command`` to the ``up`` serving ``directory``; raises :class:`NotRunning`."""
    import json

    try:
        sock, token, where = _connect(directory, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NotRunning(
            "no prodserver up is running for this project",
            hint=f"start one with prodserver up (looked in {directory})",
        ) from None
    except OSError as exc:
        raise NotRunning(f"cannot talk to prodserver up at {directory}: {exc}") from None
    message = dict(command) if token is None else {**command, "token": token}
    try:
        sock.sendall((json.dumps(message) + "\n").encode())
        data = bytearray()
        while not data.endswith(b"\n") and len(data) <= MAX_REPLY:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise NotRunning(f"cannot talk to prodserver up at {where}: {exc}") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data)
    except ValueError:
        raise NotRunning(f"prodserver up at {where} gave no answer") from None
    if not isinstance(reply, dict):
        raise NotRunning(f"prodserver up at {where} gave an unexpected answer")
    return reply
