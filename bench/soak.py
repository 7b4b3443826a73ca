"""Soak test: does ``prodserver up`` keep flat memory over restarts, output, probes and status?

Runs ``prodserver up`` on a generated project for ``--minutes`` (default 10):

- ``crash`` x4: print a few lines and exit after 0.2-0.7 s, ``restart = "always"`` with a
  0.1 s backoff (a restart every ~0.5 s each: thousands of spawns, exits and reaps);
- ``chatty`` x3: write ``--rate`` lines per second each (with some long lines);
- ``web``: an HTTP server with an ``http`` probe every second (probe threads, results posted
  to the loop), and ``--metrics`` sampling every 5 s;
- ``prodserver status --json`` every sample.

Every ``--every`` seconds it records the supervisor's RSS (and its guardian's), the restarts
so far and the lines written, and prints a Markdown table at the end (paste it into
``docs/performance.md``). Usage: ``python bench/soak.py [--minutes 10] [--every 15]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]

CRASH = """
import random, sys, time
for i in range(5):
    print("crash line", i, flush=True)
time.sleep(random.uniform(0.2, 0.7))
sys.exit(random.choice([0, 1, 3]))
"""

CHATTY = """
import sys, time
rate = int(sys.argv[1])
n = 0
while True:
    start = time.monotonic()
    for _ in range(rate // 10):
        n += 1
        sys.stdout.write(f"chatty line {n} " + ("x" * 2000 if n % 100 == 0 else "y" * 40) + "\\n")
    sys.stdout.flush()
    time.sleep(max(0.0, 0.1 - (time.monotonic() - start)))
"""

WEB = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path, rate: int) -> None:
    for name, text in (("crash.py", CRASH), ("chatty.py", CHATTY), ("web.py", WEB)):
        (root / name).write_text(textwrap.dedent(text))
    web_port = free_port()
    (root / "prodserver.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "soak"

            [processes.crash]
            command = ["python", "crash.py"]
            scale = 4
            restart = {{ policy = "always", backoff = "100ms", max_restarts = 0, window = "100ms" }}

            [processes.chatty]
            command = ["python", "chatty.py", "{rate}"]
            scale = 3

            [processes.web]
            command = ["python", "web.py"]
            port = {web_port}
            healthcheck = {{ http = "http://127.0.0.1:${{PORT}}/", interval = "1s" }}
            """
        )
    )


def rss_mb(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--rate", type=int, default=200, help="lines/s per chatty process")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="prodserver-soak-"))
    runtime = tempfile.mkdtemp(prefix="psrt")
    write_project(root, args.rate)
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_RUNTIME_DIR=runtime)
    env.pop("NOTIFY_SOCKET", None)
    log = root / "output.log"
    metrics_port = free_port()
    cmd = [sys.executable, "-m", "prodserver", "up", "-f", str(root / "prodserver.toml")]
    with log.open("wb") as out:
        up = subprocess.Popen(
            [*cmd, "--metrics", f"127.0.0.1:{metrics_port}"], stdout=out, env=env, cwd=root
        )
    status_cmd = [
        sys.executable,
        "-m",
        "prodserver",
        "status",
        "--json",
        "-f",
        str(root / "prodserver.toml"),
    ]
    rows: list[tuple[float, float, float, int, int, float]] = []
    began = time.monotonic()
    end = began + args.minutes * 60
    cpu_before = psutil.Process(up.pid).cpu_times()
    try:
        time.sleep(3.0)  # start-up
        guardian = [
            c.pid for c in psutil.Process(up.pid).children() if c.cmdline()[:1] == [sys.executable]
        ]
        while True:
            status = subprocess.run(
                status_cmd, check=False, capture_output=True, text=True, env=env, cwd=root
            )
            restarts = (
                sum(p["restarts"] for p in json.loads(status.stdout)["processes"])
                if status.returncode == 0
                else -1
            )
            with log.open("rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            g = rss_mb(guardian[0]) if guardian else float("nan")
            rows.append((time.monotonic() - began, rss_mb(up.pid), g, restarts, lines, 0.0))
            print(
                f"{rows[-1][0]:7.0f}s  supervisor {rows[-1][1]:6.1f} MB  guardian {g:5.1f} MB  "
                f"restarts {restarts:6d}  lines {lines}",
                flush=True,
            )
            if time.monotonic() >= end:
                break
            time.sleep(min(args.every, max(0.0, end - time.monotonic())))
        cpu_after = psutil.Process(up.pid).cpu_times()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    wall = rows[-1][0]
    print()
    print(
        f"exit code {code}; supervisor CPU {cpu:.1f} s over {wall:.0f} s "
        f"({100 * cpu / wall:.1f} % of a core)"
    )
    print()
    print(
        "| time (s) | supervisor RSS (MB) | guardian RSS (MB) | restarts so far | lines written |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for t, rss, g, restarts, lines, _ in rows:
        print(f"| {t:.0f} | {rss:.1f} | {g:.1f} | {restarts} | {lines} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
