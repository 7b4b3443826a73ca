"""The option values step: typed values with defaults, strictly validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.registry import get_backend
from prodserver.config.context import ProcessEntry
from prodserver.config.values import left_to_platform, option_values, typed_key
from prodserver.template import Deferred
from tests.config.conftest import MakeContext, codes


def entry(table: Mapping[str, Any], backend: str = "gunicorn") -> ProcessEntry:
    return ProcessEntry("web", table, get_backend(backend), lambda *k: ("processes", "web", *k))


def test_values_are_coerced_and_defaults_filled_in(context: MakeContext) -> None:
    ctx = context()
    table = {"backend": "gunicorn", "app": "shop.wsgi", "workers": "${W}", "env": {"A": "1"}}
    values = option_values(ctx, entry(table), {"W": "3"}, report=True)
    assert values is not None
    assert values["workers"] == 3
    assert values["app"] == "shop.wsgi"
    assert "env" not in values  # the env layer is the process step's
    assert values["oneshot"] is False  # a common default


def test_a_shell_command_is_not_substituted(context: MakeContext) -> None:
    ctx = context()
    table = {"command": ["echo", "$HOME"], "shell": True}
    values = option_values(ctx, entry(table, "command"), {"HOME": "/x"}, report=True)
    assert values is not None and values["command"] == "echo '$HOME'"


def test_a_value_the_backend_refuses_is_reported_once_per_process(context: MakeContext) -> None:
    ctx = context()
    table = {"app": "shop.wsgi", "workers": -4}
    assert option_values(ctx, entry(table), {}, report=False) is not None
    assert ctx.out.problems == []
    assert option_values(ctx, entry(table), {}, report=True) is None
    assert codes(ctx)


def test_a_reference_where_prodserver_needs_the_value_is_an_error(
    context: MakeContext,
) -> None:
    ctx = context(export=True)
    table = {"app": "shop.wsgi", "stop_timeout": "${GRACE}", "workers": "${W}"}
    assert option_values(ctx, entry(table), {}, report=True) is None
    assert codes(ctx) == ["PS405"]
    assert "stop_timeout" in ctx.out.problems[0].message


def test_a_backend_option_may_stay_a_reference(context: MakeContext) -> None:
    ctx = context(export=True)
    values = option_values(ctx, entry({"app": "a.wsgi", "workers": "${W}"}), {}, report=True)
    assert values is not None and isinstance(values["workers"], Deferred)


def test_left_to_platform_looks_inside_tables(context: MakeContext) -> None:
    ctx = context()
    where = entry({}).where
    assert not left_to_platform(ctx, "restart", {"backoff": 1.0}, where)
    assert left_to_platform(ctx, "restart", {"backoff": Deferred("x")}, where)
    assert ctx.out.problems[0].location.key_path == "processes.web.restart.backoff"


def test_typed_keys() -> None:
    options = {o.name: o for o in get_backend("gunicorn").options}
    assert typed_key("workers", options)
    assert typed_key("oneshot", options)
    assert not typed_key("app", options)
    assert not typed_key("command", options)
