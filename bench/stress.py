"""Soak test of the supervisor: crash-looping processes next to chatty ones, for minutes.

Run from the repository root::

    .venv/bin/python bench/stress.py                 # 3 minutes
    .venv/bin/python bench/stress.py --minutes 10 --json stress.json

``prodserver up`` runs 8 processes that crash as soon as they start (``restart = "always"``,
no give-up, a 50 ms backoff capped at 200 ms: a restart storm) and 8 processes that each print
``--rate`` numbered, time-stamped lines a second. The benchmark reads prodserver's output the
whole time and samples the supervisor process itself (not its children) every few seconds.

What it checks, and prints per minute:

- supervisor CPU (user + system of the prodserver process alone, % of one core);
- supervisor memory (RSS) stays flat: the last minute's median within ``--rss-slack`` of the
  first full minute's;
- healthy output keeps flowing: no chatty process loses, repeats or reorders a line, and the
  delay from a line's ``write`` to the benchmark reading it stays small (p50, p99, max);
- the crash loop really loops (restarts counted from prodserver's own messages);
- a stop (SIGTERM) completes within the grace (``stop_timeout``), with exit code 0.

Exits 1 when a check fails. The numbers are recorded in docs/security.md (Robustness).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
GRACE = 5.0

CHATTY = """\
import os, sys, time
n, rate = sys.argv[1], float(sys.argv[2])
period = 1.0 / rate
seq = 0
next_at = time.monotonic()
while True:
    # the stamp is taken right before the write: the delay measured is prodserver's
    os.write(1, f"chat {n} {seq} {time.monotonic_ns()}\\n".encode())
    seq += 1
    next_at += period
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


def config(crashers: int, chatty: int, rate: float) -> str:
    lines = ['[project]\nname = "stress"\n']
    for i in range(crashers):
        lines.append(
            f"[processes.crash{i}]\n"
            'command = ["sh", "-c", "echo crashing; exit 3"]\n'
            'restart = { policy = "always", max_restarts = 0, backoff = "50ms",'
            ' backoff_max = "200ms" }\n'
        )
    for i in range(chatty):
        lines.append(
            f"[processes.chat{i}]\n"
            f'command = [{json.dumps(PY)}, "-c", {json.dumps(CHATTY)}, "{i}", "{rate}"]\n'
            f'stop_timeout = "{GRACE}s"\n'
        )
    return "\n".join(lines)


@dataclass
class Reader:
    """Reads prodserver's output on a thread, checking the chatty streams as they arrive."""

    chatty: int
    next_seq: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: (read time, delay in seconds) for every chatty line
    delays: list[tuple[float, float]] = field(default_factory=list)
    lines: int = 0
    restarts: int = 0
    crash_lines: int = 0
    other: list[str] = field(default_factory=list)

    def run(self, stream: Any) -> None:
        for raw in stream:
            now_ns = time.monotonic_ns()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines += 1
            _label, bar, text = line.partition(" | ")
            if not bar:
                # prodserver's own message: "crash0.1 * exited with code 3; restarting in ..."
                if "restart" in line:
                    self.restarts += 1
                elif not line.startswith(("crash", "chat")) or "exited" not in line:
                    self.other.append(line)
                continue
            if text == "crashing":
                self.crash_lines += 1
                continue
            parts = text.split()
            if len(parts) != 4 or parts[0] != "chat":
                self.problems.append(f"unexpected line: {line[:120]!r}")
                continue
            name, seq, stamp = parts[1], int(parts[2]), int(parts[3])
            expected = self.next_seq.get(name, 0)
            if seq != expected:
                self.problems.append(f"chat{name}: line {seq} after {expected - 1}")
            self.next_seq[name] = seq + 1
            self.delays.append((now_ns / 1e9, (now_ns - stamp) / 1e9))


def sample(proc: psutil.Process) -> tuple[float, float, int]:
    cpu = proc.cpu_times()
    return time.monotonic(), cpu.user + cpu.system, proc.memory_info().rss


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--crashers", type=int, default=8)
    parser.add_argument("--chatty", type=int, default=8)
    parser.add_argument("--rate", type=float, default=200.0, help="lines/s per chatty process")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--max-cpu", type=float, default=25.0, help="% of one core, per minute")
    parser.add_argument("--rss-slack", type=float, default=0.10, help="allowed RSS growth")
    parser.add_argument("--json", type=Path, default=None)
    opts = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="prodserver-stress-"))
    toml = workdir / "prodserver.toml"
    toml.write_text(config(opts.crashers, opts.chatty, opts.rate))
    env = {
        "PATH": f"{Path(PY).parent}:/usr/bin:/bin",
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [PY, "-m", "prodserver", "up", "-f", str(toml), "--no-color"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=workdir
    )
    supervisor = psutil.Process(proc.pid)
    reader = Reader(opts.chatty)
    thread = threading.Thread(target=reader.run, args=(proc.stdout,), daemon=True)
    thread.start()

    duration = opts.minutes * 60
    start = time.monotonic()
    samples = [sample(supervisor)]
    while time.monotonic() - start < duration:
        time.sleep(min(opts.interval, max(0.0, duration - (time.monotonic() - start))))
        if proc.poll() is not None:
            print(f"prodserver exited early with {proc.returncode}", file=sys.stderr)
            print("\n".join(reader.other[-20:]), file=sys.stderr)
            return 1
        samples.append(sample(supervisor))

    lines_before_stop = reader.lines
    stop_sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=GRACE + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    stop_seconds = time.monotonic() - stop_sent
    thread.join(timeout=5)

    # per-minute table
    rows = []
    minute = 60.0
    t0, c0, _ = samples[0]
    bounds = [t0 + minute * k for k in range(int(duration // minute) + 2)]
    for k in range(len(bounds) - 1):
        window = [s for s in samples if bounds[k] <= s[0] <= bounds[k + 1]]
        if len(window) < 2:
            continue
        (ta, ca, _), (tb, cb, _) = window[0], window[-1]
        delays = [d for (t, d) in reader.delays if bounds[k] <= t < bounds[k + 1]]
        rows.append(
            {
                "minute": k + 1,
                "cpu_percent": 100.0 * (cb - ca) / (tb - ta),
                "rss_mib": statistics.median(s[2] for s in window) / 2**20,
                "lines": len(delays),
                "delay_p50_ms": 1000 * percentile(delays, 0.50),
                "delay_p99_ms": 1000 * percentile(delays, 0.99),
                "delay_max_ms": 1000 * max(delays, default=float("nan")),
            }
        )
    total_cpu = samples[-1][1] - c0
    result = {
        "minutes": opts.minutes,
        "crashers": opts.crashers,
        "chatty": opts.chatty,
        "rate_per_chatty": opts.rate,
        "rows": rows,
        "supervisor_cpu_percent_overall": 100.0 * total_cpu / (samples[-1][0] - t0),
        "rss_first_mib": samples[0][2] / 2**20,
        "rss_last_mib": samples[-1][2] / 2**20,
        "restarts_seen": reader.restarts,
        "crash_lines_seen": reader.crash_lines,
        "chatty_lines": len(reader.delays),
        "lines_before_stop": lines_before_stop,
        "order_problems": reader.problems[:20],
        "stop_seconds": stop_seconds,
        "exit_code": code,
        "grace": GRACE,
    }

    print(
        f"stress: {opts.crashers} crash-looping + {opts.chatty} chatty "
        f"({opts.rate:g} lines/s each) for {opts.minutes:g} min"
    )
    header = ("minute", "cpu %", "rss MiB", "lines", "p50 ms", "p99 ms", "max ms")
    print(f"{header[0]:>6} " + " ".join(f"{h:>7}" for h in header[1:]))
    for r in rows:
        print(
            f"{r['minute']:>6} {r['cpu_percent']:>7.1f} {r['rss_mib']:>8.1f} {r['lines']:>7} "
            f"{r['delay_p50_ms']:>7.2f} {r['delay_p99_ms']:>7.2f} {r['delay_max_ms']:>7.1f}"
        )
    print(f"supervisor CPU overall: {result['supervisor_cpu_percent_overall']:.1f}% of one core")
    print(f"restarts seen: {reader.restarts} ({reader.restarts / (opts.minutes * 60):.1f}/s)")
    print(f"chatty lines checked: {len(reader.delays)}, order problems: {len(reader.problems)}")
    print(f"stop: {stop_seconds:.2f}s (grace {GRACE:g}s), exit code {code}")

    failures = []
    full = [r for r in rows if r["lines"] > 0]
    if any(r["cpu_percent"] > opts.max_cpu for r in full):
        failures.append(f"supervisor CPU above {opts.max_cpu}% in some minute")
    if len(full) >= 2:
        first, last = full[0]["rss_mib"], full[-1]["rss_mib"]
        if last > first * (1 + opts.rss_slack):
            failures.append(f"RSS grew from {first:.1f} to {last:.1f} MiB")
    if reader.problems:
        failures.append(f"{len(reader.problems)} chatty lines lost or out of order")
    expected = opts.chatty * opts.rate * duration * 0.9
    if len(reader.delays) < expected:
        failures.append(f"only {len(reader.delays)} chatty lines, expected about {expected:.0f}")
    if reader.restarts < opts.crashers * opts.minutes * 60:
        failures.append(f"only {reader.restarts} restarts: the crash loop stalled")
    if stop_seconds > GRACE:
        failures.append(f"stop took {stop_seconds:.2f}s, more than the grace of {GRACE:g}s")
    if code != 0:
        failures.append(f"exit code {code} after a graceful stop")
    result["failures"] = failures
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2))
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
