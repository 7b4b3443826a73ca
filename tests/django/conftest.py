"""A tiny Django project (tests/django/project) copied per test, run in-process and as manage.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "project"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A fresh copy of the test project (manage.py, mysite/)."""
    target = tmp_path / "site"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    return target


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


@pytest.fixture
def manage(site: Path) -> Callable[..., Run]:
    """Run ``python manage.py ARGS...`` in the copied project, in a clean environment."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=site,
            env=clean_env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def django_ready() -> None:
    """Django configured in this process with the test project's settings (once)."""
    import django
    from django.conf import settings

    if not settings.configured:
        sys.path.insert(0, str(PROJECT))
        # only for django.setup(): left set, it would leak into every later test's resolution
        os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        try:
            django.setup()
        finally:
            del os.environ["DJANGO_SETTINGS_MODULE"]


@pytest.fixture
def in_site(site: Path, django_ready: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The copied project as the working directory, with no PRODSERVER_* variables."""
    for key in list(os.environ):
        if key.startswith("PRODSERVER_") or key == "PORT":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(site)
    yield site
