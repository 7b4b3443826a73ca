"""Every command shown in the documentation runs, and shows what the page says it shows.

A ``console`` block holds commands (lines starting with ``$ ``) and, below each, lines of the
output it prints. The test runs every page's commands in order, through ``bash``, in a fresh
copy of a project, and checks:

- the exit code: 0, or the one written at the end of the line (``$ prodserver check  # exit 78``);
- every output line shown appears in what the command printed (``...`` inside a shown line
  stands for text that varies, such as a pid or a path);
- a command marked ``# Ctrl-C to stop`` (``prodserver up``) runs until every shown line has
  appeared, then gets SIGINT like a terminal's Ctrl-C, and must exit 0.

The project is a copy of the demo (``prodserver.toml`` + ``examples/demo``) unless the page says
otherwise with ``<!-- docs-test project=examples/NAME -->`` before its blocks.

Not run here, by design: the README's first two blocks (``.ci/run`` runs the second, and the
first is the demo this test uses), ``docs/deploy/`` (run by ``tests/exporters/test_docs.py`` in
its own project), and blocks in other languages (``sh``, ``yaml``, ``powershell``, ...), whose
``prodserver`` commands must each also appear in a tested ``console`` block.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
#: run by tests/exporters/test_docs.py against the project of docs/deploy/index.md
DEPLOY = DOCS / "deploy"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
DIRECTIVE = re.compile(r"<!--\s*docs-test\s+project=(\S+)\s*-->")
#: the next fenced block is written to this file of the project before the page's commands run
FILE_DIRECTIVE = re.compile(r"<!--\s*docs-test\s+file=(\S+)\s*-->")
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
UNTIL_CTRL_C = re.compile(r"#\s*Ctrl-C to stop\s*$")
#: a prodserver command written inside another block (CI YAML, PowerShell, Dockerfile RUN)
PRODSERVER_COMMAND = re.compile(
    r"(?<![\w/.-])(prodserver (?:up|exec|run|check|config|export|init|status|backends|schema)"
    r"(?![\w-])[^\n'\"`]*)"
)
COMMAND_TIMEOUT = 60.0
SKIP_README_BLOCKS = 2


@dataclass
class Command:
    """One ``$ `` line of a console block and the output lines shown under it."""

    page: str
    line: str
    expected: list[str] = field(default_factory=list)

    @property
    def code(self) -> int:
        match = EXIT.search(self.line)
        return int(match.group(1)) if match else 0

    @property
    def until_ctrl_c(self) -> bool:
        return UNTIL_CTRL_C.search(self.line) is not None

    @property
    def words(self) -> list[str]:
        return shlex.split(self.line, comments=True)


@dataclass
class Page:
    """A documentation page with console blocks: where it runs and what it runs."""

    path: Path
    project: str | None
    commands: list[Command]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.relative_to(REPO).as_posix()


def doc_files() -> list[Path]:
    files = [p for p in sorted(DOCS.rglob("*.md")) if DEPLOY not in p.parents]
    return [REPO / "README.md", *files]


def fences(text: str) -> list[tuple[str, str, int]]:
    """``(language, body, offset)`` of every fenced block."""
    return [(m.group(1), m.group(2), m.start()) for m in FENCE.finditer(text)]


def parse_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    blocks = fences(text)
    if path.name == "README.md" and path.parent == REPO:
        blocks = blocks[SKIP_README_BLOCKS:]
    directives = [(m.start(), m.group(1)) for m in DIRECTIVE.finditer(text)]
    files: dict[str, str] = {}
    for match in FILE_DIRECTIVE.finditer(text):
        following = [body for _, body, offset in blocks if offset > match.end()]
        assert following, f"{path}: {match.group(0)} is not followed by a block"
        files[match.group(1)] = following[0]
    project: str | None = None
    commands: list[Command] = []
    for lang, body, offset in blocks:
        if lang != "console":
            continue
        chosen = [name for pos, name in directives if pos < offset]
        project = chosen[-1] if chosen else None
        current: Command | None = None
        for line in body.splitlines():
            if line.startswith("$ "):
                current = Command(path.name, line[2:])
                commands.append(current)
            elif line.strip():
                assert current is not None, f"{path}: output before any command: {line!r}"
                current.expected.append(line.rstrip())
    return Page(path, project, commands, files)


PAGES = [page for page in map(parse_page, doc_files()) if page.commands]


def shown(expected: str, output_lines: list[str]) -> bool:
    """Whether a shown output line appears in the output, ``...`` matching anything."""
    parts = [re.escape(part.strip()) for part in expected.split("...")]
    pattern = re.compile(".*?".join(part for part in parts))
    return any(pattern.search(line) for line in output_lines)


def make_project(project: str | None, dest: Path) -> Path:
    """A fresh copy of the project a page runs in; returns the directory to run in."""
    ignore = shutil.ignore_patterns("var", "__pycache__", "*.pyc", "celerybeat-schedule*")
    if project is None:
        shutil.copy(REPO / "prodserver.toml", dest / "prodserver.toml")
        shutil.copytree(REPO / "examples" / "demo", dest / "examples" / "demo", ignore=ignore)
        return dest
    source = REPO / project
    assert source.is_dir(), f"docs-test project {project} does not exist"
    shutil.copytree(source, dest / source.name, ignore=ignore)
    return dest / source.name


def child_env() -> dict[str, str]:
    """The user's environment, minus what would change the demo's configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PRODSERVER_", "PYTEST_", "COV_"))
        and key
        not in {
            "PORT",
            "NO_COLOR",
            "FORCE_COLOR",
            "REDIS_URL",
            "SECRET_KEY",
            "DJANGO_SETTINGS_MODULE",
        }
    }
    # The pages show what an unprivileged user sees; CI runs as root, where `up` of a
    # production profile is refused unless allowed.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["PRODSERVER_ALLOW_ROOT"] = "1"
    # The venv's prodserver, python and tools come first, as after `source .venv/bin/activate`.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["VIRTUAL_ENV"] = str(BIN.parent)
    return env


def run_to_completion(command: Command, cwd: Path) -> tuple[int, str]:
    proc = subprocess.run(
        ["bash", "-c", command.line],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return proc.returncode, proc.stdout


def run_until_shown(command: Command, cwd: Path) -> tuple[int, str]:
    """Start a long-running command, wait for its shown output, then press Ctrl-C."""
    assert command.expected, f"{command.page}: `{command.line}` must show the output to wait for"
    # exec: bash becomes the command, so SIGINT reaches prodserver itself, as from a terminal.
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command.line}"],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = threading.Event()
    pending = list(command.expected)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            while pending and shown(pending[0], lines):
                pending.pop(0)
            if not pending:
                seen.set()
        seen.set()  # end of output: stop waiting either way

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        seen.wait(COMMAND_TIMEOUT)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(COMMAND_TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(COMMAND_TIMEOUT)
    assert proc.stdout is not None
    proc.stdout.close()
    return code, "\n".join(lines)


@pytest.mark.skipif(sys.platform == "win32", reason="the documented commands are POSIX shell")
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_commands_run(page: Page, tmp_path: Path) -> None:
    cwd = make_project(page.project, tmp_path)
    for name, content in page.files.items():
        (cwd / name).write_text(content, encoding="utf-8")
    for command in page.commands:
        if command.until_ctrl_c and not sys.platform.startswith("linux"):
            pytest.skip("`prodserver up` runs on Linux only for now (docs/guides/windows.md)")
        started = time.monotonic()
        run = run_until_shown if command.until_ctrl_c else run_to_completion
        code, output = run(command, cwd)
        where = f"{page.name}: $ {command.line}\n--- output ---\n{output}"
        assert code == command.code, f"exit code {code}, expected {command.code}\n{where}"
        lines = output.splitlines()
        missing = [line for line in command.expected if not shown(line, lines)]
        assert not missing, f"shown but not printed: {missing}\n{where}"
        assert time.monotonic() - started < COMMAND_TIMEOUT


def console_commands() -> set[str]:
    return {shlex.join(cmd.words) for page in PAGES for cmd in page.commands}


def test_prodserver_commands_outside_console_blocks_are_tested_too() -> None:
    """A command in a CI example or a PowerShell block is one that a console block runs."""
    tested = console_commands()
    untested = []
    for path in doc_files():
        blocks = fences(path.read_text(encoding="utf-8"))
        if path == REPO / "README.md":
            blocks = blocks[SKIP_README_BLOCKS:]
        for lang, body, _ in blocks:
            if lang in {"console", "toml", "text", "python", "json"}:
                continue
            for found in PRODSERVER_COMMAND.findall(body):
                normal = shlex.join(shlex.split(found.strip().rstrip("\\"), comments=True))
                if normal not in tested:
                    untested.append(f"{path.relative_to(REPO)} ({lang}): {normal}")
    assert not untested, "show these in a console block too:\n" + "\n".join(untested)


def test_the_parser_sees_commands_outputs_and_markers(tmp_path: Path) -> None:
    """The extraction itself: a page with every feature, parsed as written."""
    page = """
<!-- docs-test project=examples/minimal -->
<!-- docs-test file=extra.toml -->
```toml
[processes.a]
```
```console
$ prodserver check --profile nope  # exit 78
error: ...
$ prodserver up  # Ctrl-C to stop
web.1 | serving on ...
```
```sh
$ docker build .
```
"""
    path = tmp_path / "page.md"
    path.write_text(page, encoding="utf-8")
    parsed = parse_page(path)
    assert parsed.project == "examples/minimal"
    assert parsed.files == {"extra.toml": "[processes.a]\n"}
    first, second = parsed.commands
    assert (first.code, first.until_ctrl_c, first.expected) == (78, False, ["error: ..."])
    assert (second.code, second.until_ctrl_c) == (0, True)
    assert second.words == ["prodserver", "up"]
    assert shown("web.1 | serving on ...", ["web.1    | x", "web.1 | serving on http://h/"])
    assert not shown("web.1 | serving on ...", ["worker.1 | serving on"])
    assert not PRODSERVER_COMMAND.findall("pip install prodserver check-jsonschema")
    assert PRODSERVER_COMMAND.findall("sh '. .venv/bin/activate && prodserver check -q'") == [
        "prodserver check -q"
    ]


def test_every_page_with_commands_is_collected() -> None:
    """The pages this guide promises to run are found (a broken fence would hide them)."""
    names = {page.name for page in PAGES}
    for required in ("docs/quickstart.md", "docs/guides/honcho-foreman.md", "README.md"):
        assert required in names, f"{required} has no console commands any more"
