"""Live tests: real servers and workers started by ``prodserver up`` on the demo project.

Run them alone with ``pytest -m live``; skip them with ``pytest -m "not live"``. Backends that
need Redis get a real ``redis-server`` started once per session on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
CONFIG = REPO / "prodserver.toml"

#: how long a server or worker may take to come up on a slow CI machine
START_DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    condition: Callable[[], bool],
    what: str,
    *,
    deadline: float,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``condition`` until true; between polls wait on ``proc`` so that its exit ends the
    wait at once (with a clear failure) instead of running into the deadline."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline:.0f}s waiting for {what}")
        if proc is not None:
            try:
                code = proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"prodserver exited with {code} while waiting for {what}")
        else:
            time.sleep(0.2)  # polling another process's socket: nothing to wait on


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(answers, "redis-server to answer PING", deadline=20)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Running:
    """One ``prodserver up`` in a subprocess, its log in a file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Ask for a graceful stop, as systemd or Ctrl-C would, and return prodserver's code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"prodserver did not stop within {timeout}s:\n{self.output()}")


@dataclass
class Demo:
    """The demo project with its own database file and ports."""

    env: dict[str, str]
    tmp: Path

    @property
    def db(self) -> Path:
        return Path(self.env["DEMO_DB_PATH"])

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=DEMO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def port_of(self, profile: str, process: str) -> int:
        from prodserver.config.resolve import resolve_project

        project = resolve_project(file=CONFIG, profile=profile, environ=self.env)
        port = project.processes[process].instances[0].port
        assert port is not None
        return port

    def up(self, profile: str, *names: str) -> Running:
        log = self.tmp / f"up-{profile}-{'-'.join(names)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "prodserver", "up", *names, "--profile", profile,
                 "--no-color"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return Running(proc, log)

    def rows(self, source: str) -> int:
        try:
            with sqlite3.connect(self.db, timeout=5) as conn:
                (count,) = conn.execute(
                    "SELECT count(*) FROM visits_visit WHERE source = ?", (source,)
                ).fetchone()
                return int(count)
        except sqlite3.OperationalError:  # not migrated yet, or locked by a writer
            return 0


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODSERVER_")}
    if "PRODSERVER_RUNTIME" in os.environ:  # the CI runs these on both runtimes
        env["PRODSERVER_RUNTIME"] = os.environ["PRODSERVER_RUNTIME"]
    # the console scripts (gunicorn, celery, ...) and `python` of the command backend are the
    # ones of the interpreter running the tests
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["DEMO_DB_PATH"] = str(tmp_path / "demo.sqlite3")
    env["PYTHONUNBUFFERED"] = "1"
    # CI runs as root; the demo's production profile is refused as root unless allowed
    env["PRODSERVER_ALLOW_ROOT"] = "1"
    # a base port whose whole range of assigned ports is very likely free
    env["PORT"] = str(max(free_port() - 500, 20000))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return Demo(env=env, tmp=tmp_path)
