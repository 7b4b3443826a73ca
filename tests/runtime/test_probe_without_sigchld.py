"""``cmd`` health probes where there is no SIGCHLD (Windows): a thread waits for each one.
Run for real here by asking for it."""

from __future__ import annotations

import os
import queue
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from prodserver.config.model import HealthCheck
from prodserver.runtime.health import ThreadProber


def _cmd(code: str) -> HealthCheck:
    return HealthCheck("cmd", (sys.executable, "-c", code), timeout=30.0)


def test_each_cmd_probe_result_arrives_without_anyone_reaping(tmp_path: Path) -> None:
    posted: queue.Queue[Callable[[], None]] = queue.Queue()
    prober = ThreadProber(posted.put, reap_by_thread=True)
    results: list[tuple[int, bool, str]] = []

    def done(token: int, ok: bool, detail: str) -> None:
        results.append((token, ok, detail))

    prober.start(1, _cmd("pass"), dict(os.environ), tmp_path, done)
    prober.start(2, _cmd("raise SystemExit(4)"), dict(os.environ), tmp_path, done)
    while len(results) < 2:
        posted.get(timeout=30)()  # what the event loop would run
    assert sorted(results) == [(1, True, "exit code 0"), (2, False, "exit code 4")]
    assert prober.pids() == set()


def test_a_probe_given_up_on_is_ended_without_process_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "killpg")  # as on Windows
    posted: queue.Queue[Callable[[], None]] = queue.Queue()
    prober = ThreadProber(posted.put, reap_by_thread=True)
    results: list[tuple[int, bool, str]] = []
    prober.start(
        7,
        _cmd("import time; time.sleep(60)"),
        dict(os.environ),
        tmp_path,
        lambda *r: results.append(r),
    )
    (pid,) = prober.pids()
    prober.cancel(7)
    posted.get(timeout=30)()  # its exit, posted by its thread once it was killed
    assert prober.pids() == set()
    assert results == []  # a cancelled probe has nobody to tell
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
