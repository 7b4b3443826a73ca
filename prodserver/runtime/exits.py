"""What an exit means: restart, completed, given up, or the end of the run.

The restart policy (:mod:`prodserver.runtime.restart`) returns the decision; this module
carries it out on the instance and says it. An exit is an event of its own
(``process_exited``); when the decision's line says it too ("exited with code 1; restarting
in 1s"), the exit event is quiet in text output.
"""

from __future__ import annotations

from collections.abc import Callable

from prodserver.exitcodes import ExitCode
from prodserver.runtime.process import State, Unit
from prodserver.runtime.restart import Action
from prodserver.runtime.run import Run, describe_exit, exit_fields


class Exits:
    """Decides about instances whose main process exited."""

    def __init__(self, run: Run, *, end_run: Callable[[Unit, int], None]) -> None:
        self.run = run
        #: an instance ended the run with this code: stop everything
        self._end_run = end_run

    def stopped(self, unit: Unit, code: int) -> None:
        """``unit`` exited after prodserver asked it to stop."""
        unit.state = State.STOPPED
        fields = exit_fields(code, unit.exit_signal)
        stop_signal = unit.spec.stop_signal
        if unit.exit_signal == stop_signal:
            self.run.say(unit, "process_exited", f"stopped by {stop_signal.name}", **fields)
        else:
            what = describe_exit(code, unit.exit_signal)
            self.run.say(unit, "process_exited", f"stopped ({what})", **fields)

    def during_stop(self, unit: Unit, code: int) -> None:
        """``unit`` exited on its own while everything is stopping: never restarted."""
        unit.state = State.EXITED
        what = describe_exit(code, unit.exit_signal)
        self.run.say(unit, "process_exited", what, **exit_fields(code, unit.exit_signal))

    def decide(
        self, unit: Unit, code: int, what: str | None = None, *, announced: bool = False
    ) -> None:
        """``unit`` ended on its own: restart it, note it completed, or end the run.

        ``announced``: an exit event was already sent (a start that failed).
        """
        run = self.run
        unit.exit_code = code
        what = what or describe_exit(code, unit.exit_signal)
        fields = exit_fields(code, unit.exit_signal)
        uptime = run.clock.monotonic() - unit.started_at
        decision = unit.restart.after_exit(code, uptime, oneshot=unit.spec.oneshot)
        if decision.action is Action.RESTART:
            if not announced:
                run.say_quietly(unit, "process_exited", what, **fields)
            unit.state = State.BACKOFF
            unit.restart_at = run.clock.monotonic() + decision.delay
            limit = unit.spec.restart.max_restarts
            count = f" ({unit.restart.streak} of {limit})" if limit else ""
            run.say(
                unit,
                "process_restarting",
                f"{what}; restarting in {decision.delay:g}s{count}",
                restart=unit.restart.total,
                delay=decision.delay,
                **fields,
            )
            return
        say = run.say_quietly if announced else run.say
        if decision.action is Action.GIVE_UP:
            if not announced:
                run.say_quietly(unit, "process_exited", what, **fields)
            unit.state = State.GAVE_UP
            run.say(
                unit,
                "process_gave_up",
                f"{what}; given up after {unit.restart.streak} restarts, each run "
                f"shorter than {unit.spec.restart.window:g}s",
                restarts=unit.restart.streak,
                **fields,
            )
            self._end_run(unit, code)
        elif decision.action is Action.COMPLETE:
            unit.state = State.COMPLETED
            say(unit, "process_exited", f"completed (exit code {code})", code=code)
        else:
            unit.state = State.EXITED
            if code in unit.spec.restart.prevent_exit_codes:
                what += " (a prevent_exit_codes code: not restarted)"
            say(unit, "process_exited", what, **fields)
            # an exit that counts as success ends the run as exit 0 would
            self._end_run(unit, 0 if unit.restart.succeeded(code) else code)

    def after_memory_guard(self, unit: Unit, code: int) -> None:
        """The memory guard stopped ``unit``: start it again after the policy's backoff."""
        run = self.run
        uptime = run.clock.monotonic() - unit.started_at
        decision = unit.restart.after_recycle(uptime)
        fields = exit_fields(code, unit.exit_signal)
        if decision.action is Action.GIVE_UP:
            unit.state = State.GAVE_UP
            run.say(
                unit,
                "process_gave_up",
                f"given up: it exceeded max_memory {unit.restart.streak} times in a row",
                restarts=unit.restart.streak,
                reason="max_memory",
                **fields,
            )
            self._end_run(unit, int(ExitCode.FAILURE))
            return
        unit.state = State.BACKOFF
        unit.restart_at = run.clock.monotonic() + decision.delay
        what = describe_exit(code, unit.exit_signal)
        run.say(
            unit,
            "process_restarting",
            f"stopped by the memory guard ({what}); restarting in {decision.delay:g}s",
            restart=unit.restart.total,
            delay=decision.delay,
            reason="max_memory",
            **fields,
        )
