"""Real probes against real servers, through ``prodserver up`` on the command line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import psutil
import pytest
from healthrun import (
    HANGING_SERVER,
    HTTP_SERVER,
    TCP_LISTENER,
    Up,
    free_port,
    short_runtime_dir,
    write_project,
)

from tests.conftest import POSIX_RUNTIME

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


@pytest.fixture
def runtime() -> str:
    return short_runtime_dir()


def test_a_dependant_waits_until_its_dependency_answers_its_http_probe(tmp_path: Path, runtime):
    port = free_port()
    project = write_project(
        tmp_path,
        f"""
        [processes.api]
        command = ["python", "server.py", "1.0"]
        port = {port}
        [processes.api.healthcheck]
        http = "http://127.0.0.1:${{PORT}}/"
        expect = "good"
        interval = "200ms"
        start_period = "10s"

        [processes.web]
        command = ["python", "-c", "print('web up', flush=True); import time; time.sleep(60)"]
        depends_on = {{ api = "healthy" }}
        """,
        **{"server.py": HTTP_SERVER},
    )
    up = Up.cli(project, runtime=runtime)
    try:
        web = up.wait_for("web.1 | web up")
        healthy = up.index("api.1 * healthy after")
        assert healthy < web
        seconds = float(re.search(r"healthy after ([\d.]+)s", up.lines[healthy]).group(1))
        assert 1.0 <= seconds < 5.0
        assert "HTTP 200" in up.lines[healthy]
        assert up.index("api.1 | listening") < healthy
    finally:
        assert up.stop() == 0, up.err


def test_liveness_failures_restart_through_the_policy_then_give_up(tmp_path: Path, runtime):
    port = free_port()
    project = write_project(
        tmp_path,
        f"""
        [processes.flaky]
        command = ["python", "listener.py", "0", "0.5"]
        port = {port}
        restart = {{ policy = "on-failure", backoff = "100ms", max_restarts = 2 }}
        [processes.flaky.healthcheck]
        tcp = "127.0.0.1:${{PORT}}"
        interval = "200ms"
        retries = 2
        timeout = "1s"
        """,
        **{"listener.py": TCP_LISTENER},
    )
    up = Up.cli(project, runtime=runtime)
    code = up.finish(60)
    out = "\n".join(up.lines)
    assert code == 1, out + up.err
    assert out.count("flaky.1 * healthy after") == 3
    assert out.count("flaky.1 * unhealthy: tcp 127.0.0.1:") == 3
    assert "(restart 1)" in out and "(restart 2)" in out and "(restart 3)" not in out
    assert "given up after 2 restarts" in out


def test_the_startup_phase_suspends_liveness(tmp_path: Path, runtime):
    def run(start_period: str) -> list[str]:
        port = free_port()
        project = write_project(
            tmp_path,
            f"""
            [processes.slow]
            command = ["python", "listener.py", "1.5"]
            port = {port}
            restart = {{ policy = "always", backoff = "5s" }}
            [processes.slow.healthcheck]
            tcp = "127.0.0.1:${{PORT}}"
            interval = "200ms"
            retries = 1
            start_period = "{start_period}"
            """,
            **{"listener.py": TCP_LISTENER},
        )
        up = Up.cli(project, runtime=runtime)
        try:
            up.wait_for("slow.1 * healthy after" if start_period != "0s" else "restarting in")
        finally:
            up.stop()
        return up.lines

    patient = "\n".join(run("4s"))
    assert "unhealthy" not in patient
    assert "restart" not in patient
    impatient = "\n".join(run("0s"))
    assert "slow.1 * unhealthy: tcp 127.0.0.1:" in impatient


def test_a_hung_probe_times_out_without_holding_up_other_probes(tmp_path: Path, runtime):
    hang_port, fast_port = free_port(), free_port()
    project = write_project(
        tmp_path,
        f"""
        [processes.hang]
        command = ["python", "hang.py"]
        port = {hang_port}
        [processes.hang.healthcheck]
        http = "http://127.0.0.1:${{PORT}}/"
        timeout = "2s"
        retries = 1
        interval = "500ms"
        role = "readiness"

        [processes.stuckcmd]
        command = ["python", "-c", "import time; time.sleep(60)"]
        [processes.stuckcmd.healthcheck]
        cmd = ["python", "-c", "import time; print('probe'); time.sleep(60)"]
        timeout = "1s"
        retries = 1
        interval = "500ms"
        role = "readiness"

        [processes.fast]
        command = ["python", "server.py"]
        port = {fast_port}
        healthcheck = {{ http = "http://127.0.0.1:${{PORT}}/", interval = "100ms" }}

        [processes.after]
        command = ["python", "-c", "print('after fast', flush=True); import time; time.sleep(60)"]
        depends_on = {{ fast = "healthy" }}
        """,
        **{"hang.py": HANGING_SERVER, "server.py": HTTP_SERVER},
    )
    up = Up.cli(project, runtime=runtime)
    try:
        hung = up.wait_for("hang.1 * unhealthy")
        assert "timed out after 2s" in up.lines[hung]
        stuck = up.wait_for("stuckcmd.1 * unhealthy")
        assert "timed out after 1s" in up.lines[stuck]
        # the fast probe and its dependant did not wait for the hung ones
        assert up.index("after.1 | after fast") < stuck < hung
        # timed-out cmd probes are killed, not piled up (one may be in flight right now)
        assert len(cmd_probes(up.popen.pid)) <= 1
    finally:
        assert up.stop() == 0, up.err
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if PROBE in " ".join(p.info["cmdline"] or ())
    ]


PROBE = "print('probe')"


def cmd_probes(pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if PROBE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found
