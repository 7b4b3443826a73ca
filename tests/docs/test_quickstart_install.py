"""The quick start's tour runs as shown after the README's install (`pip install -e '.[demo]'`).

That install has Django and django-tasks only: the server and worker packages of the other
profiles (gunicorn, celery, ...) are missing. Rather than build a second virtual environment,
the check runs with every package outside the demo extra hidden from imports; `check` then
warns about each missing package once (with the extra to install) and still passes, as the page
shows. `up` of a profile that needs a missing package refuses with exit 69.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.docs.test_commands import child_env, make_project, parse_page, shown

#: import names of the packages that `pip install -e '.[demo]'` does not install
NOT_IN_DEMO = (
    "gunicorn",
    "uvicorn",
    "granian",
    "hypercorn",
    "daphne",
    "waitress",
    "celery",
    "flower",
    "rq",
    "rq_scheduler",
    "dramatiq",
    "django_q",
    "redis",
)

SITECUSTOMIZE = f"""
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {NOT_IN_DEMO!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _demo_install_env(tmp_path: Path) -> dict[str, str]:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hide), env.get("PYTHONPATH")]))
    return env


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_tour_check_passes_with_only_the_demo_installed(tmp_path: Path) -> None:
    page = parse_page(REPO / "docs" / "quickstart.md")
    [tour] = [c for c in page.commands if c.line == "prodserver check --all-profiles"]
    (tmp_path / "project").mkdir()
    cwd = make_project(page.project, tmp_path / "project")
    env = _demo_install_env(tmp_path)
    hidden = _run("python -c 'import gunicorn'", cwd, env)
    assert "No module named 'gunicorn'" in hidden.stderr  # the hiding works
    done = _run(tour.line, cwd, env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(shown(line, lines) for line in tour.expected), done.stdout
    warnings = [line for line in done.stderr.splitlines() if "PS145" in line]
    assert warnings, done.stderr
    assert all("warning PS145" in line for line in warnings)
    assert "pip install 'prodserver[celery]'" in done.stderr
    assert "PS146" not in done.stderr  # the missing program is the same root cause


def test_up_refuses_a_profile_whose_package_is_missing(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    cwd = make_project(None, tmp_path / "project")
    env = _demo_install_env(tmp_path)
    done = _run("prodserver up --profile prod", cwd, env)
    assert done.returncode == 69, done.stderr
    assert done.stderr.startswith("prodserver: error PS145: ")
    assert "hint: pip install 'prodserver[gunicorn]'" in done.stderr
