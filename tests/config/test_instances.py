"""The copies step: each copy of a process built, and values reused where they cannot differ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from prodserver.config.context import Context
from tests.config.conftest import MakeContext, codes
from tests.config.test_process import build


def test_copies_read_their_values_once_unless_they_name_their_port_or_number(
    context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only PORT and PRODSERVER_INSTANCE differ between copies: copies of a process that names
    neither reuse the first copy's option values; each copy of one that does reads its own."""
    from prodserver.config import instances

    calls: list[str] = []
    real = instances.option_values

    def counted(ctx: Context, proc: Any, lookup: Mapping[str, str], *, report: bool) -> Any:
        calls.append(proc.name)
        return real(ctx, proc, lookup, report=report)

    monkeypatch.setattr(instances, "option_values", counted)
    same = build(context(), {"command": "work --queue ${Q:-default}", "scale": 50}, Q="mail")
    assert same is not None and len(calls) == 1
    assert {i.argv for i in same.instances} == {("work", "--queue", "mail")}
    assert [i.env["PRODSERVER_INSTANCE"] for i in same.instances[:3]] == ["1", "2", "3"]
    calls.clear()
    numbered = build(context(), {"command": "work --n ${PRODSERVER_INSTANCE}", "scale": 5})
    assert numbered is not None and len(calls) == 5
    assert numbered.instances[4].argv == ("work", "--n", "5")
    calls.clear()
    ported = build(context(), {"command": "serve :$PORT", "scale": 3})
    assert ported is not None and len(calls) == 3
    assert ported.instances[2].argv == ("serve", ":5002")


def test_copies_sharing_values_still_count_against_the_substitution_total(
    context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reused values count as substituted again: the third copy passes the total, as when each
    copy substituted its own."""
    from prodserver.config import limits

    monkeypatch.setattr(limits, "MAX_SUBSTITUTED_TOTAL", 25)
    ctx = context()
    assert build(ctx, {"command": "echo ${BIG}", "scale": 3}, BIG="x" * 10) is None
    assert codes(ctx) == ["PS132"]
    assert ctx.out.problems[0].location.key_path == "processes.web.command"
