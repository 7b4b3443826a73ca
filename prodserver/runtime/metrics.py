"""Per-instance metrics of whole process trees, and their Prometheus and JSON exposition.

Sampling is cheap by construction: it runs every few seconds at most (or when ``status``
asks), reads ``/proc`` once per process through :meth:`psutil.Process.oneshot`, finds every
tree with one pass over the process table, and keeps the :class:`psutil.Process` objects of
known processes between samples instead of building new ones. CPU % is the CPU time the tree
used since the previous sample divided by the wall time between them (the first sample of a
process uses its whole lifetime).

The HTTP exposition (``up --metrics HOST:PORT``) runs in a daemon thread and reads only the
last published :class:`Snapshot` (a reference swap, no locks), so a scrape never touches the
supervisor's state.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodserver.errors import BackendUnavailable, UsageError
from prodserver.hostport import AddressError, split_host_port

if TYPE_CHECKING:
    import psutil

    from prodserver.runtime.process import Unit

#: seconds between samples when something needs them continuously (metrics, memory guard)
DEFAULT_INTERVAL = 5.0


@dataclass(frozen=True)
class UnitSample:
    """The measurements of one instance's whole process tree."""

    rss: int
    cpu_percent: float
    threads: int
    open_files: int
    #: processes in the tree (the main process included)
    processes: int


class PsutilSampler:
    """Measures process trees with psutil, reusing its objects between samples."""

    def __init__(self) -> None:
        # psutil is imported on the first sample, not here: ``up`` makes a sampler every time,
        # and the import costs 10+ ms of start-up when nothing is ever measured.
        self._procs: dict[int, psutil.Process] = {}
        #: pid -> (monotonic time, cpu seconds) at the previous sample
        self._cpu: dict[int, tuple[float, float]] = {}

    def _process(self, pid: int) -> psutil.Process | None:
        import psutil

        proc = self._procs.get(pid)
        if proc is not None and proc.is_running():
            return proc
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            return None
        self._procs[pid] = proc
        return proc

    def _children_map(self) -> dict[int, list[int]]:
        import psutil

        children: dict[int, list[int]] = {}
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info.get("ppid")
            if ppid:
                children.setdefault(ppid, []).append(proc.pid)
        return children

    def sample(self, units: Sequence[Unit]) -> Mapping[str, UnitSample]:
        """One :class:`UnitSample` per unit with a live main process."""
        if not units:
            return {}
        import psutil

        children = self._children_map()
        now = time.monotonic()
        seen: set[int] = set()
        out: dict[str, UnitSample] = {}
        for unit in units:
            if unit.pid is None:
                continue
            tree = list(_descendants(unit.pid, children))
            rss = threads = files = count = 0
            cpu = 0.0
            for pid in tree:
                proc = self._process(pid)
                if proc is None:
                    continue
                try:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        threads += proc.num_threads()
                        times = proc.cpu_times()
                        used = times.user + times.system
                        since = proc.create_time()
                    with contextlib.suppress(psutil.Error):
                        files += proc.num_fds()
                except psutil.Error:
                    continue
                count += 1
                seen.add(pid)
                before = self._cpu.get(pid)
                if before is None:
                    span = max(time.time() - since, 1e-3)
                    cpu += 100.0 * used / span
                else:
                    span = max(now - before[0], 1e-3)
                    cpu += 100.0 * max(used - before[1], 0.0) / span
                self._cpu[pid] = (now, used)
            if count:
                out[unit.label] = UnitSample(rss, round(cpu, 1), threads, files, count)
        # forget processes that are gone, so memory stays flat over restarts
        for pid in [p for p in self._procs if p not in seen]:
            del self._procs[pid]
            self._cpu.pop(pid, None)
        return out


def _descendants(root: int, children: Mapping[int, list[int]]) -> Iterator[int]:
    stack = [root]
    seen: set[int] = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        yield pid
        stack.extend(children.get(pid, ()))


def supervisor_rss() -> int:
    """prodserver's own resident memory in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


# -- exposition --------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a scrape sees: the status rows of the last sample, and prodserver's own RSS."""

    rows: tuple[Mapping[str, Any], ...] = ()
    supervisor_rss: int = 0
    taken: float = 0.0

    def as_json(self) -> str:
        return json.dumps(
            {"taken": self.taken, "supervisor_rss": self.supervisor_rss, "processes": self.rows}
        )


_STATE_NAMES = (
    "waiting",
    "running",
    "stopping",
    "backoff",
    "completed",
    "exited",
    "gave-up",
    "stopped",
    "skipped",
)


#: per-instance gauges read from a status row: (metric, help, row field)
_ROW_GAUGES = (
    ("prodserver_process_uptime_seconds", "seconds since the instance started", "uptime"),
    ("prodserver_process_ready_seconds", "seconds from spawn to ready", "ready_after"),
    ("prodserver_process_cpu_percent", "CPU % of the whole process tree", "cpu_percent"),
    ("prodserver_process_resident_memory_bytes", "RSS of the whole process tree", "rss"),
    ("prodserver_process_threads", "threads in the whole process tree", "threads"),
    ("prodserver_process_open_fds", "open file descriptors of the process tree", "open_files"),
    ("prodserver_process_last_exit_code", "exit code of the previous run", "last_exit"),
)
# ``replica``, not ``instance``: Prometheus gives every scraped series an ``instance`` label
# of its own (the target), which ours would collide with
_LABELS = ["process", "replica"]


def metric_families(snapshot: Snapshot) -> Iterable[Any]:
    """Prometheus metric families for ``snapshot`` (built with prometheus-client)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    labels = _LABELS
    up = GaugeMetricFamily(
        "prodserver_process_up",
        "1 while the main process runs, or once a oneshot completed (0 means an outage)",
        labels=labels,
    )
    ready = GaugeMetricFamily(
        "prodserver_process_ready", "1 when the instance is ready (healthy)", labels=labels
    )
    state = GaugeMetricFamily(
        "prodserver_process_state", "1 for the instance's current state", labels=[*labels, "state"]
    )
    restarts = CounterMetricFamily(
        "prodserver_process_restarts", "restarts in this run of prodserver", labels=labels
    )
    gauges = [
        (GaugeMetricFamily(name, text, labels=labels), field) for name, text, field in _ROW_GAUGES
    ]
    for row in snapshot.rows:
        key = [str(row["process"]), str(row["instance"])]
        running = row["pid"] is not None
        up.add_metric(key, 1.0 if running or row["state"] == "completed" else 0.0)
        ready.add_metric(key, 1.0 if row["ready"] else 0.0)
        for name in _STATE_NAMES:
            state.add_metric([*key, name], 1.0 if row["state"] == name else 0.0)
        restarts.add_metric(key, float(row["restarts"]))
        for family, field in gauges:
            if row.get(field) is not None:
                family.add_metric(key, float(row[field]))
    own = GaugeMetricFamily(
        "prodserver_supervisor_resident_memory_bytes", "RSS of prodserver itself"
    )
    own.add_metric([], float(snapshot.supervisor_rss))
    return (up, ready, state, restarts, *(family for family, _field in gauges), own)


def parse_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:9191``, ``[::1]:9191`` or ``9191`` (loopback) for ``--metrics``."""
    try:
        return split_host_port(text, bare_port=True, allow_zero=True)
    except AddressError as exc:
        raise UsageError(f"--metrics {text!r}: {exc}") from None


class MetricsServer:
    """``/metrics`` (Prometheus text format) and ``/metrics.json`` over HTTP, in a thread."""

    def __init__(self, host: str, port: int) -> None:
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
            from prometheus_client.exposition import generate_latest
        except ImportError:
            raise BackendUnavailable(
                "--metrics needs the prometheus-client package",
                hint="pip install 'prodserver[metrics]'",
            ) from None
        import http.server
        import socket

        self.snapshot = Snapshot()
        server = self

        class Collector:
            def collect(self) -> Iterable[Any]:
                return metric_families(server.snapshot)

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Collector())

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
                elif path == "/metrics.json":
                    body, kind = server.snapshot.as_json().encode(), "application/json"
                else:
                    self.send_error(404, "try /metrics or /metrics.json")
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # scrapes every few seconds would drown the processes' output
                return

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        try:
            self._httpd = Server((host, port), Handler)
        except OSError as exc:
            raise UsageError(
                f"--metrics {host}:{port}: cannot listen: {exc.strerror or exc}",
                hint="choose another port, or stop what listens there",
            ) from None
        self.address = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="prodserver-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def publish(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make ``rows`` (``Supervisor.status()["processes"]``) what scrapes see."""
        self.snapshot = Snapshot(tuple(rows), supervisor_rss(), time.time())

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
