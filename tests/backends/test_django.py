"""Django awareness: the application and project come from the settings file, never imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.backends.django import as_target, read_setting
from prodserver.errors import ConfigError
from tests.backends.conftest import argv, ctx


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def dj(root: Path, settings: str = "shop.settings", **env: str) -> object:
    return ctx({"PORT": "5000", "DJANGO_SETTINGS_MODULE": settings, **env}, root=root, cwd=root)


def test_web_backends_read_the_application_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shop/__init__.py": "",
            # importing this would fail: proof that it is read, not imported
            "shop/settings.py": "import not_installed_anywhere\n"
            "WSGI_APPLICATION = 'shop.web.wsgi_app'\n"
            "ASGI_APPLICATION = 'shop.routing.application'\n",
        },
    )
    context = dj(tmp_path)
    assert argv("gunicorn", {}, context)[-1] == "shop.web:wsgi_app"
    assert argv("waitress", {}, context)[-1] == "shop.web:wsgi_app"
    assert argv("granian", {}, context)[-1] == "shop.web:wsgi_app"
    assert argv("granian", {"interface": "asgi"}, context)[-1] == "shop.routing:application"
    assert argv("uvicorn", {}, context)[1] == "shop.routing:application"
    assert argv("hypercorn", {}, context)[-1] == "shop.routing:application"
    assert argv("daphne", {}, context)[-1] == "shop.routing:application"


def test_an_explicit_app_wins(tmp_path: Path) -> None:
    write(tmp_path, {"shop/settings.py": "WSGI_APPLICATION = 'shop.wsgi.application'\n"})
    assert argv("gunicorn", {"app": "other:app"}, dj(tmp_path))[-1] == "other:app"


def test_later_assignment_and_star_imports_follow_python_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shop/settings/__init__.py": "",
            "shop/settings/base.py": "WSGI_APPLICATION = 'shop.wsgi.application'\n",
            "shop/settings/prod.py": "from .base import *\n",
            "shop/settings/staging.py": "WSGI_APPLICATION = 'early.app'\n"
            "from shop.settings.base import *\n",
            "shop/settings/local.py": "from .base import *\n"
            "WSGI_APPLICATION: str = 'shop.local.app'\n",
        },
    )
    dirs = [tmp_path]
    assert read_setting("shop.settings.prod", "WSGI_APPLICATION", dirs) == "shop.wsgi.application"
    assert read_setting("shop.settings.staging", "WSGI_APPLICATION", dirs) == (
        "shop.wsgi.application"
    )
    assert read_setting("shop.settings.local", "WSGI_APPLICATION", dirs) == "shop.local.app"


def test_computed_values_are_not_believed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shop/settings.py": "import os\nWSGI_APPLICATION = os.environ['APP']\n",
            "shop/wsgi.py": "",
        },
    )
    # falls back to the startproject convention because the file exists
    assert argv("gunicorn", {}, dj(tmp_path))[-1] == "shop.wsgi:application"


def test_convention_when_the_settings_file_is_not_found(tmp_path: Path) -> None:
    write(tmp_path, {"shop/asgi.py": ""})
    assert argv("uvicorn", {}, dj(tmp_path))[1] == "shop.asgi:application"


def test_nothing_to_go_on_names_the_option_to_set(tmp_path: Path) -> None:
    write(tmp_path, {"shop/settings.py": "DEBUG = True\n"})
    with pytest.raises(ConfigError) as err:
        argv("gunicorn", {}, dj(tmp_path))
    assert err.value.code == "PS220"
    assert "WSGI_APPLICATION" in err.value.message
    assert "app =" in (err.value.hint or "")


@pytest.mark.parametrize("env", [{}, {"DJANGO_SETTINGS_MODULE": "${DJANGO_SETTINGS_MODULE}"}])
def test_without_settings_module_app_is_required(tmp_path: Path, env: dict[str, str]) -> None:
    context = ctx({"PORT": "5000", **env}, root=tmp_path, cwd=tmp_path)
    for name in ("gunicorn", "uvicorn", "celery-worker", "celery-beat"):
        with pytest.raises(ConfigError) as err:
            argv(name, {}, context)
        assert err.value.code == "PS220"
        assert "'app'" in err.value.message


def test_workers_take_the_project_package(tmp_path: Path) -> None:
    context = dj(tmp_path, "shop.settings.production")
    assert argv("celery-worker", {}, context)[:4] == ["celery", "--app", "shop", "worker"]
    assert argv("celery-beat", {}, context)[:4] == ["celery", "--app", "shop", "beat"]
    assert argv("celery-flower", {}, context)[:4] == ["celery", "--app", "shop", "flower"]


def test_settings_are_found_in_cwd_then_pythonpath_then_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/shop/settings.py": "WSGI_APPLICATION = 'shop.from_src.application'\n",
            "app/shop/settings.py": "WSGI_APPLICATION = 'shop.from_cwd.application'\n",
        },
    )
    in_cwd = ctx(
        {"DJANGO_SETTINGS_MODULE": "shop.settings", "PYTHONPATH": "../src"},
        root=tmp_path,
        cwd=tmp_path / "app",
    )
    assert argv("gunicorn", {}, in_cwd)[-1] == "shop.from_cwd:application"
    on_path = ctx(
        {"DJANGO_SETTINGS_MODULE": "shop.settings", "PYTHONPATH": "src"},
        root=tmp_path,
        cwd=tmp_path,
    )
    assert argv("gunicorn", {}, on_path)[-1] == "shop.from_src:application"


def test_a_project_below_the_root_is_found_when_unique(tmp_path: Path) -> None:
    write(tmp_path, {"examples/demo/shop/settings.py": "WSGI_APPLICATION = 'shop.w.app'\n"})
    context = ctx({"DJANGO_SETTINGS_MODULE": "shop.settings"}, root=tmp_path)
    assert argv("gunicorn", {}, context)[-1] == "shop.w:app"
    # two candidates: no guessing between them
    write(tmp_path, {"other/shop/settings.py": "WSGI_APPLICATION = 'shop.x.app'\n"})
    with pytest.raises(ConfigError):
        argv("gunicorn", {}, context)


def test_unreadable_settings_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"shop/settings.py": "WSGI_APPLICATION = (\n", "shop/wsgi.py": ""})
    assert argv("gunicorn", {}, dj(tmp_path))[-1] == "shop.wsgi:application"


def test_star_import_cycles_end(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"a/__init__.py": "", "a/x.py": "from a.y import *\n", "a/y.py": "from a.x import *\n"},
    )
    assert read_setting("a.x", "WSGI_APPLICATION", [tmp_path]) is None


@pytest.mark.parametrize(
    ("dotted", "target"),
    [
        ("shop.wsgi.application", "shop.wsgi:application"),
        ("shop.wsgi:application", "shop.wsgi:application"),
        ("application", "application"),
    ],
)
def test_as_target(dotted: str, target: str) -> None:
    assert as_target(dotted) == target


def test_the_demo_project_is_discovered() -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    context = dj(demo, "demo.settings")
    assert argv("gunicorn", {}, context)[-1] == "demo.wsgi:application"
    assert argv("daphne", {}, context)[-1] == "demo.asgi:application"
