"""The example projects under examples/ work as their pages say.

``examples/minimal`` is run for real: its web server answers on the port prodserver gives it,
a job posted to it is processed by the worker, and Ctrl-C stops everything with exit code 0.
The other examples' commands run in ``test_commands.py`` through the pages that use them.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.docs.test_commands import child_env

EXAMPLES = REPO / "examples"
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("var", "__pycache__"))
    return target


def test_every_example_has_a_configuration_that_checks() -> None:
    """Each example directory resolves (its own file, or a Procfile, or Django settings)."""
    for example in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        if example.name == "demo":
            continue  # the demo's prodserver.toml is at the repository root (test_commands)
        env = child_env()
        if example.name == "django-prodserver":
            env["DJANGO_SETTINGS_MODULE"] = "shop.settings"
            env["PYTHONPATH"] = str(example)
        proc = subprocess.run(
            [sys.executable, "-m", "prodserver", "check", "--all-profiles"],
            cwd=example,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
        assert proc.returncode == 0, f"{example.name}:\n{proc.stdout}{proc.stderr}"
        assert proc.stdout.startswith("ok: "), proc.stdout


class Running:
    """``prodserver up`` in a directory, with its output lines collected by a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prodserver", "up", "--no-color", *args],
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        """The first line containing ``text``, printed so far or within the deadline.

        Lines of different processes interleave in any order, so earlier lines count too.
        """
        for line in self.seen:
            if text in line:
                return line
        deadline = time.monotonic() + DEADLINE
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"{text!r} not printed within {DEADLINE}s:\n" + "\n".join(self.seen))

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it to the foreground process."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(DEADLINE)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(DEADLINE)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def minimal(tmp_path: Path) -> Iterator[tuple[Running, int]]:
    port = free_port()
    # web is the second process: its port is base + 100
    running = Running(copy_example("minimal", tmp_path), "--port", str(port - 100))
    try:
        yield running, port
    finally:
        running.close()


def get(url: str, data: bytes | None = None) -> str:
    with urllib.request.urlopen(url, data=data, timeout=5) as response:  # local only
        return str(response.read().decode("utf-8"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prodserver up is Linux-only")
def test_minimal_example_serves_processes_jobs_and_stops_cleanly(
    minimal: tuple[Running, int],
) -> None:
    running, port = minimal
    running.wait_for("setup.1  * completed (exit code 0)")
    running.wait_for(f"web.1    | serving on http://127.0.0.1:{port}/")
    running.wait_for("worker.1 | done 0001-welcome.job: welcome")

    assert get(f"http://127.0.0.1:{port}/healthz") == "ok\n"
    assert get(f"http://127.0.0.1:{port}/") == "hello from web.1\n"
    assert get(f"http://127.0.0.1:{port}/jobs", data=b"from the test").startswith("queued ")
    running.wait_for(": from the test")

    assert running.interrupt() == 0
    running.wait_for("worker.1 | worker stopped")
