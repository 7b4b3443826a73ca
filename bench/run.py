"""Runtime benchmark: the same workloads through prodserver, honcho and the shell, in one run.

Run from the repository root::

    .venv/bin/python bench/run.py            # full run (a few minutes, honcho dominates)
    .venv/bin/python bench/run.py --quick    # smaller workloads, fewer repetitions

Every workload is repeated ``--runs`` times, the tools taking turns inside each repetition so
that they share the machine's noise; cells show the median and, in brackets, the range.
Prints one table with ratios; ``--json PATH`` also writes every sample. See
docs/performance.md for what each number includes.

How the times are taken:

- *Throughput*: ``end-to-end`` is from launching the tool to its exit (prodserver's and
  honcho's own start-up included). ``streaming`` is from the moment the first writer starts
  writing (each writer records ``time.monotonic()``, a system-wide clock on Linux, in a stamp
  file before its first line) to the tool's exit: the rate at which lines are moved once they
  flow, for the shell exactly as for the supervisors.
- *Start*: from launching the tool until every child has printed ``ready`` through it. The
  shell starting the same children (``sh -c 'c & c & ... wait'``) is the floor: no supervisor
  can start the children faster than they start themselves.
- *Stop*: the children's and the supervisor's exits are watched with ``pidfd_open`` +
  ``poll`` (an event, no polling interval); times are from the signal to the last child's exit
  and to the supervisor's exit. The baseline is the same children signalled directly by the
  benchmark, which is their own exit time plus the benchmark's detection overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
HONCHO = shutil.which("honcho", path=str(Path(PY).parent)) or "honcho"
#: prodserver as a user starts it: the console script (as honcho is started by its own), which
#: imports the tree PYTHONPATH names (see env()); `python -m` would add runpy's imports (10 ms)
_SCRIPT = shutil.which("prodserver", path=str(Path(PY).parent))
PRODSERVER = [_SCRIPT] if _SCRIPT else [PY, "-m", "prodserver"]

WRITER = """\
import os, sys, time
n, count, stamps = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(os.path.join(stamps, f'start-{n}'), 'w') as fh:
    fh.write(repr(time.monotonic()))
pad = 'x' * 40
block = []
for i in range(count):
    block.append(f'w{n} {i:08d} {pad}\\n')
    if len(block) == 1000:
        os.write(1, ''.join(block).encode())
        block = []
if block:
    os.write(1, ''.join(block).encode())
if len(sys.argv) > 4:  # honcho stops everything when one process exits: stay around
    time.sleep(3600)
"""

# one write for the whole line: with the shell, 32 sleepers share one pipe
SLEEPER = """\
import os, signal, sys, time
if len(sys.argv) > 1 and sys.argv[1] == 'stubborn':
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.write(1, b'ready\\n')
while True:
    time.sleep(3600)
"""

#: a child that costs almost nothing to start: the start workloads time the supervisor, not 32
#: Python interpreters starting on two cores (which made the shell's floor 0.31 s before)
LIGHT = ["/bin/sh", "-c", "echo ready; exec sleep 3600"]

BODY = re.compile(rb"(w\d+) (\d{8}) x{40}$")


#: the source trees run as "prodserver" and, with --baseline, as "baseline" (before a change)
TREES: dict[str, Path] = {"prodserver": REPO}


def env(tool: str = "prodserver") -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TREES.get(tool, REPO))
    e["PYTHONUNBUFFERED"] = "1"
    # an installed prodserver (and honcho) runs from compiled bytecode; a benchmark that
    # recompiled every module at each start would measure the compiler (see compile_trees)
    for k in ("NO_COLOR", "FORCE_COLOR", "PORT", "PYTHONDONTWRITEBYTECODE", "PRODSERVER_NO_CACHE"):
        e.pop(k, None)
    # the configuration cache of this run only (each tree's entries are its own: the key holds
    # the size and time of every module of the package)
    e["XDG_CACHE_HOME"] = CACHE_HOME
    return e


#: set by main(): a directory inside the run's work directory
CACHE_HOME = tempfile.gettempdir()


def compile_trees() -> None:
    """Write the bytecode of every benchmarked tree, as ``pip install`` does."""
    for tree in TREES.values():
        subprocess.run(
            [PY, "-m", "compileall", "-q", str(tree / "prodserver")], check=True, env=env()
        )


class Workdir:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="prodserver-bench-"))
        (self.path / "writer.py").write_text(WRITER)
        (self.path / "sleeper.py").write_text(SLEEPER)
        self.stamps = self.path / "stamps"
        self.stamps.mkdir()

    def config(
        self, procs: dict[str, list[str]], oneshot: bool, stop_timeout: float = 10, name: str = ""
    ) -> Path:
        lines = ['[project]\nname = "bench"\n']
        for proc, argv in procs.items():
            lines.append(f"[processes.{proc}]\ncommand = {json.dumps(argv)}\n")
            lines.append(f'stop_timeout = "{stop_timeout}s"\n')
            if oneshot:
                lines.append("oneshot = true\n")
        path = self.path / (name or "prodserver.toml")
        path.write_text("".join(lines))
        return path

    def procfile(self, procs: dict[str, list[str]]) -> Path:
        path = self.path / "Procfile"
        path.write_text("".join(f"{n}: {shlex.join(argv)}\n" for n, argv in procs.items()))
        return path

    def first_start(self) -> float:
        """The earliest writer start stamp of the last run (and clear them)."""
        times = []
        for stamp in self.stamps.iterdir():
            times.append(float(stamp.read_text()))
            stamp.unlink()
        return min(times)


def prodserver_cmd(config: Path, *extra: str) -> list[str]:
    return [*PRODSERVER, "up", "-f", str(config), "--no-timestamps", *extra]


def honcho_cmd(procfile: Path) -> list[str]:
    return [HONCHO, "start", "-f", str(procfile), "-d", str(procfile.parent), "--no-colour"]


def rotated(tools: list[str], i: int) -> list[str]:
    """The tools in a different order in each repetition: none always runs right after
    another one's (the shell's 88 MB file, say), so order effects spread over all of them."""
    k = i % len(tools)
    return tools[k:] + tools[:k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def cell(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """``median [min-max]``; just the value when there is one sample."""
    finite = [v for v in values if v != float("inf")]
    if not finite:
        return "did not exit"
    if len(values) == 1:
        return fmt.format(values[0])
    spread = f"{fmt.format(min(values))}-{fmt.format(max(values))}"
    return f"{fmt.format(median(values))} [{spread}]"


def ratio_cell(num: Sequence[float], den: Sequence[float]) -> str:
    """Ratio of medians, with the range of the per-repetition ratios."""
    pairs = [a / b for a, b in zip(num, den, strict=True)]
    return f"{median(num) / median(den):.2f} [{min(pairs):.2f}-{max(pairs):.2f}]"


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
    writer = [PY, str(wd.path / "writer.py")]
    procs = {f"w{n}": [*writer, str(n), str(lines), str(wd.stamps)] for n in range(writers)}
    if tool in TREES:
        # written before the clock starts: the file is part of the input, like the shell script
        config = wd.config(procs, oneshot=True)
    # the previous run's output is on its way to the disk: let it land before timing this one
    os.sync()
    start = time.monotonic()
    with out.open("wb") as fh:
        if tool == "shell":
            script = " ".join(" ".join(f"'{a}'" for a in argv) + " &" for argv in procs.values())
            subprocess.run(["sh", "-c", script + " wait"], stdout=fh, env=env(), check=True)
        elif tool in TREES:
            proc = subprocess.Popen(prodserver_cmd(config), stdout=fh, env=env(tool))
            cpu = own_cpu_at_exit(proc)
            end = time.monotonic()
            if proc.wait():
                raise RuntimeError(f"prodserver exited with {proc.returncode}")
        else:
            for argv in procs.values():
                argv.append("stay")
            proc = subprocess.Popen(
                honcho_cmd(wd.procfile(procs)), stdout=fh, env=env(), start_new_session=True
            )
            expected = writers * lines
            marker = b"x" * 40 + b"\n"
            while True:
                # checking costs the benchmark some CPU; 50 ms granularity is < 1 % of a
                # honcho run of this size
                time.sleep(0.05)
                with out.open("rb") as rf:
                    if rf.read().count(marker) >= expected:
                        break
            end = time.monotonic()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
    if tool == "shell":
        end = time.monotonic()
    first = wd.first_start()
    if tool == "shell":
        raw = out.read_bytes()
        lost, torn = writers * lines - raw.count(b"\n"), 0
    else:
        lost, torn = check_output(out, writers, lines)
    out.unlink()
    total = writers * lines
    extra = {"supervisor_cpu_s": cpu} if tool in TREES else {}
    return {
        **extra,
        "wall_s": end - start,
        "stream_s": end - first,
        "lines_per_s": total / (end - start),
        "stream_lines_per_s": total / (end - first),
        "lost": lost,
        "torn": torn,
    }


def own_cpu_at_exit(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) ``proc`` used itself, not its children, once it exits.

    Waits without reaping (``WNOWAIT``) and reads the zombie's ``/proc/PID/schedstat``
    (nanoseconds on a CPU, the process alone), or ``/proc/PID/stat`` (clock ticks) without it.
    """
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{proc.pid}/schedstat").read_text().split()[0]) / 1e9
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- start and stop ----------------------------------------------------------------------


class Reader(threading.Thread):
    """Counts ``ready`` lines on a tool's output."""

    def __init__(self, proc: subprocess.Popen[bytes], want: int) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.ready = 0
        self.event = threading.Event()
        self.want = want

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.rstrip().endswith(b"ready"):
                self.ready += 1
                if self.ready >= self.want:
                    self.event.set()


def start_sleepers(
    wd: Workdir,
    tool: str,
    count: int,
    stubborn: bool = False,
    grace: float = 1.0,
    light: bool = False,
    extra: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], float]:
    arg = ["stubborn"] if stubborn else []
    procs = {f"s{n}": [PY, str(wd.path / "sleeper.py"), *arg] for n in range(count)}
    if light:
        procs = {name: list(LIGHT) for name in procs}
    if tool in TREES:
        cmd = prodserver_cmd(wd.config(procs, oneshot=False, stop_timeout=grace), *extra)
    elif tool == "honcho":
        cmd = honcho_cmd(wd.procfile(procs))
    else:
        script = " ".join(" ".join(f"'{a}'" for a in argv) + " &" for argv in procs.values())
        cmd = ["sh", "-c", script + " wait"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env(tool), start_new_session=True)
    reader = Reader(proc, count)
    reader.start()
    if not reader.event.wait(60):
        kill_group(proc)
        raise RuntimeError(f"{tool}: only {reader.ready} of {count} ready")
    return proc, time.monotonic() - start


def workload_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The sleeper children under a supervisor (not its helpers)."""
    found = []
    for p in psutil.Process(proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("sleeper.py" in part for part in p.cmdline()):
                found.append(p.pid)
    return found


def exit_times(pids: Sequence[int], limit: float) -> dict[int, float]:
    """Monotonic time at which each of ``pids`` exits (inf if it outlives ``limit`` s)."""
    fds: dict[int, int] = {}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            fds[os.pidfd_open(pid)] = pid
    times = {pid: time.monotonic() for pid in pids}  # already gone: now
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + limit
    waiting = set(fds)
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            for fd in waiting:
                times[fds[fd]] = float("inf")
            break
        for fd, _ in poller.poll(left * 1000):
            now = time.monotonic()
            if fd in waiting:
                times[fds[fd]] = now
                waiting.discard(fd)
                poller.unregister(fd)
    for fd in fds:
        os.close(fd)
    return times


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, limit: float = 15.0) -> dict:
    """Send ``sig`` to the tool; seconds until its last child and the tool itself exited."""
    children = workload_pids(proc)
    tree = psutil.Process(proc.pid).children(recursive=True)
    result: dict[str, float] = {}
    watcher = threading.Thread(
        target=lambda: result.update(
            {str(k): v for k, v in exit_times([*children, proc.pid], limit).items()}
        )
    )
    watcher.start()
    time.sleep(0.05)  # the watcher is in poll() (it opens its pidfds in well under 1 ms)
    start = time.monotonic()
    os.kill(proc.pid, sig)
    watcher.join()
    sup = result[str(proc.pid)] - start
    last = max((result[str(pid)] for pid in children), default=start) - start
    # whatever is left (a supervisor that gave up, survivors such as honcho's stubborn child)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.kill()
    assert proc.stdout is not None
    proc.stdout.close()
    return {"children_s": last, "supervisor_s": sup}


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a tool started in its own session and everything in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def direct_exit(wd: Workdir, count: int) -> float:
    """Baseline: seconds for ``count`` sleepers to exit when the benchmark sends SIGTERM."""
    procs = [
        subprocess.Popen(
            [PY, str(wd.path / "sleeper.py")], stdout=subprocess.PIPE, start_new_session=True
        )
        for _ in range(count)
    ]
    for p in procs:
        assert p.stdout is not None
        p.stdout.readline()
    result: dict[int, float] = {}
    pids = [p.pid for p in procs]
    watcher = threading.Thread(target=lambda: result.update(exit_times(pids, 10)))
    watcher.start()
    time.sleep(0.05)
    start = time.monotonic()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    watcher.join()
    for p in procs:
        p.wait()
        assert p.stdout is not None
        p.stdout.close()
    return max(result.values()) - start


def idle_and_memory(wd: Workdir, tool: str, seconds: float) -> dict[str, float]:
    proc, _ = start_sleepers(wd, tool, 8)
    time.sleep(1.0)
    root = psutil.Process(proc.pid)
    kids = set(workload_pids(proc))
    sups = [root, *(p for p in root.children(recursive=True) if p.pid not in kids)]
    before = sum(sum(p.cpu_times()[:2]) for p in sups)
    time.sleep(seconds)
    after = sum(sum(p.cpu_times()[:2]) for p in sups)
    pss = 0
    for p in sups:
        try:
            pss += p.memory_full_info().pss
        except (psutil.Error, AttributeError):
            pss += p.memory_info().rss
    main_pss = root.memory_full_info().pss
    stop(proc)
    return {
        "idle_cpu_percent": 100 * (after - before) / seconds,
        "pss_mb": pss / 1e6,
        "main_pss_mb": main_pss / 1e6,
        "processes": len(sups),
    }


# -- start-up phases -------------------------------------------------------------------


def wall(cmd: list[str], tool: str = "prodserver", **kw: Any) -> float:
    start = time.monotonic()
    subprocess.run(cmd, env=env(tool), check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - start


def startup_phases(
    wd: Workdir, config32: Path, tool: str = "prodserver"
) -> dict[str, Callable[[], float]]:
    """Commands whose wall time splits prodserver's start into its parts."""
    one = wd.config({"t": ["true"]}, oneshot=True, name="one.toml")
    resolve = (
        "import sys; from pathlib import Path; from prodserver.config.resolve import "
        "resolve_project; resolve_project(file=Path(sys.argv[1]))"
    )
    return {
        "python -c pass": lambda: wall([PY, "-c", "pass"]),
        "prodserver --help": lambda: wall([*PRODSERVER, "--help"], tool),
        "resolve the 32-process config": lambda: wall([PY, "-c", resolve, str(config32)], tool),
        "up of one `true`": lambda: wall(prodserver_cmd(one), tool),
        "honcho start (one `true`)": lambda: wall(
            [HONCHO, "start", "-f", str(wd.procfile({"t": ["true"]}))]
        ),
    }


# -- main --------------------------------------------------------------------------------


def note(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller workloads, 3 repetitions")
    ap.add_argument("--runs", type=int, default=5, help="repetitions of each workload")
    ap.add_argument("--lines", type=int, default=200_000, help="lines per writer")
    ap.add_argument(
        "--honcho-lines",
        type=int,
        default=25_000,
        help="lines per writer for honcho (it is slow; rates are compared)",
    )
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the prodserver package found in DIR (e.g. a `git worktree` of an "
        "older commit), in the same repetitions, as a 'before' column",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--only",
        default="start,overhead,check,throughput,stop,phases,idle",
        help="comma-separated parts to run (default: all): " + "start, overhead, check, "
        "throughput, stop, phases, idle",
    )
    ap.add_argument("--check-sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--check-runs", type=int, default=3, help="repetitions of each check size")
    ap.add_argument("--chart-check", type=Path, default=None, metavar="PNG")
    args = ap.parse_args()
    parts = set(args.only.split(","))

    def want(part: str) -> bool:
        return part in parts

    if args.quick:
        args.lines, args.honcho_lines, args.idle_seconds = 50_000, 5_000, 3.0
        args.runs = min(args.runs, 3)
        args.check_runs = 1
    runs = args.runs
    if args.baseline is not None:
        TREES["baseline"] = args.baseline.resolve()
    ours = list(TREES)  # "prodserver" and maybe "baseline"
    compile_trees()

    wd = Workdir()
    global CACHE_HOME  # noqa: PLW0603 - the run's own cache, for every tool it starts
    CACHE_HOME = str(wd.path / "xdg-cache")
    results: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "load_before": os.getloadavg(),
        },
        "runs": runs,
        "trees": {k: str(v) for k, v in TREES.items()},
    }
    rows: list[tuple[str, ...]] = []

    def row(what: str, values: dict[str, str], note: str = "") -> None:
        base = values.get("baseline", "") if "baseline" in TREES else None
        cells = [what, values.get("prodserver", "")]
        if base is not None:
            cells.append(base)
        rows.append((*cells, values.get("honcho", ""), note))

    try:
        if want("start"):
            note(f"start of 1 and 32 light children, {runs} runs (after one warm-up each)")
            # the configuration cache's entry is written by the first start: warm it, as the
            # second and later `up` of a project are
            for tool in ours:
                for count in (1, 32):
                    proc, _ = start_sleepers(wd, tool, count, light=True)
                    stop(proc)
            for count in (1, 32):
                tools = ["shell", *ours, "no-cache", "honcho"]
                took: dict[str, list[float]] = {t: [] for t in tools}
                for i in range(runs):
                    for tool in rotated(tools, i):
                        extra = ("--no-cache",) if tool == "no-cache" else ()
                        real = "prodserver" if tool == "no-cache" else tool
                        proc, seconds = start_sleepers(wd, real, count, light=True, extra=extra)
                        if tool == "shell":
                            kill_group(proc)
                        else:
                            stop(proc)
                        took[tool].append(seconds)
                results[f"start_{count}_light"] = took
                target = 1.0 if count == 1 else 0.5
                what = "first child running" if count == 1 else "all running"
                row(
                    f"start {count} light process(es), {what} (s)",
                    {t: cell(took[t]) for t in (*ours, "honcho")},
                    f"{ratio_cell(took['prodserver'], took['honcho'])} x honcho "
                    f"(target <= {target}); --no-cache {cell(took['no-cache'])}; "
                    f"shell {cell(took['shell'])}"
                    + (
                        f"; before: {ratio_cell(took['baseline'], took['honcho'])} x honcho"
                        if "baseline" in TREES
                        else ""
                    ),
                )

        if want("overhead"):
            note(f"run -- true and exec, {runs} runs")
            one = wd.config({"t": ["true"]}, oneshot=True, name="one.toml")
            for tool in ours:  # warm the cache
                wall([*PRODSERVER, "run", "-f", str(one), "--", "true"], tool)
                wall([*PRODSERVER, "exec", "-f", str(one), "t"], tool)
            commands: dict[str, tuple[str, list[str]]] = {
                "true": ("prodserver", ["true"]),
                "honcho run true": ("honcho", [HONCHO, "run", "true"]),
            }
            for tool in ours:
                prefix = PRODSERVER
                commands[f"{tool} run"] = (tool, [*prefix, "run", "-f", str(one), "--", "true"])
                commands[f"{tool} exec"] = (tool, [*prefix, "exec", "-f", str(one), "t"])
            prefix = [*PRODSERVER, "--no-cache"]
            commands["no-cache run"] = (
                "prodserver",
                [*prefix, "run", "-f", str(one), "--", "true"],
            )
            commands["no-cache exec"] = ("prodserver", [*prefix, "exec", "-f", str(one), "t"])
            times: dict[str, list[float]] = {k: [] for k in commands}
            for i in range(runs):
                for key in rotated(list(commands), i):
                    tool, argv = commands[key]
                    times[key].append(wall(argv, tool, cwd=wd.path))
            results["overhead"] = times
            base = times["true"]

            def added(key: str) -> str:
                extra = [(a - b) * 1000 for a, b in zip(times[key], base, strict=True)]
                return f"{median(times[key]) * 1000 - median(base) * 1000:.0f} ms [" + (
                    f"{min(extra):.0f}-{max(extra):.0f}]"
                )

            for verb in ("run", "exec"):
                row(
                    f"`{verb}` of `true`: time added to `true` itself",
                    {
                        **{t: added(f"{t} {verb}") for t in ours},
                        "honcho": added("honcho run true") if verb == "run" else "",
                    },
                    f"target <= 40 ms; --no-cache {added(f'no-cache {verb}')}; "
                    f"`true` alone {median(base) * 1000:.1f} ms",
                )

        if want("check"):
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import config_bench

            sizes = args.check_sizes
            note(f"check of {', '.join(map(str, sizes))} processes, {args.check_runs} runs")
            checks = config_bench.check_times(TREES, sizes, args.check_runs, wd.path)
            results["check"] = {t: {str(n): v for n, v in by.items()} for t, by in checks.items()}
            for n in sizes:
                mine = checks["prodserver"][n]
                note_text = f"x{median(mine) / median(checks['prodserver'][sizes[0]]):.1f} of "
                note_text += f"{sizes[0]} for x{n / sizes[0]:.0f} the processes"
                if n >= 10_000:
                    note_text += "; target < 5 s"
                row(
                    f"check of {n:,} processes (s)",
                    {t: cell(by[n], "{:.2f}") for t, by in checks.items()},
                    note_text,
                )
            if args.chart_check:
                config_bench.scale_chart(checks, args.chart_check)

        if want("throughput"):
            for writers in (1, 8):
                note(f"throughput with {writers} writer(s), {runs} runs")
                samples: dict[str, list[dict[str, float]]] = {
                    t: [] for t in ("shell", *ours, "honcho")
                }
                for i in range(runs):
                    for tool in rotated(list(samples), i):
                        n = args.honcho_lines if tool == "honcho" else args.lines
                        samples[tool].append(throughput(wd, tool, writers, n))
                results[f"throughput_{writers}"] = samples

                def col(
                    tool: str, key: str, s: dict[str, list[dict[str, float]]] = samples
                ) -> list:
                    return [r[key] for r in s[tool]]

                for key, what in (
                    ("lines_per_s", "end-to-end"),
                    ("stream_lines_per_s", "streaming"),
                ):
                    shell = col("shell", key)
                    row(
                        f"log lines/s, {writers} writer(s), {what}",
                        {t: cell(col(t, key), "{:,.0f}") for t in (*ours, "honcho")},
                        f"{ratio_cell(col('prodserver', key), shell)} x shell "
                        f"({median(shell):,.0f}/s); "
                        f"{median(col('prodserver', key)) / median(col('honcho', key)):.0f}"
                        " x honcho"
                        + (
                            f"; before: {ratio_cell(col('baseline', key), shell)} x shell"
                            if "baseline" in TREES
                            else ""
                        ),
                    )
                row(
                    f"supervisor CPU, {writers} writer(s) (s)",
                    {t: cell(col(t, "supervisor_cpu_s")) for t in ours},
                    "prodserver's own user + system time, start-up included",
                )
                row(
                    f"lost / torn lines, {writers} writer(s), all runs",
                    {
                        t: f"{sum(col(t, 'lost')):.0f} / {sum(col(t, 'torn')):.0f}"
                        for t in (*ours, "honcho")
                    },
                    "target 0 / 0",
                )

        if want("stop"):
            note(f"start of 32, {runs} runs")
            starts: dict[str, list[float]] = {t: [] for t in ("shell", *ours, "honcho")}
            for i in range(runs):
                for tool in rotated(list(starts), i):
                    proc, took = start_sleepers(wd, tool, 32)
                    if tool == "shell":
                        kill_group(proc)
                    else:
                        stop(proc)
                    starts[tool].append(took)
            results["start_32"] = starts
            row(
                "start 32 processes (s)",
                {t: cell(starts[t]) for t in (*ours, "honcho")},
                f"{ratio_cell(starts['prodserver'], starts['honcho'])} x honcho (target <= 0.5); "
                f"shell floor {cell(starts['shell'])}",
            )
            floor = median(starts["shell"])
            row(
                "start 32, above the shell floor (s)",
                {t: f"{median(starts[t]) - floor:.3f}" for t in (*ours, "honcho")},
                "medians minus the shell's median",
            )

        if want("stop"):
            note(f"stop of 8 prompt children, {runs} runs")
            stops: dict[str, list[dict[str, float]]] = {t: [] for t in (*ours, "honcho")}
            direct: list[float] = []
            for i in range(runs):
                direct.append(direct_exit(wd, 8))
                for tool in rotated(list(stops), i):
                    proc, _ = start_sleepers(wd, tool, 8)
                    stops[tool].append(stop(proc))
            results["stop_8"] = {**stops, "direct_sigterm": direct}
            for key, what in (
                ("children_s", "last child gone"),
                ("supervisor_s", "supervisor exit"),
            ):
                row(
                    f"stop 8 prompt children, {what} (s)",
                    {t: cell([r[key] for r in got]) for t, got in stops.items()},
                    "target <= 0.1"
                    + (f"; direct SIGTERM {cell(direct)}" if key == "children_s" else ""),
                )

        if want("stop"):
            note(f"stop of a stubborn child, {runs} runs (honcho once: it does not stop it)")
            stubborn: dict[str, list[dict[str, float]]] = {t: [] for t in (*ours, "honcho")}
            for i in range(runs):
                for tool, got in stubborn.items():
                    if tool == "honcho" and i:
                        continue
                    proc, _ = start_sleepers(wd, tool, 1, stubborn=True, grace=1.0)
                    got.append(stop(proc))
            results["stop_stubborn"] = stubborn
            for key, what in (("children_s", "child gone"), ("supervisor_s", "supervisor exit")):
                row(
                    f"stop a stubborn child, 1 s grace, {what} (s)",
                    {t: cell([r[key] for r in got]) for t, got in stubborn.items()},
                    "target <= 1.1",
                )

        if want("phases"):
            note("start-up phases")
            config32 = wd.config(
                {f"s{n}": [PY, str(wd.path / "sleeper.py")] for n in range(32)},
                oneshot=False,
                name="c32.toml",
            )
            phases: dict[str, dict[str, list[float]]] = {}
            for _ in range(runs):
                for tool in ours:
                    for name, fn in startup_phases(wd, config32, tool).items():
                        if tool != "prodserver" and name.startswith(("python", "honcho")):
                            continue  # not prodserver code: measured once
                        who = "honcho" if name.startswith("honcho") else tool
                        label = "up of one `true`" if who == "honcho" else name
                        phases.setdefault(label, {}).setdefault(who, []).append(fn())
            results["startup"] = phases
            for name, values in phases.items():
                row(f"start-up: {name} (s)", {t: cell(v) for t, v in values.items()})

        if want("idle"):
            note("idle CPU and memory")
            idle = {t: idle_and_memory(wd, t, args.idle_seconds) for t in (*ours, "honcho")}
            row(
                "idle CPU, 8 children (% of a core)",
                {t: f"{v['idle_cpu_percent']:.3f}" for t, v in idle.items()},
                "target < 0.05",
            )
            row(
                "supervisor PSS (MB), 8 children",
                {
                    t: f"{v['main_pss_mb']:.1f} main; {v['pss_mb']:.1f} in "
                    f"{v['processes']:.0f} processes"
                    for t, v in idle.items()
                },
                "target < 25 (one process)",
            )
            results["idle"] = idle
    finally:
        shutil.rmtree(wd.path, ignore_errors=True)

    header: tuple[str, ...] = ("workload", "prodserver")
    if "baseline" in TREES:
        header += ("before (--baseline)",)
    header += ("honcho", "ratio / target")
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    results["machine"]["load_after"] = os.getloadavg()
    print(
        f"\nmachine: {results['machine']}; {runs} runs, median [min-max]; lines per writer: "
        f"prodserver/shell {args.lines}, honcho {args.honcho_lines}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
