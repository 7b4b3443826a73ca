"""Small pieces of the health, metrics, control and pre-start code, without a running ``up``."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prodserver.checks.services import _redis_command, check_service, mask
from prodserver.cli.commands.status import duration, render, size
from prodserver.config.model import HealthCheck
from prodserver.errors import BackendUnavailable, UsageError
from prodserver.hostport import split_host_port
from prodserver.runtime.control import NotRunning, request
from prodserver.runtime.health import Health, Transition, http_probe, tcp_probe
from prodserver.runtime.metrics import MetricsServer, Snapshot, metric_families, parse_address
from prodserver.runtime.notify import parse_message
from prodserver.runtime.rundir import runtime_dir


def test_runtime_dir_is_per_project_and_private_to_the_user(tmp_path: Path):
    a = runtime_dir(tmp_path / "a", {"XDG_RUNTIME_DIR": str(tmp_path)})
    b = runtime_dir(tmp_path / "b", {"XDG_RUNTIME_DIR": str(tmp_path)})
    assert a.parent == b.parent == tmp_path / "prodserver" and a != b
    fallback = runtime_dir(tmp_path / "a", {})
    assert fallback.parent.name.startswith("prodserver-") and fallback.name == a.name


def test_status_without_a_supervisor_is_not_running(tmp_path: Path):
    with pytest.raises(NotRunning) as info:
        request(tmp_path, {"command": "status"})
    assert info.value.exit_code == 3


def test_status_table_has_the_columns_and_human_units():
    status = {
        "project": "shop",
        "profile": "prod",
        "uptime": 7325,
        "ready": True,
        "processes": [
            {
                "label": "web.1",
                "state": "running",
                "pid": 12,
                "uptime": 65.2,
                "restarts": 2,
                "health": "healthy",
                "cpu_percent": 3.14,
                "rss": 150 * 2**20,
            },
            {
                "label": "migrate.1",
                "state": "completed",
                "pid": None,
                "uptime": None,
                "restarts": 0,
                "health": "-",
                "cpu_percent": None,
                "rss": None,
            },
        ],
    }
    lines = render(status).splitlines()
    assert lines[0] == "shop (profile prod): ready, up 2h02m"
    assert lines[2].split() == ["web.1", "running", "12", "1m05s", "2", "healthy", "3.1%", "150.0M"]
    assert lines[3].split() == ["migrate.1", "completed", "-", "-", "0", "-", "-", "-"]
    assert (duration(59), duration(3600), duration(90000)) == ("59s", "1h00m", "1d01h")
    assert (size(512), size(2048)) == ("512B", "2K")


def test_notify_messages_are_parsed_by_lines():
    assert parse_message(b"READY=1\nSTATUS=up: 3 workers\nbogus\n") == {
        "READY": "1",
        "STATUS": "up: 3 workers",
    }


def test_health_without_retries_left_turns_unhealthy_and_recovers():
    check = HealthCheck("tcp", "127.0.0.1:1", interval=1.0, retries=2)
    h = Health(check, started_at=0.0)
    h.begin(1, 0.5)
    assert h.finish(0.6, True, "ok") is Transition.HEALTHY
    assert h.ready_after == 0.6
    h.begin(2, 1.6)
    assert h.finish(1.7, False, "refused") is None
    h.begin(3, 2.7)
    assert h.finish(2.8, False, "refused") is Transition.UNHEALTHY
    h.begin(4, 3.8)
    assert h.finish(3.9, True, "ok") is Transition.HEALTHY
    assert h.failures == 0


def test_tcp_and_http_probes_against_real_listeners():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        ok, detail = tcp_probe(HealthCheck("tcp", f"127.0.0.1:{port}", timeout=1.0))
        assert ok and "accepted" in detail
    ok, detail = tcp_probe(HealthCheck("tcp", f"127.0.0.1:{port}", timeout=1.0))
    assert (ok, detail) == (False, "connection refused")
    assert split_host_port("[::1]:80") == ("::1", 80)

    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503 if self.path == "/down" else 200)
            self.end_headers()
            self.wfile.write(b"state: fine")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert http_probe(HealthCheck("http", base + "/", expect="fine"))[0]
        ok, detail = http_probe(HealthCheck("http", base + "/", expect="broken"))
        assert not ok and "does not contain 'broken'" in detail
        ok, detail = http_probe(HealthCheck("http", base + "/down"))
        assert (ok, detail) == (False, "HTTP 503 (expected 200-399)")
        assert http_probe(HealthCheck("http", base + "/down", status=(503, 503)))[0]
    finally:
        server.shutdown()
        server.server_close()


def test_prometheus_families_parse_and_name_every_instance():
    rows = (
        {
            "process": "web",
            "instance": 1,
            "pid": 10,
            "ready": True,
            "state": "running",
            "restarts": 3,
            "uptime": 12.5,
            "ready_after": 0.8,
            "cpu_percent": 1.5,
            "rss": 1000,
            "threads": 4,
            "open_files": 9,
            "last_exit": None,
        },
    )
    from prometheus_client import CollectorRegistry, generate_latest

    class C:
        def collect(self):  # type: ignore[no-untyped-def]
            return metric_families(Snapshot(rows, 5000, 0.0))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(C())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    values = {
        (s.name, s.labels.get("state")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert values[("prodserver_process_restarts_total", None)] == 3
    assert values[("prodserver_process_state", "running")] == 1
    assert values[("prodserver_process_state", "backoff")] == 0
    assert ("prodserver_process_last_exit_code", None) not in values  # unknown, not zero


def test_metrics_label_replicas_apart_from_prometheus_instance_and_a_done_oneshot_is_up():
    from prometheus_client import CollectorRegistry, generate_latest

    def row(process: str, state: str, pid: int | None) -> dict[str, object]:
        return {
            "process": process,
            "instance": 1,
            "label": f"{process}.1",
            "pid": pid,
            "ready": state == "running",
            "state": state,
            "restarts": 0,
            "last_exit": 0 if pid is None else None,
        }

    rows = [row("migrate", "completed", None), row("web", "running", 10), row("w", "exited", None)]

    class C:
        def collect(self):  # type: ignore[no-untyped-def]
            return metric_families(Snapshot(rows, 5000, 0.0))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(C())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert not any("instance" in s.labels for s in samples)
    up = {s.labels["process"]: s.value for s in samples if s.name == "prodserver_process_up"}
    assert up == {"migrate": 1.0, "web": 1.0, "w": 0.0}
    assert all(s.labels["replica"] == "1" for s in samples if s.name == "prodserver_process_up")


def test_metrics_address_parsing_and_the_missing_extra(monkeypatch):
    assert parse_address("9191") == ("127.0.0.1", 9191)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:9191") == ("::1", 9191)
    with pytest.raises(UsageError, match="expected HOST:PORT"):
        parse_address("localhost:http")
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(BackendUnavailable) as info:
        MetricsServer("127.0.0.1", 0)
    assert info.value.hint == "pip install 'prodserver[metrics]'"


def test_service_urls_are_masked_and_refusals_explained():
    assert mask("redis://:hunter2@cache:6379/0") == "redis://:********@cache:6379/0"
    assert mask("redis://:hun#t/e?r2@cache:6379/0") == "redis://:********@cache:6379/0"
    assert mask("postgres://app@db/shop") == "postgres://app@db/shop"
    assert _redis_command("AUTH", "pw") == b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert check_service(f"postgres://127.0.0.1:{port}/x", 1.0) == "connection refused"


def test_notify_sockets_are_private_in_a_searchable_directory(tmp_path: Path):
    import stat

    from prodserver.runtime.notify import NotifyHub

    hub = NotifyHub(tmp_path / "n", lambda *a: None, lambda fd, cb: None, lambda fd: None)
    try:
        env = hub.env_for(object())  # type: ignore[arg-type]
        path = Path(env["NOTIFY_SOCKET"])
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        hub.close()
    assert not (tmp_path / "n").exists()


def test_the_notify_directory_goes_at_the_end_even_with_something_else_in_it(tmp_path: Path):
    from prodserver.runtime.notify import NotifyHub

    for stray in (False, True):
        where = tmp_path / f"n{stray}"
        hub = NotifyHub(where, lambda *a: None, lambda fd, cb: None, lambda fd: None)
        hub.env_for(object())  # type: ignore[arg-type]
        hub.env_for(object())  # type: ignore[arg-type]
        if stray:
            (where / "left-by-someone").write_text("x")
        hub.close()
        assert not where.exists()
    hub = NotifyHub(tmp_path / "never", lambda *a: None, lambda fd, cb: None, lambda fd: None)
    hub.close()  # no instance started: nothing to remove, and no error
    assert not (tmp_path / "never").exists()
