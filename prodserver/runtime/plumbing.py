"""Which operating-system plumbing runs under the supervisor: ``native`` or ``portable``.

The supervisor's decisions are the same everywhere. Below it, three things differ:

- the **poller** the event loop waits on: ``epoll`` (native) or :mod:`selectors` (portable:
  kqueue on macOS, epoll or poll elsewhere);
- the **spawner**: native Linux makes prodserver a child subreaper and finds daemons that left
  their process group among its adopted children in ``/proc``; the portable one needs neither
  and finds them by their session or by this run's token (:mod:`prodserver.runtime.tree`);
- the **guardian**, which kills what is left when prodserver itself dies, reads ``/proc``
  (native) or asks psutil (portable). On Windows a Job Object does its work instead.

Linux uses the native plumbing unless ``PRODSERVER_RUNTIME=portable``; every other system
uses the portable one. An unknown value is an error (PS460), and so is ``native`` where it
cannot work (PS461): a typo must not silently pick a runtime.
"""

from __future__ import annotations

import os
import selectors
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from prodserver.errors import UsageError

if TYPE_CHECKING:
    from prodserver.runtime.guardian import Guardian
    from prodserver.runtime.spawner import Spawner

#: the environment variable that chooses the plumbing
RUNTIME_VAR = "PRODSERVER_RUNTIME"
#: its values
RUNTIMES = ("native", "portable")

#: event bits of :class:`Poller` (the values of ``select.EPOLLIN`` and ``select.EPOLLOUT``,
#: which are also ``POLLIN`` and ``POLLOUT``): spelled out, since Windows has none of them
READ = 1
WRITE = 4

Runtime = Literal["native", "portable"]


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
        ...

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


def _poll_events(mask: int) -> int:
    return (READ if mask & selectors.EVENT_READ else 0) | (
        WRITE if mask & selectors.EVENT_WRITE else 0
    )


def _selector_events(eventmask: int) -> int:
    return (selectors.EVENT_READ if eventmask & READ else 0) | (
        selectors.EVENT_WRITE if eventmask & WRITE else 0
    )


@dataclass(frozen=True)
class Plumbing:
    """The OS plumbing of one run: which poller, spawner and guardian it uses."""

    name: Runtime

    def poller(self) -> Poller:
        """A new poller for the event loop."""
        if self.name == "native":
            import select

            return select.epoll()
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
            code="PS460",
        )
    if value == "native" and not linux:
        raise UsageError(
            f"{RUNTIME_VAR}=native needs Linux (subreaper, epoll, /proc); this is {system}",
            hint=f"unset {RUNTIME_VAR}: the portable runtime is the default here",
            code="PS461",
        )
    return Plumbing("native" if value == "native" else "portable")
