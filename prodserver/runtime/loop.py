"""The event loop: one thread, one poller, signals through a wake-up pipe.

The poller is ``epoll`` on the native Linux runtime and :mod:`selectors` (kqueue on macOS)
on the portable one (:mod:`prodserver.runtime.plumbing`); the loop is the same.

Signal handlers only append the signal number to a queue; ``signal.set_wakeup_fd`` makes the
same signal wake the poll, and the loop hands each queued signal to the supervisor. Child
output is read in large chunks from non-blocking pipes and passed to the
:class:`~prodserver.runtime.output.OutputMux`, which writes once per turn of the loop.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

from prodserver.fastpath import resume_collector
from prodserver.runtime.foreground import signals_named
from prodserver.runtime.output import READ_SIZE, OutputMux
from prodserver.runtime.plumbing import READ, WRITE, Poller
from prodserver.runtime.process import Unit
from prodserver.runtime.streams import Stream
from prodserver.runtime.supervisor import Supervisor
from prodserver.runtime.writer import keep_heap

#: the signals the loop takes over while it runs, those the system has (Windows has neither
#: SIGHUP nor SIGCHLD, but a console's Ctrl-Break arrives as SIGBREAK)
HANDLED = tuple(sorted(signals_named(("SIGINT", "SIGTERM", "SIGHUP", "SIGCHLD", "SIGBREAK"))))
#: without SIGCHLD (Windows) exits are looked for at least this often
CHILD_POLL = 0.1
_SIGCHLD: int | None = getattr(signal, "SIGCHLD", None)
_NO_SIGCHLD = _SIGCHLD is None
_SIGBREAK: int | None = getattr(signal, "SIGBREAK", None)
#: a stop asked for: SIGINT, SIGTERM, and a Windows console's Ctrl-Break
_STOPS = frozenset(signals_named(("SIGINT", "SIGTERM", "SIGBREAK")))
#: after a stop asked for by a signal, output nobody takes for this long is given up on: a
#: stalled reader must not hold the exit (a run that ends on its own waits for the reader)
DRAIN_IDLE = 0.5
#: how often a congested output that the poller cannot watch is retried
OUTPUT_RETRY = 0.05


class EventLoop:
    """Connects a :class:`Supervisor` to real pipes, signals and an :class:`OutputMux`."""

    def __init__(
        self,
        mux: OutputMux,
        *,
        on_attach: Callable[[int], None] | None = None,
        on_release: Callable[[int], None] | None = None,
        poller: Poller | None = None,
    ) -> None:
        self.mux = mux
        self.supervisor: Supervisor | None = None
        if poller is None:
            from prodserver.runtime.plumbing import choose

            poller = choose().poller()
        self._poll = poller
        #: how registered fds are read: a poller with reader threads hands over their chunks
        self._reader: Callable[[int, int], bytes] = getattr(poller, "read", os.read)
        self._fds: dict[int, Stream] = {}
        self._unit_fds: dict[int, list[int]] = {}
        self._signals: collections.deque[int] = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        if hasattr(os, "set_blocking"):  # Windows before 3.12 has none for pipes
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        self._poll.register(self._wake_r, READ)
        self._global = mux.stream("prodserver", "prodserver", None, "prodserver", 0)
        self._streams: dict[int, Stream] = {}
        #: called with the process group of every spawned child (the guardian watches them)
        self.on_attach = on_attach
        #: called with a process group once it is empty
        self.on_release = on_release
        #: other readable fds (notify and control sockets): fd -> callback
        self._watchers: dict[int, Callable[[], None]] = {}
        #: callables handed over by other threads (probe results), run on the loop
        self._posted: collections.deque[Callable[[], None]] = collections.deque()
        #: children's pipes are not read while our own output is congested (backpressure)
        self._paused = False
        #: the output fd is in the poller (for writing) while paused
        self._out_watched = False
        #: SIGINT or SIGTERM arrived: the exit may not wait long for a stalled reader
        self.stop_asked = False

    # -- other fds and other threads ----------------------------------------------------------

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the loop whenever ``fd`` is readable."""
        self._watchers[fd] = callback
        self._poll.register(fd, READ)

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (the caller closes it)."""
        if self._watchers.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self._poll.unregister(fd)

    def post(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread soon; safe to call from any thread."""
        if self._poll.closed:
            return  # the run is over: nothing would run it
        self._posted.append(callback)
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    # -- Hooks -----------------------------------------------------------------------------

    def attached(self, unit: Unit) -> None:
        handle = unit.handle
        assert handle is not None
        fds = []
        for fd, name in ((handle.stdout, "stdout"), (handle.stderr, "stderr")):
            if fd is None:
                continue
            st = self.mux.stream(unit.label, unit.name, unit.instance.number, name, unit.color)
            self._fds[fd] = st
            self._poll.register(fd, 0 if self._paused else READ)
            fds.append(fd)
        self._unit_fds[id(unit)] = fds
        if self.on_attach is not None:
            self.on_attach(handle.pgid)

    def released(self, unit: Unit, pgid: int) -> None:
        if self.on_release is not None:
            self.on_release(pgid)

    def exited(self, unit: Unit) -> None:
        # Everything the dead process wrote is in its pipes now: show it before the message.
        for fd in self._unit_fds.get(id(unit), ()):
            st = self._fds.get(fd)
            if st is None:
                continue
            while self._read(fd, st):
                pass
            if fd in self._fds:
                self.mux.end(st)

    def say(self, unit: Unit | None, text: str) -> None:
        st = self._global if unit is None else self._status_stream(unit)
        self.mux.message(st, text)

    def _status_stream(self, unit: Unit) -> Stream:
        st = self._streams.get(id(unit))
        if st is None:
            st = self.mux.stream(
                unit.label, unit.name, unit.instance.number, "prodserver", unit.color
            )
            self._streams[id(unit)] = st
        return st

    # -- reading ---------------------------------------------------------------------------

    def _read(self, fd: int, st: Stream) -> bool:
        """Read once from ``fd``; False when nothing more is there for now (or ever)."""
        try:
            data = self._reader(fd, READ_SIZE)
        except BlockingIOError:
            return False
        except InterruptedError:
            return True
        except OSError:
            data = b""
        if not data:
            self.mux.end(st)
            self._close(fd)
            return False
        self.mux.feed(st, data)
        return True

    def _close(self, fd: int) -> None:
        self._fds.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._poll.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    # -- backpressure --------------------------------------------------------------------

    def _throttle(self) -> None:
        """Stop reading children while our reader is behind; resume once it caught up."""
        out = self.mux.writer
        if not self._paused and out.congested and not out.broken:
            self._paused = True
            for fd in self._fds:
                with contextlib.suppress(OSError, ValueError):
                    self._poll.modify(fd, 0)
            self._watch_output()
        elif self._paused and (out.relieved or out.broken):
            self._paused = False
            for fd in self._fds:
                with contextlib.suppress(OSError, ValueError):
                    self._poll.modify(fd, READ)
            self._unwatch_output()

    def _watch_output(self) -> None:
        if self._out_watched:
            return
        try:
            self._poll.register(self.mux.writer.fd, WRITE)
        except (OSError, ValueError):
            return  # a file the poller cannot watch: retried every OUTPUT_RETRY instead
        self._out_watched = True

    def _unwatch_output(self) -> None:
        if self._out_watched:
            self._out_watched = False
            with contextlib.suppress(OSError, ValueError):
                self._poll.unregister(self.mux.writer.fd)

    def _drain(self) -> None:
        """The run is over: wait for our reader to take what is left.

        A run that ended on its own waits for the reader as ``cat`` would; once a stop was
        asked for by a signal, a reader that takes nothing for :data:`DRAIN_IDLE` is given
        up on, and a further SIGINT or SIGTERM ends the wait at once.
        """
        mux, out = self.mux, self.mux.writer
        clock = time.monotonic
        mux.flush()
        if not out.backlog or out.broken:
            return
        self._watch_output()
        last, since = out.backlog, clock()
        while out.backlog and not out.broken:
            timeout = -1.0 if self._out_watched else OUTPUT_RETRY
            if self.stop_asked:
                left = since + DRAIN_IDLE - clock()
                if left <= 0:
                    break
                timeout = left if timeout < 0 else min(timeout, left)
            for fd, _mask in self._poll.poll(timeout):
                if fd == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while self._reader(fd, 512):
                            pass
            while self._signals:
                if self._signals.popleft() in _STOPS:
                    if self.stop_asked:
                        since = -DRAIN_IDLE  # a second request: give up now
                    self.stop_asked = True
            mux.flush()
            if out.backlog < last:
                last, since = out.backlog, clock()
        self._unwatch_output()

    # -- signals ---------------------------------------------------------------------------

    def _enqueue(self, signum: int, frame: FrameType | None) -> None:
        # Only record it: everything else happens in the loop, outside the handler.
        self._signals.append(signum)

    def _install(self) -> dict[int, object]:
        previous: dict[int, object] = {}
        for sig in HANDLED:
            previous[sig] = signal.signal(sig, self._enqueue)
            if hasattr(signal, "siginterrupt"):
                # a signal must not break a blocking write or read half-way
                signal.siginterrupt(sig, False)
        # Windows wants a socket (ValueError): the poller's slices let the handlers run instead
        with contextlib.suppress(ValueError):
            previous[-1] = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        return previous

    def _restore(self, previous: dict[int, object]) -> None:
        if -1 in previous:
            signal.set_wakeup_fd(int(previous.pop(-1)))  # type: ignore[call-overload]
        for sig, handler in previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, handler)  # type: ignore[arg-type]

    # -- the loop --------------------------------------------------------------------------

    def run(self, supervisor: Supervisor) -> int:
        """Run until the supervisor is done; returns its exit code."""
        self.supervisor = supervisor
        keep_heap()  # the read and output buffers are reused, not faulted in anew each turn
        previous = self._install()
        try:
            supervisor.start()
            self.mux.flush()
            resume_collector(freeze=True)  # paused for the start by the console script
            return self._loop(supervisor)
        except BaseException:
            # Not a completed stop (a bug, an OverflowError, a MemoryError): no child may
            # outlive this ``up``, so every one is stopped, and killed if need be, first.
            self._abandon(supervisor)
            raise
        finally:
            self._restore(previous)
            for fd in list(self._fds):
                self._close(fd)
            self.mux.flush()
            self._poll.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _abandon(self, sup: Supervisor) -> None:
        from prodserver.runtime.audit import Event
        from prodserver.runtime.emergency import abandon

        with contextlib.suppress(Exception):
            self.say(None, Event("stopping", "internal error: stopping every process", {}))
            self.mux.flush()
        abandon(sup)

    def _dispatch(self, sup: Supervisor) -> bool:
        """Hand queued signals and posted callbacks over; True when children exited."""
        reap = _NO_SIGCHLD  # then every turn looks for exits
        while self._signals:
            signum = self._signals.popleft()
            if signum == _SIGCHLD:
                reap = True
                continue
            if signum == _SIGBREAK:
                signum = signal.SIGTERM  # a Windows console's Ctrl-Break: stop, as for SIGTERM
            if signum in (signal.SIGINT, signal.SIGTERM):
                self.stop_asked = True
            sup.handle_signal(signum)
        while self._posted:
            self._posted.popleft()()
        return reap

    def _deadline(self, sup: Supervisor, partial_due: float | None) -> tuple[float | None, float]:
        """When the loop must next act (a timer, or a partial line to flush), and how long
        poll may wait for it (-1: no limit)."""
        deadline = sup.next_deadline()
        if partial_due is not None and (deadline is None or partial_due < deadline):
            deadline = partial_due
        timeout = -1.0 if deadline is None else max(0.0, deadline - sup.clock.monotonic())
        if self._paused and not self._out_watched and not 0 <= timeout < OUTPUT_RETRY:
            timeout = OUTPUT_RETRY
        if _NO_SIGCHLD and not 0 <= timeout < CHILD_POLL:
            timeout = CHILD_POLL
        return deadline, timeout

    def _ready(self, fd: int) -> None:
        """One descriptor poll reported: the wake pipe, our output, a watcher, or a child's pipe."""
        read = self._reader
        if fd == self._wake_r:
            with contextlib.suppress(BlockingIOError):
                while read(fd, 512):
                    pass
            return
        st = self._fds.get(fd)
        if st is None:
            if fd == self.mux.writer.fd:
                return  # writable again: the loop's flush writes
            watcher = self._watchers.get(fd)
            if watcher is not None:
                watcher()
            return
        try:
            data = read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.mux.feed(st, data)
        else:
            self.mux.end(st)
            self._close(fd)

    def _loop(self, sup: Supervisor) -> int:
        mux = self.mux
        clock = sup.clock
        fds = self._fds
        poll = self._poll.poll
        ready = self._ready
        partial_due: float | None = None
        while not sup.done:
            deadline, timeout = self._deadline(sup, partial_due)
            for fd, _mask in poll(timeout):
                ready(fd)
            reap = self._dispatch(sup)
            if reap:
                sup.handle_children()
            elif deadline is not None and clock.monotonic() >= deadline:
                sup.tick()
            partial_due = mux.flush_partial(clock.monotonic())
            mux.flush()
            self._throttle()
            if mux.writer.broken and not sup.stopping:
                # nobody reads our output any more (``| head``): stop as if asked to
                sup.begin_stop()
        # Output of processes that left something in their pipes after the group emptied.
        for fd, st in list(fds.items()):
            while self._read(fd, st):
                pass
        self._drain()
        return sup.exit_code()
