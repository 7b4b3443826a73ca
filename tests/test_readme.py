"""The README's promises: its exit-code table is the one the code uses."""

from __future__ import annotations

import re

from prodserver.cli.main import EPILOG
from prodserver.exitcodes import ExitCode
from tests.conftest import REPO


def test_readme_exit_codes_match_the_enum():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", text, re.MULTILINE))
    assert {int(code) for code in table} == {int(code) for code in ExitCode}


def test_help_epilog_names_every_exit_code():
    for code in ExitCode:
        assert re.search(rf"\b{int(code)}\b", EPILOG), code


def test_readme_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.+?)\n```", text, re.DOTALL)
    assert "prodserver up" in blocks[0]
    assert blocks[1] == "bash tools/test.sh"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash tools/test.sh" in ci
