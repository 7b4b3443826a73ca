"""The error-code catalogue (prodserver/codes.py): every code the package raises is in it, every
entry is raised (or marked retired), none means two things, and docs/errors.md is its rendering."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from prodserver import codes
from prodserver.codes import CATALOGUE
from prodserver.exitcodes import SUMMARY, ExitCode
from tests.conftest import REPO

_OWN = REPO / "prodserver" / "codes.py"


def _package_sources() -> dict[str, str]:
    return {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
        for path in (REPO / "prodserver").rglob("*.py")
        if path != _OWN
    }


def _constants() -> dict[str, str]:
    """Constant name -> code, for every code constant of the catalogue module."""
    return {
        name: value
        for name, value in vars(codes).items()
        if name.isupper() and isinstance(value, str) and value in CATALOGUE
    }


def _used() -> dict[str, set[str]]:
    """Code -> files that raise it, as a ``"PSnnn"`` literal or as ``codes.NAME``."""
    constants = _constants()
    used: dict[str, set[str]] = {}
    for where, text in _package_sources().items():
        found = set(re.findall(r"[\"'](PS\d{3})[\"']", text))
        named = re.findall(r"\b(?:error_)?codes\.([A-Z0-9_]+)\b", text)
        found |= {constants[n] for n in named if n in constants}
        for code in found:
            used.setdefault(code, set()).add(where)
    return used


def test_every_code_the_package_uses_is_in_the_catalogue():
    missing = {code: sorted(files) for code, files in _used().items() if code not in CATALOGUE}
    assert not missing, f"add these to prodserver/codes.py: {missing}"


def test_every_catalogue_entry_is_used_or_marked_retired():
    """A row for a code nothing raises is a promise nobody keeps (PS191/PS192 once swapped);
    a retired code says so and keeps its number (codes never change meaning)."""
    used = _used()
    stale = sorted(
        code for code, entry in CATALOGUE.items() if code not in used and not entry.retired
    )
    assert not stale, f"in the catalogue but never raised (mark them retired): {stale}"
    revived = sorted(code for code, entry in CATALOGUE.items() if code in used and entry.retired)
    assert not revived, f"marked retired but raised: {revived}"


def test_a_constant_names_one_code_and_a_code_has_one_constant():
    constants = _constants()
    assert sorted(constants.values()) == sorted(CATALOGUE), "each code needs exactly one name"
    for code, entry in CATALOGUE.items():
        assert re.fullmatch(r"PS\d{3}", code)
        assert entry.code == code
        assert entry.meaning and not entry.meaning.endswith(".")
        assert entry.warning != (entry.error is not None) or entry.retired, code


def test_every_entry_reaches_the_user_with_a_real_exit_code():
    for entry in CATALOGUE.values():
        if entry.error is not None:
            assert entry.exit_code in {int(c) for c in ExitCode}, entry.code
            assert entry.exit_code not in (ExitCode.OK, ExitCode.INTERNAL), entry.code
    assert CATALOGUE[codes.UNKNOWN_KEY].exit_code == ExitCode.CONFIG
    assert CATALOGUE[codes.USAGE].exit_code == ExitCode.USAGE
    assert CATALOGUE[codes.BACKEND_NOT_INSTALLED].exit_code == ExitCode.UNAVAILABLE
    assert CATALOGUE[codes.EXPORT_WOULD_OVERWRITE].exit_code == ExitCode.CANTCREAT
    assert CATALOGUE[codes.PORT_NOT_FREE].exit_code == ExitCode.FAILURE


@pytest.mark.parametrize(
    ("argv", "code", "exit_code"),
    [
        (("check", "-f", "missing.toml"), codes.FILE_UNREADABLE, ExitCode.CONFIG),
        (("up", "--profile", "nope"), codes.UNKNOWN_PROFILE, ExitCode.CONFIG),
    ],
)
def test_a_raised_code_exits_as_the_catalogue_says(cli, project, argv, code, exit_code):
    root = project('[processes.web]\ncommand = "python -c pass"\n')
    result = cli(*argv, cwd=root)
    assert f"error {code}:" in result.err
    assert result.code == CATALOGUE[code].exit_code == exit_code


def test_docs_errors_md_is_the_catalogue():
    from prodserver.codes import errors_reference

    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert text == errors_reference(), "run: python tools/generate.py"
    rows = re.findall(r"^\| (PS\d{3}) \|", text, re.MULTILINE)
    assert rows == sorted(CATALOGUE), "one row per code, in order"
    retired = re.findall(r"^\| (PS\d{3}) \| no longer raised", text, re.MULTILINE)
    assert set(retired) == {c for c, e in CATALOGUE.items() if e.retired}


def test_every_exit_code_has_one_summary():
    assert set(SUMMARY) == set(ExitCode)


def test_the_package_raises_codes_by_name_not_as_text():
    """``code=codes.UNKNOWN_KEY``, never ``code="PS122"``: a typo in a name fails at import,
    a typo in a text is a wrong code (tools/codes_to_constants.py rewrites what is left)."""
    proc = subprocess.run(
        [sys.executable, "tools/codes_to_constants.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
