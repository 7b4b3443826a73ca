"""The work ``up`` does per child started, and what it must not save on (issue 17).

Telling the guardian about each new process group used to be a line on its pipe, which woke
the guardian's shell once per child while the children were starting. Where the system has
``memfd_create`` the groups go into a table the guardian reads only once prodserver died;
elsewhere (the portable runtime stands for those systems) they still go on the pipe. Either
way a group is known to the guardian as soon as its child is spawned: a child that drops the
run's token from its environment at once is killed with the rest when prodserver is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.realrun import alive as _alive

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the guardian is POSIX's")

HERE = Path(__file__).resolve().parent
COUNT = 12

#: ``up`` of COUNT children in a process of its own, recording every write to the guardian's
#: pipe and, right after the children were spawned, the groups in the guardian's table
COUNTING = """
import json, sys
sys.path.insert(0, sys.argv[1])
from projects import proc, project
from prodserver.runtime import guardian, supervisor, tree
from prodserver.runtime.up import UpOptions, run_up

writes, tables, made = [], [], []
send = guardian.Guardian._send
def recording(self, text):
    writes.append(text)
    send(self, text)
guardian.Guardian._send = recording
start_guardian = guardian.start_guardian
def keeping(**kwargs):
    made.append(start_guardian(**kwargs))
    return made[-1]
guardian.start_guardian = keeping
start = supervisor.Supervisor.start
def snapshot(self):
    start(self)
    slots = made[0].slots
    tables.append(sorted(tree.table_groups(slots)) if slots is not None else None)
supervisor.Supervisor.start = snapshot
count = int(sys.argv[2])
procs = [proc(f"p{n}", ["/bin/sh", "-c", "exec sleep 0.3"], oneshot=True) for n in range(count)]
with open(sys.argv[3], "w") as out:
    code = run_up(project(*procs), UpOptions(output_fd=out.fileno(), control=False))
with open(sys.argv[4], "w") as fh:
    json.dump({"code": code, "writes": writes, "table": tables[0]}, fh)
"""


def _run(
    tmp_path: Path, runtime: str, script: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PRODSERVER_RUNTIME=runtime)
    return subprocess.run(
        [sys.executable, "-c", script, str(HERE), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("runtime", ["native", "portable"])
def test_the_guardian_is_told_of_each_group_without_waking_it_where_it_can(
    tmp_path: Path, runtime: str
) -> None:
    log, result = tmp_path / "out.log", tmp_path / "result.json"
    done = _run(tmp_path, runtime, COUNTING, str(COUNT), str(log), str(result))
    assert done.returncode == 0, done.stderr.decode()
    outcome = json.loads(result.read_text())
    assert outcome["code"] == 0
    pids = sorted(
        int(line.split("started with pid ")[1].split()[0])
        for line in log.read_text().splitlines()
        if "started with pid" in line
    )
    assert len(pids) == COUNT
    writes: list[str] = outcome["writes"]
    lines = [line for text in writes for line in text.splitlines()]
    assert lines[0].startswith("=") and lines[-1] == "bye"
    announced = sorted(int(line[1:]) for line in lines if line.startswith("+"))
    if runtime == "native" and hasattr(os, "memfd_create"):
        # every group in the table as soon as the children were spawned, and not one line
        # (not one wake-up of the guardian's shell) per child
        assert outcome["table"] == pids
        assert announced == [] and len(writes) == 2
    else:
        # the pipe: one line per group, each before the line that forgets it
        assert outcome["table"] is None
        assert announced == pids
        for pgid in pids:
            assert lines.index(f"+{pgid}") < lines.index(f"-{pgid}")


#: ``up`` of COUNT children that each replace themselves at once with a program that has an
#: empty environment (no run token to be found by); prodserver is SIGKILLed right after it
#: spawned them, before its loop ever waited
KILLED = """
import os, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from projects import proc, project
from prodserver.runtime import supervisor
from prodserver.runtime.up import UpOptions, run_up

count, where = int(sys.argv[2]), sys.argv[3]
start = supervisor.Supervisor.start
def start_then_die(self):
    start(self)
    deadline = time.monotonic() + 30
    pids = []
    while len(pids) < count or not all(cleared(pid) for pid in pids):
        assert time.monotonic() < deadline, pids
        pids = [int(p.read_text()) for p in Path(where).glob("pid.[0-9]*")]
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGKILL)
def cleared(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read() == b""
    except OSError:
        return False
supervisor.Supervisor.start = start_then_die
script = (
    f"echo $$ > {where}/pid.tmp.$$ && mv {where}/pid.tmp.$$ {where}/pid.$$; "
    "exec /usr/bin/env -i /bin/sleep 60"
)
procs = [proc(f"p{n}", ["/bin/sh", "-c", script]) for n in range(count)]
with open(os.devnull, "w") as out:
    run_up(project(*procs), UpOptions(output_fd=out.fileno(), control=False))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc/PID/environ")
@pytest.mark.parametrize("runtime", ["native", "portable"])
def test_a_child_without_the_token_dies_with_prodserver_killed_right_after_spawning_it(
    tmp_path: Path, runtime: str
) -> None:
    where = tmp_path / "pids"
    where.mkdir()
    done = _run(tmp_path, runtime, KILLED, str(COUNT), str(where))
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    pids = [int(p.read_text()) for p in where.glob("pid.[0-9]*")]
    assert len(pids) == COUNT
    try:
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
