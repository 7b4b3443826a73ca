"""Backend behaviour beyond the golden argv: stopping, ports, probes, refusals, packages."""

from __future__ import annotations

import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from prodserver.backends import django_tasks
from prodserver.backends.base import ProbeDefault
from prodserver.backends.registry import BUILTINS, get_backend
from prodserver.errors import ConfigError
from tests.backends.conftest import argv, ctx

REPO = Path(__file__).resolve().parents[2]

# name -> (stop signal, kill mode, listens, kind), as each server's documentation describes its
# graceful shutdown
STOPPING = {
    "command": (signal.SIGTERM, "group", True, "command"),  # a PORT like foreman gives
    "gunicorn": (signal.SIGTERM, "main", True, "web"),
    "uvicorn": (signal.SIGTERM, "main", True, "web"),
    "granian": (signal.SIGTERM, "main", True, "web"),
    "hypercorn": (signal.SIGTERM, "main", True, "web"),
    "daphne": (signal.SIGTERM, "main", True, "web"),
    "waitress": (signal.SIGINT, "main", True, "web"),
    "runserver": (signal.SIGINT, "group", True, "web"),
    "celery-worker": (signal.SIGTERM, "main", False, "worker"),
    "celery-beat": (signal.SIGTERM, "main", False, "scheduler"),
    "celery-flower": (signal.SIGTERM, "main", True, "monitor"),
    "rq-worker": (signal.SIGTERM, "main", False, "worker"),
    "rq-scheduler": (signal.SIGTERM, "main", False, "scheduler"),
    "dramatiq": (signal.SIGTERM, "main", False, "worker"),
    "django-tasks": (signal.SIGTERM, "group", False, "worker"),
    "django-q2": (signal.SIGTERM, "main", False, "worker"),
}

WEB_APPS = {
    "gunicorn": "shop.wsgi:application",
    "uvicorn": "shop.asgi:application",
    "granian": "shop.wsgi:application",
    "hypercorn": "shop.asgi:application",
    "daphne": "shop.asgi:application",
    "waitress": "shop.wsgi:application",
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_stop_signal_kill_mode_and_listening(name: str) -> None:
    backend = get_backend(name)
    assert (backend.stop_signal, backend.kill_mode, backend.listens, backend.kind) == STOPPING[name]


def test_no_option_shares_a_name_with_a_process_key() -> None:
    from prodserver.declarations.keys import COMMON_OPTIONS

    common = {opt.name for opt in COMMON_OPTIONS} - {"command"}
    for name in BUILTINS:
        clashes = {opt.name for opt in get_backend(name).options} & common
        assert not clashes, f"{name}: {clashes}"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_option_is_documented_and_well_formed(name: str) -> None:
    for opt in get_backend(name).options:
        assert opt.doc.strip(), opt.name
        assert opt.name.isidentifier(), opt.name
        if opt.type == "enum":
            assert opt.choices, opt.name
        if opt.default is not None and opt.choices:
            assert opt.default in opt.choices, opt.name


POSITIONALS = [
    ("gunicorn", "app"),
    ("uvicorn", "app"),
    ("granian", "app"),
    ("hypercorn", "app"),
    ("daphne", "app"),
    ("waitress", "app"),
    ("runserver", "manage"),
    ("runserver", "bind"),
    ("celery-worker", "app"),
    ("celery-beat", "app"),
    ("celery-flower", "app"),
    ("dramatiq", "broker"),
    ("django-tasks", "manage"),
    ("django-q2", "manage"),
]


@pytest.mark.parametrize(("name", "option"), POSITIONALS)
def test_a_positional_refuses_a_leading_dash(name: str, option: str) -> None:
    backend = get_backend(name)
    assert backend.option(option).positional
    values = {"app": "shop.wsgi:application", "broker": "shop.tasks", option: "--version"}
    with pytest.raises(ConfigError) as err:
        argv(name, values)
    assert err.value.code == "PS221"
    assert "--version" in err.value.message


@pytest.mark.parametrize(("name", "option"), [("rq-worker", "queues"), ("dramatiq", "modules")])
def test_positional_list_items_refuse_a_leading_dash(name: str, option: str) -> None:
    assert get_backend(name).option(option).positional
    with pytest.raises(ConfigError, match="-x"):
        argv(name, {"broker": "shop.tasks", option: ["ok", "-x"]})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gunicorn", ["--bind", "0.0.0.0:${PORT}"]),
        ("uvicorn", ["--host", "0.0.0.0", "--port", "${PORT}"]),
        ("granian", ["--host", "0.0.0.0", "--port", "${PORT}"]),
        ("hypercorn", ["--bind", "0.0.0.0:${PORT}"]),
        ("daphne", ["--bind", "0.0.0.0", "--port", "${PORT}"]),
        ("waitress", ["--listen=0.0.0.0:${PORT}"]),
        ("runserver", ["127.0.0.1:${PORT}"]),
        ("celery-flower", ["--address=0.0.0.0", "--port=${PORT}"]),
    ],
)
def test_port_reference_reaches_the_argv_as_text(name: str, expected: list[str]) -> None:
    """In exports PORT is the reference ``${PORT}``: it must reach the argv untouched."""
    words = argv(name, {"app": WEB_APPS.get(name, "shop")}, ctx({"PORT": "${PORT}"}))
    start = next(i for i, w in enumerate(words) if w == expected[0])
    assert words[start : start + len(expected)] == expected


def test_assigned_port_is_used_without_port_variable_then_8000() -> None:
    from prodserver.backends.base import BackendContext

    assigned = BackendContext(root=Path("/srv"), env={}, port=5300, process="web")
    assert argv("gunicorn", {"app": "a:b"}, assigned)[1:3] == ["--bind", "0.0.0.0:5300"]
    bare = BackendContext(root=Path("/srv"), env={}, port=None, process="web")
    assert argv("gunicorn", {"app": "a:b"}, bare)[1:3] == ["--bind", "0.0.0.0:8000"]


def test_bind_without_port_keeps_the_instance_port() -> None:
    assert argv("uvicorn", {"app": "a:b", "bind": "127.0.0.1"})[2:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "5000",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("uvicorn", ["--uds", "/run/shop.sock"]),
        ("granian", ["--uds", "/run/shop.sock"]),
        ("daphne", ["--unix-socket", "/run/shop.sock"]),
        ("waitress", ["--unix-socket=/run/shop.sock"]),
        ("gunicorn", ["--bind", "unix:/run/shop.sock"]),
        ("hypercorn", ["--bind", "unix:/run/shop.sock"]),
    ],
)
def test_unix_socket_bind(name: str, expected: list[str]) -> None:
    values = {"app": WEB_APPS[name], "bind": "unix:/run/shop.sock"}
    words = argv(name, values)
    start = words.index(expected[0])
    assert words[start : start + len(expected)] == expected
    assert "--port" not in words
    # nothing to probe over TCP
    assert get_backend(name).default_healthcheck(values, ctx()) is None


def test_ipv6_bind_is_split_and_probed_on_loopback() -> None:
    values = {"app": "a:b", "bind": "[::]:9000"}
    assert argv("daphne", values)[1:5] == ["--bind", "::", "--port", "9000"]
    assert get_backend("daphne").default_healthcheck(values, ctx()) == ProbeDefault(
        "tcp", "[::1]:9000"
    )


def test_malformed_ipv6_bind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="missing"):
        argv("uvicorn", {"app": "a:b", "bind": "[::1:9000"})


@pytest.mark.parametrize("name", sorted(WEB_APPS))
def test_web_servers_default_probe_is_tcp_on_their_port(name: str) -> None:
    probe = get_backend(name).default_healthcheck({"app": WEB_APPS[name]}, ctx())
    assert probe == ProbeDefault("tcp", "127.0.0.1:5000")


def test_runserver_probe_follows_its_loopback_default_and_ipv6() -> None:
    backend = get_backend("runserver")
    assert backend.default_healthcheck({}, ctx()) == ProbeDefault("tcp", "127.0.0.1:5000")
    assert argv("runserver", {"ipv6": True})[3:] == ["[::1]:5000", "--noreload", "--ipv6"]
    assert backend.default_healthcheck({"ipv6": True}, ctx()) == ProbeDefault("tcp", "[::1]:5000")


def test_flower_probe_is_http_healthcheck_below_its_prefix() -> None:
    backend = get_backend("celery-flower")
    assert backend.default_healthcheck({}, ctx()) == ProbeDefault(
        "http", "http://127.0.0.1:5000/healthcheck"
    )
    assert backend.default_healthcheck({"url_prefix": "/flower/"}, ctx()) == ProbeDefault(
        "http", "http://127.0.0.1:5000/flower/healthcheck"
    )


@pytest.mark.parametrize(
    "name", ["celery-worker", "celery-beat", "rq-worker", "rq-scheduler", "dramatiq", "django-q2"]
)
def test_workers_have_no_default_probe(name: str) -> None:
    assert get_backend(name).default_healthcheck({"broker": "x", "app": "x"}, ctx()) is None


def test_hypercorn_quic_needs_tls_files() -> None:
    with pytest.raises(ConfigError) as err:
        argv("hypercorn", {"app": "a:b", "quic_bind": ["0.0.0.0:4433"], "certfile": "c.pem"})
    assert err.value.code == "PS223"
    words = argv(
        "hypercorn",
        {"app": "a:b", "quic_bind": ["0.0.0.0:4433"], "certfile": "c.pem", "keyfile": "k.pem"},
    )
    assert words[words.index("--quic-bind") + 1] == "0.0.0.0:4433"


def test_celery_worker_names_scaled_instances_apart() -> None:
    env = {"PORT": "5000", "PRODSERVER_INSTANCE": "2"}
    words = argv("celery-worker", {"app": "shop"}, ctx(env, process="worker"))
    assert words[words.index("--hostname") + 1] == "worker.2@%h"
    words = argv("celery-worker", {"app": "shop", "hostname": "mine@%h"}, ctx(env))
    assert words[words.index("--hostname") + 1] == "mine@%h"


def test_rq_takes_redis_url_from_the_environment_unless_given() -> None:
    env = {"REDIS_URL": "redis://env:6379/0"}
    assert argv("rq-worker", {}, ctx(env)) == ["rq", "worker", "--url", "redis://env:6379/0"]
    assert argv("rq-scheduler", {}, ctx(env)) == ["rqscheduler", "--url", "redis://env:6379/0"]
    assert argv("rq-worker", {"url": "redis://opt/1"}, ctx(env))[2:4] == ["--url", "redis://opt/1"]


def test_false_booleans_without_a_negative_flag_emit_nothing() -> None:
    assert argv("gunicorn", {"app": "a:b", "preload": False, "reload": False}) == argv(
        "gunicorn", {"app": "a:b"}
    )
    assert argv("runserver", {"threading": True, "reload": False}) == argv("runserver", {})


def test_manage_commands_use_the_context_interpreter() -> None:
    """In exports the interpreter is the literal ``python``; at run time an absolute path."""
    for name, command in [("runserver", "runserver"), ("django-tasks", "db_worker")]:
        assert argv(name, {}, ctx(python="python"))[:3] == ["python", "manage.py", command]


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_missing_package_names_the_extra(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = get_backend(name)
    if not backend.requires:
        assert backend.extra is None
        assert backend.missing_requirements() == []
        return
    monkeypatch.setattr("importlib.util.find_spec", lambda module, *a: None)
    assert backend.missing_requirements() == list(backend.requires)
    assert backend.install_hint() == f"pip install 'prodserver[{backend.extra}]'"


def test_every_extra_named_by_a_backend_exists_and_is_in_all() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    all_extras = extras["all"][0].split("[", 1)[1].rstrip("]").split(",")
    for name in BUILTINS:
        extra = get_backend(name).extra
        if extra is not None:
            assert extra in extras, name
            assert extra in all_extras, name


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_installed_backends_report_nothing_missing(name: str) -> None:
    """The dev environment installs every extra: each backend finds its packages."""
    assert get_backend(name).missing_requirements() == []


def test_django_tasks_accepts_the_legacy_database_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """django-tasks < 0.12 shipped db_worker itself: no django-tasks-db needed then."""
    legacy = tmp_path / "django_tasks"
    (legacy / "backends" / "database").mkdir(parents=True)
    (legacy / "__init__.py").write_text("")
    real_find_spec = __import__("importlib.util").util.find_spec

    def find_spec(module: str, *args: object) -> object:
        if module == "django_tasks_db":
            return None
        if module == "django_tasks":
            from importlib.machinery import ModuleSpec

            spec = ModuleSpec("django_tasks", None, is_package=True)
            spec.submodule_search_locations = [str(legacy)]
            return spec
        return real_find_spec(module, *args)

    monkeypatch.setattr("importlib.util.find_spec", find_spec)
    backend = get_backend("django-tasks")
    assert backend.missing_requirements() == []
    (legacy / "backends" / "database").rmdir()
    assert backend.missing_requirements() == ["django_tasks_db"]
    assert django_tasks._legacy_database_backend() is False


def test_loading_every_backend_imports_no_server_package() -> None:
    code = (
        "import sys\n"
        "from prodserver.backends.registry import registry\n"
        "for info in registry().values(): info.backend.missing_requirements()\n"
        "servers = ['gunicorn', 'uvicorn', 'granian', 'hypercorn', 'daphne', 'waitress',\n"
        "           'django', 'celery', 'flower', 'rq', 'rq_scheduler', 'dramatiq',\n"
        "           'django_tasks', 'django_tasks_db', 'django_q', 'redis', 'channels']\n"
        "print(sorted(m for m in servers if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
