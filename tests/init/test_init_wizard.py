"""The wizard: a real terminal prompt flow, driven through a pseudo-terminal."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodserver.init.plan import Detected, InvalidAnswer
from prodserver.init.wizard import run_wizard
from tests.init.test_init_cli import checked, prodserver

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


class Terminal:
    """``python -m prodserver init`` on the slave side of a pty; we type on the master."""

    def __init__(self, cwd: Path) -> None:
        self.master, slave = os.openpty()
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent", "TERM": "dumb"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prodserver", "init"],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20) -> str:
        """Read until ``text`` appears (or fail with what was seen)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {text!r}; saw:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {text!r}; saw:\n{self.seen}")
                self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return self.seen

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def wait(self, timeout: float = 20) -> int:
        # drain the terminal so that the child never blocks on a full pty buffer
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return code


@pytest.fixture
def django_dir(tmp_path: Path) -> Path:
    import shutil

    from tests.init.test_init_cli import DJANGO_PROJECT

    target = tmp_path / "site"
    shutil.copytree(DJANGO_PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_wizard_on_a_terminal_reasks_bad_answers_and_writes_a_checked_file(
    django_dir: Path,
) -> None:
    term = Terminal(django_dir)
    term.expect("Django project found (settings: mysite.settings)")
    term.expect("Project name [site]: ")
    term.type("my shop")  # invalid: a space
    term.expect("cannot be a project name")
    term.expect("Project name [site]: ")
    term.type("shop")
    term.expect("Web server (")
    term.type("gunicron")
    term.expect("did you mean 'gunicorn'?")
    term.type("")  # the default: gunicorn
    term.expect("Workers, comma-separated")
    term.type("celery-worker, celery-bet")
    term.expect("did you mean 'celery-beat'?")
    term.type("celery-worker,celery-beat")
    term.expect("Broker URL [redis://localhost:6379/0]: ")
    term.type("localhost")
    term.expect("is not a broker URL")
    term.type("amqp://guest@rabbit//")
    term.expect("Profiles, comma-separated")
    term.type("dev, staging, prod")
    term.expect("This is the prodserver.toml that will be written:")
    term.expect("Write prodserver.toml? [Y/n]: ")
    assert not (django_dir / "prodserver.toml").exists()  # shown first, written after
    term.type("")
    assert term.wait() == 0, term.seen
    assert "wrote " in term.seen
    text = (django_dir / "prodserver.toml").read_text(encoding="utf-8")
    assert text.startswith("#:schema https://prodserver.dev/schema/prodserver.schema.json")
    assert 'name = "shop"' in text
    assert 'CELERY_BROKER_URL = "${CELERY_BROKER_URL:-amqp://guest@rabbit//}"' in text
    assert 'extends = "prod"' in text
    assert "# Django's development server here" in text
    checked(django_dir)


def test_wizard_ctrl_d_writes_nothing(tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    term.expect("Project name [")
    os.write(term.master, b"\x04")  # Ctrl-D at the start of a line: end of input
    code = term.wait()
    assert code == 2, term.seen
    assert "nothing was written" in term.seen
    assert not (tmp_path / "prodserver.toml").exists()


def test_wizard_refuses_before_asking_when_the_file_exists(tmp_path: Path) -> None:
    (tmp_path / "prodserver.toml").write_text("# mine\n", encoding="utf-8")
    term = Terminal(tmp_path)
    assert term.wait() == 73
    assert "already exists" in term.seen
    assert "Project name" not in term.seen


# -- the same flow without a terminal (the ask function injected) ---------------------------------


def answers(*lines: str) -> object:
    queue = list(lines)
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    ask.prompts = prompts  # type: ignore[attr-defined]
    return ask


def test_non_django_wizard_asks_for_the_app_and_restarts_on_nothing_to_run(tmp_path: Path) -> None:
    ask = answers(
        "app",  # name
        "none",  # web
        "none",  # workers
        "",  # profiles -> nothing to run: start again
        "app",
        "uvicorn",
        "",  # app is required here
        "app.asgi:application",
        "rq-worker",
        "",  # broker default
        "",  # profiles default
    )
    out = io.StringIO()
    result = run_wizard(Detected(tmp_path), ask=ask, out=out)  # type: ignore[arg-type]
    assert result.web == "uvicorn"
    assert result.app == "app.asgi:application"
    assert result.workers == ["rq-worker"]
    assert result.broker == "redis://localhost:6379/0"
    assert result.profiles == ["dev", "prod"]
    text = out.getvalue()
    assert "nothing to run" in text and "start again" in text
    assert "the application is needed" in text


def test_wizard_eof_propagates(tmp_path: Path) -> None:
    with pytest.raises(EOFError):
        run_wizard(Detected(tmp_path), ask=answers("x"), out=io.StringIO())  # type: ignore[arg-type]


def test_invalid_answer_is_a_value_error() -> None:
    assert issubclass(InvalidAnswer, ValueError)


def test_written_file_from_prodserver_helper_is_checked(tmp_path: Path) -> None:
    done = prodserver("init", "--web", "uvicorn", "--app", "a:b", cwd=tmp_path)
    assert done.returncode == 0
    checked(tmp_path)


CELERY_PY = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
app = Celery("mysite")
app.config_from_object("django.conf:settings", namespace="CELERY")
"""
SETTINGS_TAIL = """
import os

DEBUG = os.environ.get("SHOP_DEBUG", "0") == "1"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://cache:6379/1")
CELERY_BEAT_SCHEDULE = {}
RQ_QUEUES = {"default": {"URL": "redis://cache:6379/2"}}
"""


def test_wizard_shows_what_it_found_and_what_it_will_write(django_dir: Path) -> None:
    (django_dir / "mysite" / "celery.py").write_text(CELERY_PY, encoding="utf-8")
    settings = django_dir / "mysite" / "settings.py"
    base = settings.read_text(encoding="utf-8")
    settings.write_text(base + SETTINGS_TAIL, encoding="utf-8")
    first = base.count("\n") + 1  # the line of SETTINGS_TAIL's first line
    term = Terminal(django_dir)
    term.expect("  found: Celery app (celery -A mysite) (mysite/celery.py)\n")
    term.expect("  found: Celery beat schedule (mysite/settings.py)\n")
    term.expect(
        f"  found: CELERY_BROKER_URL = redis://cache:6379/1 (mysite/settings.py:{first + 4})\n"
    )
    term.expect(f"  found: RQ queues (django-rq) (mysite/settings.py:{first + 6})\n")
    term.expect(f"  found: DEBUG read from $SHOP_DEBUG (mysite/settings.py:{first + 3})\n")
    term.expect("Project name [site]: ")
    term.type("")
    term.expect("Web server (")
    term.type("")
    # the workers and the broker the project configures are the defaults
    term.expect("or none) [celery-worker,celery-beat,rq-worker]: ")
    term.type("celery-worker,celery-beat")
    term.expect("Broker URL [redis://cache:6379/1]: ")
    term.type("")
    term.expect("Profiles, comma-separated (the first is the default) [dev,prod]: ")
    term.type("")
    seen = term.expect("Write prodserver.toml? [Y/n]: ")
    shown = seen[seen.index("This is the prodserver.toml that will be written:") :]
    for line in (
        "[processes.migrate]",
        'command = ["python", "manage.py", "migrate", "--noinput"]',
        "oneshot = true",
        'depends_on = {migrate = "completed"}',
        'healthcheck = {http = "http://127.0.0.1:${PORT}/", status = [200, 499], interval = "10s"}',
        'app = "mysite"',
        'CELERY_BROKER_URL = "${CELERY_BROKER_URL:-redis://cache:6379/1}"',
        'env = {SHOP_DEBUG = "0", SECRET_KEY = "${SECRET_KEY}"}',
    ):
        assert line in shown, line
    assert not (django_dir / "prodserver.toml").exists()
    term.type("n")
    assert term.wait() == 2, term.seen
    assert "nothing was written" in term.seen
    assert not (django_dir / "prodserver.toml").exists()
    term = Terminal(django_dir)
    term.expect("Project name [site]: ")
    for answer in ("", "", "celery-worker,celery-beat", "", ""):
        term.type(answer)  # read in order by the prompts, as typed ahead on a terminal
    term.expect("Write prodserver.toml? [Y/n]: ")
    term.type("y")
    assert term.wait() == 0, term.seen
    text = (django_dir / "prodserver.toml").read_text(encoding="utf-8")
    assert 'env = {SHOP_DEBUG = "0", SECRET_KEY = "${SECRET_KEY}"}' in text
    checked(django_dir)
