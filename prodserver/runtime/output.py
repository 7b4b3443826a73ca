"""The output multiplexer: many children's pipes in, one stream of whole, prefixed lines out.

This is the hot path. It works on whole buffers with ``bytes`` methods (``rfind``,
``replace``, ``translate``) so that the per-byte work happens in C; Python code runs once per
chunk read (up to 64 KiB), not once per line, except in JSON mode where each line becomes an
object. In the common case (text mode, ASCII, no control characters) a chunk costs one
``translate`` to look for control characters, one ``replace`` that puts the prefix after every
newline, and no other copy: the lines are queued as a ``memoryview`` of the replaced buffer and
everything queued is written with one ``writev`` per turn of the event loop.

Guarantees (each has a test):

- a complete line is written whole, in order per stream, never merged with another line;
- a last line without a newline is written when its stream ends (before the exit message);
- a partial line (a prompt) is held only for that stream and shown after :data:`PARTIAL_IDLE`
  seconds without more data; it never holds up other streams;
- invalid UTF-8 is replaced by U+FFFD;
- a line longer than :data:`MAX_LINE` is cut into pieces, so memory stays flat;
- when the output is not a terminal, control characters (ESC, CR, line separators that
  ``str.splitlines`` would honour) are shown as visible escapes so that no child can forge
  another process's prefix or overwrite its own;
- a closed output (``| head``) sets :attr:`OutputMux.broken` instead of raising.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import json
import os
import re
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from prodserver.runtime.audit import Event

LogFormat = Literal["text", "json"]

#: keys every JSON record has; an event's fields come after them
_RECORD_KEYS = frozenset({"time", "process", "instance", "stream", "line", "event"})


class AuditSink(Protocol):
    """Where prodserver's own events also go, as JSON lines (``up --log-file``)."""

    def write(self, line: bytes) -> None:
        """Keep one whole line."""
        ...


#: bytes read from a pipe at once
READ_SIZE = 64 * 1024
#: a line longer than this is cut into pieces of at most this size plus one read
MAX_LINE = 32 * 1024
#: output not yet taken by our reader beyond which children's pipes are no longer read, so
#: that they are slowed by their own full pipes (backpressure) instead of growing our memory.
#: Zero: as soon as the reader is behind, the loop waits for it (as a blocking write would,
#: but with signals, exits, probes and deadlines still handled), which keeps the backlog to
#: one turn's reads and lets the children's pipes batch the next lines
HIGH_WATER = 0
#: reading resumes once the backlog is under this (1: once it is all written)
LOW_WATER = 1
#: seconds a partial line waits for the rest of it before it is shown anyway
PARTIAL_IDLE = 0.5

# Control bytes that would let a child move the cursor, overwrite a prefix or start a line
# on its own when the output is later shown in a terminal or split by a tool. Tab stays.
_CONTROL = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
_CONTROL_NO_NL = _CONTROL.replace(b"\n", b"")
_CONTROL_RE = re.compile(b"[" + re.escape(_CONTROL_NO_NL) + b"]")
# Looked for one by one: ``byte in data`` is a vectorised ``memchr``, and 31 of them over a
# 64 KiB chunk cost less than one byte-by-byte pass (``translate`` or a regex) over it.
_CONTROL_BYTES = tuple(bytes([byte]) for byte in _CONTROL_NO_NL)


def has_control(data: bytes) -> bool:
    """Whether ``data`` holds a control byte other than newline and tab."""
    return any(byte in data for byte in _CONTROL_BYTES)


#: at most this many buffers go to one ``writev`` (Linux's IOV_MAX is 1024)
_IOV_MAX = 1024
#: freed memory glibc may keep for reuse instead of returning it to the system at once
HEAP_KEEP = 8 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
# Unicode line separators that ``str.splitlines`` treats as line breaks (NEL, LS, PS).
_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")

_RESET = b"\x1b[0m"
_BOLD = b"\x1b[1m"
# Foreground colours that read well on dark and light backgrounds.
_PALETTE = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)

_encode_json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _caret(match: re.Match[bytes]) -> bytes:
    byte = match.group()[0]
    return b"^?" if byte == 0x7F else b"^" + bytes([byte + 64])


def neutralise(data: bytes) -> bytes:
    """``data`` with control characters shown as ``^X`` (caret notation), newlines kept."""
    if has_control(data):
        data = _CONTROL_RE.sub(_caret, data)
    return data


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
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc, or no ctypes
        return
    mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP)


def _utf8(data: bytes) -> bytes:
    """``data`` as valid UTF-8: malformed sequences become U+FFFD."""
    if data.isascii():
        return data
    return data.decode("utf-8", "replace").encode("utf-8")


def _cut_utf8(data: bytes, limit: int) -> int:
    """An index near ``limit`` that does not split a UTF-8 sequence."""
    cut = limit
    # step back over at most 3 continuation bytes (0b10xxxxxx)
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit


@dataclass(frozen=True)
class Style:
    """How lines are rendered."""

    color: bool = False
    timestamps: bool = False
    fmt: LogFormat = "text"
    #: neutralise control characters (when the output is not a terminal)
    sanitize: bool = True
    #: width the labels are padded to
    width: int = 0


class Stream:
    """One pipe of one child: where its bytes are buffered and how its lines are prefixed."""

    __slots__ = (
        "_json_head",
        "_json_head_ts",
        "_nl_prefix",
        "_prefix",
        "_prefix_ts",
        "color",
        "instance",
        "label",
        "pending",
        "pending_since",
        "process",
        "stream",
    )

    def __init__(self, label: str, process: str, instance: int | None, stream: str, color: int):
        self.label = label
        self.process = process
        self.instance = instance
        self.stream = stream
        self.color = color
        self.pending = b""
        self.pending_since = 0.0
        self._prefix = b""
        self._nl_prefix = b"\n"
        self._prefix_ts = ""
        self._json_head = ""
        self._json_head_ts = ""


class OutputMux:
    """Frames, prefixes and writes the output of every child and prodserver's own messages.

    Output is collected with :meth:`feed` and :meth:`message` and written by :meth:`flush` in
    one large write, once per turn of the event loop.
    """

    def __init__(
        self,
        fd: int,
        style: Style,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fd = fd
        self.style = style
        self.broken = False
        self._wall = wall
        self._monotonic = monotonic
        self._out: list[bytes | memoryview] = []
        #: what the reader did not take yet, oldest first (see :meth:`flush`)
        self._backlog: collections.deque[bytes | memoryview] = collections.deque()
        self._backlog_bytes = 0
        self._restore_blocking = False
        self._partial: set[Stream] = set()
        #: plain text: most chunks can take :meth:`_feed_plain`
        self._fast = style.fmt == "text"
        self._ts_second = -1
        self._ts_text = ""
        #: also receives every message of prodserver's as a JSON line
        self.audit: AuditSink | None = None

    # -- streams -----------------------------------------------------------------------

    def stream(
        self, label: str, process: str, instance: int | None, stream: str, color: int = 0
    ) -> Stream:
        """A new stream to :meth:`feed`."""
        return Stream(label, process, instance, stream, color)

    def _clock_text(self) -> str:
        now = self._wall()
        second = int(now)
        if second != self._ts_second:
            self._ts_second = second
            self._ts_text = time.strftime("%H:%M:%S", time.localtime(now))
        return self._ts_text

    def _prefix(self, st: Stream, sep: str = "|") -> bytes:
        style = self.style
        ts = self._clock_text() if style.timestamps else ""
        if sep == "|" and st._prefix and st._prefix_ts == ts:
            return st._prefix
        label = st.label.ljust(style.width).encode()
        head = (ts + " ").encode() if ts else b""
        if style.color:
            code = b"\x1b[%dm" % _PALETTE[st.color % len(_PALETTE)]
            if sep == "|":
                prefix = head + code + label + b" |" + _RESET + b" "
            else:
                prefix = head + code + _BOLD + label + b" " + sep.encode() + b" "
        else:
            prefix = head + label + b" " + sep.encode() + b" "
        if sep == "|":
            st._prefix, st._prefix_ts = prefix, ts
            st._nl_prefix = b"\n" + prefix
        return prefix

    def _json_head(self, st: Stream, stream: str | None = None) -> str:
        now = self._wall()
        ts = _iso(now)
        if stream is None and st._json_head_ts == ts:
            return st._json_head
        instance = "null" if st.instance is None else str(st.instance)
        head = (
            '{"time": "'
            + ts
            + '", "process": '
            + _encode_json_str(st.process)
            + ', "instance": '
            + instance
            + ', "stream": '
            + _encode_json_str(stream or st.stream)
            + ', "line": '
        )
        if stream is None:
            st._json_head, st._json_head_ts = head, ts
        return head

    # -- the hot path --------------------------------------------------------------------

    def feed(self, st: Stream, data: bytes) -> None:
        """Take bytes read from ``st``'s pipe; queue every complete line."""
        if self._fast and self._feed_plain(st, data):
            return
        if st.pending:
            data = st.pending + data
        nl = data.rfind(b"\n")
        if nl < 0:
            if not st.pending:
                st.pending_since = self._monotonic()
                self._partial.add(st)
            st.pending = data
            while len(st.pending) > MAX_LINE:
                cut = _cut_utf8(st.pending, MAX_LINE)
                self._emit(st, st.pending[:cut])
                st.pending = st.pending[cut:]
            return
        if nl == len(data) - 1:
            if st.pending:
                self._partial.discard(st)
                st.pending = b""
            self._emit(st, data[:nl])
            return
        self._emit(st, data[:nl])
        self._partial.add(st)
        st.pending = data[nl + 1 :]
        st.pending_since = self._monotonic()
        while len(st.pending) > MAX_LINE:
            cut = _cut_utf8(st.pending, MAX_LINE)
            self._emit(st, st.pending[:cut])
            st.pending = st.pending[cut:]

    def _feed_plain(self, st: Stream, data: bytes) -> bool:
        """The common case without a copy of ``data``; False to take the general path.

        Taken when ``data`` (and the held partial line) are ASCII without control characters
        or carriage returns, and ``data`` ends at least one line: nothing needs rewriting
        except the prefix after each newline.
        """
        nl = data.rfind(b"\n")
        if nl < 0 or not data.isascii():
            return False
        pending = st.pending
        if pending and not pending.isascii():
            return False
        if self.style.sanitize:
            # carriage returns are control bytes too
            if has_control(data) or (pending and has_control(pending)):
                return False
        elif b"\r" in data or b"\r" in pending:
            return False
        prefix = self._prefix(st)
        out = self._out
        out.append(prefix)
        if pending:
            out.append(pending)
        # The prefix goes after every newline, including the last, whose line is not complete
        # yet: write up to and including the last newline, keep the raw tail as pending.
        body = data.replace(b"\n", st._nl_prefix)
        if nl == len(data) - 1:
            out.append(memoryview(body)[: len(body) - len(prefix)])
            if pending:
                self._partial.discard(st)
                st.pending = b""
            return True
        out.append(memoryview(body)[: body.rfind(b"\n") + 1])
        if not pending:
            self._partial.add(st)
        st.pending = data[nl + 1 :]
        st.pending_since = self._monotonic()
        while len(st.pending) > MAX_LINE:
            cut = _cut_utf8(st.pending, MAX_LINE)
            self._emit(st, st.pending[:cut])
            st.pending = st.pending[cut:]
        return True

    def _emit(self, st: Stream, lines: bytes) -> None:
        """Queue ``lines`` (one or more lines joined by ``\\n``, no final newline)."""
        if b"\r" in lines:
            lines = lines.replace(b"\r\n", b"\n")
            if lines.endswith(b"\r"):
                lines = lines[:-1]
        if self.style.fmt == "json":
            self._emit_json(st, lines)
            return
        if not lines.isascii():
            text = lines.decode("utf-8", "replace")
            if self.style.sanitize:
                for brk in _UNICODE_BREAKS:
                    if brk in text:
                        text = text.replace(brk, f"<U+{ord(brk):04X}>")
            lines = text.encode("utf-8")
        if self.style.sanitize:
            lines = neutralise(lines)
        prefix = self._prefix(st)
        self._out.append(prefix)
        self._out.append(lines.replace(b"\n", b"\n" + prefix))
        self._out.append(b"\n")

    def _emit_json(self, st: Stream, lines: bytes) -> None:
        head = self._json_head(st)
        text = lines.decode("utf-8", "replace")
        sep = "}\n" + head
        self._out.append(
            (head + sep.join(map(_encode_json_str, text.split("\n"))) + "}\n").encode("ascii")
        )

    def end(self, st: Stream) -> None:
        """The stream closed (or its process exited): write what is left of its last line."""
        if st.pending:
            self._emit(st, st.pending)
            st.pending = b""
        self._partial.discard(st)

    def flush_partial(self, now: float) -> float | None:
        """Show partial lines idle for :data:`PARTIAL_IDLE`; the next time to call again."""
        if not self._partial:
            return None
        nxt: float | None = None
        for st in list(self._partial):
            due = st.pending_since + PARTIAL_IDLE
            if due <= now:
                self.end(st)
            elif nxt is None or due < nxt:
                nxt = due
        return nxt

    # -- prodserver's own messages --------------------------------------------------------

    def message(self, st: Stream, text: str) -> None:
        """A message from prodserver about ``st``'s process, marked so it stands out.

        ``text`` is usually an :class:`~prodserver.runtime.audit.Event`: JSON output adds its
        ``event`` name and fields to the record, text output shows its line unless it is
        quiet, and the :attr:`audit` log, when there is one, gets it as JSON whatever the
        format.
        """
        json_line: bytes | None = None
        if self.style.fmt == "json" or self.audit is not None:
            json_line = self._json_message(st, text)
            if self.audit is not None:
                self.audit.write(json_line)
        if self.style.fmt == "json":
            assert json_line is not None
            self._out.append(json_line)
            return
        if isinstance(text, Event) and text.quiet:
            return
        body = text.encode("utf-8", "replace")
        prefix = self._prefix(st, sep="*")
        if self.style.color:
            self._out.append(prefix + body + _RESET + b"\n")
        else:
            self._out.append(prefix + body + b"\n")

    def _json_message(self, st: Stream, text: str) -> bytes:
        head = self._json_head(st, stream="prodserver")
        tail = ""
        if isinstance(text, Event):
            # the record's own keys come first and win: a field never hides one of them
            fields = {k: v for k, v in text.fields.items() if k not in _RECORD_KEYS}
            tail = ", " + json.dumps({"event": text.name, **fields})[1:-1]
        return (head + _encode_json_str(text) + tail + "}\n").encode("ascii")

    # -- writing -----------------------------------------------------------------------

    def pending_output(self) -> bool:
        return bool(self._out) or bool(self._backlog)

    @property
    def backlog(self) -> int:
        """Bytes written by nobody yet: the reader of our output is behind by this much."""
        return self._backlog_bytes

    @property
    def congested(self) -> bool:
        """The backlog is over :data:`HIGH_WATER`: stop reading children (backpressure)."""
        return self._backlog_bytes > HIGH_WATER

    @property
    def relieved(self) -> bool:
        """The backlog fell under :data:`LOW_WATER`: reading children may resume."""
        return self._backlog_bytes < LOW_WATER

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

    def flush(self) -> None:
        """Write what the output takes now, without waiting; keep the rest, in order.

        Complete records are queued whole, so a backlog never tears a line: what is not
        written now is written first next time.
        """
        out = self._out
        if out:
            self._out = []
            if self.broken:
                return
            if self._backlog:
                self._backlog.extend(out)
                self._backlog_bytes += sum(map(len, out))
            else:
                rest = self._write(out)
                if rest:
                    self._backlog.extend(rest)
                    self._backlog_bytes += sum(map(len, rest))
                return
        if self._backlog and not self.broken:
            self._write_backlog()

    def _write(self, bufs: list[bytes | memoryview]) -> list[bytes | memoryview]:
        """Write ``bufs`` with as few ``writev`` calls as it takes; what did not fit."""
        fd = self.fd
        i, count = 0, len(bufs)
        while i < count:
            try:
                written = os.writev(fd, bufs[i : i + _IOV_MAX])
            except BlockingIOError:
                return bufs[i:]
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF, errno.EINVAL):
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

    def _write_backlog(self) -> None:
        backlog = self._backlog
        while backlog:
            batch = list(itertools.islice(backlog, _IOV_MAX))
            try:
                written = os.writev(self.fd, batch)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF, errno.EINVAL):
                    self.broken = True
                    backlog.clear()
                    self._backlog_bytes = 0
                    return
                raise
            self._backlog_bytes -= written
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
        self.flush()
        last = self._backlog_bytes
        since = monotonic()
        while self._backlog and not self.broken:
            left = since + idle - monotonic()
            if left <= 0:
                break
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self.fd], [], left)
            self._write_backlog()
            if self._backlog_bytes < last:
                last = self._backlog_bytes
                since = monotonic()
        dropped = self._backlog_bytes
        self._backlog.clear()
        self._backlog_bytes = 0
        return dropped


def _iso(now: float) -> str:
    seconds = int(now)
    millis = int((now - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
