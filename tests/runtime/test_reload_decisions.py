"""Reload as supervisor decisions, replayed with fakes: what is stopped, started, left alone."""

from __future__ import annotations

import signal
from typing import Any

from conftest import FakeClock, FakeHooks, FakeSpawner
from projects import proc, project, py

from prodserver.config.model import ResolvedProject
from prodserver.errors import ConfigError, Problem
from prodserver.runtime.process import State
from prodserver.runtime.reload import plan
from prodserver.runtime.supervisor import Supervisor


def p(name: str, marker: str | None = None, **kw: Any) -> dict[str, Any]:
    return proc(name, py(f"#{marker or name}"), **kw)


def running(spawner: FakeSpawner) -> list[str]:
    return [argv[-1].lstrip("#") for pid, argv, _env in spawner.spawned if pid in spawner.main]


def test_the_plan_groups_processes_and_ignores_position():
    old = project(p("a"), p("b"), p("c"))
    new = project(p("d"), p("a"), p("b", "b2"))
    todo = plan(old, ["a", "b", "c"], new, ["d", "a", "b"])
    assert (todo.added, todo.removed, todo.changed, todo.unchanged) == (
        ("d",),
        ("c",),
        ("b",),
        ("a",),
    )


def test_a_changed_process_starts_again_only_once_its_old_instance_is_gone(
    spawner: FakeSpawner, clock: FakeClock, hooks: FakeHooks
):
    configs: list[ResolvedProject] = [project(p("web", "web2"), p("worker"))]
    sup = Supervisor(
        project(p("web"), p("worker")),
        spawner=spawner,
        clock=clock,
        hooks=hooks,
        reread=lambda: configs[0],
    )
    sup.start()
    web, worker = spawner.pid_of("#web"), spawner.pid_of("#worker")
    outcome = sup.reload()
    assert outcome["changed"] == ["web"] and outcome["unchanged"] == ["worker"]
    assert spawner.signals == [(web, signal.SIGTERM, True)]
    assert running(spawner) == ["web", "worker"]  # web2 waits: the old one is still there
    spawner.exit(web, -signal.SIGTERM)
    sup.handle_children()
    assert running(spawner) == ["worker", "web2"]
    assert spawner.pid_of("#worker") == worker
    assert [u.state for u in sup.units] == [State.RUNNING, State.RUNNING]


def test_a_configuration_that_does_not_resolve_changes_nothing(
    spawner: FakeSpawner, clock: FakeClock, hooks: FakeHooks
):
    def broken() -> ResolvedProject:
        raise ConfigError("not valid", problems=[Problem("PS122", "unknown key 'comand'")])

    sup = Supervisor(project(p("web")), spawner=spawner, clock=clock, hooks=hooks, reread=broken)
    sup.start()
    outcome = sup.reload()
    assert outcome["ok"] is False and "unknown key 'comand'" in outcome["problems"][0]
    assert spawner.signals == [] and running(spawner) == ["web"]
    assert any("nothing changed" in text for text in hooks.texts())


def test_sighup_reloads_instead_of_stopping(
    spawner: FakeSpawner, clock: FakeClock, hooks: FakeHooks
):
    same = project(p("web"))
    sup = Supervisor(same, spawner=spawner, clock=clock, hooks=hooks, reread=lambda: same)
    sup.start()
    sup.handle_signal(signal.SIGHUP)
    assert not sup.stopping and spawner.signals == []
    assert any("configuration reloaded (unchanged: web)" in t for t in hooks.texts())
