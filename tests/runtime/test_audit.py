"""The audit trail: events rendered as text and JSON, and the rotating log file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from projects import proc, project, py

from prodserver.config.model import RestartPolicy
from prodserver.errors import ProdserverError
from prodserver.runtime.audit import AuditLog, Event, parse_size
from prodserver.runtime.output import OutputMux
from prodserver.runtime.streams import Style
from prodserver.runtime.supervisor import Supervisor


def line(n: int, size: int = 100) -> bytes:
    """A line of exactly ``size`` bytes (newline included) that says which one it is."""
    head = f"{n:04d} "
    return (head + "x" * (size - len(head) - 1) + "\n").encode()


def test_lines_are_appended_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_size=1000, backups=2)
    log.write(line(1))
    log.write(line(2))
    log.close()
    assert path.read_bytes() == line(1) + line(2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_appended_to_and_made_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(line(0))
    path.chmod(0o644)
    log = AuditLog(path, max_size=1000)
    log.write(line(1))
    log.close()
    assert path.read_bytes() == line(0) + line(1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_happens_before_a_line_would_pass_the_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_size=250, backups=3)
    for n in range(1, 6):  # two 100-byte lines fit in 250, the third does not
        log.write(line(n))
    log.close()
    assert path.read_bytes() == line(5)
    assert Path(f"{path}.1").read_bytes() == line(3) + line(4)
    assert Path(f"{path}.2").read_bytes() == line(1) + line(2)
    for name in (path, Path(f"{path}.1"), Path(f"{path}.2")):
        assert stat.S_IMODE(name.stat().st_mode) == 0o600
        assert name.stat().st_size <= 250


def test_only_the_configured_number_of_backups_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_size=100, backups=2)
    for n in range(1, 7):  # one line per file
        log.write(line(n))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.jsonl",
        "audit.jsonl.1",
        "audit.jsonl.2",
    ]
    assert path.read_bytes() == line(6)
    assert Path(f"{path}.1").read_bytes() == line(5)
    assert Path(f"{path}.2").read_bytes() == line(4)


def test_without_backups_the_file_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_size=150, backups=0)
    for n in range(1, 4):
        log.write(line(n))
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]
    assert path.read_bytes() == line(3)


def test_a_line_larger_than_the_limit_is_still_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_size=50, backups=1)
    log.write(line(1, 80))
    log.write(line(2, 80))
    log.close()
    assert path.read_bytes() == line(2, 80)
    assert Path(f"{path}.1").read_bytes() == line(1, 80)


def test_a_symbolic_link_is_refused_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    planted = tmp_path / "audit.jsonl"
    planted.symlink_to(victim)
    with pytest.raises(ProdserverError, match="symbolic link"):
        AuditLog(planted)
    assert not victim.exists()
    victim.write_text("keep\n")
    with pytest.raises(ProdserverError, match="symbolic link"):
        AuditLog(planted)
    assert victim.read_text() == "keep\n"


def test_something_other_than_a_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ProdserverError, match="not a regular file"):
        AuditLog(fifo)


def test_the_file_is_not_inherited_by_children(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    try:
        assert not os.get_inheritable(log._fd)
        assert os.get_blocking(log._fd)
    finally:
        log.close()


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("64K", 65536), ("10MB", 10 * 1024 * 1024), ("1GiB", 1024**3), ("2 kb", 2048)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "ten", "1.5M", "-1"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_an_unknown_event_name_is_a_mistake() -> None:
    with pytest.raises(ValueError):
        Event("process_exploded", "boom")


# -- rendering -----------------------------------------------------------------------------


class Collect:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)


def render(fmt: str, *events: str) -> tuple[str, list[bytes]]:
    read, write = os.pipe()
    try:
        mux = OutputMux(write, Style(fmt=fmt), wall=lambda: 0.0)  # type: ignore[arg-type]
        sink = Collect()
        mux.audit = sink
        st = mux.stream("web.1", "web", 1, "prodserver")
        for event in events:
            mux.message(st, event)
        mux.flush()
        os.close(write)
        write = -1
        with os.fdopen(read, "rb") as out:
            read = -1
            return out.read().decode(), sink.lines
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


def test_json_records_keep_their_keys_and_add_the_event_and_fields() -> None:
    started = Event("process_started", "started with pid 42", {"pid": 42, "line": "forged"})
    shown, kept = render("json", started)
    record = json.loads(shown)
    assert record == {
        "time": "1970-01-01T00:00:00.000Z",
        "process": "web",
        "instance": 1,
        "stream": "prodserver",
        "line": "started with pid 42",
        "event": "process_started",
        "pid": 42,
    }
    assert kept == [shown.encode()]


def test_text_output_hides_quiet_events_but_the_log_file_keeps_them() -> None:
    quiet = Event("process_exited", "exited with code 3", {"code": 3}, quiet=True)
    loud = Event("process_restarting", "exited with code 3; restarting in 1s", {"delay": 1.0})
    shown, kept = render("text", quiet, loud)
    assert shown == "web.1 * exited with code 3; restarting in 1s\n"
    assert [json.loads(k)["event"] for k in kept] == ["process_exited", "process_restarting"]
    assert json.loads(kept[0])["code"] == 3


# -- the supervisor's events ---------------------------------------------------------------


def test_the_supervisor_names_every_decision_with_its_fields(spawner, clock, hooks):
    policy = RestartPolicy(mode="on-failure", max_restarts=1, backoff=0.5)
    sup = Supervisor(
        project(proc("crash", py("#crash"), restart=policy), proc("web", py("#web"))),
        spawner=spawner,
        clock=clock,
        hooks=hooks,
    )
    sup.start()
    spawner.exit(spawner.pid_of("#crash"), 3)
    sup.handle_children()
    clock.advance(0.5)
    sup.tick()
    spawner.exit(spawner.pid_of("#crash"), 3)
    sup.handle_children()
    events = [(label, text.name, dict(text.fields)) for label, text in hooks.messages]
    assert all(isinstance(text, Event) for _label, text in hooks.messages)
    pids = [f["pid"] for label, name, f in events if name == "process_started"]
    assert len(pids) == 3 and all(isinstance(pid, int) for pid in pids)
    crash = [(name, f) for label, name, f in events if label == "crash.1"]
    assert [name for name, _f in crash] == [
        "process_started",
        "process_exited",
        "process_restarting",
        "process_started",
        "process_exited",
        "process_gave_up",
    ]
    assert crash[1][1] == {"code": 3}
    assert crash[2][1] == {"restart": 1, "delay": 0.5, "code": 3}
    assert ("prodserver", "stopping") in [(label, name) for label, name, _f in events]
    web = [(name, f) for label, name, f in events if label == "web.1"]
    assert web[-1] == (
        "process_stopping",
        {"signal": "SIGTERM", "group": True, "grace": web[-1][1]["grace"]},
    )
