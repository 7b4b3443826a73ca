"""Which operating-system plumbing runs under the supervisor: ``native`` or ``portable``.

The supervisor's decisions are the same everywhere. Below it, three things differ:

- the **poller** the event loop waits on: ``epoll`` (native) or :mod:`selectors` (portable:
  kqueue on macOS, epoll or poll elsewhere);
- the **spawner**: native Linux makes prodserver a child subreaper and finds daemons that left
  their process group among its adopted children in ``/proc``; the portable one needs neither
  and finds them by their session or by this run's token (:mod:`prodserver.runtime.tree`);
- the **guardian**, which kills what is left when prodserver itself dies, reads ``/proc``
  (native) or asks psutil (portable). On Windows a Job Object does its work instead.

Linux uses the native plumbing unless ``PRODSERVER_RUNTIME=portable``; macOS, Windows and
the other systems use the portable one (on Windows with reader threads, Job Objects and a
loopback status endpoint: docs/guides/windows.md). An unknown value is an error (PS460), and
so is ``native`` where it cannot work (PS461): a typo must not silently pick a runtime.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import sys
import threading
from collections.abc import Mapping

from prodserver import codes
from prodserver.errors import UsageError
from prodserver.records import NamedTuple, Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from prodserver.runtime.guardian import Guardian
    from prodserver.runtime.spawner import Spawner

    Runtime = Literal["native", "portable"]

#: the environment variable that chooses the plumbing
RUNTIME_VAR = "PRODSERVER_RUNTIME"
#: its values
RUNTIMES = ("native", "portable")

#: event bits of :class:`Poller` (the values of ``select.EPOLLIN`` and ``select.EPOLLOUT``,
#: which are also ``POLLIN`` and ``POLLOUT``): spelled out, since Windows has none of them
READ = 1
WRITE = 4


class Poller(Protocol):
    """The part of ``select.epoll``'s interface the event loop uses.

    ``register`` with a mask of 0 keeps an fd known but not watched (reading is paused).
    Errors are those of epoll: ``OSError`` (or ``ValueError`` for a closed fd).
    """

    @property
    def closed(self) -> bool: ...

    def register(self, fd: int, eventmask: int = ..., /) -> None: ...

    def modify(self, fd: int, eventmask: int, /) -> None: ...

    def unregister(self, fd: int, /) -> None: ...

    def poll(self, timeout: float | None = ..., maxevents: int = ..., /) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (negative: forever); ``[(fd, events)]``."""

    def close(self) -> None: ...


class SelectorPoller:
    """epoll's interface over :class:`selectors.DefaultSelector` (kqueue on macOS).

    A selector cannot hold an fd with no events, so an fd paused with a mask of 0 is only
    remembered here, and registered with the selector again when it is resumed.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        #: fds registered with a mask of 0
        self._idle: set[int] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _known(self, fd: int) -> bool:
        if fd in self._idle:
            return True
        try:
            self._selector.get_key(fd)
        except KeyError:
            return False
        return True

    def register(self, fd: int, eventmask: int = READ, /) -> None:
        if self._known(fd):
            raise FileExistsError(f"fd {fd} is already registered")
        events = _selector_events(eventmask)
        if events:
            self._selector.register(fd, events)
        else:
            if fd < 0:
                raise ValueError(f"invalid fd {fd}")
            self._idle.add(fd)

    def modify(self, fd: int, eventmask: int, /) -> None:
        if not self._known(fd):
            raise FileNotFoundError(f"fd {fd} is not registered")
        self.unregister(fd)
        self.register(fd, eventmask)

    def unregister(self, fd: int, /) -> None:
        if fd in self._idle:
            self._idle.discard(fd)
            return
        try:
            self._selector.unregister(fd)
        except KeyError:
            raise FileNotFoundError(f"fd {fd} is not registered") from None

    def poll(self, timeout: float | None = -1.0, maxevents: int = -1, /) -> list[tuple[int, int]]:
        wait = None if timeout is None or timeout < 0 else timeout
        return [(key.fd, _poll_events(mask)) for key, mask in self._selector.select(wait)]

    def close(self) -> None:
        self._closed = True
        self._idle.clear()
        self._selector.close()


class ThreadedPoller:
    """epoll's interface where pipes cannot be waited on (Windows): a thread reads each one.

    Each registered pipe gets a daemon thread that blocks in ``os.read`` and hands over one
    chunk at a time: it reads the next only once the loop took this one (:meth:`read`), so a
    paused fd (mask 0) holds at most one chunk and backpressure still reaches the child. A
    socket (the control socket) is only waited on by its thread (``select``, which Windows
    has for sockets): its reader is the loop's callback, which gets it unchanged.
    Watching for writing is refused (``OSError``), as epoll refuses a regular file: the loop
    then retries its output on a timer. The loop reads registered fds through :meth:`read`.

    :meth:`poll` waits in slices of :data:`SLICE`: on Windows a signal handler (Ctrl-C) only
    runs once the main thread returns from a wait.
    """

    #: the longest single wait
    SLICE = 0.1

    def __init__(self, read_size: int = 1 << 16) -> None:
        self._read_size = read_size
        self._cond = threading.Condition()
        self._masks: dict[int, int] = {}
        #: the chunk each fd's thread read and the loop has not taken yet
        self._chunks: dict[int, bytes] = {}
        self._eof: set[int] = set()
        #: sockets found readable and not yet reported by :meth:`poll`
        self._sockets_ready: set[int] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def register(self, fd: int, eventmask: int = READ, /) -> None:
        if eventmask & WRITE:
            raise OSError(errno.EPERM, "a reader thread cannot wait for writing")
        with self._cond:
            if fd in self._masks:
                raise FileExistsError(f"fd {fd} is already registered")
            sock = _is_socket(fd)  # and a closed fd is an error now, not in the thread
            self._masks[fd] = eventmask
            self._eof.discard(fd)
        if sock:
            threading.Thread(target=self._waiter, args=(fd,), daemon=True).start()
            return
        # the thread blocks; the loop only reads the chunk. A pipe left non-blocking (the
        # loop's wake-up pipe) would read as its end at once. Windows before Python 3.12
        # cannot set it (its pipes are blocking then anyway).
        with contextlib.suppress(OSError, AttributeError):
            os.set_blocking(fd, True)
        threading.Thread(target=self._reader, args=(fd,), daemon=True).start()

    def modify(self, fd: int, eventmask: int, /) -> None:
        if eventmask & WRITE:
            raise OSError(errno.EPERM, "a reader thread cannot wait for writing")
        with self._cond:
            if fd not in self._masks:
                raise FileNotFoundError(f"fd {fd} is not registered")
            self._masks[fd] = eventmask
            self._cond.notify_all()

    def unregister(self, fd: int, /) -> None:
        with self._cond:
            if self._masks.pop(fd, None) is None:
                raise FileNotFoundError(f"fd {fd} is not registered")
            self._chunks.pop(fd, None)
            self._eof.discard(fd)
            self._sockets_ready.discard(fd)
            self._cond.notify_all()

    def _waiter(self, fd: int) -> None:
        import select

        while True:
            with self._cond:
                while fd in self._sockets_ready and fd in self._masks:
                    self._cond.wait()
                if fd not in self._masks:
                    return
            try:
                readable, _, _ = select.select([fd], [], [], self.SLICE)
            except (OSError, ValueError):
                return  # closed under us
            if readable:
                with self._cond:
                    if fd in self._masks:
                        self._sockets_ready.add(fd)
                        self._cond.notify_all()

    def _reader(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, self._read_size)
            except InterruptedError:
                continue
            except OSError:
                data = b""  # closed under us, or broken: end of file
            with self._cond:
                if fd not in self._masks:
                    return  # unregistered while we read: nobody wants it
                if not data:
                    self._eof.add(fd)
                    self._cond.notify_all()
                    return
                self._chunks[fd] = data
                self._cond.notify_all()
                while fd in self._chunks and fd in self._masks:
                    self._cond.wait()

    def read(self, fd: int, size: int) -> bytes:
        """The chunk the thread read (up to ``size``); ``b""`` at end of file.

        Raises BlockingIOError when nothing is there yet, as a non-blocking ``os.read`` does.
        """
        with self._cond:
            chunk = self._chunks.get(fd)
            if chunk is None:
                if fd in self._eof:
                    return b""
                raise BlockingIOError(errno.EAGAIN, "nothing read yet")
            if len(chunk) > size:
                self._chunks[fd] = chunk[size:]
                return chunk[:size]
            del self._chunks[fd]
            self._cond.notify_all()
            return chunk

    def _ready(self) -> list[tuple[int, int]]:
        ready = [
            (fd, READ)
            for fd, mask in self._masks.items()
            if mask & READ and (fd in self._chunks or fd in self._eof or fd in self._sockets_ready)
        ]
        if self._sockets_ready:
            # reported once: its thread waits again after the loop's callback had its turn
            self._sockets_ready.difference_update(fd for fd, _ in ready)
            self._cond.notify_all()
        return ready

    def poll(self, timeout: float | None = -1.0, maxevents: int = -1, /) -> list[tuple[int, int]]:
        wait = self.SLICE if timeout is None or timeout < 0 else min(timeout, self.SLICE)
        with self._cond:
            ready = self._ready()
            if not ready and wait > 0:
                self._cond.wait(wait)
                ready = self._ready()
        return ready

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._masks.clear()
            self._chunks.clear()
            self._cond.notify_all()


def _is_socket(fd: int) -> bool:
    """Whether ``fd`` is a socket (raises OSError for a closed fd)."""
    if sys.platform == "win32":
        import select

        try:
            select.select([fd], [], [], 0)  # Windows selects sockets only
        except (OSError, ValueError):
            os.fstat(fd)  # not a socket: a pipe, or closed (then this raises)
            return False
        return True
    import stat

    return stat.S_ISSOCK(os.fstat(fd).st_mode)


def _poll_events(mask: int) -> int:
    return (READ if mask & selectors.EVENT_READ else 0) | (
        WRITE if mask & selectors.EVENT_WRITE else 0
    )


def _selector_events(eventmask: int) -> int:
    return (selectors.EVENT_READ if eventmask & READ else 0) | (
        selectors.EVENT_WRITE if eventmask & WRITE else 0
    )


class Plumbing(NamedTuple):
    """The OS plumbing of one run: which poller, spawner and guardian it uses."""

    name: Runtime

    def poller(self) -> Poller:
        """A new poller for the event loop."""
        if self.name == "native":
            import select

            return select.epoll()
        if sys.platform == "win32":
            return ThreadedPoller()  # only sockets can be selected there, not pipes
        return SelectorPoller()

    def guardian(self) -> Guardian | None:
        """Start the guardian (None on Windows, where the Job Object does its work)."""
        if sys.platform == "win32":
            return None
        from prodserver.runtime.guardian import start_guardian

        return start_guardian(portable=self.name == "portable")

    def spawner(self, *, token: str | None) -> Spawner:
        """The spawner; ``token``: this run's tag in every child's environment, if any.

        With a guardian (a token) the native spawner sets no parent-death signal in each
        child: the guardian already kills every group when prodserver dies, and the signal
        costs milliseconds per spawn.
        """
        if sys.platform == "win32":
            from prodserver.runtime.spawner_windows import WindowsSpawner

            return WindowsSpawner()
        from prodserver.runtime.spawner import PortableSpawner, PosixSpawner

        if self.name == "native":
            return PosixSpawner(die_with_parent=token is None)
        return PortableSpawner(token=token)


def choose(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Plumbing:
    """The plumbing ``PRODSERVER_RUNTIME`` and the platform ask for; raises UsageError."""
    env = os.environ if environ is None else environ
    system = sys.platform if platform is None else platform
    linux = system.startswith("linux")
    value = env.get(RUNTIME_VAR, "").strip().lower()
    if value == "":
        return Plumbing("native" if linux else "portable")
    if value not in RUNTIMES:
        raise UsageError(
            f"{RUNTIME_VAR}={env.get(RUNTIME_VAR, '')!r} is not a runtime",
            hint=f"use {' or '.join(RUNTIMES)}, or leave it unset for this system's default",
            code=codes.RUNTIME_UNKNOWN,
        )
    if value == "native" and not linux:
        raise UsageError(
            f"{RUNTIME_VAR}=native needs Linux (subreaper, epoll, /proc); this is {system}",
            hint=f"{RUNTIME_VAR}=portable"
            if system == "win32"
            else f"unset {RUNTIME_VAR}: the portable runtime is the default here",
            code=codes.RUNTIME_NATIVE_UNAVAILABLE,
        )
    return Plumbing("native" if value == "native" else "portable")
