"""Health policy: probes and notifications turned into readiness, recoveries and restarts.

A probe's ``role`` decides what failing means (see :mod:`prodserver.runtime.health`).
``readiness`` failing only marks the instance not ready (dependants that wait for it as
``healthy`` keep waiting; running ones are left alone). ``liveness`` failing stops the
instance gracefully and hands it to its restart policy as a failure; with ``restart = "no"``
that ends the run like a failed exit, and ``up`` exits with 1. ``both`` (the default) does
both. An instance without a readiness check counts as ready as soon as it is started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prodserver.runtime.audit import FieldValue
from prodserver.runtime.health import Done, Prober, Transition, describe
from prodserver.runtime.process import State, Unit
from prodserver.runtime.run import SERVICE_VARIABLES, Run

#: stops an instance to start it again: (unit, reason, event, message, fields)
Recycle = Callable[[Unit, str, str, str, Mapping[str, FieldValue]], None]


class HealthPolicy:
    """Runs probes when due and acts on their results and on notifications."""

    def __init__(
        self,
        run: Run,
        *,
        prober: Prober | None,
        probe_done: Done,
        recycle: Recycle,
        on_all_ready: Callable[[], None] | None,
    ) -> None:
        self.run = run
        self.prober = prober
        #: where the prober reports a result (the supervisor, which then acts on it)
        self._probe_done = probe_done
        self._recycle = recycle
        self._on_all_ready = on_all_ready
        self._probe_seq = 0
        self._probes: dict[int, Unit] = {}

    def deadlines(self) -> list[float]:
        """When a probe is due or times out, or a start period ends."""
        times: list[float] = []
        for unit in self.run.units:
            if unit.health is not None and unit.state is State.RUNNING:
                due = unit.health.next_deadline()
                if due is not None:
                    times.append(due)
        return times

    def work(self, now: float) -> None:
        """Time out hung probes, expire start periods, start the probes that are due."""
        for unit in self.run.units:
            health = unit.health
            if health is None or unit.state is not State.RUNNING or not unit.main_alive:
                continue
            if health.watchdog_missed(now):
                self._watchdog_failed(unit, f"no WATCHDOG=1 for {health.check.watchdog:g}s")
                continue
            if health.in_flight and health.deadline is not None and now >= health.deadline:
                self.cancel_probe(health.token)
                timeout = f"timed out after {health.check.timeout:g}s"
                self.apply(unit, health.finish(now, False, timeout))
            elif not health.in_flight:
                self.apply(unit, health.expire(now))
            if unit.state is State.RUNNING and health.due(now) and self.prober is not None:
                self._probe(unit, now)

    def _watchdog_failed(self, unit: Unit, detail: str) -> None:
        """A missed (or triggered) watchdog: a liveness failure, whatever the probe's role."""
        health = unit.health
        assert health is not None
        health.watchdog_at = None
        health.status = "unhealthy"
        unit.ready = False
        self.run.all_ready = False
        change: dict[str, FieldValue] = {
            "from": "healthy" if health.ever_healthy else "starting",
            "to": "unhealthy",
            "detail": detail,
            "role": "liveness",
            "watchdog": health.check.watchdog,
        }
        self._recycle(
            unit, "liveness", "health_changed", f"watchdog: {detail}; stopping it", change
        )

    def _probe(self, unit: Unit, now: float) -> None:
        assert unit.health is not None and self.prober is not None
        self._probe_seq += 1
        token = self._probe_seq
        self._probes[token] = unit
        unit.health.begin(token, now)
        env = dict(unit.instance.env)
        for name in SERVICE_VARIABLES:
            env.pop(name, None)
        self.prober.start(token, unit.health.check, env, unit.spec.cwd, self._probe_done)

    def cancel_probe(self, token: int) -> None:
        """Forget probe ``token`` (its result, if it comes, is ignored)."""
        unit = self._probes.pop(token, None)
        if self.prober is not None:
            self.prober.cancel(token)
        if unit is not None and unit.health is not None and unit.health.token == token:
            unit.health.token = 0
            unit.health.deadline = None

    def cancel_all(self) -> None:
        """Forget every probe in flight (everything is stopping)."""
        for token in list(self._probes):
            self.cancel_probe(token)

    def probe_result(self, token: int, ok: bool, detail: str) -> bool:
        """A probe ended; False when the result is stale or late and was ignored."""
        unit = self._probes.pop(token, None)
        if unit is None or unit.health is None or unit.health.token != token:
            return False
        if self.run.stopping or unit.state is not State.RUNNING:
            unit.health.token = 0
            return False
        self.apply(unit, unit.health.finish(self.run.clock.monotonic(), ok, detail))
        return True

    def notify(self, unit: Unit, pid: int, fields: Mapping[str, str]) -> bool:
        """A notification from ``pid``; True when it may have changed readiness.

        Only the instance's main process is believed (systemd's ``NotifyAccess=main``): a
        worker or any other process that found the socket cannot mark it ready.
        """
        if pid != unit.pid or not unit.main_alive:
            if not unit.notify_warned:
                unit.notify_warned = True
                self.run.say(
                    unit,
                    "warning",
                    f"ignored a notification from pid {pid}: not its main process",
                    pid=pid,
                )
            return False
        if "STATUS" in fields:
            unit.notify_status = fields["STATUS"]
        if unit.state is not State.RUNNING:
            return False
        health = unit.health
        watchdog = fields.get("WATCHDOG")
        if watchdog is not None and health is not None and health.check.watchdog:
            if watchdog == "trigger":  # the process asks to be handled as failed (systemd)
                self._watchdog_failed(unit, "WATCHDOG=trigger")
                return True
            health.rearm(self.run.clock.monotonic())
        if fields.get("READY") != "1":
            return watchdog is not None
        if health is None:
            if not unit.ready:
                unit.ready = True
                self.run.say(
                    unit, "health_changed", "ready (READY=1)", to="ready", detail="READY=1"
                )
        else:
            health.last_detail = "READY=1"
            self.apply(unit, health.succeeded(self.run.clock.monotonic()))
        return True

    def apply(self, unit: Unit, transition: Transition | None) -> None:
        """Act on a change of ``unit``'s health."""
        health = unit.health
        if transition is None or health is None:
            return
        if transition is Transition.HEALTHY:
            self._healthy(unit)
        else:
            self._unhealthy(unit)

    def _healthy(self, unit: Unit) -> None:
        health = unit.health
        assert health is not None
        detail = health.last_detail
        if health.check.role != "liveness":
            unit.ready = True
        if health.first_success and health.ready_after is not None:
            # a liveness-only probe's first success is not a recovery either
            if unit.ready_after is None:
                unit.ready_after = health.ready_after
            self.run.say(
                unit,
                "health_changed",
                f"healthy after {health.ready_after:.1f}s ({detail})",
                **{"from": "starting", "to": "healthy", "detail": detail},
                ready_after=round(health.ready_after, 3),
            )
        else:
            self.run.say(
                unit,
                "health_changed",
                f"healthy again ({detail})",
                **{"from": "unhealthy", "to": "healthy", "detail": detail},
            )

    def _unhealthy(self, unit: Unit) -> None:
        health = unit.health
        assert health is not None
        check = health.check
        detail = health.last_detail
        # transitions only come on a change: from healthy if it ever was, else from starting
        was = "healthy" if health.ready_after is not None else "starting"
        change: dict[str, FieldValue] = {
            "from": was,
            "to": "unhealthy",
            "detail": detail,
            "failures": health.failures,
            "role": check.role,
        }
        failures = f" ({health.failures} failed probes)" if health.failures else ""
        what = f"unhealthy: {describe(check)}: {detail}{failures}"
        if check.role != "liveness":
            unit.ready = False
            self.run.all_ready = False
        if check.role == "readiness":
            text = f"{what}; not ready until a probe succeeds"
            self.run.say(unit, "health_changed", text, **change)
            return
        self._recycle(unit, "liveness", "health_changed", f"{what}; stopping it", change)

    def check_ready(self) -> None:
        """Announce, once, that every required instance is ready."""
        run = self.run
        if run.all_ready or run.stopping or not run.everything_ready():
            return
        run.all_ready = True
        if self._on_all_ready is not None:
            self._on_all_ready()
