"""Health, readiness, notify and the memory guard as supervisor decisions (fakes, fake clock)."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conftest import FakeClock, FakeHooks, FakeSpawner
from projects import proc, project, py

from prodserver.config.model import HealthCheck, ResolvedProject, RestartPolicy, frozen_map
from prodserver.runtime.health import Done
from prodserver.runtime.metrics import UnitSample
from prodserver.runtime.process import State, Unit
from prodserver.runtime.supervisor import Supervisor


class FakeProber:
    """Records started probes; a test answers them with :meth:`answer`."""

    def __init__(self) -> None:
        self.started: list[tuple[int, str]] = []
        self.cancelled: list[int] = []
        self._done: dict[int, Done] = {}

    def start(
        self, token: int, check: HealthCheck, env: Mapping[str, str], cwd: Path, done: Done
    ) -> None:
        self.started.append((token, env["PRODSERVER_PROCESS"]))
        self._done[token] = done

    def cancel(self, token: int) -> None:
        self.cancelled.append(token)

    def reaped(self, pid: int, returncode: int) -> bool:
        return False

    def pids(self) -> set[int]:
        return set()

    def answer(self, name: str, ok: bool, detail: str = "") -> None:
        """Answer the latest probe of process ``name``."""
        token = max(t for t, n in self.started if n == name)
        self._done[token](token, ok, detail or ("ok" if ok else "connection refused"))

    def count(self, name: str) -> int:
        return sum(n == name for _t, n in self.started)


class FakeSampler:
    def __init__(self) -> None:
        self.rss: dict[str, int] = {}

    def sample(self, units: Any) -> Mapping[str, UnitSample]:
        return {u.label: UnitSample(self.rss.get(u.label, 1000), 0.0, 1, 3, 1) for u in units}


def checked(proj: ResolvedProject, name: str, check: HealthCheck, **spec: Any) -> ResolvedProject:
    """``proj`` with ``check`` on every instance of ``name`` (and other spec fields)."""
    old = proj.processes[name]
    insts = tuple(dataclasses.replace(i, healthcheck=check) for i in old.instances)
    new = dataclasses.replace(old, instances=insts, healthcheck=check, **spec)
    procs = dict(proj.processes)
    procs[name] = new
    return dataclasses.replace(proj, processes=frozen_map(procs))


HTTP = HealthCheck("http", "http://127.0.0.1:8000/", interval=5.0, timeout=2.0, retries=3)


def setup(
    spawner: FakeSpawner,
    clock: FakeClock,
    hooks: FakeHooks,
    check: HealthCheck = HTTP,
    restart: RestartPolicy | None = None,
    **spec: Any,
) -> tuple[Supervisor, FakeProber]:
    proj = project(
        proc("db", py("#db"), restart=restart),
        proc("web", py("#web"), depends_on={"db": "healthy"}),
    )
    proj = checked(proj, "db", check, **spec)
    prober = FakeProber()
    sup = Supervisor(proj, spawner=spawner, clock=clock, hooks=hooks, prober=prober)
    sup.start()
    return sup, prober


def names(spawner: FakeSpawner) -> list[str]:
    return [argv[-1].lstrip("#") for _pid, argv, _env in spawner.spawned]


def db(sup: Supervisor) -> Unit:
    return sup.by_process["db"][0]


def test_a_healthy_dependency_gates_its_dependant_until_a_probe_succeeds(spawner, clock, hooks):
    sup, prober = setup(spawner, clock, hooks)
    assert names(spawner) == ["db"]
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", False)
    clock.advance(0.5)
    sup.tick()
    assert names(spawner) == ["db"]
    prober.answer("db", True, "HTTP 200 in 1 ms")
    assert names(spawner) == ["db", "web"]
    assert "healthy after 1.0s (HTTP 200 in 1 ms)" in hooks.texts("db.1")
    assert db(sup).ready_after == 1.0


def test_failures_in_the_startup_phase_do_not_count(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, start_period=10.0, retries=1)
    sup, prober = setup(spawner, clock, hooks, check, RestartPolicy("always"))
    for _ in range(15):  # 7.5 s of failures, all inside the 10 s startup phase
        clock.advance(0.5)
        sup.tick()
        prober.answer("db", False)
    assert db(sup).state is State.RUNNING
    assert db(sup).health_status == "starting"
    assert not any("unhealthy" in t for t in hooks.texts("db.1"))
    clock.advance(3.0)  # past the startup phase: the first counted failure is enough
    sup.tick()
    prober.answer("db", False)
    assert db(sup).state is State.STOPPING
    assert (spawner.pid_of("#db"), signal.SIGTERM, True) in spawner.signals


def test_liveness_failure_restarts_through_the_restart_policy(spawner, clock, hooks):
    sup, prober = setup(spawner, clock, hooks, restart=RestartPolicy("on-failure", backoff=1.0))
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    first = spawner.pid_of("#db")
    for _ in range(3):
        clock.advance(5.0)
        sup.tick()
        prober.answer("db", False)
    texts = hooks.texts("db.1")
    assert any(
        t.startswith("unhealthy: http http://127.0.0.1:8000/: connection refused (3 failed")
        for t in texts
    )
    # it exits 0 on SIGTERM: still a failure, so on-failure restarts it
    spawner.exit(first, 0)
    sup.handle_children()
    assert db(sup).state is State.BACKOFF
    clock.advance(1.0)
    sup.tick()
    assert spawner.pid_of("#db") != first
    assert db(sup).restart.total == 1
    assert not sup.stopping


def test_liveness_failure_with_restart_no_ends_the_run_with_code_1(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, retries=1)
    sup, prober = setup(spawner, clock, hooks, check)
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    clock.advance(5.0)
    sup.tick()
    prober.answer("db", False)
    spawner.exit(spawner.pid_of("#db"), -signal.SIGTERM)
    sup.handle_children()
    assert sup.stopping
    assert (spawner.pid_of("#web"), signal.SIGTERM, True) in spawner.signals
    spawner.exit(spawner.pid_of("#web"), -signal.SIGTERM)
    sup.handle_children()
    assert sup.done
    assert sup.exit_code() == 1


def test_readiness_failure_only_marks_not_ready(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, retries=1, role="readiness")
    sup, prober = setup(spawner, clock, hooks, check)
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    assert names(spawner) == ["db", "web"]
    clock.advance(5.0)
    sup.tick()
    prober.answer("db", False)
    assert db(sup).state is State.RUNNING and not db(sup).ready
    assert not any(sig for pid, sig, _g in spawner.signals)
    assert "not ready until a probe succeeds" in hooks.texts("db.1")[-1]
    clock.advance(5.0)
    sup.tick()
    prober.answer("db", True)
    assert db(sup).ready
    assert hooks.texts("db.1")[-1].startswith("healthy again")


def test_a_probe_that_never_answers_times_out_and_a_late_answer_is_ignored(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, retries=1, timeout=2.0)
    sup, prober = setup(spawner, clock, hooks, check, RestartPolicy("always"))
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    clock.advance(5.0)
    sup.tick()  # probe 2 starts and hangs
    hung = max(t for t, _n in prober.started)
    assert sup.next_deadline() == clock.now + 2.0
    clock.advance(2.0)
    sup.tick()
    assert hung in prober.cancelled
    assert any("timed out after 2s" in t for t in hooks.texts("db.1"))
    assert db(sup).state is State.STOPPING
    prober._done[hung](hung, True, "late")  # the hung probe finally answers: ignored
    assert db(sup).state is State.STOPPING


def test_liveness_only_probe_does_not_gate_dependants(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, role="liveness")
    setup(spawner, clock, hooks, check)
    assert names(spawner) == ["db", "web"]


def test_first_success_of_a_liveness_only_probe_is_not_a_recovery(spawner, clock, hooks):
    check = dataclasses.replace(HTTP, role="liveness", retries=1)
    sup, prober = setup(spawner, clock, hooks, check, RestartPolicy("always"))
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    assert hooks.texts("db.1")[-1].startswith("healthy after 0.5s")
    assert not any("again" in t for t in hooks.texts("db.1"))


def test_notify_ready_from_the_main_pid_only(spawner, clock, hooks):
    check = HealthCheck("notify", "", start_period=0.0)
    sup, prober = setup(spawner, clock, hooks, check)
    unit = db(sup)
    sup.handle_notify(unit, 4242, {"READY": "1"})
    assert names(spawner) == ["db"]
    assert "ignored a notification from pid 4242: not its main process" in hooks.texts("db.1")
    sup.handle_notify(unit, unit.pid or 0, {"READY": "1", "STATUS": "serving"})
    assert names(spawner) == ["db", "web"]
    assert unit.notify_status == "serving"
    assert prober.started == []  # a notify check runs no probe


def test_notify_without_ready_by_the_end_of_start_period_is_unhealthy(spawner, clock, hooks):
    check = HealthCheck("notify", "", start_period=3.0)
    sup, _prober = setup(spawner, clock, hooks, check, RestartPolicy("always"))
    assert sup.next_deadline() == clock.now + 3.0
    clock.advance(3.0)
    sup.tick()
    assert any("no READY=1 within 3s" in t for t in hooks.texts("db.1"))
    assert db(sup).state is State.STOPPING


def test_outer_notify_socket_never_reaches_a_child(spawner, clock, hooks, monkeypatch):
    proj = project(proc("a", py("#a"), env={"NOTIFY_SOCKET": "/run/systemd/notify"}))
    Supervisor(proj, spawner=spawner, clock=clock, hooks=hooks).start()
    assert "NOTIFY_SOCKET" not in spawner.spawned[0][2]


def test_all_ready_is_announced_once_when_every_instance_is_ready(spawner, clock, hooks):
    proj = checked(project(proc("db", py("#db")), proc("web", py("#web"))), "db", HTTP)
    prober = FakeProber()
    calls: list[str] = []
    sup = Supervisor(
        proj,
        spawner=spawner,
        clock=clock,
        hooks=hooks,
        prober=prober,
        on_all_ready=lambda: calls.append("ready"),
    )
    sup.start()
    assert calls == []
    clock.advance(0.5)
    sup.tick()
    prober.answer("db", True)
    clock.advance(5.0)
    sup.tick()
    prober.answer("db", True)
    assert calls == ["ready"]


def test_memory_guard_restarts_gracefully_even_with_restart_no(spawner, clock, hooks):
    proj = project(proc("big", py("#big")), proc("other", py("#other")))
    spec = dataclasses.replace(proj.processes["big"], max_memory=100 * 2**20)
    proj = dataclasses.replace(proj, processes=frozen_map({**proj.processes, "big": spec}))
    sampler = FakeSampler()
    sup = Supervisor(proj, spawner=spawner, clock=clock, hooks=hooks, sampler=sampler)
    sup.start()
    assert sup.next_deadline() == clock.now + 1.0  # a memory guard samples soon, then every 5 s
    first = spawner.pid_of("#big")
    sampler.rss["big.1"] = 150 * 2**20
    clock.advance(5.0)
    sup.tick()
    assert (first, signal.SIGTERM, True) in spawner.signals
    assert (
        "memory 150.0 MiB exceeds max_memory 100.0 MiB (1 processes): restarting it gracefully"
        in hooks.texts("big.1")
    )
    spawner.exit(first, -signal.SIGTERM)
    sup.handle_children()
    assert not sup.stopping
    clock.advance(1.0)
    sup.tick()
    assert spawner.pid_of("#big") != first
    row = sup.report()["processes"][0]
    assert row["restarts"] == 1 and row["last_exit"] == 143 and row["state"] == "running"


def test_a_dependency_without_a_probe_counts_as_healthy_once_started(spawner, clock, hooks):
    proj = project(proc("db", py("#db")), proc("web", py("#web"), depends_on={"db": "healthy"}))
    Supervisor(proj, spawner=spawner, clock=clock, hooks=hooks, prober=FakeProber()).start()
    assert names(spawner) == ["db", "web"]


def test_probes_stop_when_the_run_stops(spawner, clock, hooks):
    sup, prober = setup(spawner, clock, hooks)
    clock.advance(0.5)
    sup.tick()
    in_flight = max(t for t, _n in prober.started)
    sup.handle_signal(signal.SIGTERM)
    assert in_flight in prober.cancelled
    before = len(prober.started)
    clock.advance(30.0)
    sup.tick()
    assert len(prober.started) == before
