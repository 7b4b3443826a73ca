"""A plain Procfile run by ``prodserver up`` means what it means to honcho, foreman and Heroku.

Each line runs as ``/bin/sh -c`` runs it (quoting, unset and multi-word variables), a simple
command is ``exec``-ed so the program is the process, and ``release:`` is a oneshot the other
lines wait for: a successful release never ends the run, a failed one ends it with its code.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSIX_RUNTIME, runtime_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    return {**base, **runtime_env(), **extra}


def up(tmp_path: Path, procfile: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "Procfile").write_text(procfile)
    return subprocess.run(
        [sys.executable, "-m", "prodserver", "up", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        timeout=60,
    )


def test_single_quotes_protect_a_dollar(tmp_path: Path) -> None:
    result = up(tmp_path, "web: echo '$HOME' \"$HOME\"\n")
    assert result.returncode == 0, result.stderr
    assert f"web.1 | $HOME {tmp_path}" in result.stdout.splitlines()


def test_unset_variable_drops_the_word_and_a_multi_word_one_splits(tmp_path: Path) -> None:
    line = "web: python3 -c 'import sys; print(sys.argv[1:])' $JVM_OPTS -cp app.jar\n"
    result = up(tmp_path, line)
    assert result.returncode == 0, result.stderr
    assert "web.1 | ['-cp', 'app.jar']" in result.stdout.splitlines()
    result = up(tmp_path, line, JVM_OPTS="-Xmx1g  -Dx=1")
    assert "web.1 | ['-Xmx1g', '-Dx=1', '-cp', 'app.jar']" in result.stdout.splitlines()


def test_the_shell_reads_the_env_file_and_the_port_at_run_time(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GREETING=hello world\nPORT=7000\n")
    procfile = "web: echo $GREETING on $PORT\nother: echo $PORT\n"
    # one process per run: the first to exit ends a run, which could stop the other unprinted
    web = up(tmp_path, procfile, "web")
    other = up(tmp_path, procfile, "other")
    # .env's PORT is the base port, as in honcho and foreman; each line's is base + 100 x N
    assert "web.1 | hello world on 7000" in web.stdout.splitlines(), web.stdout + web.stderr
    assert "other.1 | 7100" in other.stdout.splitlines(), other.stdout + other.stderr


def test_a_simple_command_is_the_process_itself(tmp_path: Path) -> None:
    result = up(tmp_path, "web: python3 -c 'import os; print(\"pid\", os.getpid())' $UNSET\n")
    started = re.search(r"web.1 \* started with pid (\d+)", result.stdout)
    assert started is not None, result.stdout
    assert f"web.1 | pid {started.group(1)}" in result.stdout.splitlines()


def test_release_runs_first_and_never_ends_the_run(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(
        "web: python3 -c 'import time; print(\"serving\", flush=True); time.sleep(60)'\n"
        "release: python3 -c 'print(\"migrated\")'\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line.rstrip("\n"))
        if line.rstrip("\n").endswith("| serving"):
            break
    assert seen.index("release.1 * completed (exit code 0)") < seen.index("web.1     | serving")
    assert "ended the run" not in "\n".join(seen)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "web.1     * stopped by SIGTERM" in rest


def test_a_failed_release_stops_the_run_with_its_code(tmp_path: Path) -> None:
    result = up(
        tmp_path,
        "release: python3 -c 'import sys; sys.exit(3)'\nweb: echo should not start\n",
    )
    assert result.returncode == 3, result.stdout
    assert "should not start" not in result.stdout
    assert "release.1 * exited with code 3" in result.stdout


def test_start_is_up(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: echo started\n")
    result = subprocess.run(
        [sys.executable, "-m", "prodserver", "start"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "web.1 | started" in result.stdout.splitlines()


def test_procfile_from_env_file_and_f(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: echo default\n")
    (tmp_path / "Procfile.dev").write_text("web: echo dev\n")
    for args, dotenv in ((["-f", "Procfile.dev"], ""), ([], "PROCFILE=Procfile.dev\n")):
        (tmp_path / ".env").write_text(dotenv)
        result = subprocess.run(
            [sys.executable, "-m", "prodserver", *args, "start"],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "web.1 | dev" in result.stdout.splitlines(), (args, dotenv)


def test_run_without_any_configuration(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GREETING=from dotenv\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "prodserver",
            "run",
            "--",
            "python3",
            "-c",
            "import os, sys; print(os.environ['GREETING'], os.environ['SHELLVAR']); sys.exit(4)",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path, SHELLVAR="from shell"),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout == "from dotenv from shell\n"
    assert not os.path.exists(tmp_path / "prodserver.toml")


def test_a_warning_is_said_once(tmp_path: Path) -> None:
    result = up(tmp_path, "web: echo one\nWeb: echo two\n")
    assert result.returncode == 0, result.stderr
    said = [line for line in (result.stdout + result.stderr).splitlines() if "PS165" in line]
    assert said and all("warning: warning" not in line for line in said)
    assert said[0].startswith("prodserver * warning PS165: ")
