"""Web servers behind prodserver: requests/s and latency, run by prodserver and run bare.

Run from the repository root (needs the ``all`` and ``bench`` extras, and Debian's ``wrk`` and
``nghttp2-client`` for the load)::

    .venv/bin/pip install -e '.[all,bench]'
    apt-get install -y wrk nghttp2-client
    .venv/bin/python bench/servers.py                 # every server, 3 runs of 5 s per cell
    .venv/bin/python bench/servers.py --quick         # 1 run of 2 s per cell
    .venv/bin/python bench/servers.py gunicorn-sync uvicorn --chart docs/img/servers.png

Each server serves the demo project (examples/demo) from a fresh SQLite file on loopback, with
one worker process so that the load generator keeps the other core. Two paths are loaded:
``/healthz`` (a JSON response, no database: the server's own cost) and ``/`` (the demo's page:
one INSERT and one SELECT in SQLite per request). Every cell is measured twice in the same
repetition, in turns:

- *prodserver*: ``prodserver -f CONFIG up web``: the server is prodserver's child, its output
  goes through prodserver's multiplexer (and from there to /dev/null);
- *bare*: the very argv, environment and working directory prodserver resolved (read from
  ``prodserver config --format json``), started directly with its output to /dev/null.

The load is ``wrk`` (HTTP/1.1, 1 thread, 16 connections, ``--latency`` for p50/p99) or, for
HTTP/2, ``h2load`` (16 clients, 10 streams each; it reports no percentiles, so the mean and the
maximum are shown instead). Every request loop is bounded by ``--duration``; nothing leaves
loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared import Panel, free_port, grouped_bars

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
PY = sys.executable
BIN = Path(PY).parent


@dataclass(frozen=True)
class Server:
    """One server configuration: its backend and options in ``prodserver.toml`` syntax."""

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    http2: bool = False


SERVERS = [
    Server("gunicorn-sync", "gunicorn", {"workers": 1, "worker_class": "sync"}),
    Server("gunicorn-gthread", "gunicorn", {"workers": 1, "worker_class": "gthread", "threads": 4}),
    Server("uvicorn", "uvicorn", {"workers": 1, "lifespan": "off", "access_log": False}),
    Server("granian", "granian", {"workers": 1, "interface": "wsgi", "blocking_threads": 4}),
    Server("hypercorn", "hypercorn", {"workers": 1}),
    Server("hypercorn-h2", "hypercorn", {"workers": 1}, http2=True),
    Server("waitress", "waitress", {"threads": 4}),
    Server("daphne", "daphne", {}),
]
PATHS = ("/healthz", "/")
MODES = ("prodserver", "bare")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def write_config(tmp: Path, server: Server, port: int) -> Path:
    """A one-process ``prodserver.toml`` serving the demo with ``server`` on ``port``."""
    lines = [
        "[project]",
        'name = "bench"',
        "",
        "[env]",
        'DJANGO_SETTINGS_MODULE = "demo.settings"',
        'DJANGO_DEBUG = "0"',
        'SECRET_KEY = "bench-only-not-secret"',
        f"DEMO_DB_PATH = {json.dumps(str(tmp / 'bench.sqlite3'))}",
        "",
        "[processes.web]",
        f"backend = {json.dumps(server.backend)}",
        f"cwd = {json.dumps(str(DEMO))}",
        f"port = {port}",
        'bind = "127.0.0.1:${PORT}"',
        *(f"{key} = {toml_value(value)}" for key, value in server.options.items()),
    ]
    config = tmp / f"{server.name}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODSERVER_", "DJANGO_"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PRODSERVER_ALLOW_ROOT"] = "1"  # benchmarks run as root on CI-like machines
    env.pop("PORT", None)
    return env


def bare_command(config: Path) -> tuple[list[str], Path, dict[str, str]]:
    """The argv, cwd and environment prodserver resolves for ``web``."""
    out = subprocess.run(
        [PY, "-m", "prodserver", "config", "-f", str(config), "--format", "json",
         "--show-secrets"],
        env=environment(), capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout  # fmt: skip
    data = json.loads(out)
    web = data["processes"]["web"]
    env = environment() | data["env"] | {"PORT": str(web["port"])}
    return list(web["command"]), Path(web["cwd"]), env


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float = 60.0) -> None:
    """Until the port accepts a connection; a server that exits first is an error."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # another process's socket: nothing to wait on but the port
    raise RuntimeError(f"nothing listens on {port} after {deadline:.0f}s")


def start(mode: str, config: Path) -> subprocess.Popen[bytes]:
    if mode == "prodserver":
        argv = [PY, "-m", "prodserver", "up", "web", "-f", str(config), "--no-color"]
        cwd, env = REPO, environment()
    else:
        argv, cwd, env = bare_command(config)
        argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def load(url: str, http2: bool, duration: float) -> dict[str, float]:
    """Run the load generator against ``url`` for ``duration`` seconds."""
    seconds = max(1, round(duration))
    if http2:
        argv = ["h2load", "-c16", "-m10", "-D", str(seconds), url]
    else:
        argv = ["wrk", "-t1", "-c16", f"-d{seconds}s", "--timeout", "5s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = done.stdout
    if http2:
        rps = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
        req = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
        failed = re.search(r"(\d+) failed", out)
        if rps is None or req is None:
            raise RuntimeError(f"h2load printed no result:\n{out}")
        return {
            "rps": float(rps.group(1)),
            "p50_ms": _ms(req.group(3)),  # mean: h2load has no percentiles
            "p99_ms": _ms(req.group(2)),  # max
            "errors": float(failed.group(1)) if failed else 0.0,
        }
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "errors": float(bad.group(1) if bad else 0)
        + sum(map(float, errors.groups() if errors else ())),
    }


def migrate(tmp: Path) -> None:
    env = environment() | {
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DEMO_DB_PATH": str(tmp / "bench.sqlite3"),
    }
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput"], cwd=DEMO, env=env, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip


def measure(servers: list[Server], runs: int, duration: float) -> dict[str, Any]:
    samples: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="prodserver-bench-") as tmpdir:
        tmp = Path(tmpdir)
        migrate(tmp)
        for server in servers:
            port = free_port()
            config = write_config(tmp, server, port)
            for run in range(runs):
                for mode in MODES if run % 2 == 0 else MODES[::-1]:
                    proc = start(mode, config)
                    try:
                        wait_listening(port, proc)
                        for path in PATHS:
                            url = f"http://127.0.0.1:{port}{path}"
                            result = load(url, server.http2, duration)
                            cell = samples.setdefault(server.name, {}).setdefault(path, {})
                            cell.setdefault(mode, []).append(result)
                            print(f"  {server.name:17} {mode:10} {path:8} run {run + 1}: "
                                  f"{result['rps']:9.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
                                  f"p99 {result['p99_ms']:.2f} ms", file=sys.stderr)  # fmt: skip
                    finally:
                        stop(proc)
    return samples


def median(values: list[dict[str, float]], key: str) -> float:
    return statistics.median(v[key] for v in values)


def table(samples: dict[str, Any]) -> str:
    rows = [
        "| server | path | req/s bare | req/s prodserver | ratio | p50 bare / prodserver (ms) "
        "| p99 bare / prodserver (ms) | errors |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for name, paths in samples.items():
        for path, modes in paths.items():
            bare, ours = modes["bare"], modes["prodserver"]
            rb, ro = median(bare, "rps"), median(ours, "rps")
            errors = sum(v["errors"] for v in bare + ours)
            rows.append(
                f"| {name} | `{path}` | {rb:,.0f} | {ro:,.0f} | {ro / rb:.2f} | "
                f"{median(bare, 'p50_ms'):.2f} / {median(ours, 'p50_ms'):.2f} | "
                f"{median(bare, 'p99_ms'):.2f} / {median(ours, 'p99_ms'):.2f} | {errors:.0f} |"
            )
    return "\n".join(rows)


def chart(samples: dict[str, Any], path: Path) -> None:
    """Requests/s per server, one panel per path, bare beside prodserver."""
    names = list(samples)
    panels = [
        Panel(f"GET {url_path}", "requests/s (median)",
              [(mode, [median(samples[n][url_path][mode], "rps") for n in names])
               for mode in ("bare", "prodserver")])
        for url_path in PATHS
    ]  # fmt: skip
    grouped_bars(names, panels, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("servers", nargs="*", help="names to run (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per cell")
    parser.add_argument("--quick", action="store_true", help="1 run of 2 s per cell")
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--chart", type=Path, help="write a PNG chart here")
    args = parser.parse_args(argv)
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install -y wrk nghttp2-client)")
    known = {s.name: s for s in SERVERS}
    unknown = [n for n in args.servers if n not in known]
    if unknown:
        parser.error(f"unknown server {', '.join(unknown)}; known: {', '.join(known)}")
    servers = [known[n] for n in args.servers] or SERVERS
    runs, duration = (1, 2.0) if args.quick else (args.runs, args.duration)
    samples = measure(servers, runs, duration)
    print(f"# {len(servers)} servers, {runs} run(s) of {duration:g} s per cell, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
    print(table(samples))
    if args.json:
        args.json.write_text(json.dumps(samples, indent=1))
    if args.chart:
        chart(samples, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
