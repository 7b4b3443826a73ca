"""Any value round-trips through every export and its real reader, or is refused clearly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prodserver.exporters.base import LINE_BREAKS
from tests.exporters.roundtrip import check_value

# Anything a process argument can hold: no NUL (an argv cannot carry it), no lone surrogates.
VALUES = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
NASTY = st.lists(
    st.sampled_from(
        [
            *LINE_BREAKS,
            "$",
            "%",
            "\\",
            "'",
            '"',
            "}",
            "{",
            ";",
            "#",
            " ",
            "=",
            ",",
            ":",
            "(",
            ")",
            "`",
            "a",
            "\t",
            "%(ENV_X)s",
        ]
    )
).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.one_of(VALUES, NASTY))
@example("pa$word")
@example("%(ENV_HOME)s $(HOME) ${HOME} $$ \\ ' \" }")
@example("a\r[program:pwned]\rcommand=touch PWNED")
@example("x\u2028pwned: touch PWNED #")
def test_a_value_round_trips_through_every_export(value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_value(value, Path(tmp))


@pytest.mark.parametrize("char", list(LINE_BREAKS))
def test_line_breaks_are_carried_or_refused(char: str, tmp_path: Path) -> None:
    outcome = check_value(f"a{char}b", tmp_path)
    assert outcome.get("compose") == "ok"
    assert outcome.get("kubernetes") == "ok"
    assert outcome.get("systemd") == "ok"
