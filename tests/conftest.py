"""Shared fixtures: a project directory with a prodserver.toml, and CLI runners."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A known, minimal environment for resolution tests: nothing from the developer's shell leaks in.
BASE_ENV = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent"}

#: why the runtime, integration and health tests skip on Windows: they send POSIX signals
#: and read process groups (the Windows spawner is tested against fakes instead)
POSIX_RUNTIME = "POSIX runtime (signals, process groups); Windows: tests/runtime/test_windows.py"
#: why a test needs Linux itself (``/proc``, the parent-death signal, notify's credentials)
LINUX_ONLY = "Linux only"


def runtime_env() -> dict[str, str]:
    """``PRODSERVER_RUNTIME`` if the test run has one, for tests that build a small environment.

    The CI runs the runtime and integration tests twice on Linux, the second time with
    ``PRODSERVER_RUNTIME=portable`` (see tools/test.sh): it must reach the prodserver they start.
    """
    value = os.environ.get("PRODSERVER_RUNTIME")
    return {"PRODSERVER_RUNTIME": value} if value else {}


@pytest.fixture(autouse=True, scope="session")
def _private_configuration_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The configuration cache of every command the tests run is the session's own, never the
    developer's (``~/.cache/prodserver``)."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write ``prodserver.toml`` (dedented) and extra files into a fresh directory."""

    def make(toml: str | None = None, **files: str) -> Path:
        if toml is not None:
            (tmp_path / "prodserver.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
        for name, content in files.items():
            path = tmp_path / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return tmp_path

    return make


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``prodserver`` in-process with a clean environment and a chosen directory."""
    from prodserver.cli.main import main

    def run(*argv: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> CliResult:
        for key in list(os.environ):
            # PRODSERVER_RUNTIME stays: the CI runs the runtime tests on both runtimes
            if (key.startswith("PRODSERVER_") and key != "PRODSERVER_RUNTIME") or key == "PORT":
                monkeypatch.delenv(key, raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        if cwd is not None:
            monkeypatch.chdir(cwd)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = int(exc.code or 0)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def run_script(
    *argv: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 60
) -> CliResult:
    """Run ``python -m prodserver`` as a real process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "prodserver", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
