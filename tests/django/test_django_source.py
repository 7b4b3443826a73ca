"""django-prodserver's PRODUCTION_PROCESSES, translated: every BACKEND path it shipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodserver.config.django_source import (
    DjangoSource,
    setting_lines,
    translate,
)
from prodserver.config.resolve import resolve_with_provenance
from prodserver.config.sources import LineIndex
from prodserver.errors import ConfigError
from prodserver.schema.validate import validate_file

P = "django_prodserver.backends."

# Every class path django-prodserver shipped (1.x/2.x flat modules, 3.x servers/workers/dev),
# written out here independently of the translation table, with what it must become.
SHIPPED: list[tuple[str, str, dict[str, Any]]] = [
    (P + "gunicorn.GunicornServer", "gunicorn", {}),
    (P + "servers.gunicorn.GunicornServer", "gunicorn", {}),
    (P + "uvicorn.UvicornServer", "uvicorn", {}),
    (P + "servers.uvicorn.UvicornServer", "uvicorn", {}),
    (P + "uvicorn.UvicornWSGIServer", "uvicorn", {"interface": "wsgi"}),
    (P + "servers.uvicorn.UvicornWSGIServer", "uvicorn", {"interface": "wsgi"}),
    (P + "waitress.WaitressServer", "waitress", {}),
    (P + "servers.waitress.WaitressServer", "waitress", {}),
    (P + "granian.GranianASGIServer", "granian", {"interface": "asgi"}),
    (P + "servers.granian.GranianASGIServer", "granian", {"interface": "asgi"}),
    (P + "granian.GranianWSGIServer", "granian", {"interface": "wsgi"}),
    (P + "servers.granian.GranianWSGIServer", "granian", {"interface": "wsgi"}),
    (P + "celery.CeleryWorker", "celery-worker", {}),
    (P + "workers.celery.CeleryWorker", "celery-worker", {}),
    (P + "celery.CeleryBeat", "celery-beat", {}),
    (P + "workers.celery.CeleryBeat", "celery-beat", {}),
    (P + "celery.CeleryFlower", "celery-flower", {}),
    (P + "workers.celery.CeleryFlower", "celery-flower", {}),
    (P + "servers.flower.CeleryFlower", "celery-flower", {}),
    (P + "django_tasks.DjangoTasksWorker", "django-tasks", {}),
    (P + "workers.django_tasks.DjangoTasksWorker", "django-tasks", {}),
    (P + "django_q2.DjangoQ2Worker", "django-q2", {}),
    (P + "workers.django_q2.DjangoQ2Worker", "django-q2", {}),
    (P + "django_runserver.DjangoRunserver", "runserver", {}),
    (P + "dev.django_runserver.DjangoRunserver", "runserver", {}),
    (P + "daphne.DaphneRunserver", "daphne", {}),
    (P + "dev.daphne.DaphneRunserver", "daphne", {}),
    (P + "werkzeug.WerkzeugRunserver", "runserver", {}),
    (P + "werkzeug.RunserverPlus", "runserver", {}),
    (P + "dev.werkzeug.WerkzeugRunserver", "runserver", {}),
    (P + "dev.werkzeug.RunserverPlus", "runserver", {}),
]
CELERY = {"celery-worker", "celery-beat", "celery-flower"}


def source(data: dict[str, Any], root: Path, warnings: tuple[Any, ...] = ()) -> DjangoSource:
    return DjangoSource(
        path=root / "settings.py",
        kind="django",
        data=data,
        index=LineIndex({}),
        warnings=warnings,
        base_dir=root,
    )


def resolve(data: dict[str, Any], root: Path) -> Any:
    src = source(data, root)
    validate_file(src)
    project, _ = resolve_with_provenance(source=src, environ={"PATH": "/usr/bin:/bin"}, cwd=root)
    return project


@pytest.mark.parametrize(
    ("path", "backend", "fixed"), SHIPPED, ids=[s[0][len(P) :] for s in SHIPPED]
)
def test_every_shipped_backend_translates_and_resolves(
    path: str, backend: str, fixed: dict[str, Any], tmp_path: Path
) -> None:
    entry: dict[str, Any] = {"BACKEND": path, "ARGS": {}}
    if backend in CELERY:
        entry["APP"] = "shop.celery.app"
    t = translate(
        {"proc": entry},
        settings_module="shop.settings",
        wsgi_application="shop.wsgi.application",
        asgi_application="shop.asgi.application",
    )
    table = t.data["processes"]["proc"]
    assert table["backend"] == backend
    for key, value in fixed.items():
        assert table[key] == value
    if backend in CELERY:
        assert table["app"] == "shop.celery.app"
    project = resolve(t.data, tmp_path)
    spec = project.processes["proc"]
    assert spec.backend == backend
    assert "--settings" not in " ".join(spec.argv)


def test_shipped_list_is_exactly_the_translation_table() -> None:
    from prodserver.config.django_source import TARGETS

    assert sorted(TARGETS) == sorted(p for p, _, _ in SHIPPED)


def test_gunicorn_args_dict_becomes_typed_options_and_flags(tmp_path: Path) -> None:
    t = translate(
        {
            "web": {
                "BACKEND": P + "gunicorn.GunicornServer",
                "ARGS": {
                    "bind": "0.0.0.0:8111",
                    "workers": "4",
                    "preload": None,
                    "max-requests": "50",
                },
            }
        },
        settings_module="shop.settings",
        wsgi_application="shop.wsgi.application",
    )
    web = t.data["processes"]["web"]
    # a literal port becomes prodserver's port, so the health check and exports agree
    assert web["port"] == 8111
    assert web["bind"] == "0.0.0.0:${PORT}"
    assert web["workers"] == 4
    assert web["app"] == "shop.wsgi:application"
    project = resolve(t.data, tmp_path)
    argv = list(project.processes["web"].argv)
    assert argv[0] == "gunicorn"
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:8111"
    assert argv[argv.index("--workers") + 1] == "4"
    assert "--preload" in argv
    assert "--max-requests=50" in argv or argv[argv.index("--max-requests") + 1] == "50"
    assert "shop.wsgi:application" in argv
    assert project.env["DJANGO_SETTINGS_MODULE"] == "shop.settings"


def test_args_string_is_split_into_words(tmp_path: Path) -> None:
    t = translate(
        {
            "beat": {
                "BACKEND": P + "workers.celery.CeleryBeat",
                "APP": "shop.celery.app",
                "ARGS": "--schedule '/var/lib/beat schedule'",
            }
        }
    )
    assert t.data["processes"]["beat"]["args"] == ["--schedule", "/var/lib/beat schedule"]
    argv = list(resolve(t.data, tmp_path).processes["beat"].argv)
    assert argv[-2:] == ["--schedule", "/var/lib/beat schedule"]


def test_uvicorn_host_and_port_become_bind_and_port(tmp_path: Path) -> None:
    t = translate(
        {
            "web": {
                "BACKEND": P + "uvicorn.UvicornServer",
                "ARGS": {"host": "0.0.0.0", "port": "8000", "workers": "4"},
            }
        },
        asgi_application="shop.asgi.application",
    )
    web = t.data["processes"]["web"]
    assert (web["bind"], web["port"], web["workers"]) == ("0.0.0.0:${PORT}", 8000, 4)
    assert web["app"] == "shop.asgi:application"
    spec = resolve(t.data, tmp_path).processes["web"]
    assert spec.instances[0].port == 8000


def test_granian_constructor_keywords_are_renamed_and_unknown_ones_warned(tmp_path: Path) -> None:
    t = translate(
        {
            "web": {
                "BACKEND": P + "servers.granian.GranianASGIServer",
                "ARGS": {"address": "0.0.0.0", "port": "8000", "threads": "2", "bogus": "1"},
            }
        }
    )
    web = t.data["processes"]["web"]
    assert web["blocking_threads"] == 2
    assert web["interface"] == "asgi"
    assert "args" not in web  # granian never put ARGS on a command line
    assert [w.code for w in t.warnings] == ["PS211"]
    assert "bogus" in t.warnings[0].message


def test_dev_servers_warn_about_the_reloader_and_map_addrport(tmp_path: Path) -> None:
    t = translate(
        {
            "dev": {
                "BACKEND": P + "dev.django_runserver.DjangoRunserver",
                "ARGS": {"addrport": "0.0.0.0:8001", "nothreading": True},
            }
        }
    )
    dev = t.data["processes"]["dev"]
    assert (dev["port"], dev["bind"], dev["threading"]) == (8001, "0.0.0.0:${PORT}", False)
    assert any(w.code == "PS212" for w in t.warnings)


def test_werkzeug_says_what_replaces_it() -> None:
    t = translate({"dev": {"BACKEND": P + "dev.werkzeug.RunserverPlus"}})
    assert t.data["processes"]["dev"]["backend"] == "runserver"
    assert any("runserver_plus" in (w.message + (w.hint or "")) for w in t.warnings)


def test_app_on_a_backend_that_ignores_it_is_a_warning() -> None:
    t = translate({"web": {"BACKEND": P + "gunicorn.GunicornServer", "APP": "x"}})
    assert "app" not in t.data["processes"]["web"]
    assert [w.code for w in t.warnings] == ["PS211"]


def test_unknown_backend_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as info:
        translate({"web": {"BACKEND": "myproject.backends.CustomServer"}})
    text = info.value.render()
    assert "unknown BACKEND 'myproject.backends.CustomServer'" in text
    assert "GunicornServer" in text and "CeleryWorker" in text
    assert 'backend = "command"' in text
    assert info.value.exit_code == 78


def test_misspelt_backend_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        translate({"web": {"BACKEND": P + "servers.gunicorn.GunicornSever"}})
    assert "did you mean 'django_prodserver.backends.servers.gunicorn.GunicornServer'" in (
        info.value.render()
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ([("web", {})], "must be a dict"),
        ({"web": "gunicorn"}, "expected a dict with 'BACKEND'"),
        ({"web": {"ARGS": {}}}, "'BACKEND' is missing"),
        ({"web": {"BACKEND": P + "gunicorn.GunicornServer", "ARGS": 3}}, "'ARGS' must be a dict"),
        ({"web": {"BACKEND": P + "gunicorn.GunicornServer", "ARGS": "'x"}}, "cannot split"),
    ],
)
def test_malformed_settings_are_config_errors(setting: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        translate(setting)
    assert message in info.value.render()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        translate(
            {"a": {"BACKEND": "x.Y"}, "b": {}, "c": {"BACKEND": P + "gunicorn.GunicornServer"}}
        )
    assert len(info.value.problems) == 2


def test_setting_lines_point_into_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text(
        "DEBUG = True\n"
        "PRODUCTION_PROCESSES = {\n"
        '    "web": {\n'
        '        "BACKEND": "x",\n'
        '        "ARGS": {"workers": "two"},\n'
        "    },\n"
        "}\n",
        encoding="utf-8",
    )
    lines = setting_lines(settings)
    assert lines[()] == 2
    assert lines[("web",)] == 3
    assert lines[("web", "BACKEND")] == 4
    assert lines[("web", "ARGS", "workers")] == 5
    assert setting_lines(tmp_path / "missing.py") == {}


def test_invalid_value_is_reported_at_its_settings_line(in_site: Path) -> None:
    from django.conf import settings
    from django.test import override_settings

    from prodserver.config.django_source import source_from_settings

    with override_settings(
        PRODUCTION_PROCESSES={
            "web": {"BACKEND": P + "gunicorn.GunicornServer", "ARGS": {"workers": "two"}}
        }
    ):
        src = source_from_settings(settings)
    assert src is not None
    assert src.kind == "django"
    assert src.root == in_site.resolve() or src.root == Path(settings.BASE_DIR)
    assert src.warnings[0].code == "PS210"
    assert "prodserver init --from-django" in (src.warnings[0].hint or "")
    with pytest.raises(ConfigError) as info:
        validate_file(src)
        resolve_with_provenance(source=src, environ={"PATH": "/bin"}, for_export=True)
    assert "processes.web.workers" in info.value.render()
