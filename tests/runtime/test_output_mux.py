"""The multiplexer's framing and rendering, fed by hand (the real pipes are in integration)."""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest

from prodserver.runtime.output import MAX_LINE, PARTIAL_IDLE, READ_SIZE, OutputMux
from prodserver.runtime.streams import Style


class Sink:
    """An OutputMux writing to a temporary file, with a hand-moved monotonic clock."""

    def __init__(self, **style) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.now = 0.0
        style.setdefault("width", 6)
        self.mux = OutputMux(
            self.file.fileno(),
            Style(**style),
            wall=lambda: 1_700_000_000.5,
            monotonic=lambda: self.now,
        )

    def stream(self, label="web.1", stream="stdout", color=0):
        process, _, number = label.partition(".")
        return self.mux.stream(label, process, int(number), stream, color)

    def text(self) -> bytes:
        self.mux.flush()
        self.file.seek(0)
        return self.file.read()

    def lines(self) -> list[str]:
        return self.text().decode().splitlines()

    def close(self):
        self.file.close()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_lines_are_prefixed_and_aligned(sink):
    web, worker = sink.stream("web.1"), sink.stream("worker.1")
    sink.mux.feed(web, b"a\nb\n")
    sink.mux.feed(worker, b"c\n")
    assert sink.lines() == ["web.1  | a", "web.1  | b", "worker.1 | c"]


def test_a_line_split_across_reads_is_written_whole(sink):
    web, worker = sink.stream("web.1"), sink.stream("worker.1")
    sink.mux.feed(web, b"hel")
    sink.mux.feed(worker, b"other\n")
    sink.mux.feed(web, b"lo\n")
    assert sink.lines() == ["worker.1 | other", "web.1  | hello"]


def test_partial_line_is_shown_after_idle_and_does_not_hold_others(sink):
    web, worker = sink.stream("web.1"), sink.stream("worker.1")
    sink.mux.feed(web, b"Password: ")
    sink.mux.feed(worker, b"tick\n")
    assert sink.mux.flush_partial(sink.now) == PARTIAL_IDLE
    assert sink.lines() == ["worker.1 | tick"]
    sink.now += PARTIAL_IDLE
    assert sink.mux.flush_partial(sink.now) is None
    assert sink.lines() == ["worker.1 | tick", "web.1  | Password: "]


def test_last_line_without_newline_is_flushed_at_end(sink):
    web = sink.stream()
    sink.mux.feed(web, b"one\ntwo")
    sink.mux.end(web)
    sink.mux.message(web, "exited with code 0")
    assert sink.lines() == ["web.1  | one", "web.1  | two", "web.1  * exited with code 0"]


def test_invalid_utf8_is_replaced(sink):
    web = sink.stream()
    sink.mux.feed(web, b"bad \xff\xfe byte\n")
    assert sink.lines() == ["web.1  | bad \ufffd\ufffd byte"]


def test_enormous_line_is_cut_into_bounded_pieces(sink):
    web = sink.stream()
    chunk = b"x" * READ_SIZE
    total = 10 * 1024 * 1024
    for _ in range(total // READ_SIZE):
        sink.mux.feed(web, chunk)
        assert len(web.pending) <= MAX_LINE
        sink.mux.flush()
    sink.mux.feed(web, b"\n")
    pieces = sink.lines()
    assert all(len(piece) <= MAX_LINE + READ_SIZE + 10 for piece in pieces)
    assert sum(len(piece) - len("web.1  | ") for piece in pieces) == total


def test_cut_never_splits_a_utf8_character(sink):
    web = sink.stream()
    sink.mux.feed(web, "é".encode() * MAX_LINE)
    sink.mux.end(web)
    assert "\ufffd" not in sink.text().decode()


def test_control_sequences_cannot_forge_a_prefix_when_not_a_tty(sink):
    web = sink.stream("web.1")
    sink.mux.feed(web, b"\rworker.1 | forged\x1b[2K\n")
    sink.mux.feed(web, "x\u2028worker.1 | forged too\n".encode())
    sink.mux.feed(web, b"a\x0bworker.1 | vt\x0cff\n")
    text = sink.text().decode()
    assert "\r" not in text and "\x1b" not in text and "\x0b" not in text
    lines = text.splitlines()  # splits on every Unicode line break
    assert all(line.startswith("web.1  | ") for line in lines), lines
    assert lines[0] == "web.1  | ^Mworker.1 | forged^[[2K"


def test_crlf_line_endings_lose_the_cr(sink):
    web = sink.stream()
    sink.mux.feed(web, b"dos\r\nline\r\n")
    assert sink.lines() == ["web.1  | dos", "web.1  | line"]


def test_tty_style_keeps_control_sequences_and_colours_the_prefix():
    s = Sink(color=True, sanitize=False)
    web = s.stream()
    s.mux.feed(web, b"\x1b[31mred\x1b[0m\n")
    out = s.text()
    assert out.startswith(b"\x1b[36mweb.1  |\x1b[0m ")
    assert b"\x1b[31mred" in out
    s.close()


def test_own_messages_stand_out_from_child_lines(sink):
    web = sink.stream()
    sink.mux.feed(web, b"started with pid 1\n")
    sink.mux.message(web, "started with pid 1")
    child, own = sink.lines()
    assert child != own
    assert own == "web.1  * started with pid 1"


def test_timestamps_prefix_every_line():
    s = Sink(timestamps=True)
    web = s.stream()
    s.mux.feed(web, b"a\nb\n")
    lines = s.lines()
    assert all(re.match(r"^\d\d:\d\d:\d\d web\.1  \| [ab]$", line) for line in lines), lines
    s.close()


def test_json_lines_always_parse():
    s = Sink(fmt="json")
    web, err = s.stream("web.2"), s.stream("web.2", stream="stderr")
    s.mux.feed(web, b'quote " backslash \\ ctrl \x1b\x00 bad \xff\n')
    s.mux.feed(err, b"oops\n")
    s.mux.message(web, "exited with code 0")
    records = [json.loads(line) for line in s.lines()]
    assert records[0]["line"] == 'quote " backslash \\ ctrl \x1b\x00 bad \ufffd'
    assert records[0]["process"] == "web" and records[0]["instance"] == 2
    assert records[0]["stream"] == "stdout"
    assert records[0]["time"].startswith("2023-11-14T22:13:20.500")
    assert records[1]["stream"] == "stderr"
    assert records[2] == {**records[2], "stream": "prodserver", "line": "exited with code 0"}
    s.close()


def test_closed_output_sets_broken_without_raising():
    r, w = os.pipe()
    os.close(r)
    mux = OutputMux(w, Style())
    st = mux.stream("web.1", "web", 1, "stdout")
    mux.feed(st, b"hello\n")
    mux.flush()
    assert mux.writer.broken
    mux.feed(st, b"more\n")
    mux.flush()  # still no exception
    os.close(w)


def test_partial_line_joins_the_next_chunk_whatever_path_each_takes(sink):
    # chunks alternate between plain ASCII (no copy) and ones that need rewriting
    web = sink.stream()
    sink.mux.feed(web, b"ab")  # no newline: held
    sink.mux.feed(web, b"cd\nef")  # plain: completes "abcd", holds "ef"
    sink.mux.feed(web, b"\x1b\ngh")  # control byte: rewritten
    sink.mux.feed(web, b"i\nj\x07")  # plain chunk after a held plain tail
    sink.mux.feed(web, b"k\nl\n")  # plain chunk after a held tail with a control byte
    assert sink.lines() == [
        "web.1  | abcd",
        "web.1  | ef^[",
        "web.1  | ghi",
        "web.1  | j^Gk",
        "web.1  | l",
    ]


def test_crlf_split_between_two_reads_loses_the_cr_on_a_terminal():
    s = Sink(sanitize=False)
    web = s.stream()
    s.mux.feed(web, b"one\r")
    s.mux.feed(web, b"\ntwo\r\n")
    assert s.lines() == ["web.1  | one", "web.1  | two"]
    s.close()


def test_many_small_lines_from_many_streams_are_all_written_in_one_flush(sink):
    # more queued pieces than one writev takes (1024), empty lines among them
    streams = [sink.stream(f"w{n}.1") for n in range(4)]
    for i in range(1500):
        sink.mux.feed(streams[i % 4], b"%d\n" % i if i % 3 else b"\n")
    lines = sink.lines()
    assert len(lines) == 1500
    assert [line.split("| ")[1] for line in lines[:4]] == ["", "1", "2", ""]
    assert lines[-1].endswith("| 1499")


@pytest.mark.parametrize("writev", ["writev", "joined"])
def test_output_to_a_slow_reader_arrives_complete_and_in_order(writev, monkeypatch):
    # a non-blocking pipe that fills up: writes are partial and resume where they stopped;
    # "joined": one write of the joined buffers, as where there is no writev (Windows)
    import threading

    from prodserver.runtime import writer

    if writev == "joined":
        monkeypatch.setattr(writer, "_writev", writer._write_joined)

    r, w = os.pipe()
    os.set_blocking(w, False)
    received = bytearray()

    def drain():
        while chunk := os.read(r, 1000):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    mux = OutputMux(w, Style(width=5))
    st = mux.stream("web.1", "web", 1, "stdout")
    expected = []
    for block in range(20):
        data = b"".join(b"line %06d\n" % (block * 1000 + i) for i in range(1000))
        mux.feed(st, data)
        expected.extend(f"web.1 | line {block * 1000 + i:06d}" for i in range(1000))
    mux.flush()  # never waits: what the pipe does not take is kept, in order
    assert mux.drain(idle=5.0) == 0
    os.close(w)
    reader.join()
    os.close(r)
    assert received.decode().splitlines() == expected


def test_a_terminal_that_hung_up_is_a_reader_gone_not_an_error():
    import pty

    controller, terminal = pty.openpty()
    os.close(controller)  # the terminal window closed: writes now fail with EIO
    try:
        mux = OutputMux(terminal, Style(width=5))
        mux.feed(mux.stream("web.1", "web", 1, "stdout"), b"hello\n")
        mux.flush()
        assert mux.writer.broken
    finally:
        os.close(terminal)
