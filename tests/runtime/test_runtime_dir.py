"""The runtime directory without XDG_RUNTIME_DIR is in tempfile's temporary directory, found
without importing tempfile where that is safe (issue 17: tempfile brings random, shutil, bz2
and lzma to every start of ``up`` on a server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Windows always asks tempfile")

#: prints what ``temp_dir`` chose, whether that needed tempfile, and what tempfile chooses
PROBE = (
    "import json, sys\n"
    "from prodserver.runtime.rundir import temp_dir\n"
    "chosen = temp_dir()\n"
    "needed = 'tempfile' in sys.modules\n"
    "import tempfile\n"
    "print(json.dumps([chosen, needed, tempfile.gettempdir()]))\n"
)


def _probe(cwd: Path, **variables: str) -> tuple[str, bool, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEMP", "TMP")}
    env.update(variables, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    chosen, needed, expected = json.loads(done.stdout)
    return chosen, needed, expected


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"TMPDIR": "{tmp}"},
        {"TMPDIR": "{tmp}/"},
        {"TMPDIR": "rel"},
        {"TMPDIR": "", "TEMP": "{tmp}"},
        {"TMP": "{tmp}"},
        {"TMPDIR": "{tmp}/a", "TMP": "{tmp}"},
    ],
    ids=["none", "TMPDIR", "trailing-slash", "relative", "empty-TMPDIR", "TMP", "TMPDIR-first"],
)
def test_the_directory_is_tempfiles_own_without_importing_it(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "rel").mkdir()
    values = {k: v.format(tmp=tmp_path) for k, v in variables.items()}
    chosen, needed, expected = _probe(tmp_path, **values)
    assert chosen == expected
    assert not needed


def test_a_directory_that_is_not_there_is_left_to_tempfile(tmp_path: Path) -> None:
    # tempfile goes on to the next place it knows; so does the answer
    chosen, needed, expected = _probe(tmp_path, TMPDIR=str(tmp_path / "missing"))
    assert chosen == expected != str(tmp_path / "missing")
    assert needed


def test_a_file_named_as_the_directory_is_left_to_tempfile(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    chosen, needed, expected = _probe(tmp_path, TMPDIR=str(tmp_path / "file"))
    assert chosen == expected != str(tmp_path / "file")
    assert needed
