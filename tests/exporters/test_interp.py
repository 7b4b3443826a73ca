"""References as values: parsed once by the substitution grammar, rendered per format."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodserver.config.substitute import parse_template
from prodserver.errors import ConfigError
from prodserver.exporters import shell
from prodserver.template import Piece, Ref, Template

# Text a process argument can hold: anything but NUL (an argv cannot carry it).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
NAME = st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True)


@st.composite
def pieces(draw: st.DrawFn, depth: int = 2, nested: bool = False) -> tuple[Piece, ...]:
    out: list[Piece] = []
    for _ in range(draw(st.integers(0, 4))):
        if depth and draw(st.booleans()):
            op = draw(st.sampled_from([None, ":-", "-", ":?", "?", ":+", "+"]))
            word = draw(pieces(depth - 1, nested=True)) if op else ()
            out.append(Ref(draw(NAME), op, word))
        else:
            # braces balance inside a modifier's word in Compose text: an unbalanced "{" or "}"
            # cannot be written literally inside one
            text = draw(TEXT.filter(lambda t: bool(t) and not (nested and ("}" in t or "{" in t))))
            if out and isinstance(out[-1], str):
                out[-1] += text
            else:
                out.append(text)
    return tuple(out)


@given(pieces())
def test_compose_text_parses_back_to_the_same_pieces(value: tuple[Piece, ...]) -> None:
    assert parse_template(Template(value).compose_text()).pieces == value


def test_examples() -> None:
    assert parse_template("0.0.0.0:${PORT:-8000}").pieces == (
        "0.0.0.0:",
        Ref("PORT", ":-", ("8000",)),
    )
    assert parse_template("$$HOME $X").pieces == ("$HOME ", Ref("X"))
    assert parse_template("cost $$5").literal == "cost $5"
    assert parse_template("${PORT:-1}/${A}").with_values({"PORT": "80"}).pieces == ("80/", Ref("A"))
    assert parse_template("x${PORT:+on}").with_values({"PORT": ""}).pieces == ("x",)
    assert parse_template("a${X:-d}").materialise({}) == "ad"


@pytest.mark.parametrize("text", ["${", "${}", "${ a}", "${A", "${A:-x", "${A!x}"])
def test_malformed_text_is_a_config_error_not_a_crash(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid substitution"):
        parse_template(text)


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
