"""Helpers for the health tests: real ``prodserver up`` runs, free ports, tiny servers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MODEL_RUNNER = Path(__file__).with_name("runmodel.py")
_PADDED = re.compile(r"^(\S+) +([|*]) ")

#: an HTTP server on $PORT that starts listening after argv[1] seconds and answers "all good"
HTTP_SERVER = """
import http.server, os, sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"all good")
    def log_message(self, *args):
        pass
print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

#: a TCP listener on $PORT from argv[1] seconds after start, closed argv[2] seconds later
TCP_LISTENER = """
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(16)
print("listening", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))
    s.close()
    print("closed", flush=True)
time.sleep(3600)
"""

#: accepts connections on $PORT and never answers
HANGING_SERVER = """
import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(16)
held = []
while True:
    conn, _ = s.accept()
    held.append(conn)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def short_runtime_dir() -> str:
    """A private XDG_RUNTIME_DIR short enough for unix socket paths."""
    return tempfile.mkdtemp(prefix="psrt")


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``predicate`` until truthy (for things only the OS can tell us)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def base_env(runtime: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODSERVER_", "NOTIFY_"))}
    if "PRODSERVER_RUNTIME" in os.environ:  # the CI runs these on both runtimes
        env["PRODSERVER_RUNTIME"] = os.environ["PRODSERVER_RUNTIME"]
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    env["PYTHONPATH"] = str(REPO)
    env["XDG_RUNTIME_DIR"] = runtime
    env.update(extra)
    return env


class Up:
    """A ``prodserver`` process whose output lines are collected by a thread."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.err = ""
        self._threads = [
            threading.Thread(target=self._out, daemon=True),
            threading.Thread(target=self._err, daemon=True),
        ]
        for t in self._threads:
            t.start()

    @classmethod
    def cli(cls, project: Path, *args: str, runtime: str, **env: str) -> Up:
        argv = [sys.executable, "-m", "prodserver", "up", "-f", str(project / "prodserver.toml")]
        return cls([*argv, *args], project, base_env(runtime, **env))

    @classmethod
    def model(cls, tmp: Path, procs: list[dict[str, Any]], runtime: str, **options: Any) -> Up:
        spec = tmp / "spec.json"
        spec.write_text(json.dumps({"procs": procs, "options": options}))
        return cls([sys.executable, str(MODEL_RUNNER), str(spec)], tmp, base_env(runtime))

    def _out(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _err(self) -> None:
        assert self.popen.stderr is not None
        self.err = self.popen.stderr.read().decode("utf-8", "replace")

    def wait_for(self, text: str, count: int = 1, timeout: float = 20.0) -> int:
        """Wait for the ``count``-th line containing ``text``; returns its index."""

        def found() -> int | None:
            hits = [i for i, line in enumerate(list(self.lines)) if text in _squeeze(line)]
            return hits[count - 1] + 1 if len(hits) >= count else None

        index = wait_until(found, timeout, f"{count} x {text!r} in {self.lines[-15:]} {self.err}")
        return int(index) - 1

    def index(self, text: str) -> int:
        for i, line in enumerate(self.lines):
            if text in _squeeze(line):
                return i
        raise AssertionError(f"{text!r} not in output: {self.lines}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def finish(self, timeout: float = 30.0) -> int:
        try:
            code = self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        for t in self._threads:
            t.join(5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        return code


def _squeeze(line: str) -> str:
    """``line`` with the label padding collapsed (``web.1     | x`` -> ``web.1 | x``)."""
    return _PADDED.sub(r"\1 \2 ", line, count=1)


def write_project(tmp: Path, toml: str, **files: str) -> Path:
    (tmp / "prodserver.toml").write_text(textwrap.dedent(toml))
    for name, text in files.items():
        (tmp / name).write_text(textwrap.dedent(text))
    return tmp


def run_cli(
    project: Path, *args: str, runtime: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "prodserver", args[0], "-f", str(project / "prodserver.toml")]
    return subprocess.run(
        [*argv, *args[1:]],
        cwd=project,
        env=base_env(runtime),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
