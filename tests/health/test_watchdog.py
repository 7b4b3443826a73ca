"""The notify watchdog: WATCHDOG_USEC is set, WATCHDOG=1 rearms, a miss is a liveness failure."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest
from healthrun import Up, short_runtime_dir

from tests.conftest import POSIX_RUNTIME

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME),
    # the sender's pid comes with SCM_CREDENTIALS, which only Linux has (docs/guides/windows.md)
    pytest.mark.skipif(not hasattr(socket, "SO_PASSCRED"), reason="notify needs SO_PASSCRED"),
]

# Sends READY=1, then WATCHDOG=1 every 0.2 s ``beats`` times (forever if 0), then sleeps.
PINGER = """
import os, socket, sys, time
beats = int(sys.argv[1])
usec = int(os.environ["WATCHDOG_USEC"])
print("pid", os.getpid(), "usec", usec, flush=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
n = 0
while not beats or n < beats:
    s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
    n += 1
    time.sleep(0.2)
print("silent now", flush=True)
time.sleep(60)
"""


def watched(beats: int) -> dict[str, object]:
    return {
        "name": "svc",
        "argv": [sys.executable, "-c", PINGER, str(beats)],
        "healthcheck": {"kind": "notify", "target": "", "watchdog": 1.0},
        "restart": {"mode": "always", "backoff": 0.1},
    }


def test_a_process_that_keeps_pinging_keeps_running(tmp_path: Path):
    up = Up.model(tmp_path, [watched(0)], short_runtime_dir())
    try:
        up.wait_for("svc.1 | pid")
        assert "usec 1000000" in up.lines[up.index("svc.1 | pid")]
        up.wait_for("svc.1 * healthy after")
        # three watchdog periods pass: every WATCHDOG=1 rearmed it
        time.sleep(3.0)
        assert not any("watchdog" in line for line in up.lines), up.lines
        assert sum("svc.1 | pid" in line for line in up.lines) == 1
    finally:
        assert up.stop() == 0, up.err


def test_a_process_that_stops_pinging_is_restarted(tmp_path: Path):
    up = Up.model(tmp_path, [watched(3)], short_runtime_dir())
    try:
        up.wait_for("svc.1 | silent now")
        line = up.wait_for("watchdog: no WATCHDOG=1 for 1s; stopping it", timeout=5)
        assert line > up.index("svc.1 | silent now")
        up.wait_for("svc.1 | pid", count=2)  # the restart policy applied: a new run
    finally:
        up.stop()
