"""``user =`` at the spawner: the child runs as that account, and still dies with its parent.

These use real children; switching users needs root (CI runs as root).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from prodserver.runtime.spawner import ChildHandle, PosixSpawner, SpawnFailed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux runtime")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

#: prodserver's own interpreter may live where ``nobody`` cannot read it: probe with the shell
PROBE = (
    "/bin/sh",
    "-c",
    'echo "$(id -ru) $(id -u) $(id -rg) $(id -g)|$(id -G)|$HOME|$USER|$LOGNAME"',
)


def run_to_end(spawner: PosixSpawner, handle: ChildHandle) -> str:
    """Wait for the child to exit and return what it printed."""
    handle.native.wait(timeout=30)
    assert handle.stdout is not None and handle.stderr is not None
    chunks = []
    while chunk := _read(handle.stdout):
        chunks.append(chunk)
    err = _read(handle.stderr)
    os.close(handle.stdout)
    os.close(handle.stderr)
    assert handle.native.returncode == 0, err
    return b"".join(chunks).decode()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


@needs_root
@pytest.mark.parametrize("die_with_parent", [True, False])
def test_a_child_with_a_user_has_only_that_users_ids_and_home(
    tmp_path: Path, die_with_parent: bool
) -> None:
    nobody = pwd.getpwnam("nobody")
    spawner = PosixSpawner(die_with_parent=die_with_parent)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    handle = spawner.spawn(PROBE, env, tmp_path, user="nobody")
    ids, groups, home, user, logname = run_to_end(spawner, handle).strip().split("|")
    uid, euid, gid, egid = (int(x) for x in ids.split())
    assert (uid, euid) == (nobody.pw_uid, nobody.pw_uid)
    assert (gid, egid) == (nobody.pw_gid, nobody.pw_gid)
    assert "0" not in groups.split()
    assert (home, user, logname) == (nobody.pw_dir, "nobody", "nobody")


@needs_root
def test_a_home_the_configuration_chose_is_kept(tmp_path: Path) -> None:
    spawner = PosixSpawner(die_with_parent=False)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "USER": "app"}
    handle = spawner.spawn(PROBE, env, tmp_path, user="nobody")
    *_, home, user, logname = run_to_end(spawner, handle).strip().split("|")
    assert (home, user, logname) == (str(tmp_path), "app", "nobody")


def test_an_unknown_user_is_a_spawn_failure_naming_it(tmp_path: Path) -> None:
    spawner = PosixSpawner(die_with_parent=False)
    with pytest.raises(SpawnFailed) as caught:
        spawner.spawn(("/bin/true",), {}, tmp_path, user="no-such-user-here")
    assert "'no-such-user-here' does not exist" in caught.value.message


PARENT = textwrap.dedent(
    """
    import time
    from pathlib import Path
    from prodserver.runtime.spawner import PosixSpawner
    handle = PosixSpawner(die_with_parent=True).spawn(
        ("/bin/sleep", "60"), {}, Path("/"), user="nobody"
    )
    print(handle.pid, flush=True)
    time.sleep(60)
    """
)


@needs_root
def test_the_parent_death_signal_survives_the_switch_to_the_user() -> None:
    # a credential change clears the parent-death signal: it must be set after the switch
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert os.stat(f"/proc/{child}").st_uid == pwd.getpwnam("nobody").pw_uid
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)  # the kernel delivers it: nothing to wait on from here
        assert not _alive(child), "the child outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
