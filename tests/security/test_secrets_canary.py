"""One canary across every command: a secret value never appears in what prodserver prints or
writes (``config`` in every format, ``check``, ``export`` in every format, ``up``'s own messages,
``run``, errors and ``--debug`` tracebacks) unless asked with ``--show-secrets`` /
``--include-secrets``.

The canaries reach the configuration every way a secret can: from the shell environment into a
profile's ``env``, as the password of a URL, from a ``.env`` file, inside a process's argv, in a
health-check URL, and as a value that fails validation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.exporters import FORMATS
from tests.security.helpers import prodserver, write

SHELL_SECRET = "CANARYshell7f3a"
URL_PASSWORD = "CANARYurl9b2c"
DOTENV_SECRET = "CANARYdotenv4d1e"
ARGV_SECRET = "CANARYargv6a0f"
CANARIES = (SHELL_SECRET, URL_PASSWORD, DOTENV_SECRET, ARGV_SECRET)

CONFIG = """
[project]
name = "canary"
default_profile = "prod"

[env]
BILLING_ENDPOINT = "https://app:${DB_PASSWORD}@billing.internal/api"

[processes.web]
backend = "gunicorn"
app = "shop.wsgi:application"
healthcheck = { http = "http://admin:${DB_PASSWORD}@127.0.0.1:${PORT}/healthz" }

[processes.cache]
command = ["python", "-c", "import sys; sys.exit(3)"]
args = ["--requirepass", "${REDIS_PASSWORD}"]
env = { API_TOKEN = "${API_TOKEN}" }
labels = { owner = "team-${SECRET_KEY}" }

[profiles.prod.env]
SECRET_KEY = "${SECRET_KEY:?set SECRET_KEY}"

[profiles.prod.export]
user = "canary"

# a profile that is not production (the up tests below run as root in CI): it extends the
# production profile and says otherwise
[profiles.live]
extends = "prod"
production = false

[profiles.odd.processes.cache]
user = "${SECRET_KEY}"
cwd = "/srv/${REDIS_PASSWORD}"

[profiles.broken.processes.web]
backend = "gunicorn"
app = "shop.wsgi:application"
workers = "${SECRET_KEY}"
timeout = "${REDIS_PASSWORD}"
"""

ENV = {
    "SECRET_KEY": SHELL_SECRET,
    "DB_PASSWORD": URL_PASSWORD,
    "REDIS_PASSWORD": ARGV_SECRET,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write(tmp_path, CONFIG)
    (tmp_path / ".env").write_text(f"API_TOKEN={DOTENV_SECRET}\n", encoding="utf-8")
    return tmp_path


def leaked(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def assert_clean(result_text: str, what: str) -> None:
    assert not leaked(result_text), f"{what} revealed {leaked(result_text)}:\n{result_text}"


def files_text(directory: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    )


COMMANDS = [
    ("check",),
    ("check", "--all-profiles"),
    ("check", "--deploy"),
    ("config",),
    ("config", "--format", "json"),
    ("config", "--explain"),
    ("config", "--format", "json", "--explain"),
    ("config", "--profile", "broken"),
    ("config", "--profile", "odd"),
    ("config", "--profile", "odd", "--format", "json", "--explain"),
    ("config", "--profile", "broken", "--debug"),
    ("check", "--profile", "broken", "--debug"),
    ("export", "compose", "--profile", "broken", "--debug"),
    ("up", "--profile", "broken", "--debug"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_no_command_prints_a_secret(root: Path, argv: tuple[str, ...]) -> None:
    result = prodserver(root, *argv, env=ENV)
    assert_clean(result.stdout + result.stderr, " ".join(argv))


def test_the_broken_profile_is_an_error_that_shows_where_not_what(root: Path) -> None:
    result = prodserver(root, "check", "--profile", "broken", "--debug", env=ENV)
    assert result.returncode != 0
    assert "processes.web.workers" in result.stderr
    assert "Traceback" in result.stderr  # --debug really showed one, and it is clean
    assert_clean(result.stderr, "check --debug")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_no_export_writes_a_secret(root: Path, fmt: str) -> None:
    out = root / f"out-{fmt}"
    result = prodserver(root, "export", fmt, "-o", f"{out}/", env=ENV)
    assert result.returncode == 0, result.stderr
    assert_clean(result.stdout + result.stderr, f"export {fmt} (messages)")
    assert_clean(files_text(out), f"export {fmt} (files)")


def test_include_secrets_is_the_only_way_into_an_export(root: Path) -> None:
    # the canary is live: with the explicit flag the .env value is written, so the tests above
    # can fail (a value only in the shell stays a reference either way)
    result = prodserver(root, "export", "compose", "--include-secrets", env=ENV)
    assert result.returncode == 0, result.stderr
    assert DOTENV_SECRET in result.stdout


def test_show_secrets_is_the_only_way_into_config(root: Path) -> None:
    result = prodserver(root, "config", "--show-secrets", env=ENV)
    assert set(leaked(result.stdout)) == set(CANARIES)


def test_up_messages_about_a_failing_process_hold_no_secret(root: Path) -> None:
    result = prodserver(root, "up", "cache", "--profile", "live", "--timestamps", env=ENV)
    assert result.returncode == 3, result.stdout + result.stderr
    own = [line for line in result.stdout.splitlines() if " | " not in line]
    assert any("exited with code 3" in line for line in own), result.stdout
    assert_clean("\n".join(own) + result.stderr, "up")


def test_up_json_messages_hold_no_secret(root: Path) -> None:
    result = prodserver(root, "up", "cache", "--profile", "live", "--log-format", "json", env=ENV)
    assert result.returncode == 3, result.stdout + result.stderr
    assert_clean(result.stderr, "up --log-format json (stderr)")
    for line in result.stdout.splitlines():
        if '"stream"' not in line:  # the child's own output is the child's business
            assert_clean(line, "up --log-format json")


def test_run_errors_hold_no_secret(root: Path) -> None:
    # `live`: run as root (CI) is refused in a production profile (test_privileges.py)
    result = prodserver(
        root, "run", "--profile", "live", "--debug", "--", "no-such-program-here", env=ENV
    )
    assert result.returncode == 69, result.stderr  # the program is missing, not a refusal
    assert_clean(result.stdout + result.stderr, "run")
    ok = prodserver(root, "run", "--profile", "live", "--", "python", "-c", "print('ran')", env=ENV)
    assert ok.returncode == 0, ok.stderr
    assert_clean(ok.stderr, "run")


SECRET_PLACES = """
[processes.a]
command = "${SECRET_KEY}"
[processes.b]
command = "python"
cwd = "${SECRET_KEY}"
"""


def test_runtime_errors_about_a_secret_program_or_cwd_hold_no_secret(tmp_path: Path) -> None:
    write(tmp_path, SECRET_PLACES)
    result = prodserver(tmp_path, "up", "--skip-checks", env=ENV, timeout=30)
    assert result.returncode != 0
    assert "internal error" not in result.stderr
    assert_clean(result.stdout + result.stderr, "up")


@pytest.mark.parametrize("name", ["a", "b"])
def test_exec_errors_are_clean_and_hold_no_secret(tmp_path: Path, name: str) -> None:
    write(tmp_path, SECRET_PLACES)
    result = prodserver(tmp_path, "exec", name, env=ENV, timeout=30)
    assert result.returncode != 0
    assert "internal error" not in result.stderr
    assert_clean(result.stdout + result.stderr, "exec")


STATUS_CONFIG = """
[processes.sleeper]
command = ["python", "-c", "import time; print('up', flush=True); time.sleep(60)"]
args = ["--password", "${REDIS_PASSWORD}"]
env = { API_TOKEN = "${API_TOKEN}", SECRET_KEY = "${SECRET_KEY}" }
[processes.sleeper.healthcheck]
http = "http://admin:${DB_PASSWORD}@127.0.0.1:9/${SECRET_KEY}"
interval = "100ms"
timeout = "100ms"
role = "readiness"
"""


def run_failing_probe(tmp_path: Path) -> tuple[list[str], list[str]]:
    """``up`` with a failing probe whose URL holds secrets: (status outputs, up's own lines)."""
    import subprocess
    import sys
    import time

    from tests.security.helpers import base_env

    write(tmp_path, STATUS_CONFIG)
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {**ENV, "API_TOKEN": DOTENV_SECRET, "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up", "--skip-checks", "--no-color"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=base_env(tmp_path, env),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "sleeper.1 | up" in line:
                break
        texts = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the failing probe has been reported
            shown = prodserver(tmp_path, "status", "--json", env=env)
            texts.append(shown.stdout + shown.stderr)
            if '"health": "unhealthy"' in shown.stdout:
                break
            time.sleep(0.1)  # the probe runs on its own interval: nothing to wait on
        table = prodserver(tmp_path, "status", env=env)
        assert table.returncode == 0, table.stderr
        texts.append(table.stdout + table.stderr)
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[0]
    own = [line for line in rest.splitlines() if " | " not in line]
    assert any("unhealthy" in line for line in own), rest
    return texts, own


def test_status_holds_no_secret(tmp_path: Path) -> None:
    texts, _ = run_failing_probe(tmp_path)
    assert any('"health": "unhealthy"' in t for t in texts)
    assert_clean("\n".join(texts), "status")


def test_health_messages_hold_no_secret(tmp_path: Path) -> None:
    _, own = run_failing_probe(tmp_path)
    assert_clean("\n".join(own), "up (health messages)")
