"""Configuration-path benchmark: `prodserver --help` and `prodserver check` on a large file.

Generates a 50-process, 5-profile prodserver.toml (with inheritance, substitution and
several backends), then times whole commands as a user runs them, side by side with
`honcho --help` and `honcho check` on the equivalent Procfile. Prints medians.

    .venv/bin/python bench/config_bench.py [--runs 15]

With ``--sizes``, times `prodserver check` of generated files of each size instead (every
process with its own port, an `extends` chain of five profiles overriding a tenth of them,
substitution in every process; no configuration cache), optionally beside an older tree
(``--baseline DIR``), prints time against size with the growth for ten times the processes
and the load average before and after, and draws time against size (``--chart PNG``).
``--sizes`` alone means 100, 1,000 and 10,000:

    .venv/bin/python bench/config_bench.py --sizes --runs 3 \
        --baseline /tmp/before --chart docs/img/bench-check-scale.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKENDS = ["command", "gunicorn", "uvicorn", "celery-worker", "rq-worker"]


def generate(root: Path, processes: int = 50, profiles: int = 5) -> None:
    lines = ['[project]\nname = "bench"\ndefault_profile = "p0"\n', "[env]"]
    lines += [f'VAR_{i} = "value-{i}"' for i in range(20)]
    procfile = []
    for i in range(processes):
        backend = BACKENDS[i % len(BACKENDS)]
        lines.append(f"\n[processes.proc{i}]")
        lines.append(f'backend = "{backend}"')
        if backend == "command":
            lines.append(f'command = "python -c \\"print(${{VAR_{i % 20}}})\\" --n {i}"')
        elif backend in ("gunicorn", "uvicorn"):
            lines.append('app = "app.main:application"')
            lines.append('workers = "${WORKERS:-2}"')
        elif backend == "celery-worker":
            lines.append('app = "app"')
            lines.append('queues = ["default", "mail"]')
        else:
            lines.append('queues = ["default"]')
        if i and i % 7 == 0:
            lines.append(f'depends_on = ["proc{i - 1}"]')
        lines.append('stop_timeout = "5s"')
        procfile.append(f"proc{i}: python -c 'print({i})'")
    for p in range(profiles):
        lines.append(f"\n[profiles.p{p}]")
        if p:
            lines.append(f'extends = "p{p - 1}"')
        lines.append(f'[profiles.p{p}.env]\nPROFILE = "p{p}"')
        for i in range(p, processes, 10):
            lines.append(f"[profiles.p{p}.processes.proc{i}]\nscale = {1 + p % 3}")
    (root / "prodserver.toml").write_text("\n".join(lines) + "\n")
    (root / "Procfile").write_text("\n".join(procfile) + "\n")


def generate_scaled(root: Path, processes: int, profiles: int = 5) -> Path:
    """A valid file of ``processes`` processes: workers and commands, each with its own port
    (the foreman rule would give ports above 65535 beyond 655 processes)."""
    lines = ['[project]\nname = "scale"\ndefault_profile = "p4"\n', "[env]"]
    lines += [f'VAR_{i} = "value-{i}"' for i in range(20)]
    for i in range(processes):
        lines.append(f"[processes.proc{i}]")
        if i % 2:
            lines += ['backend = "rq-worker"', f'queues = ["q{i % 20}", "${{VAR_{i % 20}}}"]']
        else:
            lines.append(f'command = "python -c pass --name ${{VAR_{i % 20}}} --n {i}"')
        lines += [f"port = {10000 + i}", 'stop_timeout = "5s"']
        if i % 7 == 6:
            lines.append(f'depends_on = ["proc{i - 1}"]')
    for p in range(profiles):
        lines.append(f"[profiles.p{p}]")
        if p:
            lines.append(f'extends = "p{p - 1}"')
        for i in range(p, processes, 10):
            lines.append(f"[profiles.p{p}.processes.proc{i}]\nscale = {1 + p % 3}")
    path = root / f"scale-{processes}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def check_times(
    trees: dict[str, Path], sizes: list[int], runs: int, root: Path
) -> dict[str, dict[int, list[float]]]:
    """Seconds of `prodserver check -q -f FILE` per tree and size, the trees taking turns."""
    out: dict[str, dict[int, list[float]]] = {t: {n: [] for n in sizes} for t in trees}
    for n in sizes:
        path = generate_scaled(root, n)
        for i in range(runs):
            order = list(trees)[i % len(trees) :] + list(trees)[: i % len(trees)]
            for tree in order:
                # the configuration cache would time a read of the cache, not the check
                env = dict(
                    os.environ,
                    PYTHONPATH=str(trees[tree]),
                    NO_COLOR="1",
                    PRODSERVER_NO_CACHE="1",
                )
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                argv = [sys.executable, "-m", "prodserver", "check", "-q", "-f", str(path)]
                start = time.perf_counter()
                done = subprocess.run(argv, cwd=root, env=env, capture_output=True, check=False)
                took = time.perf_counter() - start
                if done.returncode not in (0, 69):
                    raise RuntimeError(f"{tree}: check of {n} failed: {done.stderr[-500:]!r}")
                out[tree][n].append(took)
    return out


def scale_chart(times: dict[str, dict[int, list[float]]], path: Path) -> None:
    """Time against size, log-log, with the line of linear growth through the first point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    names = {"prodserver": "after (this tree)", "baseline": "before (--baseline)"}
    for tree, by_size in times.items():
        sizes = sorted(by_size)
        medians = [statistics.median(by_size[n]) for n in sizes]
        ax.plot(sizes, medians, marker="o", label=names.get(tree, tree))
        if tree == "prodserver":
            # proportional to the size, through the largest file (the fixed start-up of the
            # command weighs less and less as the file grows)
            linear = [medians[-1] * n / sizes[-1] for n in sizes]
            ax.plot(sizes, linear, linestyle=":", color="grey", label="linear growth")
    ax.axhline(5.0, color="red", linewidth=0.8, label="target for 10,000: 5 s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("processes in the file")
    ax.set_ylabel("seconds (median)")
    ax.set_title("`prodserver check` time against file size")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main_sizes(args: argparse.Namespace) -> int:
    repo = Path(__file__).resolve().parents[1]
    trees = {"prodserver": repo}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    for tree in trees.values():
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(tree / "prodserver")], check=True
        )
    sizes = sorted(args.sizes or [100, 1000, 10000])
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        times = check_times(trees, sizes, args.runs, Path(tmp))
    print(
        f"prodserver check -q (no cache), median [min-max] of {args.runs} runs; "
        f"load average {load_before} before, {_load()} after; {os.cpu_count()} cores"
    )
    for i, n in enumerate(sizes):
        cells = []
        for tree, by_size in times.items():
            v = by_size[n]
            cell = f"{tree} {statistics.median(v):.2f} s [{min(v):.2f}-{max(v):.2f}]"
            if i:  # how the time grew from the previous size
                grew = statistics.median(v) / statistics.median(by_size[sizes[i - 1]])
                cell += f" (x{grew:.1f} for x{n / sizes[i - 1]:g} processes)"
            cells.append(cell)
        if "baseline" in times:
            ratio = statistics.median(times["prodserver"][n]) / statistics.median(
                times["baseline"][n]
            )
            cells.append(f"ratio {ratio:.2f}")
        print(f"  {n:>6} processes: " + "; ".join(cells))
    if args.chart:
        scale_chart(times, args.chart)
    return 0


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_ms(argv: list[str], cwd: Path, runs: int) -> float:
    samples = []
    env = dict(os.environ, NO_COLOR="1")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        help="time check of files of these sizes (none given: 100 1000 10000)",
    )
    parser.add_argument("--baseline", type=Path, default=None, metavar="DIR")
    parser.add_argument("--chart", type=Path, default=None, metavar="PNG")
    args = parser.parse_args()
    if args.sizes is not None:
        return main_sizes(args)
    bindir = Path(sys.executable).parent
    prodserver = str(bindir / "prodserver")
    honcho = shutil.which("honcho", path=str(bindir)) or "honcho"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root)
        check = subprocess.run(
            [prodserver, "check", "-q"], cwd=root, capture_output=True, text=True, check=False
        )
        if check.returncode not in (0, 69):  # 69: some backend packages not installed
            print(check.stderr, file=sys.stderr)
            return 1
        rows = [
            ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"]),
            ("prodserver --help", [prodserver, "--help"]),
            ("honcho --help", [honcho, "--help"]),
            ("prodserver check (50 processes, 5 profiles)", [prodserver, "check", "-q"]),
            ("prodserver check --all-profiles", [prodserver, "check", "-q", "--all-profiles"]),
            ("honcho check (same 50 processes as a Procfile)", [honcho, "check"]),
        ]
        print(
            f"median of {args.runs} runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
        )
        for label, argv in rows:
            print(f"  {label:<50} {median_ms(argv, root, args.runs):8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
