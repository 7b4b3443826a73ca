"""Writing our output without ever waiting for its reader.

The output (a terminal, a pipe to ``less`` or to a log shipper) is made non-blocking for the
run. What the reader does not take at once is kept, whole records in order, and written first
next time; while any is kept, the event loop stops reading the children's pipes, so they are
slowed by their own full pipes (backpressure) instead of this process growing or dropping
lines, and signals, exits, probes and deadlines are handled all the same.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import os
import select
import sys
import time
from collections.abc import Callable

#: the most buffers one ``writev`` takes (IOV_MAX on Linux)
_IOV_MAX = 1024
#: output not yet taken by our reader beyond which children's pipes are no longer read, so
#: that they are slowed by their own full pipes (backpressure) instead of growing our memory.
#: Zero: as soon as the reader is behind, the loop waits for it (as a blocking write would,
#: but with signals, exits, probes and deadlines still handled), which keeps the backlog to
#: one turn's reads and lets the children's pipes batch the next lines
HIGH_WATER = 0
#: reading resumes once the backlog is under this (1: once it is all written)
LOW_WATER = 1


#: freed memory glibc may keep for reuse instead of returning it to the system at once
HEAP_KEEP = 8 * 1024 * 1024
_M_TRIM_THRESHOLD = -1


def keep_heap() -> None:
    """Let the C allocator keep up to :data:`HEAP_KEEP` of freed memory (glibc only).

    Every turn of the event loop allocates and frees the same few hundred KiB of read and
    output buffers. By default glibc gives freed memory at the top of its heap back to the
    system once more than 128 KiB are free, so the next turn takes fresh pages and a page
    fault for each of them: with 8 writers moving 1.6 million lines that was 17,000 extra
    page faults and a fifth of the hot path's CPU time (measured with ``perf stat``).
    """
    if not sys.platform.startswith("linux"):
        return
    from prodserver.runtime.libc import int_function

    mallopt = int_function("mallopt", "ii")
    if mallopt is not None:  # None: not glibc (musl has no mallopt)
        mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP)


def _write_joined(fd: int, bufs: list[bytes | memoryview]) -> int:
    """``os.writev`` where the system has none (Windows): one write of the buffers joined."""
    return os.write(fd, b"".join(bufs))


_writev: Callable[[int, list[bytes | memoryview]], int] = getattr(os, "writev", _write_joined)


class Writer:
    """Non-blocking, ordered, bounded writes to one file descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        #: the reader went away (EPIPE): what comes next is dropped
        self.broken = False
        #: what the reader did not take yet, oldest first
        self._queue: collections.deque[bytes | memoryview] = collections.deque()
        self._bytes = 0
        self._restore_blocking = False

    @property
    def backlog(self) -> int:
        """Bytes written by nobody yet: the reader of our output is behind by this much."""
        return self._bytes

    @property
    def congested(self) -> bool:
        """The backlog is over :data:`HIGH_WATER`: stop reading children (backpressure)."""
        return self._bytes > HIGH_WATER

    @property
    def relieved(self) -> bool:
        """The backlog fell under :data:`LOW_WATER`: reading children may resume."""
        return self._bytes < LOW_WATER

    def open(self) -> None:
        """Make the output non-blocking for the run: a stalled reader never stops the loop.

        A terminal or a pipe shares its open file with the shell or the other end's other
        writers, so :meth:`close` puts the flag back as it was.
        """
        with contextlib.suppress(OSError, ValueError):
            if os.get_blocking(self.fd):
                os.set_blocking(self.fd, False)
                self._restore_blocking = True

    def close(self) -> None:
        """Give the output its blocking mode back (see :meth:`open`)."""
        if self._restore_blocking:
            self._restore_blocking = False
            with contextlib.suppress(OSError, ValueError):
                os.set_blocking(self.fd, True)

    def write(self, out: list[bytes | memoryview]) -> None:
        """Write ``out`` as far as the output takes it now, without waiting; keep the rest.

        Complete records are queued whole, so a backlog never tears a line: what is not
        written now is written first next time (an empty ``out`` writes the backlog).
        """
        if out:
            if self.broken:
                return
            if self._queue:
                self._queue.extend(out)
                self._bytes += sum(map(len, out))
            else:
                rest = self._write(out)
                if rest:
                    self._queue.extend(rest)
                    self._bytes += sum(map(len, rest))
                return
        if self._queue and not self.broken:
            self._write_queue()

    def _write(self, bufs: list[bytes | memoryview]) -> list[bytes | memoryview]:
        """Write ``bufs`` with as few ``writev`` calls as it takes; what did not fit."""
        fd = self.fd
        i, count = 0, len(bufs)
        while i < count:
            try:
                written = _writev(fd, bufs[i : i + _IOV_MAX])
            except BlockingIOError:
                return bufs[i:]
            except InterruptedError:
                continue
            except OSError as exc:
                # EIO: our terminal hung up (it closed); EPIPE: our reader went away
                if exc.errno in (errno.EPIPE, errno.EBADF, errno.EINVAL, errno.EIO):
                    self.broken = True
                    return []
                raise
            # skip what was written (empty buffers included); a buffer written in part
            # continues where it stopped
            while i < count:
                size = len(bufs[i])
                if written < size:
                    if written:
                        bufs[i] = memoryview(bufs[i])[written:]
                    break
                written -= size
                i += 1
        return []

    def _write_queue(self) -> None:
        backlog = self._queue
        while backlog:
            batch = list(itertools.islice(backlog, _IOV_MAX))
            try:
                written = _writev(self.fd, batch)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                # EIO: our terminal hung up (it closed); EPIPE: our reader went away
                if exc.errno in (errno.EPIPE, errno.EBADF, errno.EINVAL, errno.EIO):
                    self.broken = True
                    backlog.clear()
                    self._bytes = 0
                    return
                raise
            self._bytes -= written
            while backlog:
                size = len(backlog[0])
                if written < size:
                    if written:
                        backlog[0] = memoryview(backlog[0])[written:]
                    break
                written -= size
                backlog.popleft()

    def drain(self, idle: float, monotonic: Callable[[], float] = time.monotonic) -> int:
        """Wait for the reader to take the backlog, giving up after ``idle`` seconds without
        progress; returns the bytes given up on (0: everything was written)."""
        self._write_queue()
        last = self._bytes
        since = monotonic()
        while self._queue and not self.broken:
            left = since + idle - monotonic()
            if left <= 0:
                break
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self.fd], [], left)
            self._write_queue()
            if self._bytes < last:
                last = self._bytes
                since = monotonic()
        dropped = self._bytes
        self._queue.clear()
        self._bytes = 0
        return dropped
