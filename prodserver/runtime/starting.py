"""Starting instances: dependency gates, the environment of a child, and the spawn itself."""

from __future__ import annotations

from collections.abc import Callable

from prodserver.runtime.health import Health
from prodserver.runtime.lookup import ExecutableNotFound, find_executable
from prodserver.runtime.process import State, Unit, Verdict
from prodserver.runtime.run import SERVICE_VARIABLES, Notifier, Run
from prodserver.runtime.spawner import SpawnFailed


class Starter:
    """Starts every waiting instance whose dependencies allow it."""

    def __init__(
        self,
        run: Run,
        *,
        extra_env: dict[str, str] | None,
        notifier: Notifier | None,
        start_failed: Callable[[Unit, int], None],
    ) -> None:
        self.run = run
        self.extra_env = extra_env or {}
        self.notifier = notifier
        #: the exit decision for an instance that could not start (its code: 126, 127)
        self._start_failed = start_failed

    def verdict(self, unit: Unit) -> tuple[Verdict, str]:
        """Whether ``unit``'s dependencies let it start now, later, or never."""
        for old in self.run.retiring:
            if old.name == unit.name and not old.gone:
                # after a reload: the previous instances must be gone first (their ports)
                return Verdict.WAIT, ""
        for dep in unit.spec.depends_on:
            for other in self.run.by_process.get(dep.name, ()):
                verdict = other.reached(dep.condition)
                if verdict is not Verdict.GO:
                    return verdict, f"{dep.name} was never {dep.condition}"
        return Verdict.GO, ""

    def schedule(self) -> None:
        """Start what may start; skip what never will (a dependency ended for good)."""
        run = self.run
        progress = True
        while progress and not run.stopping:
            progress = False
            for unit in run.units:
                if unit.state is not State.WAITING:
                    continue
                verdict, why = self.verdict(unit)
                if verdict is Verdict.GO:
                    self.spawn(unit)
                    progress = True
                elif verdict is Verdict.NEVER:
                    unit.state = State.SKIPPED
                    run.say(unit, "process_gave_up", f"not started: {why}", reason=why)
                    progress = True

    def environment(self, unit: Unit) -> dict[str, str]:
        """The child's environment: its own, without the service manager's variables."""
        env = dict(unit.instance.env)
        for name in SERVICE_VARIABLES:
            env.pop(name, None)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.extra_env)
        if self.notifier is not None:
            env.update(self.notifier.env_for(unit))
            check = unit.instance.healthcheck
            if check is not None and check.watchdog:
                # as systemd does for WatchdogSec=; sd_watchdog_enabled() reads it
                env["WATCHDOG_USEC"] = str(int(check.watchdog * 1_000_000))
        return env

    def spawn(self, unit: Unit) -> None:
        """Start ``unit`` now."""
        run = self.run
        inst = unit.instance
        env = self.environment(unit)
        cwd = unit.spec.cwd
        unit.reset_run()
        try:
            program = find_executable(inst.argv[0] if inst.argv else "", env, cwd)
            handle = run.spawner.spawn((program, *inst.argv[1:]), env, cwd, user=unit.spec.user)
        except ExecutableNotFound as exc:
            self.failed(unit, f"{exc.message} (in {cwd})", exc.code)
            return
        except SpawnFailed as exc:
            self.failed(unit, exc.message, exc.code)
            return
        now = run.clock.monotonic()
        check = inst.healthcheck
        health = Health(check, now) if check is not None else None
        if health is not None and self.notifier is None:
            health.watchdog_at = None  # no socket to hear WATCHDOG=1 on: no deadline either
        unit.running(handle, now, health)
        run.by_pid[handle.pid] = unit
        restarts = f" (restart {unit.restart.total})" if unit.restart.total else ""
        run.say(
            unit,
            "process_started",
            f"started with pid {handle.pid}{restarts}",
            pid=handle.pid,
            restart=unit.restart.total,
        )
        run.hooks.attached(unit)

    def failed(self, unit: Unit, message: str, code: int) -> None:
        """``unit`` could not be started at all: an exit with ``code`` that never ran."""
        unit.ever_started = False
        unit.started_at = self.run.clock.monotonic()
        self.run.say(
            unit, "process_exited", f"could not start: {message}", code=code, started=False
        )
        self._start_failed(unit, code)
