"""Issue 15's failures, each shown with real processes, real signals and real pipes."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import POSIX_RUNTIME

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from realrun import Run, alive, wait_until

PY = sys.executable

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def pids_in(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def escaping_tree(pidfile: Path, *, parent_ignores_term: bool) -> list[str]:
    """A main process that leaves a SIGTERM-deaf daemon outside its group (double fork)."""
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN)" if parent_ignores_term else ""
    return py(f"""
        import os, signal, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                open({str(pidfile)!r} + '.tmp', 'w').write(str(os.getpid()))
                os.rename({str(pidfile)!r} + '.tmp', {str(pidfile)!r})
                time.sleep(120)
            os._exit(0)
        {ignore}
        while not os.path.exists({str(pidfile)!r}):
            time.sleep(0.01)
        print('ready', flush=True)
        time.sleep(120)
    """)


def test_an_internal_error_inside_up_stops_every_child_first(tmp_path):
    pidfile = tmp_path / "daemon"
    polite = tmp_path / "polite"
    stubborn = py(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(tmp_path / "stubborn")!r}, 'w').write(str(os.getpid()))
        print('ready', flush=True)
        time.sleep(120)
    """)
    run = Run(
        tmp_path,
        [
            {"name": "tree", "argv": escaping_tree(pidfile, parent_ignores_term=False)},
            {
                "name": "polite",
                "argv": py(f"""
                    import os, time
                    open({str(polite)!r}, 'w').write(str(os.getpid()))
                    print('ready', flush=True)
                    time.sleep(120)
                """),
            },
            {"name": "stubborn", "argv": stubborn, "stop_timeout": 1.0},
            {
                "name": "trigger",
                "argv": py("import time; time.sleep(1.0)"),
                "oneshot": True,
            },
        ],
        crash_on_exit=True,
    )
    try:
        run.wait_for_line("ready", 3)
        pids = pids_in(pidfile) + pids_in(polite) + pids_in(tmp_path / "stubborn")
        assert len(pids) == 3 and all(alive(p) for p in pids)
        code = run.finish()
    finally:
        run.kill()
    assert b"deliberate internal error" in run.err
    assert code != 0
    assert [p for p in pids if alive(p)] == []
    assert any("internal error: stopping every process" in line for line in run.lines)


def test_escaped_processes_share_the_stops_one_deadline(tmp_path):
    pidfile = tmp_path / "daemon"
    tree = escaping_tree(pidfile, parent_ignores_term=True)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "stop_timeout": 1.5}])
    try:
        run.wait_for_line("ready")
        daemon = pids_in(pidfile)[0]
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert not alive(daemon)
    # the main process is killed at 1.5 s; the daemon found then gets no second grace
    assert 1.5 <= elapsed < 2.5, elapsed
    assert code == 79


def test_a_second_ctrl_c_kills_escaped_processes_too(tmp_path):
    pidfile = tmp_path / "daemon"
    tree = escaping_tree(pidfile, parent_ignores_term=True)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "stop_timeout": 30.0}])
    try:
        run.wait_for_line("ready")
        daemon = pids_in(pidfile)[0]
        os.kill(run.pid, signal.SIGINT)
        run.wait_for_line("stopping all processes")
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGINT)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert not alive(daemon)
    assert elapsed < 1.5, elapsed
    assert code == 79


def test_a_stopped_child_still_stops_gracefully(tmp_path):
    child = py("""
        import os, signal, sys, time
        def bye(signum, frame):
            print('graceful exit', flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print('ready', os.getpid(), flush=True)
        while True:
            time.sleep(1)
    """)
    run = Run(tmp_path, [{"name": "paused", "argv": child, "stop_timeout": 5.0}])
    try:
        run.wait_for_line("ready")
        pid = int(next(line for line in run.lines if "ready" in line).split()[-1])
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert any("graceful exit" in line for line in run.lines)
    assert code == 0
    assert elapsed < 2.0, elapsed


def test_an_exit_code_above_128_is_an_exit_not_a_signal(tmp_path):
    run = Run(
        tmp_path,
        [{"name": "sh", "argv": ["/bin/sh", "-c", "exit 130"]}],
        {"log_format": "json"},
    )
    try:
        code = run.finish()
    finally:
        run.kill()
    records = [json.loads(line) for line in run.lines]
    exited = [r for r in records if r.get("event") == "process_exited"]
    assert exited and exited[0]["code"] == 130
    assert "signal" not in exited[0]
    assert "exited with code 130" in exited[0]["line"]
    assert code == 130


def test_a_process_killed_by_a_signal_is_still_reported_as_killed(tmp_path):
    run = Run(
        tmp_path,
        [{"name": "k", "argv": py("import os, signal; os.kill(os.getpid(), signal.SIGINT)")}],
        {"log_format": "json"},
    )
    try:
        code = run.finish()
    finally:
        run.kill()
    exited = [r for r in map(json.loads, run.lines) if r.get("event") == "process_exited"]
    assert exited[0]["code"] == 130 and exited[0]["signal"] == "SIGINT"
    assert code == 130


CHATTER = """
import os, sys
open(sys.argv[1] + '.' + os.environ['PRODSERVER_INSTANCE'], 'w').write(str(os.getpid()))
line = b'x' * 200 + b'\\n'
while True:
    os.write(1, line * 64)
"""


def test_a_stalled_reader_never_freezes_supervision(tmp_path):
    # ``prodserver up | (sleep 30; cat)``: a pipe nobody reads
    r, w = os.pipe()
    runs = tmp_path / "runs"
    again = py(f"""
        import time
        with open({str(runs)!r}, 'a') as fh:
            fh.write('run\\n')
        time.sleep(0.3)
    """)
    run = Run(
        tmp_path,
        [
            {"name": "chatter", "argv": [PY, "-c", CHATTER, str(tmp_path / "c")], "scale": 4},
            {
                "name": "again",
                "argv": again,
                "restart": {"mode": "always", "backoff": 0.1, "window": 0.0},
            },
        ],
        {"stop_timeout": 2.0},
        stdout=w,
    )
    os.close(w)
    try:
        wait_until(lambda: all((tmp_path / f"c.{n}").exists() for n in range(1, 5)))
        proc = psutil.Process(run.pid)
        time.sleep(1.0)  # let the pipe and prodserver's buffer fill
        rss_before = proc.memory_info().rss
        restarts_before = runs.read_text().count("run")
        # supervision goes on while nobody reads: the restarting process keeps restarting
        wait_until(lambda: runs.read_text().count("run") >= restarts_before + 3, timeout=5)
        rss_after = proc.memory_info().rss
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        code = run.popen.wait(10)
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
        os.close(r)
    assert elapsed < 2.0 + 1.0, elapsed
    assert code == 0
    # memory is bounded: the chatter is held back by its own pipes, not by our buffer
    assert rss_after - rss_before < 16 * 1024 * 1024, (rss_before, rss_after)


WRITER = """
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f'line {i:07d}')
"""


def test_a_slow_reader_gets_every_line_whole_and_in_order(tmp_path):
    r, w = os.pipe()
    count = 30_000
    run = Run(
        tmp_path,
        [
            {"name": "w", "argv": [PY, "-c", WRITER, str(count)], "scale": 4, "oneshot": True},
        ],
        stdout=w,
    )
    os.close(w)
    try:
        time.sleep(1.5)  # the reader is paused (a pager, Ctrl-S) while the writers write
        with os.fdopen(r, "rb") as reader:
            data = reader.read()
        code = run.popen.wait(10)
    finally:
        run.kill()
    assert code == 0
    per: dict[str, list[str]] = {}
    for line in data.decode().splitlines():
        label, _, text = line.partition(" | ")
        if text.startswith("line "):
            per.setdefault(label.strip(), []).append(text)
    expected = [f"line {i:07d}" for i in range(count)]
    assert sorted(per) == ["w.1", "w.2", "w.3", "w.4"]
    for lines in per.values():
        assert lines == expected


SCALED = """
[project]
name = "shop"

[processes.worker]
backend = "celery-worker"
app = "shop"

[processes.echo]
command = ["python", "-c", "import sys; print(sys.argv[1])", "${PRODSERVER_INSTANCE}"]
port = 7100
oneshot = true
"""


def test_scaled_instances_have_their_own_identity_when_their_argv_is_built(tmp_path):
    from prodserver.config.resolve import resolve_project

    (tmp_path / "prodserver.toml").write_text(SCALED)
    project = resolve_project(
        file=tmp_path / "prodserver.toml", scale={"worker": 2, "echo": 2}, environ={}
    )
    workers = project.processes["worker"].instances
    names = [inst.argv[inst.argv.index("--hostname") + 1] for inst in workers]
    assert names == ["worker.1@%h", "worker.2@%h"]
    assert [inst.env["PRODSERVER_INSTANCE"] for inst in workers] == ["1", "2"]
    echoes = project.processes["echo"].instances
    assert [inst.argv[-1] for inst in echoes] == ["1", "2"]
    assert [inst.port for inst in echoes] == [7100, 7101]
    # one copy keeps celery's own default name
    single = resolve_project(file=tmp_path / "prodserver.toml", scale={"echo": 2}, environ={})
    assert "--hostname" not in single.processes["worker"].instances[0].argv
