"""Runtime benchmark: the same workloads through prodserver, honcho and the shell, in one run.

Run from the repository root::

    .venv/bin/python bench/run.py            # full run (a few minutes, honcho dominates)
    .venv/bin/python bench/run.py --quick    # smaller workloads

Prints one table with ratios; ``--json PATH`` also writes the numbers. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
HONCHO = shutil.which("honcho", path=str(Path(PY).parent)) or "honcho"

WRITER = """\
import os, sys
n, count = int(sys.argv[1]), int(sys.argv[2])
pad = 'x' * 40
block = []
for i in range(count):
    block.append(f'w{n} {i:08d} {pad}\\n')
    if len(block) == 1000:
        os.write(1, ''.join(block).encode())
        block = []
if block:
    os.write(1, ''.join(block).encode())
if len(sys.argv) > 3:  # honcho stops everything when one process exits: stay around
    import time
    time.sleep(3600)
"""

SLEEPER = """\
import signal, sys, time
if len(sys.argv) > 1 and sys.argv[1] == 'stubborn':
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print('ready', flush=True)
while True:
    time.sleep(3600)
"""

BODY = re.compile(rb"(w\d) (\d{8}) x{40}$")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO)
    e["PYTHONUNBUFFERED"] = "1"
    for k in ("NO_COLOR", "FORCE_COLOR", "PORT"):
        e.pop(k, None)
    return e


class Workdir:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="prodserver-bench-"))
        (self.path / "writer.py").write_text(WRITER)
        (self.path / "sleeper.py").write_text(SLEEPER)

    def config(self, procs: dict[str, list[str]], oneshot: bool, stop_timeout: float = 10) -> Path:
        lines = ['[project]\nname = "bench"\n']
        for name, argv in procs.items():
            lines.append(f"[processes.{name}]\ncommand = {json.dumps(argv)}\n")
            lines.append(f'stop_timeout = "{stop_timeout}s"\n')
            if oneshot:
                lines.append("oneshot = true\n")
        path = self.path / "prodserver.toml"
        path.write_text("".join(lines))
        return path

    def procfile(self, procs: dict[str, list[str]]) -> Path:
        path = self.path / "Procfile"
        path.write_text("".join(f"{n}: {' '.join(argv)}\n" for n, argv in procs.items()))
        return path


def prodserver_cmd(config: Path, *extra: str) -> list[str]:
    return [PY, "-m", "prodserver", "up", "-f", str(config), "--no-timestamps", *extra]


def honcho_cmd(procfile: Path) -> list[str]:
    return [HONCHO, "start", "-f", str(procfile), "-d", str(procfile.parent), "--no-colour"]


# -- log throughput ----------------------------------------------------------------------


def check_output(path: Path, writers: int, lines: int) -> tuple[int, int]:
    """(lost, torn) for an output file: every writer line must arrive whole, once, in order."""
    seen: dict[str, list[int]] = {}
    torn = 0
    with path.open("rb") as fh:
        for raw in fh:
            label, sep, body = raw.rstrip(b"\n").partition(b" | ")
            if not sep:
                continue  # prodserver's own messages use " * "
            process = label.split()[-1].split(b".")[0].decode()
            if not body.startswith(b"w"):
                continue  # honcho's own messages ("system | ...")
            m = BODY.match(body)
            if not m or m.group(1).decode() != process:
                torn += 1
                continue
            seen.setdefault(process, []).append(int(m.group(2)))
    lost = 0
    for n in range(writers):
        got = seen.get(f"w{n}", [])
        if got != sorted(got):
            torn += 1
        lost += lines - len(set(got))
    return lost, torn


def throughput(wd: Workdir, tool: str, writers: int, lines: int) -> dict[str, float]:
    out = wd.path / f"out-{tool}-{writers}.log"
    procs = {f"w{n}": [PY, str(wd.path / "writer.py"), str(n), str(lines)] for n in range(writers)}
    start = time.perf_counter()
    with out.open("wb") as fh:
        if tool == "shell":
            script = " ".join(f"'{PY}' '{wd.path}/writer.py' {n} {lines} &" for n in range(writers))
            subprocess.run(["sh", "-c", script + " wait"], stdout=fh, env=env(), check=True)
        elif tool == "prodserver":
            config = wd.config(procs, oneshot=True)
            subprocess.run(prodserver_cmd(config), stdout=fh, env=env(), check=True)
        else:
            for argv in procs.values():
                argv.append("stay")
            proc = subprocess.Popen(
                honcho_cmd(wd.procfile(procs)), stdout=fh, env=env(), start_new_session=True
            )
            expected = writers * lines
            while True:
                time.sleep(0.2)
                with out.open("rb") as rf:
                    if rf.read().count(b"x" * 40 + b"\n") >= expected:
                        break
            elapsed = time.perf_counter() - start
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            start = time.perf_counter() - elapsed
    elapsed = time.perf_counter() - start
    lost, torn = check_output(out, writers, lines) if tool != "shell" else (0, 0)
    if tool == "shell":
        raw = out.read_bytes()
        lost = writers * lines - raw.count(b"\n")
    out.unlink()
    total = writers * lines
    return {"seconds": elapsed, "lines_per_s": total / elapsed, "lost": lost, "torn": torn}


# -- start, stop, idle, memory -----------------------------------------------------------


class Reader(threading.Thread):
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.ready = 0
        self.event = threading.Event()
        self.want = 0

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.rstrip().endswith(b"| ready"):
                self.ready += 1
                if self.ready >= self.want:
                    self.event.set()


def start_sleepers(
    wd: Workdir, tool: str, count: int, stubborn: bool = False, grace: float = 1.0
) -> tuple[subprocess.Popen[bytes], Reader, float]:
    arg = ["stubborn"] if stubborn else []
    procs = {f"s{n}": [PY, str(wd.path / "sleeper.py"), *arg] for n in range(count)}
    if tool == "prodserver":
        cmd = prodserver_cmd(wd.config(procs, oneshot=False, stop_timeout=grace))
    else:
        cmd = honcho_cmd(wd.procfile(procs))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env(), start_new_session=True)
    reader = Reader(proc)
    reader.want = count
    reader.start()
    if not reader.event.wait(60):
        raise RuntimeError(f"{tool}: only {reader.ready} of {count} ready")
    return proc, reader, time.perf_counter() - start


def supervisor_processes(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The supervisor and its own helper processes, not the workload children."""
    root = psutil.Process(proc.pid)
    out = [root]
    for p in root.children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "sleeper.py" not in cmd and "writer.py" not in cmd:
            out.append(p)
    # prodserver's guardian left the session but is still prodserver's child
    return out


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, limit: float = 15.0) -> float:
    """Seconds from ``sig`` to the supervisor's exit; ``inf`` if it had not exited by ``limit``."""
    tree = psutil.Process(proc.pid).children(recursive=True)
    # a blocking wait: Popen.wait(timeout) polls with sleeps of up to 50 ms
    timer = threading.Timer(limit, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    start = time.perf_counter()
    os.kill(proc.pid, sig)
    proc.wait()
    elapsed = time.perf_counter() - start
    if not timer.is_alive():
        elapsed = float("inf")
    timer.cancel()
    # whatever is left of the tree (a supervisor that gave up, survivors) goes now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for p in tree:  # survivors the supervisor left behind (honcho's stubborn child)
        with contextlib.suppress(psutil.Error):
            p.kill()
    assert proc.stdout is not None
    proc.stdout.close()
    return elapsed


def start_stop(wd: Workdir, tool: str, count: int) -> dict[str, float]:
    proc, _r, started = start_sleepers(wd, tool, count)
    return {"start_s": started, "stop_s": stop(proc)}


def stop_stubborn(wd: Workdir, tool: str) -> float:
    proc, _r, _ = start_sleepers(wd, tool, 1, stubborn=True, grace=1.0)
    return stop(proc)


def idle_and_memory(wd: Workdir, tool: str, seconds: float) -> dict[str, float]:
    proc, _r, _ = start_sleepers(wd, tool, 8)
    time.sleep(1.0)
    sups = supervisor_processes(proc)
    before = sum(sum(p.cpu_times()[:2]) for p in sups)
    time.sleep(seconds)
    after = sum(sum(p.cpu_times()[:2]) for p in sups)
    pss = 0
    for p in sups:
        try:
            pss += p.memory_full_info().pss
        except (psutil.Error, AttributeError):
            pss += p.memory_info().rss
    stop(proc)
    return {
        "idle_cpu_percent": 100 * (after - before) / seconds,
        "pss_mb": pss / 1e6,
        "processes": len(sups),
    }


# -- main --------------------------------------------------------------------------------


def note(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller workloads")
    ap.add_argument("--lines", type=int, default=200_000, help="lines per writer")
    ap.add_argument(
        "--honcho-lines",
        type=int,
        default=25_000,
        help="lines per writer for honcho (it is slow; rates are compared)",
    )
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.lines, args.honcho_lines, args.idle_seconds = 50_000, 5_000, 3.0

    wd = Workdir()
    results: dict[str, object] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        }
    }
    rows: list[tuple[str, str, str, str]] = []
    try:
        for writers in (1, 8):
            note(f"throughput with {writers} writer(s)")
            shell = throughput(wd, "shell", writers, args.lines)
            ps = throughput(wd, "prodserver", writers, args.lines)
            ho = throughput(wd, "honcho", writers, args.honcho_lines)
            results[f"throughput_{writers}"] = {"shell": shell, "prodserver": ps, "honcho": ho}
            rows.append(
                (
                    f"log lines/s, {writers} writer(s)",
                    f"{ps['lines_per_s']:,.0f} (lost {ps['lost']}, torn {ps['torn']})",
                    f"{ho['lines_per_s']:,.0f} (lost {ho['lost']}, torn {ho['torn']})",
                    f"{ps['lines_per_s'] / shell['lines_per_s']:.2f} x shell "
                    f"({shell['lines_per_s']:,.0f}/s); "
                    f"{ps['lines_per_s'] / ho['lines_per_s']:.0f} x honcho",
                )
            )
        note("start/stop")
        s_ps = start_stop(wd, "prodserver", 32)
        s_ho = start_stop(wd, "honcho", 32)
        rows.append(
            (
                "start 32 processes (s)",
                f"{s_ps['start_s']:.3f}",
                f"{s_ho['start_s']:.3f}",
                f"{s_ps['start_s'] / s_ho['start_s']:.2f} x honcho",
            )
        )
        p8 = start_stop(wd, "prodserver", 8)
        h8 = start_stop(wd, "honcho", 8)
        rows.append(
            (
                "stop 8 prompt children (s)",
                f"{p8['stop_s']:.3f}",
                f"{h8['stop_s']:.3f}",
                "target <= 0.1",
            )
        )
        st_ps = stop_stubborn(wd, "prodserver")
        st_ho = stop_stubborn(wd, "honcho")
        rows.append(
            (
                "stop a stubborn child, 1 s grace (s)",
                f"{st_ps:.3f}",
                f"{st_ho:.3f}",
                "target <= 1.1 (honcho: fixed 5 s)",
            )
        )
        note("idle CPU and memory")
        i_ps = idle_and_memory(wd, "prodserver", args.idle_seconds)
        i_ho = idle_and_memory(wd, "honcho", args.idle_seconds)
        rows.append(
            (
                "idle CPU, 8 children (% of a core)",
                f"{i_ps['idle_cpu_percent']:.3f}",
                f"{i_ho['idle_cpu_percent']:.3f}",
                "target < 0.05",
            )
        )
        rows.append(
            (
                "supervisor PSS (MB), 8 children",
                f"{i_ps['pss_mb']:.1f} in {i_ps['processes']:.0f} processes",
                f"{i_ho['pss_mb']:.1f} in {i_ho['processes']:.0f} processes",
                "target < 25",
            )
        )
        results.update(
            start_32={"prodserver": s_ps, "honcho": s_ho},
            stop_8={"prodserver": p8, "honcho": h8},
            stop_stubborn={"prodserver": st_ps, "honcho": st_ho},
            idle={"prodserver": i_ps, "honcho": i_ho},
        )
    finally:
        shutil.rmtree(wd.path, ignore_errors=True)

    widths = [
        max(len(r[i]) for r in [*rows, ("workload", "prodserver", "honcho", "ratio")])
        for i in range(4)
    ]
    header = ("workload", "prodserver", "honcho", "ratio / target")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"\nmachine: {results['machine']}; lines per writer: prodserver/shell {args.lines}, "
        f"honcho {args.honcho_lines}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
