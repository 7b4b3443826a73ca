"""The deployment guides in docs/deploy run as written.

Every command in a ``console`` block is run, in order, in a project made from the
``prodserver.toml`` shown in ``docs/deploy/index.md``; platform steps live in ``sh`` blocks and
are not run here (they need Docker, Heroku, systemd as PID 1 or a cluster).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult

DOCS = REPO / "docs" / "deploy"
GUIDES = ("heroku.md", "docker.md", "systemd.md", "supervisord.md", "kubernetes.md")
BIN = Path(sys.executable).parent
#: the tools a console block may use, and where to find them
TOOLS = {
    "check-jsonschema": str(BIN / "check-jsonschema"),
    "kubernetes-validate": str(BIN / "kubernetes-validate"),
    "systemd-analyze": "systemd-analyze",
    "kubectl": "kubectl",
}


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def console_commands(guide: str) -> list[list[str]]:
    text = (DOCS / guide).read_text(encoding="utf-8")
    commands = []
    for block in blocks(text, "console"):
        for line in block.splitlines():
            assert line.startswith("$ "), f"{guide}: console lines are commands: {line!r}"
            commands.append(shlex.split(line[2:]))
    return commands


@pytest.fixture
def docs_project(tmp_path: Path) -> Path:
    (toml,) = blocks((DOCS / "index.md").read_text(encoding="utf-8"), "toml")
    (tmp_path / "prodserver.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "manage.py").write_text("", encoding="utf-8")
    return tmp_path


def test_every_prodserver_command_in_the_guides_is_a_tested_one() -> None:
    for guide in (*GUIDES, "index.md"):
        text = (DOCS / guide).read_text(encoding="utf-8")
        for block in blocks(text, "sh"):
            assert "prodserver " not in block, f"{guide}: prodserver commands belong in console"


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_commands_run(guide: str, docs_project: Path, cli: Callable[..., CliResult]) -> None:
    commands = console_commands(guide)
    assert commands, f"{guide} shows no command"
    for argv in commands:
        if argv[0] == "prodserver":
            result = cli(*argv[1:], cwd=docs_project, env={"SECRET_KEY": "from-the-shell"})
            assert result.code == 0, f"{guide}: {shlex.join(argv)}\n{result.err}"
            continue
        assert argv[0] in TOOLS, f"{guide}: {argv[0]} cannot be run by the tests"
        if shutil.which(TOOLS[argv[0]]) is None:
            pytest.skip(f"{argv[0]} is not installed")
        proc = subprocess.run(
            [TOOLS[argv[0]], *argv[1:]],
            cwd=docs_project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"{guide}: {shlex.join(argv)}\n{proc.stdout}{proc.stderr}"
        if argv[0] == "systemd-analyze":
            assert proc.stderr == "", proc.stderr


def test_the_procfile_shown_is_the_one_exported(
    docs_project: Path, cli: Callable[..., CliResult]
) -> None:
    (shown,) = blocks((DOCS / "heroku.md").read_text(encoding="utf-8"), "text")
    result = cli("export", "procfile", "--profile", "prod", cwd=docs_project)
    assert result.code == 0, result.err
    exported = [line for line in result.out.splitlines() if not line.startswith("#")]
    assert shown.splitlines() == exported


def test_the_secret_from_the_shell_is_not_written(
    docs_project: Path, cli: Callable[..., CliResult]
) -> None:
    for guide in GUIDES:
        for argv in console_commands(guide):
            if argv[0] == "prodserver":
                cli(*argv[1:], cwd=docs_project, env={"SECRET_KEY": "from-the-shell"})
    for path in docs_project.rglob("*"):
        if path.is_file():
            assert "from-the-shell" not in path.read_text(encoding="utf-8"), path
