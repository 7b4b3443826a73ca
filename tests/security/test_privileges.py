"""Who processes run as: root is refused in a production profile unless allowed, ``user =``
drops privileges, and a child running as another user still dies with prodserver.

CI runs as root, so the unit tests pass the effective uid in (``root_problems(project, euid)``)
and the command-line tests fake it with a ``sitecustomize`` that replaces ``os.geteuid``.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from prodserver.checks.root import is_production, root_problems
from prodserver.config.model import ResolvedProject
from prodserver.config.resolve import resolve_project
from tests.security.helpers import base_env, is_root, write

CONFIG = """
[project]
name = "shop"
default_profile = "dev"

[processes.web]
command = ["python", "-c", "print('web ran')"]
oneshot = true

[processes.worker]
command = ["python", "-c", "print('worker ran')"]
oneshot = true

[profiles.dev]
[profiles.prod]
[profiles.production]
[profiles.staging]
extends = "prod"
"""


def project(tmp_path: Path, profile: str = "prod", body: str = CONFIG) -> ResolvedProject:
    path = write(tmp_path, body)
    return resolve_project(file=path, cwd=tmp_path, profile=profile, environ={"PATH": "/usr/bin"})


# -- root_problems: the decision ---------------------------------------------------------------


def test_root_in_a_prod_profile_is_refused_with_guidance(tmp_path: Path) -> None:
    problems = root_problems(project(tmp_path), 0)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.code == "PS114"
    assert "web, worker" in problem.message
    assert "'prod'" in problem.message
    hint = problem.hint or ""
    assert "--allow-root" in hint and "allow_root = true" in hint and "user =" in hint


@pytest.mark.parametrize("profile", ["prod", "production"])
def test_profiles_named_for_production_count(tmp_path: Path, profile: str) -> None:
    assert is_production(project(tmp_path, profile))


def test_a_profile_marked_production_counts_whatever_its_name(tmp_path: Path) -> None:
    dev = project(tmp_path, "dev")
    assert not is_production(dev)
    assert is_production(replace(dev, production=True))
    marked = CONFIG.replace("[profiles.dev]", "[profiles.dev]\nproduction = true")
    assert is_production(project(tmp_path, "dev", marked))


def test_a_profile_extending_a_production_profile_is_production(tmp_path: Path) -> None:
    # issue 11 (5): `staging extends prod` ran as root without a word
    assert is_production(project(tmp_path, "staging"))
    assert root_problems(project(tmp_path, "staging"), 0)[0].code == "PS114"
    deeper = CONFIG + '[profiles.qa]\nextends = "staging"\n'
    assert is_production(project(tmp_path, "qa", deeper))


def test_a_profile_extending_production_may_say_otherwise(tmp_path: Path) -> None:
    opted_out = CONFIG.replace('extends = "prod"', 'extends = "prod"\nproduction = false')
    assert not is_production(project(tmp_path, "staging", opted_out))
    assert root_problems(project(tmp_path, "staging", opted_out), 0) == []
    # ... and a profile extending the opted-out one inherits the opt-out
    below = opted_out + '[profiles.qa]\nextends = "staging"\n'
    assert not is_production(project(tmp_path, "qa", below))


@pytest.mark.parametrize("user", ["root", "0"])
def test_user_root_is_running_as_root(tmp_path: Path, user: str) -> None:
    # issue 11 (5): `user = "root"` counted as dropping privileges
    body = CONFIG.replace("oneshot = true", f'oneshot = true\nuser = "{user}"')
    problems = root_problems(project(tmp_path, body=body), 0)
    assert [p.code for p in problems] == ["PS114"]
    assert "web, worker" in problems[0].message


def test_a_cmd_probe_of_a_process_that_drops_privileges_would_run_as_root(
    tmp_path: Path,
) -> None:
    # probes run as prodserver itself: with `user =` on the process, its `cmd` probe was
    # still a program running as root in production
    body = CONFIG.replace("oneshot = true", 'oneshot = true\nuser = "nobody"')
    assert root_problems(project(tmp_path, body=body), 0) == []
    probed = body.replace('user = "nobody"', 'user = "nobody"\nhealthcheck = { cmd = "true" }', 1)
    [problem] = root_problems(project(tmp_path, body=probed), 0)
    assert "refusing to run web's healthcheck cmd as root" in problem.message
    assert problem.location.key_path == "processes.web"
    assert root_problems(project(tmp_path, body=probed), 1000) == []
    # `exec` runs no probe: the process alone decides
    assert root_problems(project(tmp_path, body=probed), 0, probes=False) == []


def test_run_command_as_root_in_production_is_refused(tmp_path: Path) -> None:
    problems = root_problems(project(tmp_path), 0, command="python")
    assert "refusing to run python as root" in problems[0].message
    assert root_problems(project(tmp_path), 1000, command="python") == []
    assert root_problems(project(tmp_path, "dev"), 0, command="python") == []


@pytest.mark.parametrize("euid", [1000, 65534])
def test_an_unprivileged_user_is_never_refused(tmp_path: Path, euid: int) -> None:
    assert root_problems(project(tmp_path), euid) == []


def test_root_in_a_development_profile_is_allowed(tmp_path: Path) -> None:
    assert root_problems(project(tmp_path, "dev"), 0) == []


def test_root_is_allowed_when_asked(tmp_path: Path) -> None:
    assert root_problems(project(tmp_path), 0, allow_root=True) == []


def test_root_is_fine_when_every_process_drops_privileges(tmp_path: Path) -> None:
    body = CONFIG.replace("oneshot = true", 'oneshot = true\nuser = "nobody"')
    assert root_problems(project(tmp_path, body=body), 0) == []
    partly = CONFIG.replace(
        "print('web ran')\"]\noneshot = true",
        'print(\'web ran\')"]\noneshot = true\nuser = "nobody"',
    )
    [problem] = root_problems(project(tmp_path, body=partly), 0)
    assert (
        "worker" in problem.message
        and "web" not in problem.message.split("run ")[1].split(" as")[0]
    )


def test_only_the_processes_asked_for_are_checked(tmp_path: Path) -> None:
    body = CONFIG.replace(
        "print('web ran')\"]\noneshot = true",
        'print(\'web ran\')"]\noneshot = true\nuser = "nobody"',
    )
    assert root_problems(project(tmp_path, body=body), 0, names=("web",)) == []


# -- through the command line ------------------------------------------------------------------

FAKE_ROOT = "import os\nos.geteuid = lambda: 0\n"


def up_as_root(tmp_path: Path, *args: str, body: str = CONFIG) -> subprocess.CompletedProcess[str]:
    write(tmp_path, body)
    site = tmp_path / "fake-root"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(FAKE_ROOT, encoding="utf-8")
    env = base_env(tmp_path)
    env["PYTHONPATH"] = f"{site}{os.pathsep}{env['PYTHONPATH']}"
    return subprocess.run(
        [sys.executable, "-m", "prodserver", "up", "--skip-checks", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


NEEDS_ROOT_CHECK = (
    "needs cli/commands/up.py (or runtime/up.py run_up) to call "
    "prodserver.checks.root.root_problems(project, os.geteuid(), allow_root=..., "
    "names=selected) before anything starts and raise a ConfigError with the problems; "
    "an --allow-root flag on up; and `allow_root` (boolean) in the [project] schema and as "
    "ResolvedProject.allow_root"
)


def test_up_as_root_in_prod_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = up_as_root(tmp_path, "--profile", "prod")
    assert result.returncode == 78, result.stdout + result.stderr  # ExitCode.CONFIG
    assert "PS114" in result.stderr
    assert "ran" not in result.stdout


def test_up_as_root_in_prod_runs_with_allow_root(tmp_path: Path) -> None:
    flag = up_as_root(tmp_path, "--profile", "prod", "--allow-root")
    assert flag.returncode == 0, flag.stderr
    body = CONFIG.replace('name = "shop"', 'name = "shop"\nallow_root = true')
    key = up_as_root(tmp_path, "--profile", "prod", body=body)
    assert key.returncode == 0, key.stderr


def test_up_as_root_in_dev_runs(tmp_path: Path) -> None:
    result = up_as_root(tmp_path, "--profile", "dev")
    assert result.returncode == 0, result.stderr
    assert "web ran" in result.stdout


# One rule for up, exec and run (issue 11, 5): every command, every way in, every way out.


def as_root(
    tmp_path: Path, *args: str, body: str = CONFIG, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``prodserver ARGS`` with a faked uid 0 (the suite may run as root or not)."""
    write(tmp_path, body)
    site = tmp_path / "fake-root"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(FAKE_ROOT, encoding="utf-8")
    full = base_env(tmp_path, env)
    full["PYTHONPATH"] = f"{site}{os.pathsep}{full['PYTHONPATH']}"
    return subprocess.run(
        [sys.executable, "-m", "prodserver", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


COMMANDS = {
    "up": ("up", "--skip-checks", "web"),
    "exec": ("exec", "web"),
    "run": ("run", "--", "python", "-c", "print('web ran')"),
}


def with_profile(command: str, profile: str) -> tuple[str, ...]:
    name, *rest = COMMANDS[command]
    return (name, "--profile", profile, *rest)


ROOT_USER = CONFIG.replace("oneshot = true", 'oneshot = true\nuser = "root"')


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("profile", "body"),
    [("prod", CONFIG), ("staging", CONFIG), ("prod", ROOT_USER), ("staging", ROOT_USER)],
    ids=["prod", "staging-extends-prod", "prod-user-root", "staging-user-root"],
)
def test_root_is_refused_in_production_by_every_command(
    tmp_path: Path, command: str, profile: str, body: str
) -> None:
    result = as_root(tmp_path, *with_profile(command, profile), body=body)
    assert result.returncode == 78, result.stdout + result.stderr
    assert "error PS114" in result.stderr and "as root" in result.stderr
    assert "Traceback" not in result.stderr
    assert "web ran" not in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("way", ["flag", "environment", "project key"])
def test_every_opt_out_works_for_every_command(tmp_path: Path, command: str, way: str) -> None:
    args = with_profile(command, "staging")
    body, env = CONFIG, {}
    if way == "flag":
        # right after the command: after `exec NAME` or `run --`, words are the program's
        args = (args[0], "--allow-root", *args[1:])
    elif way == "environment":
        env = {"PRODSERVER_ALLOW_ROOT": "1"}
    else:
        body = CONFIG.replace('name = "shop"', 'name = "shop"\nallow_root = true')
    result = as_root(tmp_path, *args, body=body, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "web ran" in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_development_profile_runs_as_root_with_every_command(
    tmp_path: Path, command: str
) -> None:
    result = as_root(tmp_path, *with_profile(command, "dev"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "web ran" in result.stdout


# -- user = ------------------------------------------------------------------------------------

needs_root = pytest.mark.skipif(not is_root(), reason="switching users needs root")
# /bin/sh, not the venv's python: the venv may live where `nobody` cannot execute it
PROBE = "echo ids $(id -ru) $(id -u) $(id -g) [$(id -G | tr ' ' ,)]"


@needs_root
def test_user_drops_every_privilege(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    write(
        tmp_path,
        f"""
        [processes.p]
        command = ["/bin/sh", "-c", "{PROBE}"]
        user = "nobody"
        oneshot = true
        """,
    )
    result = subprocess.run(
        [sys.executable, "-m", "prodserver", "up", "--skip-checks"],
        capture_output=True,
        text=True,
        env=base_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "| ids" in x)
    uid, euid, gid, groups = line.split("| ids ")[1].split(" ", 3)
    assert (int(uid), int(euid), int(gid)) == (nobody.pw_uid, nobody.pw_uid, nobody.pw_gid)
    assert "0" not in groups.strip("[]").replace(" ", "").split(",")


# `$$$$` is the shell's `$$` once prodserver's own substitution has read `$$` as a literal `$`
SLEEPER = "echo pid $$$$; exec sleep 60"


@needs_root
def test_a_process_with_a_user_still_dies_with_prodserver(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"""
        [processes.p]
        command = ["/bin/sh", "-c", "{SLEEPER}"]
        user = "nobody"
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up", "--skip-checks", "--no-color"],
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        child = None
        for line in proc.stdout:
            if "| pid " in line:
                child = int(line.rsplit(" ", 1)[1])
                break
        assert child is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)  # the OS reaps it: nothing to wait on from here
        assert not _alive(child), "the child outlived a SIGKILLed prodserver"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
