"""The interpolation text of an export resolution, parsed once and rendered per format."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodserver.errors import ConfigError
from prodserver.exporters import interp, shell
from prodserver.exporters.interp import Ref

# Text a process argument can hold: anything but NUL (an argv cannot carry it).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
NAME = st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True)


@st.composite
def pieces(draw: st.DrawFn, depth: int = 2, nested: bool = False) -> tuple[interp.Piece, ...]:
    out: list[interp.Piece] = []
    for _ in range(draw(st.integers(0, 4))):
        if depth and draw(st.booleans()):
            op = draw(st.sampled_from([None, ":-", "-", ":?", "?", ":+", "+"]))
            word = draw(pieces(depth - 1, nested=True)) if op else ()
            out.append(Ref(draw(NAME), op, word))
        else:
            # "}" ends a modifier's word in Compose text: it cannot appear literally inside one
            text = draw(TEXT.filter(lambda t: bool(t) and not (nested and "}" in t)))
            if out and isinstance(out[-1], str):
                out[-1] += text
            else:
                out.append(text)
    return tuple(out)


@given(pieces())
def test_compose_text_parses_back_to_the_same_pieces(value: tuple[interp.Piece, ...]) -> None:
    assert interp.parse(interp.compose_text(value)) == value


def test_examples() -> None:
    assert interp.parse("0.0.0.0:${PORT:-8000}") == ("0.0.0.0:", Ref("PORT", ":-", ("8000",)))
    assert interp.parse("$$HOME $X") == ("$HOME ", Ref("X"))
    assert interp.literal("cost $$5") == "cost $5"
    assert interp.substitute(interp.parse("${PORT:-1}/${A}"), {"PORT": "80"}) == ("80/", Ref("A"))
    assert interp.substitute(interp.parse("x${PORT:+on}"), {"PORT": ""}) == ("x",)


@pytest.mark.parametrize("text", ["${", "${}", "${ a}", "${A", "${A:-x", "${A!x}"])
def test_malformed_text_is_a_config_error_not_a_crash(text: str) -> None:
    with pytest.raises(ConfigError, match="not valid interpolation text"):
        interp.parse(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, max_size=4), st.sampled_from(["sh", "bash"]))
def test_shell_words_reach_the_program_unchanged(words: list[str], sh: str) -> None:
    command = shell.command([(w,) if w else () for w in words])
    script = "printf '%s\\0' " + command if words else "true"
    out = subprocess.run([sh, "-c", script], capture_output=True, check=True).stdout
    received = out.decode("utf-8", "surrogateescape").split("\0")[:-1] if words else []
    assert received == words


@settings(max_examples=40, deadline=None)
@given(TEXT, st.sampled_from(["sh", "bash"]), st.booleans())
def test_a_default_word_survives_the_shell(default: str, sh: str, set_it: bool) -> None:
    word = shell.word((Ref("GREETING", ":-", (default,) if default else ()),))
    env = {"PATH": "/usr/bin:/bin"} | ({"GREETING": "a 'b' \"c\" $d"} if set_it else {})
    out = subprocess.run(
        [sh, "-c", f"printf %s {word}"], capture_output=True, check=True, env=env
    ).stdout.decode("utf-8", "surrogateescape")
    assert out == (env["GREETING"] if set_it else default)
