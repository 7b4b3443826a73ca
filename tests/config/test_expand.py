"""The substitution step: values against a lookup, kept references as placeholders."""

from __future__ import annotations

import pytest

from prodserver.config import expand, limits
from prodserver.config.model import HealthCheck
from prodserver.template import Ref, Template
from tests.config.conftest import MakeContext, codes


def test_a_value_is_substituted_and_says_whether_it_was_one_expression(
    context: MakeContext,
) -> None:
    ctx = context()
    assert expand.substitute(ctx, "${N:-2}", {}, ("x",)) == ("2", True)
    assert expand.substitute(ctx, "n=${N}", {"N": "3"}, ("x",)) == ("n=3", False)
    assert expand.substitute(ctx, "plain", {}, ("x",)) == ("plain", False)


def test_an_unset_variable_becomes_empty_with_a_warning(context: MakeContext) -> None:
    ctx = context()
    assert expand.substitute(ctx, "a${MISSING}b", {}, ("env", "A")) == ("ab", False)
    (warning,) = ctx.out.warnings
    assert warning.code == "PS202" and "MISSING" in warning.message
    assert ctx.out.problems == []


def test_a_malformed_expression_is_recorded_not_raised(context: MakeContext) -> None:
    ctx = context()
    assert expand.substitute(ctx, "${", {}, ("x",)) is None
    assert codes(ctx) == ["PS130"]


def test_the_placeholder_characters_are_refused_in_user_text(context: MakeContext) -> None:
    ctx = context()
    inside = ctx.placeholders.encode(Template((Ref("X"),)))
    assert expand.substitute(ctx, f"a{inside}", {}, ("x",)) is None
    assert codes(ctx) == ["PS550"]


def test_the_total_substituted_is_bounded_once_per_resolution(
    context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_SUBSTITUTED_TOTAL", 10)
    ctx = context()
    assert expand.substitute(ctx, "${A}", {"A": "123456"}, ("a",)) == ("123456", True)
    assert expand.substitute(ctx, "${A}", {"A": "123456"}, ("b",)) is None
    assert expand.substitute(ctx, "${A}", {"A": "123456"}, ("c",)) is None
    assert codes(ctx) == ["PS132"]


def test_an_environment_value_may_be_a_number_or_boolean(context: MakeContext) -> None:
    ctx = context()
    assert expand.substitute_scalar(ctx, True, {}, ("e",)) == "true"
    assert expand.substitute_scalar(ctx, 2.5, {}, ("e",)) == "2.5"
    assert expand.substitute_scalar(ctx, "${A}", {"A": "x"}, ("e",)) == "x"
    assert expand.substitute_scalar(ctx, ["no"], {}, ("e",)) is None
    assert codes(ctx) == ["PS121"]


def test_an_export_keeps_a_reference_and_shows_it(context: MakeContext) -> None:
    ctx = context(export=True)
    text, whole = expand.substitute(ctx, "--bind :${PORT}", {"PORT": "5000"}, ("x",)) or ("", 0)
    assert not whole
    assert expand.kept_in(ctx, text)
    assert ctx.placeholders.decode(text) == Template(("--bind :", Ref("PORT")))
    assert expand.text(ctx, text, port=8000) == "--bind :8000"
    assert expand.shown(ctx, [text, "x"]) == ["--bind :${PORT}", "x"]
    assert ctx.kept_refs == {"PORT"}


def test_a_local_resolution_gives_every_value(context: MakeContext) -> None:
    ctx = context()
    assert expand.runtime_value(ctx, "PORT", "5000") == "5000"
    assert expand.text(ctx, "5000") == "5000"
    assert expand.passed_through(ctx, {"a": ["$x"]}) == {"a": ["$x"]}


def test_a_runtime_value_is_a_reference_in_an_export(context: MakeContext) -> None:
    ctx = context(export=True)
    value = expand.runtime_value(ctx, "PORT", "5000")
    assert ctx.placeholders.decode(value) == Template((Ref("PORT"),))
    # tables written as given use interpolation syntax: a literal $ doubled
    assert expand.passed_through(ctx, {"a": [f"{value}$"]}) == {"a": ["${PORT}$$"]}


def test_a_probe_target_keeps_its_references_as_templates(context: MakeContext) -> None:
    ctx = context(export=True)
    url = ctx.placeholders.encode(Template(("http://127.0.0.1:", Ref("PORT"), "/")))
    plain = HealthCheck(kind="http", target="http://127.0.0.1:80/")
    assert expand.probe(ctx, plain, 80) is plain
    probe = expand.probe(ctx, HealthCheck(kind="http", target=url), 8000)
    assert probe is not None
    assert probe.target == "http://127.0.0.1:8000/"
    assert probe.template == (Template(("http://127.0.0.1:", Ref("PORT"), "/")),)
    assert expand.probe(ctx, None, 80) is None


def test_kinds_are_named_for_messages() -> None:
    assert expand.kind_of([]) == "an array"
    assert expand.kind_of(True) == "a boolean"
    assert expand.kind_of(None) == "NoneType"
