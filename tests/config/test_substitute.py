"""Substitution: the Compose-compatible grammar, export mode, limits, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodserver.config.substitute import (
    Substituted,
    is_whole_expression,
    references,
    substitute,
)
from prodserver.errors import ConfigError, Location

ENV = {"SET": "value", "EMPTY": "", "PORT": "8000", "HOST": "example.org", "DOLLARS": "pa$word"}


def sub(text: str, env: dict[str, str] | None = None) -> str:
    return substitute(text, ENV if env is None else env).text


# -- the grammar, one rule per test --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b", "avalueb"),
        ("$SET.x", "value.x"),  # a name ends at the first character that cannot be in one
        ("$SETx", ""),  # ...so $SETx is the (unset) variable SETx, like the shell
        ("${SET}x", "valuex"),
        ("$PORT$PORT", "80008000"),
    ],
)
def test_plain_references(text: str, expected: str) -> None:
    assert sub(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${SET:-d}", "value"),
        ("${EMPTY:-d}", "d"),  # ":-" also replaces an empty value
        ("${UNSET:-d}", "d"),
        ("${SET-d}", "value"),
        ("${EMPTY-d}", ""),  # "-" only replaces an unset value
        ("${UNSET-d}", "d"),
        ("${UNSET:-}", ""),
        ("${UNSET:-a b  c}", "a b  c"),
    ],
)
def test_defaults(text: str, expected: str) -> None:
    assert sub(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${SET+alt}", "alt"),
        ("${EMPTY+alt}", "alt"),  # "+" only asks whether the variable is set
        ("${UNSET+alt}", ""),
    ],
)
def test_alternatives(text: str, expected: str) -> None:
    assert sub(text) == expected


def test_required_variable_that_is_set_gives_its_value() -> None:
    assert sub("${SET:?must be set}") == "value"
    assert sub("${EMPTY?must be set}") == ""


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("${UNSET:?set it please}", "not set"),
        ("${EMPTY:?set it please}", "empty"),
        ("${UNSET?set it please}", "not set"),
    ],
)
def test_required_variable_error_names_variable_message_and_key_path(text: str, state: str) -> None:
    where = Location(file=None, line=12, key_path="profiles.prod.env.SECRET_KEY")
    with pytest.raises(ConfigError) as info:
        substitute(text, ENV, where=where)
    err = info.value
    assert err.code == "PS131"
    name = "UNSET" if "UNSET" in text else "EMPTY"
    assert err.message.startswith(f"{name} is {state}")
    assert "set it please" in err.message
    assert "profiles.prod.env.SECRET_KEY" in err.message
    assert err.location == where
    assert err.hint


def test_required_message_may_be_empty_and_may_use_variables() -> None:
    with pytest.raises(ConfigError, match=r"^UNSET is not set$"):
        substitute("${UNSET:?}", ENV)
    with pytest.raises(ConfigError, match=r"ask example\.org"):
        substitute("${UNSET:?ask $HOST}", ENV)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$$", "$"),
        ("$$SET", "$SET"),  # the escape wins: no lookup after $$
        ("$$$SET", "$value"),
        ("cost: $$5", "cost: $5"),
        ("${UNSET:-$$}", "$"),
    ],
)
def test_double_dollar_is_a_literal_dollar(text: str, expected: str) -> None:
    assert sub(text) == expected


@pytest.mark.parametrize(
    "text",
    ["$", "a$", "$1", "$ x", "$-", "$(date)", "$((1+2))", "$é", "price in $", "{$}", "}"],
)
def test_dollar_not_followed_by_name_brace_or_dollar_stays_literal(text: str) -> None:
    # Compose keeps these as written; in particular "$(...)" is never command substitution.
    assert sub(text) == text


def test_nested_defaults() -> None:
    assert sub("${UNSET:-${SET}}") == "value"
    assert sub("${UNSET:-${ALSO_UNSET:-deep}}") == "deep"
    assert sub("${UNSET:-a-${SET}-b}") == "a-value-b"
    assert sub("${SET:+[${PORT}]}") == "[8000]"
    assert sub("http://${HOST:-localhost}:${PORT:-5000}/x") == "http://example.org:8000/x"


def test_braces_in_a_default_balance_as_in_compose() -> None:
    # compose-go balances "{" and "}" inside a default (issue 14): the first "}" that closes
    # no "{" of the default ends the expression.
    assert sub("${UNSET:-{a}b}") == "{a}b"
    assert sub("${UNSET:-a}b}") == "ab}"


def test_unused_default_is_not_evaluated() -> None:
    # A ":?" in a default that is not needed must not fire.
    assert sub("${SET:-${UNSET:?boom}}") == "value"


def test_substituted_text_is_never_scanned_again() -> None:
    env = {"A": "${B}", "B": "surprise", "C": "$$", "D": "$(rm -rf /)"}
    assert sub("$A", env) == "${B}"
    assert sub("${A}", env) == "${B}"
    assert sub("$C", env) == "$$"
    assert sub("${UNSET:-$D}", env) == "$(rm -rf /)"


# -- malformed expressions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "${",
        "x ${",
        "${A",
        "${A:-default",
        "${A:-${B}",
        "${}",
        "${ A}",
        "${A }",
        "${A B}",
        "${1}",
        "${1A}",
        "${A:x}",
        "${A=x}",  # ":=" / "=" (assign) is not part of Compose's grammar
        "${A:=x}",
        "${A#x}",
        "${A%x}",
        "${A:-${}}",
        "${A:-${ B}}",
        "${é}",
    ],
)
def test_malformed_expressions_are_errors(text: str) -> None:
    where = Location(key_path="processes.web.command")
    with pytest.raises(ConfigError) as info:
        substitute(text, ENV, where=where)
    err = info.value
    assert err.code == "PS130"
    assert err.location == where
    assert "$NAME" in (err.hint or "")


def test_malformed_message_shows_the_text() -> None:
    with pytest.raises(ConfigError, match=r"unclosed '\$\{'") as info:
        substitute("bind ${PORT:-8000", ENV)
    assert "bind ${PORT:-8000" in info.value.message


def test_malformed_message_masks_a_url_password() -> None:
    with pytest.raises(ConfigError) as info:
        substitute("redis://:CANARY-9f3b@h/${DB", ENV)
    assert "CANARY-9f3b" not in info.value.render()


def test_long_strings_are_parsed_without_the_cache() -> None:
    text = "x" * 5000 + "${SET}" + "$$" * 10
    assert substitute(text, ENV).text == "x" * 5000 + "value" + "$" * 10
    with pytest.raises(ConfigError):
        substitute("x" * 5000 + "${", ENV)


def test_empty_braces_message() -> None:
    with pytest.raises(ConfigError, match=r"empty '\$\{\}'"):
        substitute("${}", ENV)


def test_malformed_is_reported_even_where_an_unused_default_would_hide_it() -> None:
    # Syntax is checked before evaluation: a typo in a default never waits for production.
    with pytest.raises(ConfigError):
        substitute("${SET:-${oops }", ENV)


# -- unset variables, used, whole ----------------------------------------------------------------


def test_unset_variable_without_default_becomes_empty_and_is_reported() -> None:
    result = substitute("a${UNSET}b$OTHER_UNSET${UNSET}", ENV)
    assert result.text == "ab"
    assert result.unset == ("UNSET", "OTHER_UNSET")


def test_unset_with_explicit_default_is_not_reported() -> None:
    for text in ("${UNSET:-}", "${UNSET-x}", "${UNSET:+x}", "${UNSET+x}"):
        assert substitute(text, ENV).unset == ()


def test_empty_variable_is_not_unset() -> None:
    assert substitute("$EMPTY", ENV).unset == ()


def test_used_lists_consulted_variables_in_order() -> None:
    result = substitute("$PORT ${UNSET:-${HOST}} ${SET:-${NEVER}} $PORT", ENV)
    assert result.used == ("PORT", "UNSET", "HOST", "SET")


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("$PORT", True),
        ("${PORT}", True),
        ("${WORKERS:-2}", True),
        ("${A:-${B}}", True),
        (" $PORT", False),
        ("$PORT ", False),
        ("${A}${B}", False),
        ("$$", False),
        ("$", False),
        ("port", False),
        ("", False),
        ("x${A}", False),
    ],
)
def test_whole_expression(text: str, whole: bool) -> None:
    assert substitute(text, ENV).whole is whole
    assert is_whole_expression(text) is whole


def test_is_whole_expression_is_false_for_malformed_text() -> None:
    assert is_whole_expression("${A") is False
    assert is_whole_expression("${}") is False


def test_whole_expression_result_can_be_coerced_by_the_caller() -> None:
    result = substitute("${WORKERS:-2}", {})
    assert result == Substituted("2", True, (), False, ("WORKERS",))


def test_text_without_dollar_is_returned_as_is() -> None:
    text = "gunicorn shop.wsgi --bind 0.0.0.0:8000"
    result = substitute(text, ENV)
    assert result.text is text
    assert result == Substituted(text, False, (), False, ())


# -- references ----------------------------------------------------------------------------------


def test_references_include_defaults_in_order_without_duplicates() -> None:
    assert references("$A ${B:-${C:-$D}} $A ${E:?$F} $$G $1") == ("A", "B", "C", "D", "E", "F")
    assert references("no variables") == ()


def test_references_of_malformed_text_is_an_error() -> None:
    with pytest.raises(ConfigError):
        references("${A")


# -- export mode (keep) --------------------------------------------------------------------------


def keep_runtime(name: str) -> bool:
    return name in {"PORT", "SECRET_KEY"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${PORT:-8000}", "${PORT:-8000}"),
        ("$PORT", "$PORT"),
        ("${PORT}", "${PORT}"),
        ("0.0.0.0:$PORT", "0.0.0.0:$PORT"),
        ("${HOST}:${PORT:-5000}", "example.org:${PORT:-5000}"),
        ("${SECRET_KEY:?set it}", "${SECRET_KEY:?set it}"),  # no error: resolved at run time
        ("${UNSET:-${PORT}}", "${UNSET:-${PORT}}"),  # the whole expression stays
        ("${SET:-${PORT}}", "value"),  # PORT is never consulted: SET decides
        ("cost $$5 on $PORT", "cost $$5 on $PORT"),  # $$ stays valid interpolation syntax
        ("$$", "$$"),
        # Every literal "$" of the result is written "$$", wherever it came from.
        ("${UNSET:-$$}", "$$"),
        ("$(date)", "$$(date)"),
        ("$1 and $", "$$1 and $$"),
        ("${DOLLARS}", "pa$$word"),
        ("${UNSET:-${DOLLARS}}", "pa$$word"),
    ],
)
def test_keep_writes_runtime_expressions_back_verbatim(text: str, expected: str) -> None:
    assert substitute(text, ENV, keep=keep_runtime).text == expected


def test_keep_sets_kept_and_whole() -> None:
    result = substitute("${PORT:-8000}", ENV, keep=keep_runtime)
    assert result.kept is True
    assert result.whole is True
    assert result.unset == ()
    assert substitute("$HOST", ENV, keep=keep_runtime).kept is False


def test_without_keep_runtime_values_are_replaced() -> None:
    assert sub("0.0.0.0:${PORT:-5000}") == "0.0.0.0:8000"


# -- limits --------------------------------------------------------------------------------------


def test_expansion_bomb_is_stopped_with_a_hint() -> None:
    env = {"A": "x" * 100_000}
    with pytest.raises(ConfigError) as info:
        substitute("$A" * 100, env, where=Location(key_path="env.BOMB"))
    assert info.value.code == "PS132"
    assert info.value.hint
    assert info.value.location.key_path == "env.BOMB"


def test_expansion_bomb_inside_a_default_is_stopped() -> None:
    env = {"A": "x" * 1000}
    with pytest.raises(ConfigError, match="more than 5000 characters"):
        substitute("${UNSET:-" + "$A" * 10 + "}", env, max_output=5000)


def test_output_exactly_at_the_limit_is_fine() -> None:
    assert len(substitute("$A$A", {"A": "x" * 50}, max_output=100).text) == 100


def test_nesting_deeper_than_max_depth_is_an_error() -> None:
    def nested(depth: int) -> str:
        return "${A:-" * depth + "x" + "}" * depth

    assert sub(nested(16)) == "x"
    with pytest.raises(ConfigError) as info:
        substitute(nested(17), ENV)
    assert info.value.code == "PS133"
    assert sub(nested(3), {}) == "x"
    with pytest.raises(ConfigError):
        substitute(nested(3), {}, max_depth=2)


def test_absurd_nesting_never_overflows_the_stack() -> None:
    text = "${A:-" * 5000 + "}" * 5000
    with pytest.raises(ConfigError):
        substitute(text, {}, max_depth=10**6)
    with pytest.raises(ConfigError):
        references(text)
    assert is_whole_expression(text) is False


def test_large_plain_string_is_fast() -> None:
    import time

    text = "x" * 1_000_000
    start = time.perf_counter()
    substitute(text, ENV)
    # No "$": a single membership test. Generous bound so a loaded CI machine passes.
    assert time.perf_counter() - start < 0.05


# -- properties ----------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
envs = st.dictionaries(names, st.text(max_size=20), max_size=6)
# Text rich in the characters the grammar cares about.
grammar_text = st.text(alphabet=st.sampled_from("${}:-+?AB_ 1x\n"), max_size=40)


@given(text=st.one_of(st.text(max_size=60), grammar_text), env=envs)
@settings(max_examples=400)
def test_only_config_errors_escape(text: str, env: dict[str, str]) -> None:
    try:
        result = substitute(text, env)
    except ConfigError:
        return
    assert isinstance(result.text, str)


@given(text=st.text().filter(lambda t: "$" not in t), env=envs)
def test_text_without_dollar_is_unchanged(text: str, env: dict[str, str]) -> None:
    assert substitute(text, env).text == text


@given(text=st.text(max_size=60), env=envs)
def test_escaping_every_dollar_round_trips(text: str, env: dict[str, str]) -> None:
    escaped = text.replace("$", "$$")
    assert substitute(escaped, env).text == text
    # In export mode the escaped text is written back unchanged.
    assert substitute(escaped, env, keep=lambda _: True).text == escaped


@given(text=grammar_text, env=envs)
@settings(max_examples=400)
def test_keeping_every_variable_writes_an_equivalent_template(
    text: str, env: dict[str, str]
) -> None:
    try:
        result = substitute(text, env, keep=lambda _: True)
    except ConfigError:
        return
    assert result.unset == ()
    # The output is the input with only literal "$" doubled: it means the same thing (the
    # same text, or the same error for a required variable that is not set)...
    try:
        local = substitute(text, env).text
    except ConfigError as exc:
        with pytest.raises(ConfigError) as again:
            substitute(result.text, env)
        assert again.value.message == exc.message
    else:
        assert substitute(result.text, env).text == local
    # ...and is a fixed point of export mode.
    assert substitute(result.text, env, keep=lambda _: True).text == result.text


@given(value=st.text(max_size=30))
def test_export_mode_output_substitutes_back_to_the_local_value(value: str) -> None:
    env = {"V": value}
    exported = substitute("a${V}b$$", env, keep=lambda name: False).text
    assert substitute(exported, {}).text == f"a{value}b$"


@given(value=st.text(max_size=30), env=envs)
def test_a_value_is_inserted_verbatim(value: str, env: dict[str, str]) -> None:
    env = {**env, "V": value}
    assert substitute("<$V>", env).text == f"<{value}>"
    assert substitute("<${V:-x}>", env).text == f"<{value or 'x'}>"


@given(text=grammar_text)
def test_references_agree_with_used_when_nothing_is_set(text: str) -> None:
    # With nothing set, every default is evaluated, so every reference is consulted,
    # except those inside "+" alternatives and "?" messages, which then are not evaluated.
    try:
        refs = references(text)
        used = substitute(text, {}).used
    except ConfigError:
        return
    assert set(used) <= set(refs)
