"""What a child inherits from prodserver: no internal or foreign control variables, and a clean
signal state even when prodserver itself was started with signals blocked or ignored.

tests/integration/test_runtime_stop.py::test_children_get_default_sigpipe_and_an_empty_signal_mask
covers the ordinary start; here the parent that starts prodserver blocks and ignores signals on
purpose (as ``nohup``, some CI runners and shells' background jobs do).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.security.helpers import base_env, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux runtime")

PROBE = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('PRODSERVER_', 'NOTIFY_', 'LISTEN_', 'WATCHDOG_', 'INVOCATION_'))}))"
)
#: grep reports the signal state it inherited (a Python probe would show Python's own
#: ignored SIGPIPE and SIGXFSZ)
STATUS = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
#: variables prodserver sets in every child on purpose: documented in docs/security.md
PUBLIC = {"PRODSERVER_PROCESS", "PRODSERVER_INSTANCE"}
#: the guardian's tag (a random token per run): internal, but it must reach every descendant,
#: since that is how a daemon that left its process group is found after prodserver dies
TAG = {"PRODSERVER_RUN"}
FOREIGN = {
    # what systemd gives prodserver itself: meant for prodserver's own pid, never a child's
    "NOTIFY_SOCKET": "/run/systemd/notify-outer",
    "LISTEN_FDS": "2",
    "LISTEN_PID": "1",
    "LISTEN_FDNAMES": "web:admin",
    "WATCHDOG_USEC": "30000000",
    "WATCHDOG_PID": "1",
}
STRIPPED = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC")


def ignoring_parent() -> None:
    """Start prodserver with signals ignored, as ``nohup`` and shells' background jobs do."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)


def blocking_parent() -> None:
    """Start prodserver with signals blocked (a mask survives exec; some launchers leave one)."""
    ignoring_parent()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD})


def up(
    root: Path,
    code: str | list[str],
    env: dict[str, str] | None = None,
    *,
    parent: Callable[[], None] = ignoring_parent,
    timeout: float = 60,
) -> dict[str, str]:
    """Run one probe through ``prodserver up``; its output as a dict (JSON, or ``name: value``)."""
    argv = ["python", "-c", code] if isinstance(code, str) else code
    write(root, f"[processes.probe]\ncommand = {json.dumps(argv)}\noneshot = true\n")
    result = subprocess.run(
        [sys.executable, "-m", "prodserver", "up", "--no-color"],
        capture_output=True,
        text=True,
        env=base_env(root, env),
        cwd=root,
        timeout=timeout,
        preexec_fn=parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [x.partition(" | ")[2] for x in result.stdout.splitlines() if " | " in x]
    if isinstance(code, str):
        data: dict[str, str] = json.loads(lines[0])
        return data
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_children_see_only_documented_prodserver_variables(tmp_path: Path) -> None:
    seen = up(tmp_path, PROBE)
    names = {k for k in seen if k.startswith("PRODSERVER_")}
    assert names == PUBLIC | TAG
    assert seen["PRODSERVER_PROCESS"] == "probe"
    assert seen["PRODSERVER_INSTANCE"] == "1"
    assert len(seen["PRODSERVER_RUN"]) >= 16  # random per run: nothing to guess or reuse


def test_the_tag_differs_between_runs(tmp_path: Path) -> None:
    assert up(tmp_path, PROBE)["PRODSERVER_RUN"] != up(tmp_path, PROBE)["PRODSERVER_RUN"]


def test_systemd_variables_meant_for_prodserver_do_not_reach_children(tmp_path: Path) -> None:
    seen = up(tmp_path, PROBE, FOREIGN)
    for name, value in FOREIGN.items():
        assert seen.get(name) != value, f"{name} leaked into the child"
    for name in STRIPPED:
        assert name not in seen


def test_children_get_default_dispositions_from_an_ignoring_parent(tmp_path: Path) -> None:
    status = up(tmp_path, STATUS)
    assert int(status["SigBlk"], 16) == 0
    assert int(status["SigIgn"], 16) == 0


def test_up_works_when_its_parent_blocked_signals(tmp_path: Path) -> None:
    # a parent that blocked SIGCHLD once made up hang; the mask must not reach children either
    status = up(tmp_path, STATUS, parent=blocking_parent, timeout=30)
    assert int(status["SigBlk"], 16) == 0


def test_sigterm_stops_up_even_when_its_parent_blocked_it(tmp_path: Path) -> None:
    write(tmp_path, "[processes.p]\ncommand = ['python', '-c', 'import time; time.sleep(60)']\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up", "--no-color"],
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(tmp_path),
        cwd=tmp_path,
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}),
    )
    try:
        assert proc.stdout is not None
        assert "started" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_run_gives_its_command_a_clean_signal_state(tmp_path: Path) -> None:
    write(tmp_path, '[processes.p]\ncommand = "true"\n')
    result = subprocess.run(
        [sys.executable, "-m", "prodserver", "run", "--", *STATUS],
        capture_output=True,
        text=True,
        env=base_env(tmp_path),
        cwd=tmp_path,
        timeout=10,
        preexec_fn=blocking_parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status = {k: v.strip() for k, _, v in (x.partition(":") for x in result.stdout.splitlines())}
    assert int(status["SigBlk"], 16) == 0
    assert int(status["SigIgn"], 16) == 0
