"""End to end through the command line: ``python -m prodserver up|run|exec -f FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import POSIX_RUNTIME, runtime_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)

WEB = "import os, time; print('web', os.environ['PORT'], os.environ['GREETING']); time.sleep(0.3)"
WORKER = "import os, time; print('worker', os.environ['PRODSERVER_INSTANCE']); time.sleep(30)"

CONFIG = f"""
[project]
name = "demo"

[env]
GREETING = "hello"

[processes.migrate]
command = ["python", "-c", "print('migrated')"]
oneshot = true

[processes.web]
command = ["python", "-c", {json.dumps(WEB)}]
depends_on = {{ migrate = "completed" }}
port = 8123

[processes.worker]
command = ["python", "-c", {json.dumps(WORKER)}]
"""


def prodserver(
    tmp_path: Path, *args: str, config: str = CONFIG
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "prodserver.toml").write_text(textwrap.dedent(config))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    env.update(runtime_env())
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "prodserver",
            args[0],
            "-f",
            str(tmp_path / "prodserver.toml"),
            *args[1:],
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_up_runs_the_profile_and_exits_with_the_ending_process_code(tmp_path):
    result = prodserver(tmp_path, "up")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert "web.1     | web 8123 hello" in out
    assert out.index("migrate.1 * completed (exit code 0)") < out.index(
        "web.1     | web 8123 hello"
    )
    assert "worker.1  * stopped by SIGTERM" in out
    assert "\x1b" not in result.stdout  # not a terminal: no colour


def test_up_names_a_process_and_its_dependencies_only(tmp_path):
    result = prodserver(tmp_path, "up", "web")
    assert result.returncode == 0, result.stderr
    assert "worker" not in result.stdout
    assert "migrate.1 | migrated" in result.stdout


def test_up_scale_and_json(tmp_path):
    result = prodserver(tmp_path, "up", "--scale", "worker=2", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(r["process"], r["instance"]) for r in records if r["line"].startswith("worker")} == {
        ("worker", 1),
        ("worker", 2),
    }


def test_up_unknown_name_is_a_usage_error(tmp_path):
    result = prodserver(tmp_path, "up", "wbe")
    assert result.returncode == 2
    assert "did you mean 'web'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_passes_environment_and_exit_code(tmp_path):
    result = prodserver(
        tmp_path,
        "run",
        "--",
        "python",
        "-c",
        "import os, sys; print(os.environ['GREETING']); sys.exit(5)",
    )
    assert result.returncode == 5
    assert result.stdout == "hello\n"


def test_exec_becomes_the_process(tmp_path):
    config = CONFIG.replace("time.sleep(0.3)", "print('pid', os.getpid())")
    (tmp_path / "prodserver.toml").write_text(config)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    env.update(runtime_env())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prodserver",
            "exec",
            "-f",
            str(tmp_path / "prodserver.toml"),
            "web",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"pid {proc.pid}" in out  # same pid: replaced, nothing in between
    assert "web 8123 hello" in out


def test_missing_program_is_one_clear_line_and_127(tmp_path):
    config = CONFIG + '\n[processes.broken]\ncommand = ["no-such-tool", "--x"]\n'
    result = prodserver(tmp_path, "up", "broken", config=config)
    assert result.returncode == 127
    (line,) = [x for x in result.stdout.splitlines() if "could not start" in x]
    assert "no-such-tool" in line and "PATH=" in line


def _script_with_missing_interpreter(tmp_path: Path) -> Path:
    script = tmp_path / "tool"
    script.write_text("#!/no/such/interpreter\nprint('never')\n")
    script.chmod(0o755)
    return script


MISSING_INTERPRETER = "its interpreter (/no/such/interpreter, from the #! line) was not found"


@pytest.mark.parametrize("command", ["run", "exec", "up"])
def test_a_script_whose_interpreter_is_missing_says_so(tmp_path, command):
    # the file exists: "No such file or directory" (or exit 70, an internal error, as `run`
    # once said) would send the user looking for the wrong file
    script = _script_with_missing_interpreter(tmp_path)
    config = CONFIG + f'\n[processes.tool]\ncommand = ["{script}"]\n'
    args = {"run": ("run", "--", str(script)), "exec": ("exec", "tool"), "up": ("up", "tool")}
    result = prodserver(tmp_path, *args[command], "--no-cache", config=config)
    output = result.stdout + result.stderr
    assert MISSING_INTERPRETER in output
    assert "Traceback" not in output and "internal error" not in output
    assert result.returncode == (127 if command == "up" else 71)


def test_a_missing_working_directory_is_named_not_blamed_on_the_interpreter(tmp_path):
    config = CONFIG + '\n[processes.lost]\ncommand = ["python", "-c", "pass"]\ncwd = "gone"\n'
    result = prodserver(tmp_path, "up", "lost", "--no-cache", "--skip-checks", config=config)
    output = result.stdout + result.stderr
    assert "interpreter" not in output
    assert "gone" in output
