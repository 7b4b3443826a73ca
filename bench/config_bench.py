"""Configuration-path benchmark: `prodserver --help` and `prodserver check` on a large file.

Generates a 50-process, 5-profile prodserver.toml (with inheritance, substitution and
several backends), then times whole commands as a user runs them, side by side with
`honcho --help` and `honcho check` on the equivalent Procfile. Prints medians.

    .venv/bin/python bench/config_bench.py [--runs 15]
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
    args = parser.parse_args()
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
