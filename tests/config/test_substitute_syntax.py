"""The ``${...}`` grammar: text parsed into literal text, ``$$`` and variables."""

from __future__ import annotations

import pytest

from prodserver.config.substitute_syntax import DOLLAR, SyntaxProblem, Var, parse, syntax_error
from prodserver.errors import Location


def test_text_dollars_and_variables() -> None:
    assert parse("a $$ $B ${C}", 16) == (
        "a ",
        DOLLAR,
        " ",
        Var("B", None, (), "$B"),
        " ",
        Var("C", None, (), "${C}"),
    )


def test_a_modifier_word_is_parsed_in_turn() -> None:
    (var,) = parse("${A:-x${B}}", 16)
    assert isinstance(var, Var)
    assert (var.name, var.op, var.raw) == ("A", ":-", "${A:-x${B}}")
    assert var.arg == ("x", Var("B", None, (), "${B}"))


def test_braces_in_a_word_balance_and_an_unclosed_one_ends_at_the_first() -> None:
    (var,) = parse('${J:-{"a":1}}', 16)
    assert isinstance(var, Var) and "".join(str(p) for p in var.arg) == '{"a":1}'
    (open_brace, rest) = parse("${A:-{x}y", 16)
    assert isinstance(open_brace, Var) and open_brace.arg == ("{", "x") and rest == "y"


def test_a_dollar_that_starts_nothing_stays_literal() -> None:
    assert "".join(str(n) for n in parse("$1 $( $ end$", 16)) == "$1 $( $ end$"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${A", "unclosed"),
        ("${}", "empty"),
        ("${ A}", "invalid variable name"),
        ("${A:x}", "unexpected ':'"),
        ("${A:-${B}", "unclosed"),
    ],
)
def test_malformed_expressions(text: str, message: str) -> None:
    with pytest.raises(SyntaxProblem) as exc:
        parse(text, 16)
    assert message in exc.value.message
    error = syntax_error(exc.value, text, Location(key_path="env.A"))
    assert error.code == "PS130" and error.location == Location(key_path="env.A")


def test_nesting_is_bounded() -> None:
    with pytest.raises(SyntaxProblem) as exc:
        parse("${A:-${B:-${C:-x}}}", 2)
    assert exc.value.code == "PS133"
    assert syntax_error(exc.value, "x", None).hint == "flatten the nested defaults"


def test_a_password_in_the_text_is_masked_in_the_error() -> None:
    text = "redis://u:hunter2@h/${"
    with pytest.raises(SyntaxProblem) as exc:
        parse(text, 16)
    assert "hunter2" not in syntax_error(exc.value, text, None).message
