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
#: probe; a JSON log line; a control request), or never on POSIX; argparse, since the same
#: command line is not parsed again (prodserver/cli/parsed.py); the ctypes package (prctl and
#: mallopt go through its C core: prodserver/runtime/libc.py); socket (the notify and
#: control sockets are _socket's, its C core); and shutil, at the end either (the notify
#: directory holds only its sockets)
NOT_ON_THE_START_PATH = (
    "argparse",
    "prodserver.runtime.metrics",
    "prodserver.runtime.reload",
    "psutil",
    "json",
    "hashlib",
    "secrets",
    "tempfile",
    "random",
    "ctypes",
    "socket",
    "shutil",
    "http.client",
    # prodserver.records: NamedTuple and Protocol without `typing` (4.5 ms), which the type
    # checker alone imports
    "typing",
)


def imported_by_cached_up(
    tmp_path: Path, toml: str, *extra: str, environ: dict[str, str] | None = None
) -> set[str]:
    """``environ``: replaces XDG_RUNTIME_DIR and the temporary directory variables."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "prodserver.toml").write_text(toml)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    if environ is None:
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        environ = {"XDG_RUNTIME_DIR": str(runtime)}
    for name in ("XDG_RUNTIME_DIR", "TMPDIR", "TEMP", "TMP"):
        env.pop(name, None)
    env.update(environ)
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


@pytest.mark.parametrize("tmpdir", [False, True], ids=["tmp", "TMPDIR"])
def test_a_cached_up_without_xdg_runtime_dir_finds_its_directory_without_tempfile(
    tmp_path: Path, tmpdir: bool
) -> None:
    # most servers have no XDG_RUNTIME_DIR (no login session): the runtime directory is then
    # in the temporary directory, found without importing tempfile (and random, shutil, ...)
    toml = '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    environ = {}
    if tmpdir:
        (tmp_path / "tmp").mkdir()
        environ["TMPDIR"] = str(tmp_path / "tmp")
    modules = imported_by_cached_up(tmp_path, toml, environ=environ)
    assert "prodserver.runtime.control" in modules  # it did look for the directory
    assert sorted(m for m in NOT_ON_THE_START_PATH if m in modules) == []
    if tmpdir:  # and it is the one tempfile would have picked
        assert [p.name for p in (tmp_path / "tmp").iterdir()] == [f"prodserver-{os.getuid()}"]


#: the console script's start, counting the annotations typing compiles (a ForwardRef each)
COUNTING_FORWARD_REFS = (
    "import sys, typing\n"
    "made = set()\n"
    "init = typing.ForwardRef.__init__\n"
    "def counting(self, arg, *args, **kwargs):\n"
    "    frame = sys._getframe(1)\n"
    "    while frame.f_globals.get('__name__') == 'typing':\n"
    "        frame = frame.f_back\n"
    "    made.add(frame.f_globals.get('__name__'))\n"
    "    init(self, arg, *args, **kwargs)\n"
    "typing.ForwardRef.__init__ = counting\n"
    "import atexit\n"
    "atexit.register(lambda: print('forward refs:', sorted(made), file=sys.stderr))\n"
    "sys.argv[0] = 'prodserver'\n"
    "from prodserver.cli.main import entrypoint\n"
    "entrypoint()"
)


def test_a_cached_up_compiles_no_annotation(tmp_path: Path) -> None:
    # typing compiles each string annotation of a NamedTuple (``from __future__ import
    # annotations`` makes every annotation a string) when the class is made: ~0.1 ms a field;
    # the modules that made one are listed
    project = tmp_path / "project"
    project.mkdir()
    (project / "prodserver.toml").write_text(
        '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("PRODSERVER_NO_CACHE", None)
    argv = [sys.executable, "-c", COUNTING_FORWARD_REFS, "up", "--no-timestamps"]
    for _ in range(2):  # the first writes the cache entry, the second reads it
        done = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    made = [line for line in done.stderr.splitlines() if line.startswith("forward refs: ")]
    assert made[0].split("'")[1::2] == []


def test_a_cached_up_defines_the_model_without_dataclasses(tmp_path):
    # the model's records are NamedTuples (prodserver/records.py): `dataclasses` and what it
    # imports (inspect, ast, dis, tokenize) cost about a quarter of a cached start
    toml = '[project]\nname = "quick"\n\n[processes.once]\ncommand = ["true"]\noneshot = true\n'
    modules = imported_by_cached_up(tmp_path, toml)
    assert "prodserver.config.model" in modules
    assert sorted(m for m in ("dataclasses", "inspect", "ast", "dis") if m in modules) == []
