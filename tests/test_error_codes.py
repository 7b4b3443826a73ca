"""Every error code the package uses is documented in docs/errors.md, and none means two things."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _documented() -> set[str]:
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| (PS\d{3}) \|", text, re.MULTILINE))


def test_every_code_in_the_package_is_documented():
    used = set()
    for path in (REPO / "prodserver").rglob("*.py"):
        used.update(re.findall(r'"(PS\d{3})"', path.read_text(encoding="utf-8")))
    missing = sorted(used - _documented())
    assert not missing, f"document these in docs/errors.md: {missing}"


def test_no_code_is_documented_twice():
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (PS\d{3}) \|", text, re.MULTILINE)
    assert len(rows) == len(set(rows))


def test_every_documented_code_is_used():
    """A row for a code nothing raises is a promise nobody keeps (PS191/PS192 once swapped);
    a code that is retired says so, and keeps its number (codes never change meaning)."""
    used = set()
    for path in (REPO / "prodserver").rglob("*.py"):
        used.update(re.findall(r'"(PS\d{3})"', path.read_text(encoding="utf-8")))
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    retired = set(re.findall(r"^\| (PS\d{3}) \| no longer raised", text, re.MULTILINE))
    stale = sorted(_documented() - used - retired)
    assert not stale, f"documented but never used: {stale}"
