"""One "did you mean" for every misspelt name: keys, backends, profiles, processes, choices."""

from __future__ import annotations

import re

from prodserver.suggest import closest, did_you_mean
from tests.conftest import REPO


def test_the_closest_name_or_none() -> None:
    assert closest("wbe", ["web", "worker"]) == "web"
    assert did_you_mean("wrker", ["web", "worker"]) == "did you mean 'worker'?"
    assert did_you_mean("zzz", ["web", "worker"]) is None
    assert did_you_mean("a.b.c.x", ["a.b.c.d"], cutoff=0.95) is None


def test_no_module_but_suggest_asks_difflib_itself() -> None:
    """Eight copies once disagreed on the cutoff and the wording; one module decides both."""
    own = REPO / "prodserver" / "suggest.py"
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "prodserver").rglob("*.py")
        if path != own and re.search(r"\bdifflib\b", path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"use prodserver.suggest instead of difflib in: {offenders}"


def test_up_and_exec_suggest_a_process_the_same_way(project, cli) -> None:
    root = project(
        """
        [processes.worker]
        command = "python -c pass"
        """
    )
    for args in (("up", "wroker"), ("exec", "wroker")):
        result = cli(*args, cwd=root)
        assert result.code == 2, result.err
        assert "no process named 'wroker'" in result.err
        assert "did you mean 'worker'?" in result.err
