"""Pre-start checks through ``prodserver check --deploy`` and ``prodserver up``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from healthrun import Up, free_port, run_cli, short_runtime_dir, wait_until, write_project

from prodserver.exitcodes import ExitCode
from tests.conftest import POSIX_RUNTIME

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)

SERVE = '["python", "-c", "import time; print(\'running\', flush=True); time.sleep(60)", "${PORT}"]'
SLEEP = '["python", "-c", "import time; print(\'running\', flush=True); time.sleep(60)"]'


@pytest.fixture
def redis_port() -> Iterator[int]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "s3cret",
        ],
        stdout=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    try:
        wait_until(answers, 10, "redis-server")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_taken_port_stops_up_before_anything_starts(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = write_project(tmp_path, f"[processes.web]\ncommand = {SERVE}\nport = {port}\n")
        result = run_cli(project, "up", runtime=short_runtime_dir())
        assert result.returncode == ExitCode.FAILURE
        assert (
            f"error PS301: {project / 'prodserver.toml'}: processes.web: web.1: port {port}"
            in result.stderr
        )
        assert "is not free (address already in use" in result.stderr
        assert "hint: stop what listens there, or give the process another port" in result.stderr
        assert "--skip-checks" in result.stderr
        assert "running" not in result.stdout
        deploy = run_cli(project, "check", "--deploy", runtime=short_runtime_dir())
        assert deploy.returncode == ExitCode.FAILURE and "PS301" in deploy.stderr
        skipped = Up.cli(project, "--skip-checks", runtime=short_runtime_dir())
        try:
            skipped.wait_for("web.1 | running")
        finally:
            assert skipped.stop() == 0


def test_redis_is_pinged_with_its_password(tmp_path: Path, redis_port: int):
    config = (
        f'[env]\nREDIS_URL = "redis://:{{password}}@127.0.0.1:{redis_port}/0"\n'
        f"[processes.worker]\ncommand = {SLEEP}\n"
    )
    good = write_project(tmp_path, config.format(password="s3cret"))
    ok = run_cli(good, "check", "--deploy", runtime=short_runtime_dir())
    assert ok.returncode == 0, ok.stderr
    assert "deploy checks: required variables set, 1 service reachable" in ok.stdout
    write_project(tmp_path, config.format(password="wrong"))
    bad = run_cli(good, "check", "--deploy", runtime=short_runtime_dir())
    assert bad.returncode == ExitCode.FAILURE
    assert "error PS303" in bad.stderr
    assert "REDIS_URL: cannot use redis://:********@127.0.0.1" in bad.stderr
    assert "Redis refused the credentials" in bad.stderr
    assert "wrong" not in bad.stderr  # the password is never printed


def test_an_unreachable_database_fails_a_production_up_and_names_the_variable(tmp_path: Path):
    port = free_port()  # nothing listens there
    project = write_project(
        tmp_path,
        f'[env]\nDATABASE_URL = "postgres://app:pw@127.0.0.1:{port}/shop"\n'
        f"[processes.web]\ncommand = {SLEEP}\n[profiles.dev]\n[profiles.prod]\n",
    )
    dev = Up.cli(project, "--profile", "dev", runtime=short_runtime_dir())
    try:
        dev.wait_for("web.1 | running")  # a development profile is not stopped by it
    finally:
        assert dev.stop() == 0
    # --allow-root: the suite may run as root, and these tests are about the pre-start checks
    result = run_cli(
        project, "up", "--profile", "prod", "--allow-root", runtime=short_runtime_dir()
    )
    assert result.returncode == ExitCode.FAILURE
    assert (
        f"DATABASE_URL: cannot use postgres://app:********@127.0.0.1:{port}/shop: "
        "connection refused" in result.stderr
    )
    assert "hint: start the service, or point the variable at a running one" in result.stderr


def test_required_variables_matter_in_production_profiles_only(tmp_path: Path):
    project = write_project(
        tmp_path,
        f"""
        [env]
        SENTRY_DSN = "${{SENTRY_DSN_VALUE}}"
        [processes.web]
        command = {SLEEP}
        [profiles.dev]
        [profiles.prod]
        """,
    )
    prod = run_cli(project, "up", "--profile", "prod", "--allow-root", runtime=short_runtime_dir())
    assert prod.returncode == ExitCode.FAILURE
    assert "error PS302" in prod.stderr
    assert "variable SENTRY_DSN_VALUE is used by the configuration but not set" in prod.stderr
    dev = Up.cli(project, "--profile", "dev", runtime=short_runtime_dir())
    try:
        dev.wait_for("web.1 | running")
    finally:
        assert dev.stop() == 0
    check = run_cli(project, "check", "--deploy", "--profile", "dev", runtime=short_runtime_dir())
    assert check.returncode == ExitCode.FAILURE and "PS302" in check.stderr


MANAGE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""


def test_django_deploy_checks_run_in_a_production_profile(tmp_path: Path):
    project = write_project(
        tmp_path,
        f"""
        [env]
        DJANGO_SETTINGS_MODULE = "site_settings"
        [processes.web]
        command = {SLEEP}
        [profiles.dev]
        [profiles.production]
        """,
        **{
            "manage.py": MANAGE,
            "site_settings.py": 'SECRET_KEY = "x"\nINSTALLED_APPS = []\nCACHES = {}\n',
        },
    )
    prod = run_cli(
        project, "check", "--deploy", "--profile", "production", runtime=short_runtime_dir()
    )
    assert prod.returncode == ExitCode.FAILURE
    assert "error PS304" in prod.stderr
    assert "Django's check --deploy failed" in prod.stderr
    assert "caches.E001" in prod.stderr
    dev = run_cli(project, "check", "--deploy", "--profile", "dev", runtime=short_runtime_dir())
    assert dev.returncode == 0, dev.stderr
    assert (
        "Django's check --deploy skipped: profile 'dev' is not a production profile" in dev.stdout
    )
