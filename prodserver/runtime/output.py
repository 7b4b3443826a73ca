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

import time
from collections.abc import Callable

from prodserver.records import Protocol
from prodserver.runtime.audit import Event
from prodserver.runtime.sanitize import UNICODE_BREAKS, cut_utf8, has_control, neutralise
from prodserver.runtime.streams import Stream, Style
from prodserver.runtime.writer import Writer

#: keys every JSON record has; an event's fields come after them
_RECORD_KEYS = frozenset({"time", "process", "instance", "stream", "line", "event"})


class AuditSink(Protocol):
    """Where prodserver's own events also go, as JSON lines (``up --log-file``)."""

    def write(self, line: bytes) -> None:
        """Keep one whole line."""


#: bytes read from a pipe at once
READ_SIZE = 64 * 1024
#: a line longer than this is cut into pieces of at most this size plus one read
MAX_LINE = 32 * 1024
#: seconds a partial line waits for the rest of it before it is shown anyway
PARTIAL_IDLE = 0.5


_RESET = b"\x1b[0m"
_BOLD = b"\x1b[1m"
# Foreground colours that read well on dark and light backgrounds.
_PALETTE = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)

# json's own string encoder, without importing the json package at every start of `up` (most
# runs write text): the C function `json.encoder` uses, else its Python twin
try:
    from _json import encode_basestring_ascii as _encode_json_str
except ImportError:  # pragma: no cover - an interpreter built without json's accelerator
    from json.encoder import py_encode_basestring_ascii as _encode_json_str


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
        self.writer = Writer(fd)
        self.style = style
        self._wall = wall
        self._monotonic = monotonic
        self._out: list[bytes | memoryview] = []
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
                cut = cut_utf8(st.pending, MAX_LINE)
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
        self._hold(st, data[nl + 1 :])

    def _hold(self, st: Stream, tail: bytes) -> None:
        """Keep ``tail``, a line not ended yet, as ``st``'s partial line; pieces of
        :data:`MAX_LINE` bytes are written at once."""
        st.pending = tail
        st.pending_since = self._monotonic()
        while len(st.pending) > MAX_LINE:
            cut = cut_utf8(st.pending, MAX_LINE)
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
        self._hold(st, data[nl + 1 :])
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
                for brk in UNICODE_BREAKS:
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
        prefix = self._prefix(st, sep="*")
        # every line of a multi-line message (an error and its hint) carries the prefix
        end = _RESET + b"\n" if self.style.color else b"\n"
        body = text.encode("utf-8", "replace").replace(b"\n", end + prefix)
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
            import json

            tail = ", " + json.dumps({"event": text.name, **fields})[1:-1]
        return (head + _encode_json_str(text) + tail + "}\n").encode("ascii")

    # -- writing -----------------------------------------------------------------------

    def open(self) -> None:
        """Make the output non-blocking for the run (see :meth:`Writer.open`)."""
        self.writer.open()

    def close(self) -> None:
        """Give the output its blocking mode back."""
        self.writer.close()

    def flush(self) -> None:
        """Write what the output takes now, without waiting; keep the rest, in order."""
        out = self._out
        if out:
            self._out = []
        self.writer.write(out)

    def drain(self, idle: float) -> int:
        """Wait for the reader to take everything (see :meth:`Writer.drain`)."""
        self.flush()
        return self.writer.drain(idle)


def _iso(now: float) -> str:
    seconds = int(now)
    millis = int((now - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
