"""Support for the runtime integration tests: run a project in a real prodserver process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("runproject.py")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def env_for_runner() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for key in ("NO_COLOR", "FORCE_COLOR"):
        env.pop(key, None)
    return env


class Run:
    """One prodserver run of hand-described processes, its output collected by a thread."""

    def __init__(
        self,
        tmp_path: Path,
        procs: list[dict[str, Any]],
        options: dict[str, Any] | None = None,
        stdout: Any = subprocess.PIPE,
        *,
        crash_on_exit: bool = False,
    ) -> None:
        spec = tmp_path / "spec.json"
        data = {"procs": procs, "options": options or {}, "crash_on_exit": crash_on_exit}
        spec.write_text(json.dumps(data))
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            [sys.executable, str(RUNNER), str(spec)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env_for_runner(),
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.err = b""
        self._threads = []
        if stdout is subprocess.PIPE:
            self._threads.append(threading.Thread(target=self._read_out, daemon=True))
        self._threads.append(threading.Thread(target=self._read_err, daemon=True))
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _read_err(self) -> None:
        assert self.popen.stderr is not None
        self.err = self.popen.stderr.read()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for_line(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        wait_until(
            lambda: sum(text in line for line in list(self.lines)) >= count,
            timeout,
            f"{count} line(s) with {text!r}; got {self.lines[-20:]}",
        )

    def finish(self, timeout: float = 30.0) -> int:
        code = self.popen.wait(timeout)
        for t in self._threads:
            t.join(timeout)
        return code

    def kill(self) -> None:
        """Clean up: kill prodserver if still running and close the pipes."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        for t in self._threads:
            t.join(5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
