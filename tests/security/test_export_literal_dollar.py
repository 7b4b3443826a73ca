"""A literal ``$`` in a variable's value reaches the process as the same bytes from an export
as from ``up`` (issue 11, medium: ``pa$word`` must not become ``pa$$word`` or worse).

The variable is used inside a command, so the export has to carry the value in the command
line itself; the Procfile is read back by honcho's own parser and run as honcho runs it
(``/bin/sh -c``), and its output compared with ``prodserver exec`` (what ``up`` runs).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from tests.security.helpers import prodserver

COMMAND = 'command = ["sh", "-c", "echo \\"[$PRESERVE]\\" 100%"]'

SOURCES = {
    "env table": ('[env]\nPRESERVE = "pa$$word"\n', ""),
    "dotenv": ("", "PRESERVE='pa$word'\n"),
}


@pytest.mark.parametrize("where", sorted(SOURCES))
def test_a_literal_dollar_is_the_same_bytes_in_a_procfile_as_in_up(
    tmp_path: Path, where: str
) -> None:
    table, dotenv = SOURCES[where]
    (tmp_path / "prodserver.toml").write_text(
        f'[project]\nname = "dollar"\n{table}[processes.a]\n{COMMAND}\n', encoding="utf-8"
    )
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    direct = prodserver(tmp_path, "exec", "a")
    assert direct.returncode == 0, direct.stderr
    # sh expands "$word" (unset) in the script: both runs must agree on whatever sh makes of it
    assert direct.stdout == "[pa] 100%\n"
    exported = prodserver(tmp_path, "export", "procfile", "--include-secrets")
    assert exported.returncode == 0, exported.stderr
    line = parse_procfile(exported.stdout).processes["a"]
    ran = subprocess.run(
        ["/bin/sh", "-c", line], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert ran.stdout == direct.stdout, line
