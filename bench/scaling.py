"""Start time against process count and log throughput against writers, with charts (issue 17).

``bench/run.py`` measures the targets at two points (1 and 32 processes; 1 and 8 writers).
This script sweeps each axis, same workloads, same tools side by side in one run, and draws the
two pictures ``docs/performance.md`` shows:

- start: ``up`` (cached configuration) of N light children (``/bin/sh -c 'echo ready; exec
  sleep 3600'``) until every child's ``ready`` line is out, against honcho and the shell;
- throughput: N writers of fixed-size lines, lines per second while streaming (from the first
  line written to the last one out), against the shell (the ceiling) and honcho (fewer lines:
  it moves ~1 % of the shell's rate, a full-size run would take minutes).

Usage::

    .venv/bin/python bench/scaling.py --runs 5 \\
        --chart-start docs/img/bench-start-scale.png \\
        --chart-throughput docs/img/bench-throughput-scale.png

``--baseline DIR`` adds a tree before a change (as in ``bench/run.py``); ``--only start`` or
``--only throughput`` runs one sweep; ``--json FILE`` keeps every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, this directory's


def start_sweep(
    wd: run.Workdir, counts: list[int], runs: int, tools: list[str]
) -> dict[str, dict[int, list[float]]]:
    took: dict[str, dict[int, list[float]]] = {t: {n: [] for n in counts} for t in tools}
    for tool in tools:  # each tool's configuration cache is warm, as at a second `up`
        if tool in run.TREES:
            for n in counts:
                proc, _ = run.start_sleepers(wd, tool, n, light=True)
                run.stop(proc)
    for n in counts:
        run.note(f"start of {n}, {runs} runs")
        for i in range(runs):
            for tool in run.rotated(tools, i):
                proc, seconds = run.start_sleepers(wd, tool, n, light=True)
                if tool == "shell":
                    run.kill_group(proc)
                else:
                    run.stop(proc)
                took[tool][n].append(seconds)
    return took


def throughput_sweep(
    wd: run.Workdir,
    writers: list[int],
    runs: int,
    tools: list[str],
    lines: int,
    honcho_lines: int,
) -> dict[str, dict[int, list[float]]]:
    rates: dict[str, dict[int, list[float]]] = {t: {n: [] for n in writers} for t in tools}
    for n in writers:
        run.note(f"throughput with {n} writer(s), {runs} runs")
        for i in range(runs):
            for tool in run.rotated(tools, i):
                count = honcho_lines if tool == "honcho" else max(lines // n, 1000)
                result = run.throughput(wd, tool, n, count)
                if result["lost"] or result["torn"]:
                    run.note(f"{tool}, {n} writers: {result['lost']} lost, {result['torn']} torn")
                rates[tool][n].append(result["stream_lines_per_s"])
    return rates


LABELS = {
    "prodserver": "prodserver",
    "baseline": "prodserver before (--baseline)",
    "honcho": "honcho",
    "shell": "the shell (sh &, wait)",
}


def chart(
    data: dict[str, dict[int, list[float]]],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    scale: float = 1.0,
    log_y: bool = False,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    for tool, by_n in data.items():
        xs = sorted(by_n)
        med = [statistics.median(by_n[x]) * scale for x in xs]
        low = [min(by_n[x]) * scale for x in xs]
        high = [max(by_n[x]) * scale for x in xs]
        (line,) = ax.plot(xs, med, marker="o", label=LABELS.get(tool, tool))
        ax.fill_between(xs, low, high, alpha=0.15, color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(next(iter(data.values()))))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def table(data: dict[str, dict[int, list[float]]], what: str, fmt: str, scale: float) -> str:
    tools = list(data)
    xs = sorted(next(iter(data.values())))
    out = [f"| {what} | " + " | ".join(LABELS.get(t, t) for t in tools) + " |"]
    out.append("| --- " * (len(tools) + 1) + "|")
    for x in xs:
        cells = []
        for t in tools:
            values = [v * scale for v in data[t][x]]
            cells.append(
                f"{fmt.format(statistics.median(values))} "
                f"[{fmt.format(min(values))}-{fmt.format(max(values))}]"
            )
        out.append(f"| {x} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 4, 16, 32, 64, 128])
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--lines", type=int, default=800_000, help="lines in all, split over writers")
    ap.add_argument("--honcho-lines", type=int, default=2_000, help="per honcho writer")
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument("--only", default="start,throughput")
    ap.add_argument("--chart-start", type=Path, default=None, metavar="PNG")
    ap.add_argument("--chart-throughput", type=Path, default=None, metavar="PNG")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.baseline is not None:
        run.TREES["baseline"] = args.baseline.resolve()
    run.compile_trees()
    wd = run.Workdir()
    run.CACHE_HOME = str(wd.path / "xdg-cache")
    tools = ["shell", *run.TREES, "honcho"]
    results: dict[str, Any] = {"load_before": os.getloadavg(), "runs": args.runs}
    only = set(args.only.split(","))
    if "start" in only:
        took = start_sweep(wd, args.counts, args.runs, tools)
        results["start_s"] = took
        print(table(took, "processes: all running (ms)", "{:.0f}", 1000), end="\n\n")
        ratios = {
            n: statistics.median(took["prodserver"][n]) / statistics.median(took["honcho"][n])
            for n in args.counts
        }
        shown = ", ".join(f"{n}: {r:.2f}" for n, r in ratios.items())
        print(f"prodserver / honcho (medians): {shown}")
        if args.chart_start:
            chart(
                took,
                args.chart_start,
                xlabel="processes started",
                ylabel="ms until every child's first line is out",
                title="prodserver up: start time against process count",
                scale=1000,
            )
    if "throughput" in only:
        rates = throughput_sweep(wd, args.writers, args.runs, tools, args.lines, args.honcho_lines)
        results["stream_lines_per_s"] = rates
        print(table(rates, "writers: lines/s streaming", "{:,.0f}", 1), end="\n\n")
        if args.chart_throughput:
            chart(
                rates,
                args.chart_throughput,
                xlabel="writers",
                ylabel="lines per second, streaming (log)",
                title="Log throughput against writers",
                log_y=True,
            )
    results["load_after"] = os.getloadavg()
    print(f"load {results['load_before']} -> {results['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
