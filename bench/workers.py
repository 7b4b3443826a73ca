"""Task queues behind prodserver: jobs/s and enqueue-to-done latency of each worker family.

Run from the repository root (needs the ``all`` and ``bench`` extras and a ``redis-server`` on
the PATH; the benchmark starts its own on a free loopback port and stops it)::

    .venv/bin/python bench/workers.py                   # every family, 3 runs
    .venv/bin/python bench/workers.py --quick           # 1 run, smaller batches
    .venv/bin/python bench/workers.py celery rq --chart docs/img/workers.png

Each worker is started by ``prodserver up worker --profile P`` on the demo project
(examples/demo) with the demo's own settings for that profile, and runs the demo's task
(``record_visit``: one INSERT into SQLite), in two weights:

- *trivial*: the task as it is;
- *heavier*: ``--work`` rounds of SHA-256 over 64 KiB first (``--work 100`` is about 10 ms of
  CPU here).

Two measurements per weight, both read back from the rows the worker wrote (each row's source
carries the wall-clock time of its enqueue; its ``created`` column is the time it ran):

- *throughput*: a burst of ``--burst`` tasks enqueued at once from one process; jobs/s is the
  number of jobs over the time between the first and the last completion, so it measures the
  worker draining a queue, not the enqueuing client;
- *latency*: ``--probes`` tasks enqueued one by one, each once the previous one has run, so
  that each finds an idle worker: the time from enqueue to the row's commit, p50 and p99.

Celery, RQ and Dramatiq use the Redis broker; django-tasks (``db_worker``) and Django Q2 (ORM
broker) use the database itself, as the demo configures them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _shared import Panel, free_port, grouped_bars

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
CONFIG = REPO / "prodserver.toml"
PY = sys.executable


@dataclass(frozen=True)
class Family:
    """A worker family: its profile in the demo's prodserver.toml, and its enqueue name."""

    name: str
    profile: str
    via: str
    concurrency: str
    redis: bool = True


FAMILIES = [
    Family("celery", "prod", "celery", "prefork, 2 processes"),
    Family("rq", "rq", "rq", "1 work horse at a time"),
    Family("dramatiq", "dramatiq", "dramatiq", "1 process, 2 threads"),
    Family("django-tasks", "dev", "django-tasks", "1 thread", redis=False),
    Family("django-q2", "q2", "django-q2", "Q2's default cluster", redis=False),
]
WEIGHTS = ("trivial", "heavier")


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not answer PING within 20 s")
            time.sleep(0.05)  # another process's socket: nothing to wait on
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Bench:
    """One family's worker under prodserver, on its own database file."""

    def __init__(self, family: Family, tmp: Path, redis_url: str) -> None:
        self.family = family
        self.db = tmp / f"{family.name}.sqlite3"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PRODSERVER_")}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.env |= {
            "PATH": os.pathsep.join([str(Path(PY).parent), self.env.get("PATH", "")]),
            "DEMO_DB_PATH": str(self.db),
            "REDIS_URL": redis_url,
            "PRODSERVER_ALLOW_ROOT": "1",  # benchmarks run as root on CI-like machines
            "PYTHONUNBUFFERED": "1",
        }
        self.log = tmp / f"{family.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> None:
        env = self.env | {"DJANGO_SETTINGS_MODULE": "demo.settings"}
        subprocess.run(
            [PY, "manage.py", *args], cwd=DEMO, env=env, check=True, capture_output=True,
            timeout=600,
        )  # fmt: skip

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [PY, "-m", "prodserver", "up", "worker", "--profile", self.family.profile,
                 "-f", str(CONFIG), "--no-color"],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        # ready when a first task has run: the worker is connected and its code imported
        self.run_batch("warmup", 1, work=0, one_by_one=False, timeout=120)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            self.proc.wait()

    def rows(self, prefix: str) -> list[tuple[str, str]]:
        try:
            with sqlite3.connect(self.db, timeout=5) as conn:
                return conn.execute(
                    "SELECT source, created FROM visits_visit WHERE source LIKE ?",
                    (prefix + "-%",),
                ).fetchall()
        except sqlite3.OperationalError:  # locked by a writer for a moment
            return []

    def run_batch(
        self, prefix: str, count: int, *, work: int, one_by_one: bool, timeout: float = 600
    ) -> list[tuple[float, float]]:
        """Enqueue ``count`` tasks; return (enqueued, done) wall-clock times of each."""
        self.manage("enqueue_visit", "--via", self.family.via, "--source", prefix,
                    "--count", str(count), "--work", str(work),
                    *(["--wait"] if one_by_one else []))  # fmt: skip
        deadline = time.monotonic() + timeout
        while len(rows := self.rows(prefix)) < count:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"prodserver exited:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(rows)}/{count} {prefix} tasks done after {timeout} s")
            time.sleep(0.1)  # rows written by another process: nothing to wait on
        times = []
        for source, created in rows:
            enqueued = float(source.rsplit("-", 1)[1])
            done = datetime.fromisoformat(created).replace(tzinfo=UTC).timestamp()
            times.append((enqueued, done))
        return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    families: list[Family], runs: int, burst: int, probes: int, work: int
) -> dict[str, Any]:
    samples: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="prodserver-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with redis_server(tmp) as redis_url:
            for family in families:
                bench = Bench(family, tmp, redis_url)
                bench.start()
                try:
                    for run in range(runs):
                        for weight in WEIGHTS:
                            cell = one_cell(bench, weight, run, burst, probes, work)
                            samples.setdefault(family.name, {}).setdefault(weight, []).append(cell)
                finally:
                    bench.stop()
    return samples


def one_cell(
    bench: Bench, weight: str, run: int, burst: int, probes: int, work: int
) -> dict[str, float]:
    """One burst (throughput) and one spaced series (latency) of one task weight."""
    rounds = work if weight == "heavier" else 0
    count = burst if weight == "trivial" else max(10, burst // 5)
    burst_times = bench.run_batch(f"burst-{weight}-{run}", count, work=rounds, one_by_one=False)
    done = sorted(t for _, t in burst_times)
    jobs_per_s = (len(done) - 1) / max(done[-1] - done[0], 1e-6)
    probe_times = bench.run_batch(f"probe-{weight}-{run}", probes, work=rounds, one_by_one=True)
    latencies = [1000 * (finished - enqueued) for enqueued, finished in probe_times]
    cell = {
        "jobs_per_s": jobs_per_s,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }
    print(f"  {bench.family.name:13} {weight:8} run {run + 1}: {jobs_per_s:8.1f} jobs/s  "
          f"p50 {cell['p50_ms']:.1f} ms  p99 {cell['p99_ms']:.1f} ms", file=sys.stderr)  # fmt: skip
    return cell


def table(samples: dict[str, Any], families: list[Family]) -> str:
    rows = [
        "| worker | concurrency | task | jobs/s (median, range) | latency p50 (ms) | "
        "latency p99 (ms) |",
        "|---|---|---|---:|---:|---:|",
    ]
    by_name = {f.name: f for f in families}
    for name, weights in samples.items():
        for weight, cells in weights.items():
            rates = [c["jobs_per_s"] for c in cells]
            rows.append(
                f"| {name} | {by_name[name].concurrency} | {weight} | "
                f"{statistics.median(rates):,.1f} ({min(rates):,.1f}-{max(rates):,.1f}) | "
                f"{statistics.median(c['p50_ms'] for c in cells):.1f} | "
                f"{statistics.median(c['p99_ms'] for c in cells):.1f} |"
            )
    return "\n".join(rows)


def chart(samples: dict[str, Any], path: Path) -> None:
    """Jobs/s and p50 latency per family, trivial beside heavier."""
    names = list(samples)

    def series(key: str) -> list[tuple[str, list[float]]]:
        return [(weight, [statistics.median(c[key] for c in samples[n][weight]) for n in names])
                for weight in WEIGHTS]  # fmt: skip

    panels = [
        Panel("", "jobs/s (median)", series("jobs_per_s")),
        Panel("", "enqueue-to-done p50 (ms)", series("p50_ms")),
    ]
    grouped_bars(names, panels, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", help="names to run (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=200, help="tasks per throughput burst")
    parser.add_argument("--probes", type=int, default=20, help="tasks per latency run")
    parser.add_argument("--work", type=int, default=100, help="hashing rounds of a heavier task")
    parser.add_argument("--quick", action="store_true", help="1 run, burst 50, 10 probes")
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--chart", type=Path, help="write a PNG chart here")
    args = parser.parse_args(argv)
    known = {f.name: f for f in FAMILIES}
    unknown = [n for n in args.families if n not in known]
    if unknown:
        parser.error(f"unknown family {', '.join(unknown)}; known: {', '.join(known)}")
    families = [known[n] for n in args.families] or FAMILIES
    if args.quick:
        args.runs, args.burst, args.probes = 1, 50, 10
    samples = measure(families, args.runs, args.burst, args.probes, args.work)
    print(f"# {len(families)} worker families, {args.runs} run(s), burst {args.burst}, "
          f"{args.probes} probes one by one, heavier = {args.work} rounds, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
    print(table(samples, families))
    if args.json:
        args.json.write_text(json.dumps(samples, indent=1))
    if args.chart:
        chart(samples, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
