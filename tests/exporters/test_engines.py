"""The exports run by their real engines (issue 13): supervisord, honcho and foreman.

The demo's ``prod`` profile is exported exactly as a user would (``prodserver export``), into a
copy of the demo laid out as on a server: the application root holds ``prodserver.toml``, the
Django project and a ``.venv`` (here a link to the test interpreter's virtualenv). The engines
run with an ordinary ``PATH`` (``/usr/bin:/bin``) and a real ``redis-server``: commands must be
found through what the export itself says. The one change to the demo's file is its
``base_port``, so that the ports are free on a shared machine.

Compose and Kubernetes cannot run here (no container engine): their exports are checked by
their validators in ``test_formats.py`` and ``test_demo.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.live.conftest import free_port, http_status, redis_url, wait_for

pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]
__all__ = ["redis_url"]  # the session fixture, shared with tests/live

VENV_BIN = Path(sys.executable).parent
PLAIN_PATH = "/usr/bin:/bin"
DEADLINE = 60.0


def _app(tmp_path: Path) -> tuple[Path, int]:
    """A copy of the demo as it would sit on a server, and its base port."""
    app = tmp_path / "app"
    shutil.copytree(
        REPO / "examples" / "demo",
        app / "examples" / "demo",
        ignore=shutil.ignore_patterns("var", "__pycache__", "*.sqlite3"),
    )
    base = max(free_port() - 500, 20000)
    toml = (REPO / "prodserver.toml").read_text(encoding="utf-8")
    toml = toml.replace("[project]\n", f"[project]\nbase_port = {base}\n", 1)
    (app / "prodserver.toml").write_text(toml, encoding="utf-8")
    (app / ".venv").symlink_to(VENV_BIN.parent)
    return app, base


def _export(app: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODSERVER_")}
    done = subprocess.run(
        [sys.executable, "-m", "prodserver", "export", *argv],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _rows(db: Path, source: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM visits_visit WHERE source = ?", (source,)
            ).fetchone()
            return int(count)
    except sqlite3.OperationalError:
        return 0


def _enqueue(app: Path, env: dict[str, str], source: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "enqueue_visit", "--via", "celery", "--source", source],
        cwd=app / "examples" / "demo",
        env={**env, "DJANGO_SETTINGS_MODULE": "demo.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


class Supervisord:
    """A real supervisord in the foreground, with its socket and logs under ``tmp``."""

    def __init__(self, tmp: Path, include: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.conf = tmp / "supervisord.conf"
        (tmp / "logs").mkdir()
        self.conf.write_text(
            f"[unix_http_server]\nfile={tmp}/supervisor.sock\n\n"
            f"[supervisord]\nnodaemon=true\nlogfile={tmp}/supervisord.log\n"
            f"pidfile={tmp}/supervisord.pid\nchildlogdir={tmp}/logs\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{tmp}/supervisor.sock\n\n"
            f"[include]\nfiles = {include}\n",
            encoding="utf-8",
        )
        self.env = env
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", str(self.conf)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def ctl(self, *argv: str) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(self.conf), *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def state(self, name: str) -> str:
        words = self.ctl("status", name).split()
        return words[1] if len(words) > 1 else ""

    def pid(self, name: str) -> int:
        text = self.ctl("pid", name).strip()
        return int(text) if text.isdigit() else 0

    def log(self) -> str:
        parts = [(self.tmp / "supervisord.log").read_text(errors="replace")]
        for path in sorted((self.tmp / "logs").glob("*")):
            parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)


@pytest.fixture
def supervisord_available() -> None:
    if not (VENV_BIN / "supervisord").exists():
        pytest.skip("supervisor is not installed (pip install supervisor)")


@pytest.mark.usefixtures("supervisord_available")
def test_supervisord_runs_the_demos_prod_export(tmp_path: Path, redis_url: str) -> None:
    psutil = pytest.importorskip("psutil")
    app, base = _app(tmp_path)
    # the test runs as root in CI, like the live tests of `up`: the export must be told so
    allow = ["--allow-root"] if os.geteuid() == 0 else []
    _export(app, "supervisord", "--profile", "prod", *allow, "-o", str(app / "demo.conf"))
    db = tmp_path / "demo.sqlite3"
    env = {
        "PATH": PLAIN_PATH,
        "HOME": str(tmp_path),
        "REDIS_URL": redis_url,
        "DEMO_DB_PATH": str(db),
        "LANG": "C.UTF-8",
    }
    sup = Supervisord(tmp_path, app / "demo.conf", env)
    try:
        wait_for(lambda: (tmp_path / "supervisor.sock").exists(), "supervisord's socket",
                 deadline=DEADLINE, proc=sup.proc)  # fmt: skip
        # the release step is not started by supervisord: the notes say to start it
        assert sup.state("demo:migrate") == "STOPPED", sup.ctl("status")
        sup.ctl("start", "demo:migrate")
        wait_for(lambda: sup.state("demo:migrate") == "EXITED", "migrate to finish",
                 deadline=DEADLINE, proc=sup.proc)  # fmt: skip
        # an expected exit (status 0): supervisord names only unexpected ones
        assert "exit status" not in sup.ctl("status", "demo:migrate")

        web_port = base + 100  # the web process is the demo's second process
        url = f"http://127.0.0.1:{web_port}/healthz"
        wait_for(lambda: http_status(url) == 200, "gunicorn to answer /healthz",
                 deadline=DEADLINE, proc=sup.proc)  # fmt: skip

        source = f"supervisord-{uuid.uuid4().hex[:8]}"
        _enqueue(app, env, source)
        wait_for(lambda: _rows(db, source) == 1, "the Celery task's row",
                 deadline=DEADLINE, proc=sup.proc)  # fmt: skip

        # a worker killed outright is started again (autorestart), and works
        first = sup.pid("demo:worker")
        assert first > 0, sup.ctl("status")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: sup.pid("demo:worker") not in (0, first)
                 and sup.state("demo:worker") == "RUNNING",
                 "the worker to be restarted", deadline=DEADLINE, proc=sup.proc)  # fmt: skip
        again = f"{source}-again"
        _enqueue(app, env, again)
        wait_for(lambda: _rows(db, again) == 1, "a task run by the restarted worker",
                 deadline=DEADLINE, proc=sup.proc)  # fmt: skip

        tree = psutil.Process(sup.proc.pid).children(recursive=True)
        assert len(tree) >= 3, sup.ctl("status")
    except BaseException:
        print(sup.ctl("status"))
        print(sup.log())
        sup.proc.kill()
        raise
    finally:
        if sup.proc.poll() is None:
            sup.proc.send_signal(signal.SIGTERM)
            try:
                sup.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(sup.proc.pid, signal.SIGKILL)
                sup.proc.wait()
    # nothing supervisord started outlives it
    deadline = time.monotonic() + 10
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree):
        assert time.monotonic() < deadline, [p.pid for p in tree if p.is_running()]
        time.sleep(0.1)  # reaped by init: nothing of ours to wait on


def _procfile_runner(tmp_path: Path, argv: list[str], app: Path, env: dict[str, str]) -> None:
    """Run ``argv`` (honcho or foreman on the exported Procfile's long-running lines) and
    wait for the web process to answer."""
    lines = (app / "Procfile").read_text(encoding="utf-8").splitlines()
    # the release line is the platform's release phase: run it first, as Heroku does
    release = next(line for line in lines if line.startswith("release: "))
    done = subprocess.run(
        ["/bin/sh", "-c", release.removeprefix("release: ")],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    long_running = [
        line for line in lines if ":" in line and not line.startswith(("#", "release:"))
    ]
    (app / "Procfile.run").write_text("\n".join(long_running) + "\n", encoding="utf-8")
    log = tmp_path / "runner.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        port = int(env["PORT"])
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200,
                 "the web process to answer", deadline=DEADLINE, proc=proc)  # fmt: skip
    except BaseException:
        print(log.read_text(errors="replace"))
        raise
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def procfile_app(tmp_path: Path, redis_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    app, _ = _app(tmp_path)
    _export(app, "procfile", "--profile", "prod", "-o", str(app / "Procfile"))
    env = {
        # a Procfile runner runs in the user's shell, with the project's virtualenv active
        "PATH": f"{app / '.venv' / 'bin'}:{PLAIN_PATH}",
        "HOME": str(tmp_path),
        "REDIS_URL": redis_url,
        "DEMO_DB_PATH": str(tmp_path / "demo.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "PORT": str(free_port()),
        "LANG": "C.UTF-8",
    }
    yield app, env


def test_honcho_runs_the_exported_procfile(
    tmp_path: Path, procfile_app: tuple[Path, dict[str, str]]
) -> None:
    app, env = procfile_app
    honcho = VENV_BIN / "honcho"
    if not honcho.exists():
        pytest.skip("honcho is not installed (pip install honcho)")
    # honcho gives the first process PORT itself; -p sets where it starts
    _procfile_runner(
        tmp_path,
        [str(honcho), "start", "-f", "Procfile.run", "-p", env["PORT"]],
        app,
        env,
    )


def test_foreman_runs_the_exported_procfile(
    tmp_path: Path, procfile_app: tuple[Path, dict[str, str]]
) -> None:
    foreman = shutil.which("foreman")
    if foreman is None:
        pytest.skip("foreman is not installed (apt-get install -y ruby-foreman)")
    app, env = procfile_app
    _procfile_runner(
        tmp_path, [foreman, "start", "-f", "Procfile.run", "-p", env["PORT"]], app, env
    )
