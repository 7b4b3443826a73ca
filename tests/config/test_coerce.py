"""The coercion step: a raw value substituted and turned into its declared type."""

from __future__ import annotations

import pytest

from prodserver.config.coerce import boolean, coerce, free_table, words
from prodserver.options import Option
from prodserver.template import Deferred
from tests.config.conftest import MakeContext, codes


def opt(t: str, **kw: object) -> Option:
    return Option("key", t, "", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "raw", "lookup", "expected"),
    [
        ("integer", "${N:-2}", {}, 2),
        ("integer", 4, {}, 4),
        ("number", "${R}", {"R": "1.5"}, 1.5),
        ("boolean", "${B}", {"B": "yes"}, True),
        ("duration", "1m30s", {}, 90.0),
        ("duration", 3, {}, 3.0),
        ("list", "a, b,,c", {}, ["a", "b", "c"]),
        ("list", ["${Q}", "b"], {"Q": "high"}, ["high", "b"]),
        ("string", "x${A}", {"A": "1"}, "x1"),
        ("argv", "run ${A} 'b c'", {"A": "a"}, ["run", "a", "b c"]),
    ],
)
def test_a_value_becomes_its_declared_type(
    context: MakeContext, t: str, raw: object, lookup: dict[str, str], expected: object
) -> None:
    ctx = context()
    assert coerce(ctx, opt(t), raw, lookup, ("processes", "web", "key")) == expected
    assert ctx.out.problems == []


def test_a_size_is_read_in_bytes(context: MakeContext) -> None:
    ctx = context()
    assert coerce(ctx, opt("size"), "1KiB", {}, ("k",)) == 1024
    assert coerce(ctx, opt("size"), 300, {}, ("k",)) == 300


def test_an_enum_takes_its_declared_spelling(context: MakeContext) -> None:
    ctx = context()
    level = opt("enum", choices=("debug", "info"), ignore_case=True)
    assert coerce(ctx, level, "INFO", {}, ("k",)) == "info"


def test_a_number_written_in_text_is_refused(context: MakeContext) -> None:
    ctx = context()
    assert coerce(ctx, opt("integer"), "2 workers", {}, ("k",)) is None
    assert coerce(ctx, opt("integer"), "${N}", {"N": "two"}, ("k",)) is None
    assert codes(ctx) == ["PS124", "PS124"]
    assert "'two' (from '${N}')" in ctx.out.problems[1].message


def test_a_duration_outside_its_bounds_is_refused(context: MakeContext) -> None:
    ctx = context()
    assert coerce(ctx, opt("duration"), "-1s", {}, ("processes", "web", "stop_timeout")) is None
    assert codes(ctx)


def test_an_export_leaves_one_whole_reference_to_the_platform(context: MakeContext) -> None:
    ctx = context(export=True)
    value = coerce(ctx, opt("integer"), "${WORKERS:-2}", {}, ("k",))
    assert isinstance(value, Deferred)
    assert ctx.placeholders.shown(value) == "${WORKERS:-2}"
    assert coerce(ctx, opt("integer"), "${WORKERS}0", {}, ("k",)) is None
    assert codes(ctx) == ["PS405"]


def test_a_command_is_split_then_substituted_word_by_word(context: MakeContext) -> None:
    ctx = context()
    assert words(ctx, "echo ${A}", {"A": "x y"}, ("c",)) == ["echo", "x y"]
    assert words(ctx, "echo 'open", {}, ("c",)) is None
    assert words(ctx, 3, {}, ("c",)) is None
    assert words(ctx, ["a", 1], {}, ("c",)) is None
    assert codes(ctx) == ["PS125", "PS124", "PS124"]


def test_a_free_table_turns_whole_expressions_into_numbers(context: MakeContext) -> None:
    ctx = context()
    raw = {"a": "${N}", "b": "x${N}", "c": {"d": ["${N}"]}, "e": True}
    assert free_table(ctx, raw, {"N": "3"}, ("labels",)) == {
        "a": 3,
        "b": "x3",
        "c": {"d": [3]},
        "e": True,
    }


def test_a_table_keys_typed_members_are_coerced(context: MakeContext) -> None:
    ctx = context()
    check = Option("healthcheck", "table", "")
    table = coerce(
        ctx, check, {"http": "/", "interval": "2s", "retries": "${R}"}, {"R": "4"}, ("h",)
    )
    assert table == {"http": "/", "interval": 2.0, "retries": 4}


@pytest.mark.parametrize(("text", "value"), [("On", True), ("0", False), ("", False)])
def test_booleans_are_read_in_any_case(text: str, value: bool) -> None:
    assert boolean(text) is value
    with pytest.raises(ValueError):
        boolean("maybe")


def test_a_command_is_split_into_the_words_shlex_gives() -> None:
    """The direct split of a command without quotes or backslashes gives shlex.split's words,
    whatever the whitespace (a no-break space is part of a word for both), and a quoted or
    escaped command is shlex's own."""
    import random
    import shlex

    from prodserver.config.coerce import split_words

    alphabet = ["a", "b", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", '"', "'",
                "\\", "#", "$", "{", "}", "|", ";", "\x00"]  # fmt: skip
    chosen = random.Random(17)
    for _ in range(20000):
        text = "".join(chosen.choice(alphabet) for _ in range(chosen.randint(0, 10)))
        try:
            expected: object = tuple(shlex.split(text))
        except ValueError:
            expected = ValueError
        try:
            got: object = split_words(text)
        except ValueError:
            got = ValueError
        assert got == expected, repr(text)
