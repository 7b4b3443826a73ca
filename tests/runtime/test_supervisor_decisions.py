"""The supervisor's decisions, replayed with a fake spawner and a hand-moved clock (no sleeps)."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from conftest import FakeClock, FakeHooks, FakeSpawner
from projects import proc, project, py

from prodserver.config.model import RestartPolicy
from prodserver.exitcodes import ExitCode
from prodserver.runtime.process import State
from prodserver.runtime.supervisor import Supervisor, select_processes


def p(name: str, **kw: Any) -> dict[str, Any]:
    return proc(name, py(f"#{name}"), **kw)


WEB_AFTER_MIGRATE = proc("web", py("#web"), depends_on={"migrate": "completed"})


def make(spawner: FakeSpawner, clock: FakeClock, hooks: FakeHooks, *procs: Any, **kw: Any):
    sup = Supervisor(project(*procs), spawner=spawner, clock=clock, hooks=hooks, **kw)
    sup.start()
    return sup


def started(spawner: FakeSpawner) -> list[str]:
    """Names of the processes spawned, in order (from the ``#name`` marker)."""
    return [argv[-1].lstrip("#") for _pid, argv, _env in spawner.spawned]


def exit_(sup: Supervisor, spawner: FakeSpawner, name: str, code: int) -> None:
    spawner.exit(spawner.pid_of(f"#{name}"), code)
    sup.handle_children()


def stop_signals(spawner: FakeSpawner) -> list[tuple[int, int, bool]]:
    return [s for s in spawner.signals if s[1] != signal.SIGKILL]


# -- starting ----------------------------------------------------------------------------


def test_everything_starts_in_dependency_order(spawner, clock, hooks):
    make(spawner, clock, hooks, p("web", depends_on=["db"]), p("db"), p("worker"))
    assert started(spawner) == ["db", "web", "worker"]


def test_completed_dependency_waits_for_exit_zero(spawner, clock, hooks):
    sup = make(
        spawner,
        clock,
        hooks,
        p("migrate", oneshot=True),
        p("web", depends_on={"migrate": "completed"}),
    )
    assert started(spawner) == ["migrate"]
    exit_(sup, spawner, "migrate", 0)
    assert started(spawner) == ["migrate", "web"]
    assert not sup.stopping
    assert "completed (exit code 0)" in hooks.texts("migrate.1")


def test_failed_oneshot_never_starts_its_dependants_and_ends_the_run(spawner, clock, hooks):
    sup = make(
        spawner,
        clock,
        hooks,
        p("migrate", oneshot=True),
        p("web", depends_on={"migrate": "completed"}),
        p("other"),
    )
    exit_(sup, spawner, "migrate", 3)
    assert "web" not in started(spawner)
    other = spawner.pid_of("#other")
    assert (other, signal.SIGTERM, True) in spawner.signals
    exit_(sup, spawner, "other", -signal.SIGTERM)
    assert sup.done
    assert sup.exit_code() == 3
    assert sup.by_process["web"][0].state is State.SKIPPED


def test_names_select_dependencies_transitively():
    proj = project(p("a"), p("b", depends_on=["a"]), p("c", depends_on=["b"]), p("d"))
    assert select_processes(proj, ["c"]) == ["a", "b", "c"]
    assert select_processes(proj, []) == ["a", "b", "c", "d"]


def test_scale_starts_every_instance(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", scale=3))
    assert [u.label for u in sup.units] == ["web.1", "web.2", "web.3"]
    assert len(spawner.spawned) == 3
    assert [env["PRODSERVER_INSTANCE"] for _pid, _argv, env in spawner.spawned] == ["1", "2", "3"]


def test_children_get_pythonunbuffered_unless_set(spawner, clock, hooks):
    make(spawner, clock, hooks, p("a"), p("b", env={"PYTHONUNBUFFERED": ""}))
    envs = [env for _pid, _argv, env in spawner.spawned]
    assert envs[0]["PYTHONUNBUFFERED"] == "1"
    assert envs[1]["PYTHONUNBUFFERED"] == ""


def test_missing_program_counts_as_127_and_names_program_and_path(spawner, clock, hooks):
    sup = make(
        spawner,
        clock,
        hooks,
        p("other"),
        proc("web", ("no-such-program-xyz", "--flag"), env={"PATH": "/nowhere"}),
    )
    (msg,) = [t for t in hooks.texts("web.1") if "could not start" in t]
    assert "no-such-program-xyz" in msg and "PATH=/nowhere" in msg
    exit_(sup, spawner, "other", -signal.SIGTERM)
    assert sup.done and sup.exit_code() == 127


def test_python_falls_back_to_this_interpreter(spawner, clock, hooks):
    import sys

    make(spawner, clock, hooks, proc("a", ("python", "-c", "#a"), env={"PATH": "/nowhere"}))
    assert spawner.spawned[0][1][0] == sys.executable


# -- exit codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [(0, 0), (1, 1), (3, 3), (-signal.SIGKILL, 137), (-signal.SIGSEGV, 139)],
)
def test_a_process_exiting_ends_the_run_with_its_code(spawner, clock, hooks, returncode, expected):
    sup = make(spawner, clock, hooks, p("web"), p("worker"))
    exit_(sup, spawner, "web", returncode)
    assert sup.stopping and not sup.done
    exit_(sup, spawner, "worker", -signal.SIGTERM)
    assert sup.done
    assert sup.exit_code() == expected


def test_oneshot_exit_zero_keeps_the_others_running(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("setup", oneshot=True), p("web"))
    exit_(sup, spawner, "setup", 0)
    assert not sup.stopping


def test_all_oneshots_completing_ends_the_run_with_zero(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("a", oneshot=True), p("b", oneshot=True))
    exit_(sup, spawner, "a", 0)
    assert not sup.done
    exit_(sup, spawner, "b", 0)
    assert sup.done and sup.exit_code() == 0


def test_ctrl_c_stop_within_grace_exits_zero(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web"), p("worker"))
    sup.handle_signal(signal.SIGINT)
    clock.advance(1)
    exit_(sup, spawner, "web", -signal.SIGTERM)
    exit_(sup, spawner, "worker", 0)
    assert sup.done and sup.exit_code() == 0


def test_stubborn_process_killed_at_grace_not_before_and_exit_code_says_forced(
    spawner, clock, hooks
):
    sup = make(spawner, clock, hooks, p("web", stop_timeout=5.0))
    pid = spawner.pid_of("#web")
    sup.handle_signal(signal.SIGTERM)
    assert spawner.signals == [(pid, signal.SIGTERM, True)]
    assert sup.next_deadline() == clock.now + 5.0
    clock.advance(4.99)
    sup.tick()
    assert (pid, signal.SIGKILL, True) not in spawner.signals
    clock.advance(0.01)
    sup.tick()
    assert (pid, signal.SIGKILL, True) in spawner.signals
    sup.handle_children()
    assert sup.done
    assert sup.exit_code() == ExitCode.FORCED_STOP
    assert any("after 5s grace" in t for t in hooks.texts("web.1"))


def test_stop_timeout_override_applies_to_every_process(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", stop_timeout=30.0), stop_timeout=2.0)
    sup.handle_signal(signal.SIGTERM)
    assert sup.next_deadline() == clock.now + 2.0


def test_kill_mode_main_signals_the_main_process_only(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", kill_mode="main", stop_signal=signal.SIGQUIT))
    sup.handle_signal(signal.SIGTERM)
    assert spawner.signals == [(spawner.pid_of("#web"), signal.SIGQUIT, False)]


def test_second_ctrl_c_kills_at_once(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web"), p("worker"))
    sup.handle_signal(signal.SIGINT)
    assert not any(s[1] == signal.SIGKILL for s in spawner.signals)
    sup.handle_signal(signal.SIGINT)
    killed = {pid for pid, sig, group in spawner.signals if sig == signal.SIGKILL and group}
    assert killed == {spawner.pid_of("#web"), spawner.pid_of("#worker")}
    sup.handle_children()
    assert sup.done and sup.exit_code() == ExitCode.FORCED_STOP


def test_group_must_be_empty_before_the_process_counts_as_stopped(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", stop_timeout=3.0))
    pid = spawner.pid_of("#web")
    sup.handle_signal(signal.SIGTERM)
    spawner.exit(pid, -signal.SIGTERM, group_empties=False)  # a grandchild lingers
    sup.handle_children()
    assert not sup.done
    clock.advance(3.0)
    sup.tick()
    assert (pid, signal.SIGKILL, True) in spawner.signals
    assert sup.done and sup.exit_code() == ExitCode.FORCED_STOP


def test_leftover_group_of_an_exited_process_is_stopped(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", restart=RestartPolicy("always", backoff=1)))
    pid = spawner.pid_of("#web")
    spawner.exit(pid, 1, group_empties=False)
    sup.handle_children()
    assert (pid, signal.SIGTERM, True) in spawner.signals
    clock.advance(1)
    sup.tick()
    assert len(spawner.spawned) == 1  # not restarted while its old group is still there
    spawner.groups.discard(pid)
    sup.tick()
    assert len(spawner.spawned) == 2


# -- stop order --------------------------------------------------------------------------


def test_stop_goes_in_reverse_dependency_order_independent_ones_in_parallel(spawner, clock, hooks):
    sup = make(
        spawner,
        clock,
        hooks,
        p("db"),
        p("web", depends_on=["db"]),
        p("worker", depends_on=["db"]),
        p("cache"),
    )
    sup.handle_signal(signal.SIGINT)
    first = {pid for pid, _sig, _g in stop_signals(spawner)}
    names = {n: spawner.pid_of(f"#{n}") for n in ("db", "web", "worker", "cache")}
    assert first == {names["web"], names["worker"], names["cache"]}
    exit_(sup, spawner, "web", -15)
    assert names["db"] not in {pid for pid, _s, _g in stop_signals(spawner)}
    exit_(sup, spawner, "worker", -15)
    assert names["db"] in {pid for pid, _s, _g in stop_signals(spawner)}
    exit_(sup, spawner, "cache", -15)
    exit_(sup, spawner, "db", -15)
    assert sup.done and sup.exit_code() == 0


def test_waiting_processes_never_start_after_a_stop(spawner, clock, hooks):
    sup = make(
        spawner,
        clock,
        hooks,
        p("migrate", oneshot=True),
        p("web", depends_on={"migrate": "completed"}),
    )
    sup.handle_signal(signal.SIGTERM)
    exit_(sup, spawner, "migrate", 0)
    assert started(spawner) == ["migrate"]
    assert sup.done


# -- restarts ----------------------------------------------------------------------------


def test_crash_loop_backs_off_exponentially_then_gives_up(spawner, clock, hooks):
    policy = RestartPolicy("on-failure", max_restarts=3, backoff=1.0, backoff_max=30.0, window=60)
    sup = make(spawner, clock, hooks, p("web", restart=policy), p("other"))
    delays = []
    for _ in range(3):
        exit_(sup, spawner, "web", 1)
        assert sup.units[0].state is State.BACKOFF
        delay = sup.units[0].restart_at - clock.now
        delays.append(delay)
        clock.advance(delay - 0.01)
        sup.tick()
        assert sup.units[0].state is State.BACKOFF  # not a moment early
        clock.advance(0.01)
        sup.tick()
        assert sup.units[0].state is State.RUNNING
    assert delays == [1.0, 2.0, 4.0]
    exit_(sup, spawner, "web", 1)
    assert sup.units[0].state is State.GAVE_UP
    assert any("given up after 3 restarts" in t for t in hooks.texts("web.1"))
    assert sup.stopping
    exit_(sup, spawner, "other", -15)
    assert sup.done and sup.exit_code() == 1


def test_backoff_is_capped(spawner, clock, hooks):
    policy = RestartPolicy("always", max_restarts=0, backoff=1.0, backoff_max=5.0)
    sup = make(spawner, clock, hooks, p("web", restart=policy))
    delays = []
    for _ in range(6):
        exit_(sup, spawner, "web", 0)
        delays.append(sup.units[0].restart_at - clock.now)
        clock.advance(delays[-1])
        sup.tick()
    assert delays == [1, 2, 4, 5, 5, 5]


def test_crash_loop_reaches_give_up_even_with_long_backoff(spawner, clock, hooks):
    # 10 restarts at up to 30 s apart do not fit a 60 s window, yet each run is short.
    policy = RestartPolicy("always", max_restarts=10, backoff=1.0, backoff_max=30.0, window=60)
    sup = make(spawner, clock, hooks, p("web", restart=policy))
    for _ in range(10):
        exit_(sup, spawner, "web", 1)
        clock.advance(sup.units[0].restart_at - clock.now)
        sup.tick()
    exit_(sup, spawner, "web", 1)
    assert sup.units[0].state is State.GAVE_UP


def test_a_long_run_resets_the_backoff(spawner, clock, hooks):
    policy = RestartPolicy("on-failure", max_restarts=2, backoff=1.0, window=60)
    sup = make(spawner, clock, hooks, p("web", restart=policy))
    exit_(sup, spawner, "web", 1)
    clock.advance(1)
    sup.tick()
    exit_(sup, spawner, "web", 1)
    assert sup.units[0].restart_at - clock.now == 2.0
    clock.advance(2)
    sup.tick()
    clock.advance(120)  # a healthy run
    exit_(sup, spawner, "web", 1)
    assert sup.units[0].state is State.BACKOFF
    assert sup.units[0].restart_at - clock.now == 1.0


def test_on_failure_does_not_restart_a_clean_exit(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", restart=RestartPolicy("on-failure")))
    exit_(sup, spawner, "web", 0)
    assert sup.units[0].state is State.EXITED
    assert sup.done and sup.exit_code() == 0


def test_never_restart_after_a_stop_prodserver_asked_for(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", restart=RestartPolicy("always", backoff=0.1)))
    sup.handle_signal(signal.SIGTERM)
    exit_(sup, spawner, "web", 1)
    clock.advance(10)
    sup.tick()
    assert len(spawner.spawned) == 1
    assert sup.units[0].state is State.STOPPED
    assert sup.done and sup.exit_code() == 0


def test_stop_during_backoff_cancels_the_restart(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", restart=RestartPolicy("always", backoff=5)))
    exit_(sup, spawner, "web", 1)
    sup.handle_signal(signal.SIGINT)
    clock.advance(10)
    sup.tick()
    assert len(spawner.spawned) == 1
    assert sup.done and sup.exit_code() == 0


# -- strays ------------------------------------------------------------------------------


def test_strays_are_stopped_before_the_run_ends(spawner, clock, hooks):
    sup = make(spawner, clock, hooks, p("web", stop_timeout=2))
    spawner.stray_pids = [999]
    sup.handle_signal(signal.SIGTERM)
    exit_(sup, spawner, "web", -15)
    assert not sup.done
    assert (999, signal.SIGTERM, False) in spawner.signals
    clock.advance(2)
    sup.tick()
    assert (999, signal.SIGKILL, False) in spawner.signals
    spawner.stray_pids = []
    sup.tick()
    assert sup.done and sup.exit_code() == ExitCode.FORCED_STOP


def test_prevent_exit_codes_win_over_always_and_end_the_run_with_that_code(spawner, clock, hooks):
    policy = RestartPolicy("always", prevent_exit_codes=(4,))
    sup = make(spawner, clock, hooks, p("web", restart=policy), p("other"))
    exit_(sup, spawner, "web", 1)
    assert sup.by_process["web"][0].state is State.BACKOFF  # any other code: restarted
    clock.advance(1.0)
    sup.tick()
    exit_(sup, spawner, "web", 4)
    assert sup.by_process["web"][0].state is State.EXITED
    assert sup.stopping
    spawner.exit(spawner.pid_of("#other"), -signal.SIGTERM)
    sup.handle_children()
    assert sup.done and sup.exit_code() == 4
    assert any("prevent_exit_codes" in t for t in hooks.texts("web.1"))


def test_success_exit_codes_are_not_failures(spawner, clock, hooks):
    policy = RestartPolicy("on-failure", success_exit_codes=(3,))
    sup = make(spawner, clock, hooks, p("web", restart=policy))
    exit_(sup, spawner, "web", 3)
    assert sup.by_process["web"][0].state is State.EXITED  # on-failure: not restarted
    assert sup.done and sup.exit_code() == 0


def test_a_oneshot_completes_with_a_success_exit_code(spawner, clock, hooks):
    policy = RestartPolicy("no", success_exit_codes=(3,))
    sup = make(
        spawner,
        clock,
        hooks,
        p("migrate", oneshot=True, restart=policy),
        WEB_AFTER_MIGRATE,
    )
    exit_(sup, spawner, "migrate", 3)
    assert sup.by_process["migrate"][0].state is State.COMPLETED
    assert started(spawner) == ["migrate", "web"]
