"""A third-party backend registers through the ``prodserver.backends`` entry-point group.

A tiny distribution (a module plus its ``.dist-info`` with ``entry_points.txt``) is placed in
a temporary directory put on ``PYTHONPATH`` of a fresh interpreter: exactly what ``pip install``
leaves behind, without the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PLUGIN = """
import signal
from prodserver.backends.base import Backend, Option, standard_argv


class HelloBackend(Backend):
    name = "hello"
    summary = "Says hello."
    kind = "worker"
    requires = ("hello_backend_dep_that_is_missing",)
    extra = None
    stop_signal = signal.SIGQUIT
    kill_mode = "main"
    options = (Option("greeting", "string", "What to say.", flag="--greeting", default="hi"),)

    def argv(self, values, ctx):
        return [ctx.python, "-m", "hello", *standard_argv(self, values)]
"""

PROJECT = """
[project]
name = "p"
[processes.greeter]
backend = "hello"
greeting = "bonjour"
"""


def install_plugin(site: Path, entry: str = "hello = hello_backend:HelloBackend") -> None:
    (site / "hello_backend.py").write_text(PLUGIN)
    info = site / "hello_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[prodserver.backends]\n{entry}\n")


def run(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_plugin_backend_is_listed_resolved_and_stopped_its_way(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "prodserver.toml").write_text(PROJECT)
    out = run(
        site,
        """
        import json
        from pathlib import Path
        from prodserver.backends.registry import registry, get_backend
        from prodserver.config.resolve import resolve_project
        info = registry()["hello"]
        spec = resolve_project(file=Path("prodserver.toml"), environ={}).processes["greeter"]
        print(json.dumps({
            "origin": info.origin,
            "argv": list(spec.argv[1:]),
            "stop": spec.stop_signal.name,
            "kill": spec.kill_mode,
            "missing": get_backend("hello").missing_requirements(),
        }))
        """,
        proj,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "origin": "hello-backend",
        "argv": ["-m", "hello", "--greeting", "bonjour"],
        "stop": "SIGQUIT",
        "kill": "main",
        "missing": ["hello_backend_dep_that_is_missing"],
    }


def test_a_plugin_cannot_replace_a_builtin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, entry="gunicorn = hello_backend:HelloBackend")
    out = run(
        site,
        """
        from prodserver.backends.registry import registry
        info = registry()["gunicorn"]
        print(info.origin, type(info.backend).__name__)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["built-in", "GunicornBackend"]


def test_a_broken_plugin_is_a_clear_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, entry="broken = hello_backend:DoesNotExist")
    out = run(
        site,
        """
        from prodserver.backends.registry import registry
        from prodserver.errors import ConfigError
        try:
            registry()
        except ConfigError as exc:
            print(exc.code, exc.hint)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PS151 fix or uninstall hello-backend"
