"""The running supervisor's surface: the control socket is private and local, ``inherit_env =
false`` gives a minimal environment, and prodserver's own events form a machine-readable audit
trail (``--log-format json``, ``--log-file`` with rotation).

docs/security.md describes each of these guarantees.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from prodserver.config.display import config_hash
from prodserver.config.resolve import resolve_project, resolve_with_provenance
from tests.security.helpers import base_env, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux runtime")

SLEEPER = ["python", "-c", "import time; print('up', flush=True); time.sleep(60)"]


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or the deadline: the OS gives no event to wait on here."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    write(tmp_path, f"[processes.sleeper]\ncommand = {json.dumps(SLEEPER)}\n")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up", "--no-color", "--skip-checks"],
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(tmp_path, {"XDG_RUNTIME_DIR": str(runtime)}),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "sleeper.1 | up" in line:
                break
        yield proc, runtime
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


# -- the control socket ------------------------------------------------------------------------


def test_the_control_socket_is_private_and_local(
    running: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, runtime = running
    sockets: list[Path] = []
    assert wait_for(lambda: bool(sockets.extend(runtime.rglob("*.sock")) or sockets)), sorted(
        runtime.rglob("*")
    )
    [path] = sockets
    info = path.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    # every directory prodserver created on the way is private
    directory = path.parent
    while directory != runtime:
        assert stat.S_IMODE(directory.lstat().st_mode) == 0o700, directory
        directory = directory.parent
    # no network listener at all (only --metrics opens one, and it is not given here)
    inet = [
        c
        for c in psutil.Process(proc.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert inet == []
    # and it answers its owner
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
    finally:
        client.close()


def test_a_planted_runtime_directory_is_refused(tmp_path: Path) -> None:
    from prodserver.runtime.rundir import ensure_private_dir

    other = tmp_path / "prodserver" / "abc"
    other.parent.mkdir()
    other.parent.chmod(0o777)
    ensure_private_dir(other)
    assert stat.S_IMODE(other.parent.lstat().st_mode) == 0o700
    link = tmp_path / "linked"
    link.symlink_to(tmp_path)
    with pytest.raises(Exception, match="not a directory owned by you"):
        ensure_private_dir(link / "x")


# -- inherit_env = false -----------------------------------------------------------------------

SHELL = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/home/app",
    "USER": "app",
    "LANG": "C.UTF-8",
    "TZ": "UTC",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock",
    "AWS_SECRET_ACCESS_KEY": "from-the-shell",
    "UNRELATED": "1",
}


def test_inherit_env_false_gives_a_minimal_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [project]
        inherit_env = false
        [env]
        FROM_SHELL = "${UNRELATED}"
        [processes.p]
        command = "true"
        env = { OWN = "yes" }
        """,
    )
    project = resolve_project(file=path, cwd=tmp_path, environ=SHELL)
    env = dict(project.processes["p"].instances[0].env)
    assert env["FROM_SHELL"] == "1"  # substitution still sees the shell
    assert env["OWN"] == "yes"
    for name in ("HOME", "USER", "LANG", "TZ"):
        assert env[name] == SHELL[name]
    assert "PATH" in env
    for name in ("SSH_AUTH_SOCK", "AWS_SECRET_ACCESS_KEY", "UNRELATED"):
        assert name not in env


def test_by_default_the_shell_environment_is_inherited(tmp_path: Path) -> None:
    path = write(tmp_path, '[processes.p]\ncommand = "true"\n')
    env = resolve_project(file=path, cwd=tmp_path, environ=SHELL).processes["p"].instances[0].env
    assert env["UNRELATED"] == "1"


# -- the audit trail ---------------------------------------------------------------------------

CRASHER = ["python", "-c", "import sys; sys.exit(3)"]
AUDIT_CONFIG = f"""
[project]
name = "audit"

[processes.crash]
command = {json.dumps(CRASHER)}
restart = {{ policy = "on-failure", max_restarts = 1, backoff = "10ms" }}

[processes.sleeper]
command = {json.dumps(SLEEPER)}
env = {{ API_TOKEN = "${{API_TOKEN}}" }}
"""
EVENTS = {
    "config_loaded",
    "process_started",
    "process_exited",
    "process_restarting",
    "process_gave_up",
    "process_stopping",
    "process_killed",
    "health_changed",
    "stopping",
    "stopped",
}


def own_events(text: str) -> list[dict[str, object]]:
    events = []
    for line in text.splitlines():
        record = json.loads(line)
        if record.get("stream") == "prodserver":
            events.append(record)
    return events


def run_audit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    write(tmp_path, AUDIT_CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "prodserver", "up", "--skip-checks", "--log-format", "json", *args],
        capture_output=True,
        text=True,
        env=base_env(tmp_path, {"API_TOKEN": "CANARYaudit55"}),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_json_output_is_one_object_per_line(tmp_path: Path) -> None:
    result = run_audit(tmp_path)
    assert result.returncode == 3, result.stderr
    events = own_events(result.stdout)
    assert events
    assert all({"time", "process", "stream", "line"} <= e.keys() for e in events)
    assert "CANARYaudit55" not in result.stdout + result.stderr


def test_every_own_event_is_named_with_its_fields(tmp_path: Path) -> None:
    events = own_events(run_audit(tmp_path).stdout)
    assert {e.get("event") for e in events} <= EVENTS
    started = [e for e in events if e.get("event") == "process_started"]
    assert started and all(isinstance(e.get("pid"), int) for e in started)
    exited = [e for e in events if e.get("event") == "process_exited" and e["process"] == "crash"]
    assert exited and all(e.get("code") == 3 for e in exited)
    assert any(e.get("event") == "process_gave_up" for e in events)


def test_config_loaded_comes_first_with_the_configuration_hash(tmp_path: Path) -> None:
    result = run_audit(tmp_path)
    first = own_events(result.stdout)[0]
    project, prov = resolve_with_provenance(
        file=tmp_path / "prodserver.toml",
        cwd=tmp_path,
        environ=base_env(tmp_path, {"API_TOKEN": "CANARYaudit55"}),
    )
    assert first.get("event") == "config_loaded"
    assert first.get("profile") == project.profile
    assert first.get("config_sha256") == config_hash(project, prov.configured)


def test_the_configuration_hash_is_stable_and_reveals_no_secret(tmp_path: Path) -> None:
    path = write(tmp_path, AUDIT_CONFIG)

    def digest(token: str, **extra: str) -> str:
        env = {"PATH": "/usr/bin", "API_TOKEN": token, **extra}
        project, prov = resolve_with_provenance(file=path, cwd=tmp_path, environ=env)
        return config_hash(project, prov.configured)

    first = digest("one")
    assert len(first) == 64
    assert digest("one") == first
    assert digest("one", OLDPWD="/elsewhere") == first  # unrelated shell noise
    assert digest("two") == first  # a secret's value is masked before hashing
    write(tmp_path, AUDIT_CONFIG.replace("max_restarts = 1", "max_restarts = 2"))
    assert digest("one") != first  # a change the operator can see


def test_log_file_keeps_the_events_with_rotation(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "prodserver.jsonl"
    log.parent.mkdir()
    result = run_audit(tmp_path, "--log-file", str(log), "--log-file-max-size", "512")
    assert result.returncode == 3, result.stderr
    files = sorted(log.parent.iterdir())
    assert log in files and Path(f"{log}.1") in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for line in path.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["stream"] == "prodserver"
            assert "CANARYaudit55" not in line
    planted = tmp_path / "planted.jsonl"
    planted.symlink_to(tmp_path / "victim")
    refused = run_audit(tmp_path, "--log-file", str(planted))
    assert refused.returncode != 0
    assert not (tmp_path / "victim").exists()


# -- per-instance notification sockets ---------------------------------------------------------


def test_the_notify_directory_is_searchable_by_its_owner(tmp_path: Path) -> None:
    # once created 0600 under the socket's umask: root binds anyway, any other user got EACCES
    # and no child a NOTIFY_SOCKET (the suite runs as root, so the mode is checked directly)
    from prodserver.runtime.notify import NotifyHub

    hub = NotifyHub(tmp_path / "notify", lambda *a: None, lambda fd, cb: None, lambda fd: None)
    try:
        env = hub.env_for(object())  # type: ignore[arg-type]
        assert "NOTIFY_SOCKET" in env
        socket_path = Path(env["NOTIFY_SOCKET"])
        assert stat.S_IMODE(socket_path.lstat().st_mode) == 0o600
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    finally:
        hub.close()
