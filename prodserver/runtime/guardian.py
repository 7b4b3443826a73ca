"""The guardian: makes sure nothing outlives prodserver, even when it is killed with SIGKILL.

The parent-death signal kills each child prodserver started, but not the child's own children
(it is not inherited across fork), and a daemon that left its group is out of reach of a
group kill. So before anything starts, prodserver forks a tiny guardian: it leaves
prodserver's session, closes everything but one pipe, and blocks reading it. prodserver writes
each new process group to the pipe. If the pipe reaches end-of-file without a goodbye,
prodserver died: the guardian kills every group it was told about, then every process that
carries this run's ``PRODSERVER_RUN`` token in its environment (double-forked daemons
included), and exits. A forked process that only sleeps in ``read`` shares almost all of its
memory with prodserver.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field

#: environment variable carrying the run token into every child
RUN_TOKEN_VAR = "PRODSERVER_RUN"  # noqa: S105 - a variable name, not a secret


@dataclass
class Guardian:
    """prodserver's end of the guardian's pipe."""

    pid: int
    fd: int
    token: str
    env: dict[str, str] = field(default_factory=dict)

    def _send(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode())

    def watch(self, pgid: int) -> None:
        """Tell the guardian about a new process group."""
        self._send(f"+{pgid}\n")

    def forget(self, pgid: int) -> None:
        """A process group is empty: the guardian must not kill its (reused) id later."""
        self._send(f"-{pgid}\n")

    def abandon(self) -> None:
        """prodserver is failing: close the pipe without a goodbye, so the guardian kills
        every group it was told about and every process carrying the run token."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)

    def close(self) -> None:
        """prodserver is exiting normally: dismiss the guardian."""
        self._send("bye\n")
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


def start_guardian() -> Guardian | None:
    """Fork the guardian (Linux only, where ``/proc`` lets it find tagged processes)."""
    if not sys.platform.startswith("linux"):
        return None
    # os.urandom, not the secrets module: same bytes, 4 ms less start-up (secrets imports
    # hashlib, base64 and random)
    token = os.urandom(8).hex()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked guardian
        try:
            _guard(read_fd, token)
        finally:
            os._exit(0)
    os.close(read_fd)
    return Guardian(pid, write_fd, token, {RUN_TOKEN_VAR: token})


def _guard(read_fd: int, token: str) -> None:  # pragma: no cover - runs in the guardian
    os.setsid()  # out of prodserver's group: a terminal's Ctrl-C is not for us
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_IGN if sig != signal.SIGCHLD else signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, read_fd)
    os.closerange(read_fd + 1, 65536)
    groups: set[int] = set()
    buffer = b""
    dismissed = False
    while True:
        try:
            data = os.read(read_fd, 4096)
        except InterruptedError:
            continue
        if not data:
            break
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line == b"bye":
                dismissed = True
            elif line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
    if dismissed:
        return
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    marker = f"{RUN_TOKEN_VAR}={token}".encode()
    me = os.getpid()
    # A process may fork while we look: repeat until a pass finds nobody.
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    environ = fh.read()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
                    found = True
        if not found:
            break
