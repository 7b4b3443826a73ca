"""The supervisor's own CPU time for moving log lines, with its start-up subtracted.

Wall-clock throughput on a shared 2-core machine varies by a factor of two from run to run;
the CPU time prodserver itself spends (read from ``/proc/PID/schedstat`` when it exits) is
far steadier. This runs ``prodserver up`` on 8 writers x ``--lines`` lines and on a single
``true`` (start-up and exit only), alternating, and reports the difference: the CPU cost of
the hot path (reading pipes, framing, prefixing, writing). ``--baseline DIR`` runs an older
tree in the same repetitions for a before/after comparison::

    .venv/bin/python bench/hotpath.py [--runs 9] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # the benchmark harness next to this file


def supervisor_cpu(wd: run.Workdir, tool: str, config: Path, out: Path) -> float:
    os.sync()
    with out.open("wb") as fh:
        proc = subprocess.Popen(run.prodserver_cmd(config), stdout=fh, env=run.env(tool))
        cpu = run.own_cpu_at_exit(proc)
        if proc.wait():
            raise RuntimeError(f"{tool}: prodserver exited with {proc.returncode}")
    for stamp in wd.stamps.iterdir():
        stamp.unlink()
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--lines", type=int, default=200_000, help="lines per writer")
    ap.add_argument("--baseline", type=Path, default=None, metavar="DIR")
    args = ap.parse_args()
    if args.baseline is not None:
        run.TREES["baseline"] = args.baseline.resolve()
    run.compile_trees()
    wd = run.Workdir()
    writer = [run.PY, str(wd.path / "writer.py")]
    busy = wd.config(
        {f"w{n}": [*writer, str(n), str(args.lines), str(wd.stamps)] for n in range(args.writers)},
        oneshot=True,
        name="busy.toml",
    )
    idle = wd.config({"t": ["true"]}, oneshot=True, name="idle.toml")
    out = wd.path / "out.log"
    samples: dict[str, dict[str, list[float]]] = {t: {"busy": [], "idle": []} for t in run.TREES}
    for i in range(args.runs):
        for tool in run.rotated(list(run.TREES), i):
            samples[tool]["busy"].append(supervisor_cpu(wd, tool, busy, out))
            samples[tool]["idle"].append(supervisor_cpu(wd, tool, idle, out))
    lines = args.writers * args.lines
    print(f"{args.writers} writers x {args.lines:,} lines, {args.runs} runs; CPU seconds")
    print("tree        | up of the writers  | up of one `true`   | hot path (min)  | per M lines")
    for tool, got in samples.items():
        b, i = got["busy"], got["idle"]
        hot = min(b) - min(i)
        print(
            f"{tool:11} | {min(b):.3f} (med {statistics.median(b):.3f}) "
            f"| {min(i):.3f} (med {statistics.median(i):.3f}) "
            f"| {hot:.3f}           | {hot / lines * 1e6:.3f}"
        )
    print("(min of the runs: interference from other processes only ever adds CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
