"""``prodserver init`` from flags, a Procfile and Django settings; every file passes check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prodserver.exitcodes import ExitCode

REPO = Path(__file__).resolve().parent.parent.parent
DJANGO_PROJECT = REPO / "tests" / "django" / "project"


def prodserver(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "prodserver", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def need_backends(*names: str) -> None:
    """Skip when a backend's package is missing here (prodserver check would say so: exit 69)."""
    from prodserver.backends.registry import get_backend

    for name in names:
        missing = get_backend(name).missing_requirements()
        if missing:
            pytest.skip(f"backend {name} needs {', '.join(missing)}, not installed here")


def checked(directory: Path, *files: str) -> None:
    """``prodserver check --all-profiles`` accepts the written file."""
    args = ["check", "--all-profiles"]
    if files:
        args += ["-f", files[0]]
    done = prodserver(*args, cwd=directory)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def django_dir(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "site"
    shutil.copytree(DJANGO_PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


COMBOS = [
    ["--web", "gunicorn"],
    ["--web", "uvicorn", "--worker", "celery-worker", "--worker", "celery-beat"],
    [
        "--web",
        "granian",
        "--worker",
        "celery-worker,celery-flower",
        "--broker",
        "amqp://guest@mq//",
    ],
    ["--web", "none", "--worker", "rq-worker,rq-scheduler", "--broker", "redis://cache:6379/2"],
    ["--web", "daphne", "--worker", "django-tasks", "--profiles", "dev,staging,prod"],
    ["--web", "waitress", "--worker", "django-q2", "--profiles", "prod"],
    ["--web", "hypercorn", "--worker", "dramatiq", "--profiles", ""],
    ["--web", "runserver", "--profiles", "local,production", "--name", "shop"],
    ["--non-interactive"],
]


@pytest.mark.parametrize("flags", COMBOS, ids=[" ".join(c) for c in COMBOS])
def test_non_interactive_django_combinations_pass_check(django_dir: Path, flags: list[str]) -> None:
    need_backends(*[w for f in flags for w in f.split(",") if w in ("django-tasks", "django-q2")])
    done = prodserver("init", *flags, cwd=django_dir)
    assert done.returncode == 0, done.stderr
    text = (django_dir / "prodserver.toml").read_text(encoding="utf-8")
    assert text.startswith("#:schema https://prodserver.dev/schema/prodserver.schema.json\n")
    assert 'DJANGO_SETTINGS_MODULE = "mysite.settings"' in text
    checked(django_dir)


def test_non_django_project_needs_the_app(tmp_path: Path) -> None:
    done = prodserver("init", "--web", "gunicorn", cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert "needs the application" in done.stderr
    done = prodserver("init", "--web", "gunicorn", "--app", "shop.wsgi:application", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    checked(tmp_path)


def test_broker_goes_into_the_environment_with_a_shell_override(tmp_path: Path) -> None:
    done = prodserver(
        "init", "--worker", "celery-worker", "--broker", "redis://q:6379/3", "-o", "-", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert 'CELERY_BROKER_URL = "${CELERY_BROKER_URL:-redis://q:6379/3}"' in done.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--web", "gunicron"], "did you mean 'gunicorn'"),
        (["--worker", "celery"], "is not a worker backend"),
        (["--worker", "rq-worker,rq-worker"], "listed twice"),
        (["--worker", "celery-worker", "--broker", "localhost:6379"], "is not a broker URL"),
        (["--web", "gunicorn", "--profiles", "dev,pr od"], "cannot be a profile name"),
        (["--web", "gunicorn", "--name", "my shop"], "cannot be a project name"),
        (["--web", "gunicorn", "--app", "not an app"], "is not an application path"),
        (["--web", "none"], "nothing to run"),
        (["--web", "runserver"], "no Django project"),
        (["--from-procfile", "--web", "gunicorn"], "cannot be combined"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path: Path, flags: list[str], message: str) -> None:
    done = prodserver("init", *flags, cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "prodserver.toml").exists()


def test_existing_file_is_never_replaced_without_force(tmp_path: Path) -> None:
    target = tmp_path / "prodserver.toml"
    target.write_text("# mine\n", encoding="utf-8")
    done = prodserver("init", "--web", "uvicorn", "--app", "a:b", cwd=tmp_path)
    assert done.returncode == ExitCode.CANTCREAT
    assert "already exists" in done.stderr and "--force" in done.stderr
    assert "error PS191" in done.stderr  # as docs/errors.md says (the code once said PS192)
    assert target.read_text(encoding="utf-8") == "# mine\n"
    done = prodserver("init", "--web", "uvicorn", "--app", "a:b", "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "uvicorn" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["prodserver.toml"]  # no temporary left


def test_no_terminal_and_no_flags_is_a_usage_error(tmp_path: Path) -> None:
    done = prodserver("init", cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert "no terminal" in done.stderr and "--non-interactive" in done.stderr


def test_json_and_yaml_hold_the_same_data_as_toml(django_dir: Path) -> None:
    import tomllib

    import yaml

    flags = ["--worker", "celery-worker", "--profiles", "dev,staging,prod"]
    for fmt in ("toml", "json", "yaml"):
        done = prodserver("init", *flags, "--format", fmt, cwd=django_dir)
        assert done.returncode == 0, done.stderr
    toml_data = tomllib.loads((django_dir / "prodserver.toml").read_text(encoding="utf-8"))
    json_data = json.loads((django_dir / "prodserver.json").read_text(encoding="utf-8"))
    yaml_text = (django_dir / "prodserver.yaml").read_text(encoding="utf-8")
    assert yaml_text.startswith("# yaml-language-server: $schema=https://")
    assert toml_data == json_data == yaml.safe_load(yaml_text)


def test_yaml_without_pyyaml_is_a_clear_error(tmp_path: Path) -> None:
    # a directory shadowing `yaml` with a module that fails to import, as if not installed
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "yaml.py").write_text("raise ImportError('no yaml here')\n", encoding="utf-8")
    done = prodserver(
        "init",
        "--web",
        "uvicorn",
        "--app",
        "a:b",
        "--format",
        "yaml",
        cwd=tmp_path,
        env={"PYTHONPATH": str(shadow)},
    )
    assert done.returncode == ExitCode.UNAVAILABLE
    assert "needs PyYAML" in done.stderr and "pip install pyyaml" in done.stderr


# -- --from-procfile -----------------------------------------------------------------------------


def test_from_procfile_with_env(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(
        textwrap.dedent(
            """\
            web: gunicorn shop.wsgi --bind 0.0.0.0:$PORT
            worker: celery -A shop worker -l info
            release: python manage.py migrate && python manage.py collectstatic --noinput
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / ".env").write_text("DJANGO_DEBUG=1\n", encoding="utf-8")
    done = prodserver("init", "--from-procfile", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "prodserver.toml").read_text(encoding="utf-8")
    assert 'env_files = [".env"]' in text
    assert "# Procfile line 2: celery -A shop worker -l info" in text
    assert "# Procfile line 3.\n" in text
    checked(tmp_path)
    done = prodserver("config", "--format", "json", cwd=tmp_path)
    data = json.loads(done.stdout)
    # the same argv as the line, built by the typed backend
    assert data["processes"]["web"]["backend"] == "gunicorn"
    assert data["processes"]["web"]["command"] == [
        "gunicorn",
        "--bind",
        "0.0.0.0:5000",
        "shop.wsgi",
    ]
    assert data["processes"]["release"]["command"] == [
        "/bin/sh",
        "-c",
        "python manage.py migrate && python manage.py collectstatic --noinput",
    ]
    # the release phase: a oneshot the other lines wait for
    assert data["processes"]["release"]["oneshot"] is True
    assert data["processes"]["worker"]["depends_on"] == {"release": "completed"}
    assert data["env"]["DJANGO_DEBUG"] == "1"


def test_from_procfile_in_another_directory(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "Procfile.prod").write_text("web: python -m http.server $PORT\n", encoding="utf-8")
    (deploy / ".env").write_text("A=1\n", encoding="utf-8")
    done = prodserver("init", "--from-procfile", "deploy/Procfile.prod", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'env_files = ["deploy/.env"]' in (tmp_path / "prodserver.toml").read_text("utf-8")
    checked(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("web gunicorn app\n", "Procfile"),
        ("web: one\nweb: two\n", "web"),
    ],
)
def test_bad_procfile_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "Procfile").write_text(content, encoding="utf-8")
    done = prodserver("init", "--from-procfile", cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "prodserver.toml").exists()


def test_missing_procfile_is_a_config_error(tmp_path: Path) -> None:
    done = prodserver("init", "--from-procfile", "nope", cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG
    assert "does not exist" in done.stderr


# -- --from-django -------------------------------------------------------------------------------


def test_from_django_needs_the_settings_module(tmp_path: Path) -> None:
    done = prodserver("init", "--from-django", cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert "DJANGO_SETTINGS_MODULE" in done.stderr


def test_from_django_with_an_unimportable_settings_module(tmp_path: Path) -> None:
    done = prodserver(
        "init", "--from-django", cwd=tmp_path, env={"DJANGO_SETTINGS_MODULE": "nowhere.settings"}
    )
    assert done.returncode == ExitCode.CONFIG
    assert "cannot load the settings 'nowhere.settings'" in done.stderr


def test_from_django_without_the_setting(django_dir: Path) -> None:
    done = prodserver(
        "init", "--from-django", cwd=django_dir, env={"DJANGO_SETTINGS_MODULE": "mysite.settings"}
    )
    assert done.returncode == ExitCode.CONFIG
    assert "have no PRODUCTION_PROCESSES" in done.stderr


def test_from_django_writes_the_equivalent_file(django_dir: Path) -> None:
    env = {"DJANGO_SETTINGS_MODULE": "mysite.settings_legacy"}
    done = prodserver("init", "--from-django", cwd=django_dir, env=env)
    assert done.returncode == 0, done.stderr
    checked(django_dir)
    done = prodserver("config", "--format", "json", cwd=django_dir)
    data = json.loads(done.stdout)
    web = data["processes"]["web"]
    assert web["port"] == 8111
    assert web["command"][:3] == ["gunicorn", "--bind", "0.0.0.0:8111"]
    assert data["processes"]["worker"]["options"]["app"] == "mysite.celery.app"


def test_from_django_unknown_backend(django_dir: Path) -> None:
    env = {"DJANGO_SETTINGS_MODULE": "mysite.settings_unknown"}
    done = prodserver("init", "--from-django", cwd=django_dir, env=env)
    assert done.returncode == ExitCode.CONFIG
    assert "unknown BACKEND" in done.stderr
    assert not (django_dir / "prodserver.toml").exists()


def test_every_shipped_backend_through_init_from_django(django_dir: Path) -> None:
    from tests.django.test_django_source import SHIPPED

    need_backends(*{backend for _, backend, _ in SHIPPED})
    lines = ["from mysite.settings import *  # noqa: F403", "PRODUCTION_PROCESSES = {"]
    for i, (path, backend, _) in enumerate(SHIPPED):
        app = ', "APP": "mysite.celery.app"' if backend.startswith("celery") else ""
        lines.append(f'    "p{i}": {{"BACKEND": "{path}", "ARGS": {{}}{app}}},')
    lines.append("}")
    (django_dir / "mysite" / "settings_all.py").write_text("\n".join(lines) + "\n", "utf-8")
    env = {"DJANGO_SETTINGS_MODULE": "mysite.settings_all"}
    done = prodserver("init", "--from-django", cwd=django_dir, env=env)
    assert done.returncode == 0, done.stderr
    checked(django_dir)


@pytest.mark.parametrize(
    ("line", "table"),
    [
        (
            "gunicorn --bind :$PORT --workers 3 dtb.wsgi:application",
            {
                "backend": "gunicorn",
                "app": "dtb.wsgi:application",
                "bind": ":${PORT}",
                "workers": 3,
            },
        ),
        (
            "gunicorn -b 0.0.0.0:$PORT -w 2 -t 120 shop.wsgi:application",
            {
                "backend": "gunicorn",
                "app": "shop.wsgi:application",
                "bind": "0.0.0.0:${PORT}",
                "workers": 2,
                "timeout": 120,
            },
        ),
        (
            "uvicorn main:app --host=0.0.0.0 --port=$PORT --workers 4",
            {"backend": "uvicorn", "app": "main:app", "bind": "0.0.0.0:${PORT}", "workers": 4},
        ),
        (
            "celery -A shop worker -l info --concurrency=3",
            {"backend": "celery-worker", "app": "shop", "loglevel": "info", "concurrency": 3},
        ),
        (
            "celery -A shop beat -l info",
            {"backend": "celery-beat", "app": "shop", "loglevel": "info"},
        ),
        # each of these would change what the program sees, so the line stays a command:
        ("gunicorn shop.wsgi", None),  # the backend would add --bind
        ("gunicorn shop.wsgi --bind 0.0.0.0:$PORT --log-file -", None),  # an undeclared flag
        ("celery -A shop worker", None),  # the backend would add --loglevel info
        ("celery -A shop worker -l INFO", None),  # passed as `info`
        ("celery worker --app=shop -l info", None),  # celery 5 refuses this; kept as it is
        ("gunicorn app:app --bind 0.0.0.0:$PORT $EXTRA", None),  # another variable
        ("uvicorn main:app --port ${PORT:-8000}", None),  # a shell default
        ("python manage.py runserver 0.0.0.0:$PORT", None),  # the backend adds --noreload
    ],
)
def test_from_procfile_types_a_well_known_command_only_when_nothing_changes(
    tmp_path: Path, line: str, table: dict[str, object] | None
) -> None:
    import tomllib

    (tmp_path / "Procfile").write_text(f"release: true\nweb: {line}\n", encoding="utf-8")
    done = prodserver("init", "--from-procfile", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    web = tomllib.loads((tmp_path / "prodserver.toml").read_text("utf-8"))["processes"]["web"]
    assert web.pop("depends_on") == {"release": "completed"}
    if table is None:
        assert web["command"] == line
    else:
        assert web == table
    checked(tmp_path)
