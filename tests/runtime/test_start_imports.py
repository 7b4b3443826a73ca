"""What a cached ``prodserver up`` imports before its first child runs (issue 17).

Most of ``up``'s start-up is Python importing modules: each one it does not need is time every
user waits at every start. These tests run a real ``up`` the second time (the configuration comes
from the cache) and read the interpreter's own import log (``-X importtime``), so that a module
that creeps back onto the start path fails here rather than only in the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the native runtime's start path (Linux)"
)

#: the console script's own start (``python -m prodserver`` would add runpy's imports)
ENTRY = (
    "import sys; sys.argv[0] = 'prodserver'\n"
    "from prodserver.cli.main import entrypoint\n"
    "entrypoint()"
)

#: used only by some runs (a sample for status, --metrics or a memory guard; a reload; an HTTP
#: probe; a JSON log line; a control request; a missing XDG_RUNTIME_DIR), or never on POSIX; and
#: argparse, since the same command line is not parsed again (prodserver/cli/parsed.py)
NOT_ON_THE_START_PATH = (
    "argparse",
    "prodserver.runtime.metrics",
    "prodserver.runtime.reload",
    "psutil",
    "json",
    "hashlib",
    "secrets",
    "tempfile",
    "http.client",
)


def imported_by_cached_up(tmp_path: Path, toml: str, *extra: str) -> set[str]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "prodserver.toml").write_text(toml)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_RUNTIME_DIR=str(runtime))
    # the native runtime, Linux's default (the portable one reads the process table with psutil)
    for name in (
        "PRODSERVER_NO_CACHE",
        "PRODSERVER_FILE",
        "PRODSERVER_PROFILE",
        "PRODSERVER_RUNTIME",
    ):
        env.pop(name, None)
    argv = [sys.executable, "-X", "importtime", "-c", ENTRY, "up", "--no-timestamps", *extra]
    logs = []
    for _ in range(2):  # the first writes the cache entry, the second reads it
        done = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        logs.append(done.stderr)
    return {
        line.rsplit("|", 1)[1].strip()
        for line in logs[1].splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_cached_up_imports_only_what_starting_needs(tmp_path):
    toml = '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    modules = imported_by_cached_up(tmp_path, toml)
    assert "prodserver.runtime.supervisor" in modules  # it did run
    assert "prodserver.config.resolve" not in modules  # from the cache: nothing resolved
    assert sorted(m for m in NOT_ON_THE_START_PATH if m in modules) == []


def test_what_a_run_uses_is_still_imported_when_used(tmp_path):
    # the other side: a JSON log imports json (the lazy imports are where they are used)
    toml = '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    modules = imported_by_cached_up(tmp_path, toml, "--log-format", "json")
    assert "json" in modules


def test_a_cached_up_defines_the_model_without_dataclasses(tmp_path):
    # the model's records are NamedTuples (prodserver/records.py): `dataclasses` and what it
    # imports (inspect, ast, dis, tokenize) cost about a quarter of a cached start
    toml = '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    modules = imported_by_cached_up(tmp_path, toml)
    assert "prodserver.config.model" in modules
    assert sorted(m for m in ("dataclasses", "inspect", "ast", "dis") if m in modules) == []
