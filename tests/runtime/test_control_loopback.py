"""The token-guarded loopback status endpoint (what Windows uses instead of a unix socket),
run for real here by asking for it by name."""

from __future__ import annotations

import _socket
import json
import os
import selectors
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from prodserver.runtime import control, rundir
from prodserver.runtime.control import ENDPOINT_NAME, ControlServer, NotRunning, request


class Pump:
    """A tiny event loop on a thread: calls each watched fd's callback when it is readable."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        with self.lock:
            self.selector.register(fd, selectors.EVENT_READ, callback)

    def unwatch(self, fd: int) -> None:
        with self.lock:
            self.selector.unregister(fd)

    def _run(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self.selector.select(0.02):
                with self.lock:
                    known = key.fd in self.selector.get_map()
                if known:
                    key.data()


@pytest.fixture
def asked() -> list[Mapping[str, Any]]:
    return []


@pytest.fixture
def served(tmp_path: Path, asked: list[Mapping[str, Any]]) -> Iterator[ControlServer]:
    pump = Pump()

    def handler(req: Mapping[str, Any]) -> Mapping[str, Any]:
        asked.append(dict(req))
        return {"ok": True, "processes": []}

    server = ControlServer(tmp_path, handler, pump.watch, pump.unwatch, transport="tcp")
    assert server.open() is None
    pump.thread.start()
    yield server
    pump.stopping.set()
    pump.thread.join()
    server.close()


def _raw(port: int, line: bytes) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data)
    return reply


def test_the_status_client_finds_the_port_and_sends_the_token(
    served: ControlServer, tmp_path: Path, asked: list[Mapping[str, Any]]
) -> None:
    assert not (tmp_path / control.SOCKET_NAME).exists()  # no unix socket: the file only
    assert request(tmp_path, {"command": "status"}) == {"ok": True, "processes": []}
    assert asked == [{"command": "status"}]  # the handler never sees the token
    assert served.sock is not None
    assert served.sock.getsockname()[0] == "127.0.0.1"  # loopback only


def test_the_endpoint_file_is_private_and_holds_a_long_random_token(
    served: ControlServer, tmp_path: Path
) -> None:
    path = tmp_path / ENDPOINT_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert served.sock is not None
    assert data["port"] == served.sock.getsockname()[1] and data["pid"] == os.getpid()
    assert data["token"] == served.token and len(data["token"]) >= 40
    assert [p.name for p in tmp_path.iterdir()] == [ENDPOINT_NAME]  # no temporary file left


@pytest.mark.parametrize(
    "line",
    [
        b'{"command": "status"}\n',
        b'{"command": "status", "token": "guess"}\n',
        b'{"command": "status", "token": 12345}\n',
        b'{"command": "reload", "token": null}\n',
    ],
)
def test_a_request_without_the_right_token_is_refused(
    served: ControlServer, asked: list[Mapping[str, Any]], line: bytes
) -> None:
    assert served.sock is not None
    reply = _raw(served.sock.getsockname()[1], line)
    assert reply == {"error": "refused: wrong or missing token"}
    assert asked == []


def test_the_endpoint_goes_away_with_the_server(tmp_path: Path) -> None:
    pump = Pump()
    server = ControlServer(tmp_path, lambda r: {}, pump.watch, pump.unwatch, transport="tcp")
    assert server.open() is None
    server.close()
    assert not (tmp_path / ENDPOINT_NAME).exists()
    with pytest.raises(NotRunning, match="no prodserver up is running for this project"):
        request(tmp_path, {"command": "status"})


def test_a_second_server_leaves_a_live_endpoint_alone(
    served: ControlServer, tmp_path: Path
) -> None:
    before = (tmp_path / ENDPOINT_NAME).read_text()
    pump = Pump()
    second = ControlServer(tmp_path, lambda r: {}, pump.watch, pump.unwatch, transport="tcp")
    warning = second.open()
    assert warning is not None and "another prodserver up of this project owns" in warning
    second.close()
    assert (tmp_path / ENDPOINT_NAME).read_text() == before  # neither replaced nor removed


def test_a_stale_endpoint_from_a_killed_up_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as gone:  # a port nothing listens on any more
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    (tmp_path / ENDPOINT_NAME).write_text(json.dumps({"port": port, "token": "old"}))
    with pytest.raises(NotRunning, match="no prodserver up is running"):
        request(tmp_path, {"command": "status"})
    pump = Pump()
    server = ControlServer(tmp_path, lambda r: {}, pump.watch, pump.unwatch, transport="tcp")
    try:
        assert server.open() is None
        assert json.loads((tmp_path / ENDPOINT_NAME).read_text())["token"] == server.token
    finally:
        server.close()


@pytest.mark.parametrize(
    "content",
    ["", "not json", "[1, 2]", '{"port": "80", "token": "x"}', '{"port": 0, "token": "x"}'],
)
def test_a_damaged_endpoint_file_means_not_running_not_a_traceback(
    tmp_path: Path, content: str
) -> None:
    (tmp_path / ENDPOINT_NAME).write_text(content)
    with pytest.raises(NotRunning, match="no prodserver up is running"):
        request(tmp_path, {"command": "status"})


def test_the_runtime_directory_needs_no_uid_where_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no ``os.getuid``: the directory is still found and created."""
    monkeypatch.delattr(os, "getuid")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    path = rundir.runtime_dir(tmp_path / "project", {})
    assert path.parent == tmp_path / "prodserver-user"
    assert rundir.ensure_private_dir(path).is_dir()


def test_the_transport_follows_what_python_has(monkeypatch: pytest.MonkeyPatch) -> None:
    assert control.default_transport() == ("unix" if sys.platform != "win32" else "tcp")
    monkeypatch.delattr(_socket, "AF_UNIX", raising=False)
    assert control.default_transport() == "tcp"
