"""A setting a format cannot express is reported, naming the process and the setting."""

from __future__ import annotations

import signal

import pytest

from prodserver.config.model import Dependency, HealthCheck
from prodserver.exporters import render
from tests.exporters import scenarios


def _one(**fields: object) -> scenarios.ResolvedProject:
    deps = fields.pop("depends_on", ())
    other = scenarios.process("db", 1, ("/usr/bin/true",))
    spec = scenarios.process("app", 0, ("/usr/bin/true",), depends_on=deps, **fields)
    return scenarios.project([spec, other], name="lossy")


@pytest.mark.parametrize(
    ("fmt", "fields", "setting"),
    [
        ("procfile", {"stop_signal": signal.SIGINT}, "stop_signal SIGINT"),
        ("procfile", {"stop_timeout": 60.0}, "stop_timeout 60s"),
        ("procfile", {"healthcheck": HealthCheck("tcp", "127.0.0.1:1")}, "healthcheck (tcp)"),
        ("procfile", {"user": "www"}, "user www"),
        ("supervisord", {"stop_signal": signal.SIGWINCH}, "stop_signal SIGWINCH"),
        ("supervisord", {"max_memory": 1 << 20}, "max_memory"),
        ("supervisord", {"depends_on": (Dependency("db", "healthy"),)}, "depends_on db (healthy)"),
        ("systemd", {"healthcheck": HealthCheck("tcp", "127.0.0.1:1")}, "healthcheck (tcp)"),
        ("systemd", {"depends_on": (Dependency("db", "healthy"),)}, "depends_on db (healthy)"),
        ("systemd", {"labels": {"team": "a"}}, "labels"),
        ("compose", {"autoscale": {"min": 1, "max": 2}}, "autoscale"),
        ("kubernetes", {"stop_signal": signal.SIGQUIT}, "stop_signal SIGQUIT"),
        ("kubernetes", {"user": "www"}, "user www"),
        (
            "kubernetes",
            {"healthcheck": HealthCheck("http", "http://127.0.0.1:80/", expect="ok")},
            "healthcheck expect",
        ),
        (
            "kubernetes",
            {"healthcheck": HealthCheck("http", "http://127.0.0.1:80/", status=(200, 200))},
            "healthcheck status (200, 200)",
        ),
        ("kubernetes", {"depends_on": (Dependency("db", "started"),)}, "depends_on db (started)"),
        ("kubernetes", {"export": {"kubernetes": {"sidecar": {}}}}, "export.kubernetes.sidecar"),
    ],
)
def test_lost_setting_is_a_warning(fmt: str, fields: dict[str, object], setting: str) -> None:
    result = render(fmt, _one(**fields))
    assert any(f"process 'app': {setting} not exported" in w for w in result.warnings), (
        result.warnings
    )


@pytest.mark.parametrize("fmt", ["procfile", "compose", "systemd", "supervisord", "kubernetes"])
def test_a_plain_process_loses_nothing_it_asked_for(fmt: str) -> None:
    # The defaults of a plain command: only kill_mode group is beyond Docker and Kubernetes'
    # restart "no" beyond a Deployment; nothing else may be reported.
    result = render(fmt, _one())
    allowed = ("kill_mode group", "restart no")
    assert all(any(a in w for a in allowed) for w in result.warnings), result.warnings
