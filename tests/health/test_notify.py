"""Readiness over the systemd notify protocol: per-child sockets, pid checks, upstream."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from healthrun import Up, free_port, short_runtime_dir, wait_until, write_project

from tests.conftest import POSIX_RUNTIME

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME),
    # the sender's pid comes with SCM_CREDENTIALS, which only Linux has (docs/guides/windows.md)
    pytest.mark.skipif(not hasattr(socket, "SO_PASSCRED"), reason="notify needs SO_PASSCRED"),
]

SEND = (
    "import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
    "s.sendto(b'READY=1\\nSTATUS=serving', os.environ['NOTIFY_SOCKET'])"
)
# The main process first lets a child of its own (another pid) send READY=1, then sends it
# itself once the child is done; "sent" marks the moment.
MAIN = (
    "import os, subprocess, sys, time; "
    f"subprocess.run([sys.executable, '-c', {SEND!r}], check=True); "
    "print('child sent', flush=True); time.sleep(1.0); "
    f"print('main sends', flush=True); {SEND}; time.sleep(60)"
)
NOTIFY = {"kind": "notify", "target": ""}
SHOW = """
import os, time
print("child sees", os.environ.get("NOTIFY_SOCKET"), flush=True)
time.sleep(60)
"""


def test_only_the_main_process_can_mark_itself_ready(tmp_path: Path):
    procs = [
        {"name": "svc", "argv": [sys.executable, "-c", MAIN], "healthcheck": NOTIFY},
        {
            "name": "after",
            "argv": [sys.executable, "-c", "print('after started', flush=True)"],
            "depends_on": {"svc": "healthy"},
            "oneshot": True,
        },
    ]
    up = Up.model(tmp_path, procs, short_runtime_dir())
    try:
        after = up.wait_for("after.1 | after started")
        ignored = up.index("svc.1 * ignored a notification from pid")
        assert ignored < up.index("svc.1 | main sends")
        assert up.index("svc.1 | main sends") < up.index("svc.1 * healthy after") < after
        assert "(READY=1)" in up.lines[up.index("svc.1 * healthy after")]
    finally:
        assert up.stop() == 0, up.err


def test_gunicorn_tells_prodserver_it_is_ready(tmp_path: Path):
    (tmp_path / "app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
    )
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    procs = [
        {
            "name": "web",
            "argv": [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1", "app:app"],
            "healthcheck": {**NOTIFY, "start_period": 30.0},
            "cwd": str(tmp_path),
        },
        {
            "name": "client",
            "argv": [
                sys.executable,
                "-c",
                f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/').read())",
            ],
            "depends_on": {"web": "healthy"},
            "oneshot": True,
        },
    ]
    up = Up.model(tmp_path, procs, short_runtime_dir())
    try:
        answer = up.wait_for("client.1 | b'ok'")
        assert up.index("web.1 * healthy after") < answer
    finally:
        assert up.stop() == 0, up.err


def test_ready_and_stopping_go_upstream_and_the_outer_socket_never_reaches_a_child(
    tmp_path: Path,
):
    outer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "systemd.sock")
    outer.bind(path)
    outer.settimeout(20)
    project = write_project(
        tmp_path,
        """
        [processes.show]
        command = ["python", "show.py"]
        """,
        **{"show.py": SHOW},
    )
    up = Up.cli(project, runtime=short_runtime_dir(), NOTIFY_SOCKET=path)
    try:
        assert outer.recv(4096) == b"READY=1"
        line = up.lines[up.wait_for("show.1 | child sees")]
        assert path not in line
        assert "/notify-" in line  # its own socket in prodserver's runtime directory
    finally:
        up.popen.terminate()
        assert outer.recv(4096) == b"STOPPING=1"
        assert up.finish() == 0, up.err
        outer.close()
    wait_until(
        lambda: (
            not any(Path(line.split()[-1]).exists() for line in up.lines if "child sees" in line)
        ),
        what="notify socket removed",
    )
