"""``prodserver status``, ``up --metrics`` and the memory guard against a real running ``up``."""

from __future__ import annotations

import json
import stat
import sys
import urllib.request
from pathlib import Path

import pytest
from healthrun import Up, free_port, run_cli, short_runtime_dir, wait_until, write_project
from prometheus_client.parser import text_string_to_metric_families

from prodserver.exitcodes import ExitCode
from prodserver.runtime.control import SOCKET_NAME
from prodserver.runtime.rundir import runtime_dir
from tests.conftest import POSIX_RUNTIME

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)

CONFIG = """
[processes.web]
command = ["python", "-c", "import time; print('web', flush=True); time.sleep(60)"]

[processes.worker]
command = ["python", "-c", "import time; print('worker', flush=True); time.sleep(60)"]
scale = 2
"""


def test_status_shows_every_instance_and_says_when_nothing_runs(tmp_path: Path):
    runtime = short_runtime_dir()
    project = write_project(tmp_path, CONFIG)
    up = Up.cli(project, runtime=runtime)
    try:
        up.wait_for("worker.2 | worker")
        up.wait_for("web.1 | web")
        table = run_cli(project, "status", runtime=runtime)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[1].split() == [
            "PROCESS",
            "STATE",
            "PID",
            "UPTIME",
            "RESTARTS",
            "HEALTH",
            "CPU",
            "MEMORY",
        ]
        rows = {line.split()[0]: line.split() for line in lines[2:]}
        assert set(rows) == {"web.1", "worker.1", "worker.2"}
        assert rows["web.1"][1] == "running" and rows["web.1"][2].isdigit()
        assert rows["web.1"][7].endswith("M")  # memory of its tree, e.g. 9.1M
        data = json.loads(run_cli(project, "status", "--json", runtime=runtime).stdout)
        web = next(p for p in data["processes"] if p["label"] == "web.1")
        for field in (
            "state",
            "pid",
            "uptime",
            "restarts",
            "last_exit",
            "health",
            "ready_after",
            "cpu_percent",
            "rss",
            "threads",
            "open_files",
        ):
            assert field in web
        assert web["rss"] > 1_000_000 and web["threads"] >= 1 and web["open_files"] >= 3
        assert web["health"] == "-" and web["ready"] is True
        # the socket is private to the user
        sock = runtime_dir(project, {"XDG_RUNTIME_DIR": runtime}) / SOCKET_NAME
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    finally:
        assert up.stop() == 0, up.err
    gone = run_cli(project, "status", runtime=runtime)
    assert gone.returncode == ExitCode.NOT_RUNNING
    assert "no prodserver up is running for this project" in gone.stderr


def test_metrics_endpoint_serves_prometheus_text_and_json(tmp_path: Path):
    runtime = short_runtime_dir()
    project = write_project(tmp_path, CONFIG)
    port = free_port()
    up = Up.cli(project, "--metrics", f"127.0.0.1:{port}", runtime=runtime)
    try:
        up.wait_for(f"metrics on http://127.0.0.1:{port}/metrics")
        up.wait_for("worker.2 | worker")

        def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }

        key = ("prodserver_process_resident_memory_bytes", (("process", "web"), ("replica", "1")))
        samples = wait_until(lambda: (m := scrape()).get(key) and m, 10, "a sampled RSS")
        web = (("process", "web"), ("replica", "1"))
        assert samples[("prodserver_process_up", web)] == 1.0
        assert samples[("prodserver_process_restarts_total", web)] == 0.0
        assert samples[key] > 1_000_000
        assert samples[("prodserver_process_state", (*web, ("state", "running")))] == 1.0
        assert samples[("prodserver_supervisor_resident_memory_bytes", ())] > 1_000_000
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics.json", timeout=5) as r:
            data = json.load(r)
        assert {p["label"] for p in data["processes"]} == {"web.1", "worker.1", "worker.2"}
    finally:
        assert up.stop() == 0, up.err


def test_metrics_on_a_taken_port_is_a_clear_error(tmp_path: Path):
    import socket

    project = write_project(tmp_path, CONFIG)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            project, "up", "--metrics", f"127.0.0.1:{port}", runtime=short_runtime_dir()
        )
    assert result.returncode == ExitCode.USAGE
    assert f"--metrics 127.0.0.1:{port}: cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


GROW = """
import os, time
print("pid", os.getpid(), flush=True)
hog = b"x" * (80 * 2**20)  # written, so resident
print("allocated", flush=True)
time.sleep(60)
"""


def test_memory_guard_restarts_a_process_that_outgrows_max_memory(tmp_path: Path):
    (tmp_path / "grow.py").write_text(GROW)
    procs = [
        {
            "name": "hog",
            "argv": [sys.executable, str(tmp_path / "grow.py")],
            "max_memory": 50 * 2**20,
            "restart": {"mode": "no", "backoff": 0.1},
        }
    ]
    up = Up.model(tmp_path, procs, short_runtime_dir(), sample_interval=0.2)
    try:
        message = up.lines[up.wait_for("hog.1 * memory")]
        assert "exceeds max_memory 50.0 MiB" in message and "restarting it gracefully" in message
        up.wait_for("hog.1 * stopped by the memory guard")
        up.wait_for("(restart 1)")
        up.wait_for("hog.1 | allocated", count=2)
    finally:
        assert up.stop() == 0, up.err
