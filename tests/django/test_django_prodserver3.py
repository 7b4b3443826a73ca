"""A project configured the django-prodserver 3.x way keeps working after the switch.

tests/django/prodserver3/ is such a project: ``PRODUCTION_PROCESSES`` with 3.x backend paths,
``ARGS`` as dicts and strings, Celery's ``"loglevel": "INFO"``. Its command lines
(``manage.py server web``, ``manage.py worker worker``, 2.x's ``manage.py prodserver web``,
``--list``, arguments forwarded to the process) run as ``prodserver exec NAME`` with a one-line
deprecation notice naming the new form; ``init --from-django`` translates it and reports what
it could not translate as warnings with the settings line.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "prodserver3"
BIN = Path(sys.executable).parent
STUB = f"#!{sys.executable}\nimport json, sys\nprint('ARGV', json.dumps(sys.argv[1:]))\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    stubs = target / "stubs"
    stubs.mkdir()
    for program in ("gunicorn", "celery"):
        (stubs / program).write_text(STUB, encoding="utf-8")
        (stubs / program).chmod(0o755)
    return target


def manage(shop: Path, *args: str, settings: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        # the stubs stand in for the servers; the virtualenv is on PATH, as it is when active
        "PATH": os.pathsep.join([str(shop / "stubs"), str(BIN), "/usr/bin", "/bin"]),
        "HOME": str(shop),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=shop,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def argv_of(done: subprocess.CompletedProcess[str]) -> list[str]:
    [line] = [line for line in done.stdout.splitlines() if line.startswith("ARGV ")]
    return list(json.loads(line[5:]))


def test_server_web_is_exec_web(shop: Path) -> None:
    done = manage(shop, "server", "web")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "prodserver: `manage.py server web` is django-prodserver's form and is deprecated: "
        "it runs `python manage.py prodserver exec web` (write that instead)\n"
    )
    argv = argv_of(done)
    assert argv[:2] == ["--bind", "0.0.0.0:8000"]
    assert "uvicorn.workers.UvicornWorker" in argv and argv[-1] == "legacyshop.wsgi:application"
    assert ("--log-level", "info") in itertools.pairwise(argv)  # "INFO" accepted


def test_worker_worker_forwards_unknown_arguments(shop: Path) -> None:
    done = manage(shop, "worker", "worker", "--settings", "legacyshop.settings", "-Q", "high")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "prodserver: `manage.py worker worker` is django-prodserver's form and is deprecated: "
        "it runs `python manage.py prodserver exec worker -- ...` (write that instead)\n"
    )
    # Django's own options stay with Django; the rest follows the configured ARGS
    assert argv_of(done) == [
        "--app",
        "legacyshop.celery.app",
        "worker",
        "--loglevel",
        "info",
        "--queues",
        "default,mail",
        "--concurrency",
        "4",
        "-Q",
        "high",
    ]


def test_prodserver_name_is_exec_name(shop: Path) -> None:
    done = manage(shop, "prodserver", "beat", "--skip-checks")
    assert done.returncode == 0, done.stderr
    assert "`manage.py prodserver beat` is django-prodserver's form" in done.stderr
    assert "`python manage.py prodserver exec beat`" in done.stderr
    assert argv_of(done) == ["--app", "legacyshop.celery.app", "beat", "--loglevel", "warning"]


def test_list(shop: Path) -> None:
    done = manage(shop, "server", "--list")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "web\napi\nworker\nbeat\ntasks\n"
    assert done.stderr == (
        "prodserver: `manage.py server --list` is django-prodserver's; it is deprecated: "
        "use `python manage.py prodserver config --names`\n"
    )


def test_prodserver_commands_are_not_mistaken_for_names(shop: Path) -> None:
    done = manage(shop, "prodserver", "config", "--names")
    assert done.returncode == 0, done.stderr
    assert "deprecated: use" not in done.stderr and "web\n" in done.stdout


def test_manage_py_check_accepts_the_setting(shop: Path) -> None:
    done = manage(shop, "check")
    assert done.returncode == 0, done.stderr
    assert "prodserver.W002" in done.stderr + done.stdout
    assert "prodserver.E001" not in done.stderr + done.stdout


def test_init_from_django_translates_what_it_can(shop: Path) -> None:
    done = manage(
        shop, "prodserver", "init", "--from-django", settings="legacyshop.settings_custom"
    )
    assert done.returncode == 0, done.stderr
    custom = shop / "legacyshop" / "settings_custom.py"
    line = (
        custom.read_text()
        .splitlines()
        .index('        "BACKEND": "legacyshop.backends.CustomServer",')
    )
    assert done.stderr.startswith(
        f"prodserver: warning PS180: {custom}:{line + 1}: "
        "PRODUCTION_PROCESSES.custom.BACKEND: unknown BACKEND "
        "'legacyshop.backends.CustomServer': this process is not translated\n"
    )
    text = (shop / "prodserver.toml").read_text(encoding="utf-8")
    assert 'loglevel = "INFO"' in text and "[processes.custom]" not in text
    check = subprocess.run(
        [str(BIN / "prodserver"), "check", "--quiet"],
        cwd=shop,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(shop)},
    )
    assert check.returncode == 0, check.stderr
