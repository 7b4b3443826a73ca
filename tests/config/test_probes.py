"""The health check step: a declared probe or the backend's default, timings coerced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.registry import get_backend
from prodserver.config.context import ProcessEntry
from prodserver.config.probes import healthcheck, watchdog
from tests.config.conftest import MakeContext, codes


def entry(backend: str = "command") -> ProcessEntry:
    return ProcessEntry("web", {}, get_backend(backend), lambda *k: ("processes", "web", *k))


def check(ctx: Any, values: Mapping[str, Any], backend: str = "command", **lookup: str) -> Any:
    return healthcheck(ctx, entry(backend), values, lookup)


def test_a_declared_http_probe_with_its_timings(context: MakeContext) -> None:
    ctx = context()
    probe = check(
        ctx,
        {"healthcheck": {"http": "http://127.0.0.1:8000/up", "interval": "${I}", "status": 204}},
        I="2s",
    )
    assert (probe.kind, probe.target) == ("http", "http://127.0.0.1:8000/up")
    assert (probe.interval, probe.timeout, probe.retries, probe.start_period) == (2.0, 3.0, 3, 0.0)
    assert probe.status == (204, 204)


def test_a_command_probe_is_split_and_substituted(context: MakeContext) -> None:
    ctx = context()
    probe = check(ctx, {"healthcheck": {"cmd": "check --db ${DB}"}}, DB="main")
    assert (probe.kind, probe.target) == ("cmd", ("check", "--db", "main"))


def test_the_backends_default_probe_or_none(context: MakeContext) -> None:
    ctx = context()
    assert check(ctx, {}) is None
    assert check(ctx, {"healthcheck": False}, "gunicorn") is None
    probe = check(ctx, {"app": "a.wsgi"}, "gunicorn", PORT="5000")
    assert probe.kind == "tcp" and probe.target.endswith(":5000")


def test_a_bad_timing_gives_no_probe(context: MakeContext) -> None:
    ctx = context()
    assert check(ctx, {"healthcheck": {"tcp": "x:1", "retries": "many"}}) is None
    assert codes(ctx) == ["PS124"]


def test_a_watchdog_needs_notify_and_a_positive_duration(context: MakeContext) -> None:
    ctx = context()
    where = entry().where
    assert watchdog(ctx, {}, "notify", {}, where) is None
    assert watchdog(ctx, {"watchdog": "30s"}, "notify", {}, where) == 30.0
    assert watchdog(ctx, {"watchdog": "30s"}, "http", {}, where) is None
    assert watchdog(ctx, {"watchdog": 0}, "notify", {}, where) is None
    assert codes(ctx) == ["PS451", "PS451"]
    probe = check(ctx, {"healthcheck": {"notify": True, "watchdog": "1m"}})
    assert (probe.kind, probe.target, probe.watchdog) == ("notify", "", 60.0)


def test_a_tcp_probe_without_a_port_is_a_located_error(context: MakeContext) -> None:
    # once accepted by check, then an internal error (exit 70) in the Kubernetes export
    ctx = context()
    assert check(ctx, {"healthcheck": {"tcp": "localhost"}}) is None
    assert codes(ctx) == ["PS452"]
    assert "no port" in ctx.out.problems[0].message


def test_a_tcp_probe_with_a_port_or_a_reference_is_accepted(context: MakeContext) -> None:
    ctx = context()
    assert check(ctx, {"healthcheck": {"tcp": "[::1]:8000"}}).target == "[::1]:8000"
    # a reference is read where the probe runs (the port may come from the platform)
    assert check(ctx, {"healthcheck": {"tcp": "127.0.0.1:${PORT}"}}) is not None
    assert codes(ctx) == []
