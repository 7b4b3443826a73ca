"""Sampling, the memory guard and status: numbers about the running process trees.

The memory guard (``max_memory``) stops an instance whose process tree grew past its limit and
starts it again after the policy's backoff, whatever its restart mode (the restart is
prodserver's decision, not a failure of the process); a process that keeps hitting the limit
right after starting is given up on like a crash loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prodserver.runtime.healthpolicy import Recycle
from prodserver.runtime.process import State
from prodserver.runtime.run import Run, Sampler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from prodserver.runtime.metrics import UnitSample

#: a status request reuses a metrics sample younger than this
FRESH_SAMPLE = 1.0
#: seconds between samples when only a memory guard needs them
GUARD_INTERVAL = 5.0


class Sampling:
    """Samples the running instances, guards their memory, and reports their status."""

    def __init__(
        self,
        run: Run,
        *,
        sampler: Sampler | None,
        interval: float | None,
        recycle: Recycle,
        on_sample: Callable[[], None] | None,
    ) -> None:
        self.run = run
        self.sampler = sampler
        #: seconds between metrics samples; None samples only when asked (``status``)
        self.interval = interval
        if interval is None and any(u.spec.max_memory for u in run.units):
            self.interval = GUARD_INTERVAL
        self._recycle = recycle
        self._on_sample = on_sample
        self.samples: Mapping[str, UnitSample] = {}
        self.sampled_at: float | None = None
        self.next_at: float | None = None

    def begin(self) -> None:
        """The run started: the first sample comes soon, so numbers are there early."""
        if self.sampler is not None and self.interval is not None:
            self.next_at = self.run.clock.monotonic() + min(1.0, self.interval)

    def sample(self) -> None:
        """Measure every running instance now and apply the memory guard."""
        now = self.run.clock.monotonic()
        if self.interval is not None:
            self.next_at = now + self.interval
        if self.sampler is None:
            return
        running = [u for u in self.run.units if u.pid is not None and u.main_alive]
        self.samples = self.sampler.sample(running)
        self.sampled_at = now
        self.guard_memory(self.samples)
        if self._on_sample is not None:
            self._on_sample()

    def guard_memory(self, samples: Mapping[str, UnitSample]) -> None:
        """Restart an instance whose whole process tree uses more than its ``max_memory``."""
        for unit in self.run.units:
            limit = unit.spec.max_memory
            got = samples.get(unit.label)
            if not limit or got is None or unit.state is not State.RUNNING:
                continue
            if got.rss > limit:
                self._recycle(
                    unit,
                    "memory",
                    "process_stopping",
                    f"memory {format_bytes(got.rss)} exceeds max_memory "
                    f"{format_bytes(limit)} ({got.processes} processes): restarting it gracefully",
                    {
                        "reason": "max_memory",
                        "rss": got.rss,
                        "max_memory": limit,
                        "signal": unit.spec.stop_signal.name,
                    },
                )

    def status(self) -> dict[str, Any]:
        """What ``prodserver status`` shows: every instance and its numbers."""
        now = self.run.clock.monotonic()
        if self.sampler is not None and (
            self.sampled_at is None or now - self.sampled_at > FRESH_SAMPLE
        ):
            self.sample()
        return self.report()

    def report(self) -> dict[str, Any]:
        """:meth:`status` from the last sample, without sampling."""
        run = self.run
        now = run.clock.monotonic()
        rows = []
        for unit in run.units:
            running = unit.main_alive and unit.state in (State.RUNNING, State.STOPPING)
            got = self.samples.get(unit.label) if running else None
            rows.append(
                {
                    "process": unit.name,
                    "instance": unit.instance.number,
                    "label": unit.label,
                    "state": unit.state.value,
                    "pid": unit.pid if running else None,
                    "uptime": round(now - unit.started_at, 3) if running else None,
                    "restarts": unit.restart.total,
                    "last_exit": unit.last_exit,
                    "health": unit.health_status,
                    "ready": unit.ready,
                    "ready_after": unit.ready_after,
                    "status_text": unit.notify_status,
                    "cpu_percent": got.cpu_percent if got else None,
                    "rss": got.rss if got else None,
                    "threads": got.threads if got else None,
                    "open_files": got.open_files if got else None,
                    "processes": got.processes if got else None,
                    "max_memory": unit.spec.max_memory,
                    "port": unit.instance.port,
                }
            )
        project = run.project
        return {
            "project": project.name,
            "profile": project.profile,
            "root": str(project.root),
            "uptime": round(now - run.begun_at, 3),
            "stopping": run.stopping,
            "ready": run.all_ready,
            "processes": rows,
        }


def format_bytes(n: float) -> str:
    """``512.0 MiB``: a size for messages and tables."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
