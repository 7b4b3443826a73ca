"""Exports that deploy unedited (issue 13): restart semantics, the ``[export]`` table, users,
and nothing of this machine (its paths, its ``.env``) in any output.

Each test reads the deploy-relevant fields of the format back with its own reader where one
runs here (supervisor's config parser, PyYAML, a systemd unit reader).
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodserver.config.model import ResolvedProject
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from prodserver.exporters import FORMATS, ExportOptions, ExportResult, render
from tests.conftest import REPO, CliResult
from tests.exporters.readers import systemd_sections

SHOP = """
[project]
name = "shop"

[env]
DJANGO_SETTINGS_MODULE = "shop.settings"

[processes.migrate]
command = ["python", "manage.py", "migrate", "--noinput"]
oneshot = true

[processes.web]
backend = "gunicorn"
app = "shop.wsgi:application"
bind = "0.0.0.0:${PORT}"
depends_on = { migrate = "completed" }

[processes.worker]
backend = "celery-worker"
app = "shop"
cwd = "src"
depends_on = { migrate = "completed" }

[profiles.staging]
[profiles.prod]
"""


def _write(tmp_path: Path, toml: str, **files: str) -> Path:
    (tmp_path / "prodserver.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    (tmp_path / "src").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "prodserver.toml"


def _resolve(path: Path, profile: str = "staging") -> ResolvedProject:
    return resolve_project(file=path, profile=profile, for_export=True, environ={})


def _export(
    fmt: str, path: Path, profile: str = "staging", *, allow_root: bool = False
) -> ExportResult:
    return render(fmt, _resolve(path, profile), ExportOptions(allow_root=allow_root))


def _text(result: ExportResult, name: str) -> str:
    return next(f.content for f in result.files if f.path.name == name)


def _unit(result: ExportResult, name: str) -> dict[str, list[tuple[str, str]]]:
    return systemd_sections(_text(result, name))


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def _programs(tmp_path: Path, result: ExportResult) -> dict[str, Any]:
    options = pytest.importorskip("supervisor.options", reason="supervisor is not installed")
    conf = tmp_path / "out" / "supervisord.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text("[supervisord]\n" + result.files[0].content, encoding="utf-8")
    server = options.ServerOptions()
    server.here = str(conf.parent)  # what supervisord sets for the file it reads
    (group,) = server.read_config(str(conf)).process_group_configs
    return {p.name: p for p in group.process_configs}


# -- point 2: restart semantics ----------------------------------------------------------------


def test_a_long_running_process_without_a_policy_restarts_on_failure_everywhere(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, SHOP)
    web = _unit(_export("systemd", path), "shop-web@.service")
    assert _values(web["Service"], "Restart") == ["on-failure"]
    assert _values(web["Unit"], "StartLimitBurst") == ["5"]
    programs = _programs(tmp_path, _export("supervisord", path))
    from supervisor.datatypes import RestartWhenExitUnexpected

    assert programs["worker"].autorestart is RestartWhenExitUnexpected
    assert programs["migrate"].autorestart is False
    compose = yaml.safe_load(_text(_export("compose", path), "compose.yaml"))
    assert compose["services"]["web"]["restart"] == "on-failure:5"
    assert compose["services"]["migrate"]["restart"] == "no"
    k8s = _export("kubernetes", path)
    assert not [w for w in k8s.warnings if "restart" in w]


def test_restart_limits_become_the_engines_own(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SHOP
        + """
[processes.web.restart]
policy = "always"
max_restarts = 3
window = "30s"
backoff = "2s"
""",
    )
    web = _unit(_export("systemd", path), "shop-web@.service")
    assert _values(web["Service"], "Restart") == ["always"]
    assert _values(web["Service"], "RestartSec") == ["2s"]
    assert _values(web["Unit"], "StartLimitIntervalSec") == ["30s"]
    assert _values(web["Unit"], "StartLimitBurst") == ["3"]
    programs = _programs(tmp_path, _export("supervisord", path))
    from supervisor.datatypes import RestartUnconditionally

    web_program = next(p for n, p in programs.items() if n.startswith("web"))
    assert web_program.autorestart is RestartUnconditionally
    assert web_program.startretries == 3


def test_an_explicit_restart_no_is_kept_and_warned_about_in_production(tmp_path: Path) -> None:
    path = _write(tmp_path, SHOP + '\n[profiles.prod.processes.worker]\nrestart = "no"\n')
    for fmt in ("systemd", "supervisord", "compose"):
        result = _export(fmt, path, "prod", allow_root=True)
        warned = [w for w in result.warnings if 'restart = "no"' in w]
        assert len(warned) == 1, result.warnings
        assert "'worker'" in warned[0] and "production" in warned[0]
    worker = _unit(_export("systemd", path, "prod", allow_root=True), "shop-worker@.service")
    assert _values(worker["Service"], "Restart") == ["no"]
    # outside production the choice is the user's to make quietly
    staging = _export("systemd", path, "staging")
    assert not [w for w in staging.warnings if "restart" in w]


def test_the_default_policy_comes_from_the_export_table_per_format(tmp_path: Path) -> None:
    path = _write(
        tmp_path, SHOP + '\n[export]\nrestart = "always"\n[export.compose]\nrestart = "no"\n'
    )
    web = _unit(_export("systemd", path), "shop-web@.service")
    assert _values(web["Service"], "Restart") == ["always"]
    compose = yaml.safe_load(_text(_export("compose", path), "compose.yaml"))
    assert compose["services"]["web"]["restart"] == "no"


def test_supervisord_leaves_the_release_step_to_the_notes(tmp_path: Path) -> None:
    result = _export("supervisord", _write(tmp_path, SHOP))
    programs = _programs(tmp_path, result)
    assert programs["migrate"].autostart is False
    assert programs["worker"].autostart is True
    (note,) = [a for a in result.advice if "one-shot" in a]
    assert "supervisorctl start shop:migrate" in note
    assert "supervisorctl restart shop:web shop:worker" in note


def test_systemd_orders_dependants_after_the_release_step(tmp_path: Path) -> None:
    result = _export("systemd", _write(tmp_path, SHOP))
    migrate = _unit(result, "shop-migrate.service")
    assert _values(migrate["Service"], "Type") == ["oneshot"]
    web = _unit(result, "shop-web@.service")
    assert _values(web["Unit"], "After") == ["shop-migrate.service"]
    assert _values(web["Unit"], "Requires") == ["shop-migrate.service"]


# -- point 1: the [export] table ---------------------------------------------------------------


def test_defaults_place_the_app_under_a_target_root_with_its_virtualenv(tmp_path: Path) -> None:
    path = _write(tmp_path, SHOP)
    worker = _unit(_export("systemd", path), "shop-worker@.service")["Service"]
    assert _values(worker, "WorkingDirectory") == ["/srv/shop/src"]
    (env_path,) = [v for v in _values(worker, "Environment") if v.startswith("PATH=")]
    assert env_path.startswith("PATH=/srv/shop/.venv/bin:")
    assert env_path.endswith(":/usr/bin:/sbin:/bin")
    programs = _programs(tmp_path, _export("supervisord", path))
    here = tmp_path / "out"
    assert programs["worker"].directory == f"{here}/src"
    assert programs["worker"].environment["PATH"].startswith(f"{here}/.venv/bin:")


def test_the_export_table_sets_root_venv_path_user_and_group(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SHOP
        + """
[export]
root = "/opt/shop"
venv = "/opt/venvs/shop"
path = ["/opt/tools/bin"]
user = "nobody"
group = "nogroup"

[profiles.prod.export]
user = "shop"

[export.supervisord]
root = "/home/shop/app"
venv = ""
""",
    )
    worker = _unit(_export("systemd", path), "shop-worker@.service")["Service"]
    assert _values(worker, "WorkingDirectory") == ["/opt/shop/src"]
    assert "PATH=/opt/venvs/shop/bin:/opt/tools/bin:/usr/local/sbin" in " ".join(
        _values(worker, "Environment")
    )
    assert (_values(worker, "User"), _values(worker, "Group")) == (["nobody"], ["nogroup"])
    prod = _unit(_export("systemd", path, "prod"), "shop-worker@.service")["Service"]
    assert _values(prod, "User") == ["shop"]  # the profile's table over the root's
    supervisord = _export("supervisord", path)
    programs = _programs(tmp_path, supervisord)
    assert programs["worker"].directory == "/home/shop/app/src"
    assert programs["worker"].environment["PATH"].startswith("/opt/tools/bin:")
    assert programs["worker"].uid == 65534  # nobody
    assert [w for w in supervisord.warnings if "group nogroup" in w]


def test_a_configured_path_is_left_alone(tmp_path: Path) -> None:
    path = _write(tmp_path, SHOP.replace("[env]\n", '[env]\nPATH = "/app/bin:/usr/bin"\n'))
    worker = _unit(_export("systemd", path), "shop-worker@.service")["Service"]
    assert not [v for v in _values(worker, "Environment") if v.startswith("PATH=")]


@pytest.mark.parametrize(
    ("table", "code"),
    [
        ('[export]\nsingletons = ["wokrer"]', "PS632"),
        ('[export]\nroot = "srv/shop"', "PS124"),
        ('[export.systemd]\nuser = "a b"', "PS124"),
        ("[export.systemd]\npublish_ports = false", "PS122"),
    ],
)
def test_bad_export_settings_are_reported_with_their_key(
    tmp_path: Path, table: str, code: str
) -> None:
    path = _write(tmp_path, SHOP + "\n" + table + "\n")
    with pytest.raises(ConfigError) as info:
        _resolve(path)
    rendered = info.value.render() if hasattr(info.value, "render") else str(info.value)
    codes = {p.code for p in info.value.problems} | {info.value.code}
    assert code in codes, rendered
    assert "export" in " ".join(str(p.location.key_path) for p in info.value.problems)


def test_no_export_holds_a_path_or_a_dotenv_value_of_this_machine(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SHOP.replace('name = "shop"', 'name = "shop"\nenv_files = ["?.env", "?.env.local"]')
        + '\n[profiles.staging.env]\nBROKER = "${CANARY_URL}"\n',
        **{".env": "CANARY_URL=redis://canary-7731/0\nOTHER=canary-7732\n"},
    )
    for fmt in FORMATS:
        result = _export(fmt, path)
        for file in result.files:
            assert str(tmp_path) not in file.content, (fmt, file.path)
            assert "canary-773" not in file.content, (fmt, file.path)
        messages = " ".join((*result.warnings, *result.advice))
        assert "canary-773" not in messages and str(tmp_path) not in messages
    compose = yaml.safe_load(_text(_export("compose", path), "compose.yaml"))
    assert compose["x-prodserver"]["env_file"] == [
        {"path": ".env", "required": False},
        {"path": ".env.local", "required": False},
    ]
    assert compose["x-prodserver"]["environment"]["BROKER"] == "${CANARY_URL}"
    worker = _unit(_export("systemd", path), "shop-worker@.service")["Service"]
    files = _values(worker, "EnvironmentFile")
    assert files[:2] == ["-/srv/shop/.env", "-/srv/shop/.env.local"]


def test_the_demo_exports_name_no_path_of_this_checkout() -> None:
    for profile in ("prod", "dev"):
        project = resolve_project(
            file=REPO / "prodserver.toml", profile=profile, for_export=True, environ={}
        )
        for fmt in FORMATS:
            result = render(fmt, project, ExportOptions(allow_root=True))
            for file in result.files:
                assert str(REPO) not in file.content, (profile, fmt, file.path)


# -- point 3: users ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["systemd", "supervisord"])
def test_a_production_export_without_a_user_is_refused_with_the_way_out(
    tmp_path: Path, fmt: str
) -> None:
    path = _write(tmp_path, SHOP)
    with pytest.raises(ConfigError) as info:
        _export(fmt, path, "prod")
    assert info.value.code == "PS630"
    assert "[profiles.prod.export] user" in (info.value.hint or "")
    assert "--allow-root" in (info.value.hint or "")
    # explicit opt-outs: the flag, or [project] allow_root
    assert _export(fmt, path, "prod", allow_root=True).files
    allowed = _write(tmp_path, SHOP.replace('name = "shop"', 'name = "shop"\nallow_root = true'))
    assert _export(fmt, allowed, "prod").files


@pytest.mark.parametrize("fmt", ["systemd", "supervisord"])
def test_a_production_export_refuses_root_named_as_the_user(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, SHOP + '\n[profiles.prod.export]\nuser = "root"\n')
    with pytest.raises(ConfigError) as info:
        _export(fmt, path, "prod")
    assert info.value.code == "PS630"


def test_the_cli_takes_allow_root_for_exports(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    _write(tmp_path, SHOP)
    refused = cli("export", "supervisord", "-p", "prod", cwd=tmp_path)
    assert refused.code != 0 and "PS630" in refused.err
    allowed = cli("export", "supervisord", "-p", "prod", "--allow-root", cwd=tmp_path)
    assert allowed.code == 0, allowed.err
    from_env = cli(
        "export", "supervisord", "-p", "prod", cwd=tmp_path, env={"PRODSERVER_ALLOW_ROOT": "1"}
    )
    assert from_env.code == 0, from_env.err


@pytest.mark.parametrize("fmt", ["procfile", "compose", "kubernetes"])
def test_platform_formats_do_not_ask_for_a_user(tmp_path: Path, fmt: str) -> None:
    assert _export(fmt, _write(tmp_path, SHOP), "prod").files


def test_systemd_units_with_deploy_settings_pass_systemd_analyze(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    from tests.exporters.test_formats import _systemd_verify

    path = _write(tmp_path, SHOP + '\n[export]\nuser = "shop"\ngroup = "shop"\n')
    result = _export("systemd", path)
    out = tmp_path / "units"
    from prodserver.exporters import write_files

    write_files(result.files, out)
    units = [str(f.path) for f in result.files if f.path.suffix in (".service", ".target")]
    _systemd_verify(out, [u.replace("@.", "@1.") for u in units])


# -- point 6: a Procfile stays itself ---------------------------------------------------------


def test_a_procfile_is_exported_as_its_own_lines(tmp_path: Path) -> None:
    from honcho.environ import parse_procfile

    lines = {
        "release": "python manage.py migrate",
        "web": "gunicorn app:wsgi --bind 0.0.0.0:$PORT $GUNICORN_OPTS",
        "worker": 'celery -A app worker --loglevel "${LOG_LEVEL:-info}"',
    }
    (tmp_path / "Procfile").write_text(
        "".join(f"{name}: {line}\n" for name, line in lines.items()), encoding="utf-8"
    )
    (tmp_path / ".env").write_text("PORT=6000\nGUNICORN_OPTS=--workers 3\n", encoding="utf-8")
    project = resolve_project(file=tmp_path / "Procfile", for_export=True, environ={})
    result = render("procfile", project)
    assert parse_procfile(result.files[0].content).processes == lines
    # nothing false in the messages: web uses $PORT, and the worker is not a server
    assert not [w for w in result.warnings if "$PORT" in w], result.warnings
    assert "--workers 3" not in result.files[0].content  # .env is the platform's business


# -- point 4: Compose that comes up ------------------------------------------------------------

BROKERS = SHOP.replace(
    '[env]\nDJANGO_SETTINGS_MODULE = "shop.settings"\n',
    '[env]\nDJANGO_SETTINGS_MODULE = "shop.settings"\n'
    'REDIS_URL = "${REDIS_URL:-redis://127.0.0.1:6379/0}"\n'
    'DATABASE_URL = "postgres://shop@localhost:5432/shopdb"\n'
    'SECRET_KEY = "${SECRET_KEY}"\n',
)


def _compose(path: Path, profile: str = "staging") -> tuple[dict[str, Any], ExportResult]:
    result = _export("compose", path, profile)
    return yaml.safe_load(_text(result, "compose.yaml")), result


def test_compose_publishes_ports_and_restarts_every_service(tmp_path: Path) -> None:
    compose, _ = _compose(_write(tmp_path, SHOP))
    services = compose["services"]
    port = services["web"]["environment"]["PORT"]
    assert services["web"]["ports"] == [f"{port}:{port}"]
    assert "ports" not in services["worker"] and "ports" not in services["migrate"]
    assert all("restart" in s for s in services.values())
    opted_out, _ = _compose(_write(tmp_path, SHOP + "\n[export.compose]\npublish_ports = false\n"))
    assert "ports" not in opted_out["services"]["web"]


def test_compose_generates_the_broker_and_database_a_localhost_url_needs(tmp_path: Path) -> None:
    compose, result = _compose(_write(tmp_path, BROKERS))
    services = compose["services"]
    env = services["web"]["environment"]
    assert env["REDIS_URL"] == "${REDIS_URL:-redis://redis:6379/0}"
    assert env["DATABASE_URL"] == "postgres://shop@postgres:5432/shopdb"
    assert services["redis"]["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert services["postgres"]["environment"] == {
        "POSTGRES_USER": "shop",
        "POSTGRES_DB": "shopdb",
        # reachable only by the other services: the URL has no password
        "POSTGRES_HOST_AUTH_METHOD": "trust",
    }
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name in ("migrate", "web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["redis"] == {"condition": "service_healthy"}
        assert depends["postgres"] == {"condition": "service_healthy"}
    assert "ports" not in services["redis"]  # reachable on the Compose network only
    assert [a for a in result.advice if "'redis' service" in a]


def test_compose_backing_services_can_be_turned_off(tmp_path: Path) -> None:
    compose, _ = _compose(
        _write(tmp_path, BROKERS + "\n[export.compose]\nbacking_services = false\n")
    )
    assert "redis" not in compose["services"] and "postgres" not in compose["services"]
    env = compose["services"]["web"]["environment"]
    assert env["REDIS_URL"] == "${REDIS_URL:-redis://127.0.0.1:6379/0}"


def test_compose_takes_image_root_and_user_from_the_export_table(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SHOP + '\n[export]\nimage = "registry.example/shop:1.2"\nroot = "/app"\nuser = "1000"\n',
    )
    compose, result = _compose(path)
    assert compose["x-prodserver"]["image"] == "registry.example/shop:1.2"
    assert "build" not in compose["x-prodserver"]
    assert compose["services"]["worker"]["working_dir"] == "/app/src"
    assert compose["services"]["web"]["working_dir"] == "/app"
    assert compose["services"]["web"]["user"] == "1000"
    assert not [w for w in result.warnings if "cwd" in w]


# -- point 5: Kubernetes that survives the second deploy ---------------------------------------

SINGLETONS = (
    SHOP
    + """
[processes.beat]
backend = "celery-beat"
app = "shop"

[processes.scheduler]
command = ["python", "scheduler.py"]
"""
)


def _k8s(path: Path, profile: str = "staging") -> tuple[list[dict[str, Any]], ExportResult]:
    result = _export("kubernetes", path, profile)
    return [d for d in yaml.safe_load_all(result.files[0].content) if d], result


def _object(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_kubernetes_singletons_run_one_pod_and_are_recreated(tmp_path: Path) -> None:
    path = _write(tmp_path, SINGLETONS + '\n[export]\nsingletons = ["scheduler"]\n')
    objects, _ = _k8s(path)
    for name in ("shop-beat", "shop-scheduler"):
        spec = _object(objects, "Deployment", name)["spec"]
        assert (spec["replicas"], spec["strategy"]) == (1, {"type": "Recreate"})
    assert "strategy" not in _object(objects, "Deployment", "shop-worker")["spec"]


@pytest.mark.parametrize(
    "extra",
    [
        "\n[processes.beat.autoscale]\nmax = 3\n",
        '\n[export]\nsingletons = ["scheduler"]\n[processes.scheduler.autoscale]\nmax = 2\n',
    ],
)
def test_a_singleton_refuses_to_scale(tmp_path: Path, extra: str) -> None:
    path = _write(tmp_path, SINGLETONS + extra)
    for fmt in ("kubernetes", "compose", "systemd"):
        with pytest.raises(ConfigError) as info:
            _export(fmt, path)
        assert info.value.code == "PS634"


def test_the_release_job_is_named_by_what_it_runs_and_cleaned_up(tmp_path: Path) -> None:
    objects, result = _k8s(_write(tmp_path, SHOP))
    (job,) = [o for o in objects if o["kind"] == "Job"]
    name = job["metadata"]["name"]
    assert name.startswith("shop-migrate-") and len(name) == len("shop-migrate-") + 8
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert "ports" not in job["spec"]["template"]["spec"]["containers"][0]
    assert [a for a in result.advice if f"job/{name}" in a]
    # the same release is the same Job; another image is a new one
    again, _ = _k8s(_write(tmp_path, SHOP))
    assert [o["metadata"]["name"] for o in again if o["kind"] == "Job"] == [name]
    other, _ = _k8s(_write(tmp_path, SHOP + '\n[export]\nimage = "shop:2"\n'))
    assert [o["metadata"]["name"] for o in other if o["kind"] == "Job"] != [name]


def test_kubernetes_refers_to_no_configmap_it_does_not_write(tmp_path: Path) -> None:
    path = _write(tmp_path, BROKERS + '\n[profiles.staging.env]\nAPI = "${API_URL}"\n')
    objects, result = _k8s(path)
    written = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    assert "shop-env" in written
    refs = set()
    for deployment in (o for o in objects if o["kind"] in ("Deployment", "Job")):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs |= {
            e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e
        }
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("configMapKeyRef")
            if ref is not None:
                refs.add(ref["name"])
                # a required value the deployment must create: the notes say how
                assert [a for a in result.advice if f"create configmap {ref['name']}" in a]
                assert ref["key"] == "API_URL" and not ref.get("optional")
    # REDIS_URL has a default: no reference at all, the generated ConfigMap may override it
    assert refs - written <= {"shop-runtime"}
    secrets = [a for a in result.advice if "create secret generic shop-secrets" in a]
    assert secrets and "SECRET_KEY" in secrets[0]


def test_probes_follow_the_healthcheck_role(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SHOP.replace(
            'depends_on = { migrate = "completed" }\n\n[processes.worker]',
            'depends_on = { migrate = "completed" }\n'
            'healthcheck = { http = "http://127.0.0.1:${PORT}/healthz", role = "readiness" }\n\n'
            "[processes.worker]",
        ),
    )
    objects, _ = _k8s(path)
    (container,) = _object(objects, "Deployment", "shop-web")["spec"]["template"]["spec"][
        "containers"
    ]
    assert "readinessProbe" in container and "livenessProbe" not in container


def test_the_demos_prod_profile_names_its_systemd_user_and_supervisord_asks_for_one() -> None:
    project = resolve_project(
        file=REPO / "prodserver.toml", profile="prod", for_export=True, environ={}
    )
    units = render("systemd", project)
    web = systemd_sections(_text(units, "demo-web@.service"))["Service"]
    assert _values(web, "User") == ["demo"]
    with pytest.raises(ConfigError) as info:
        render("supervisord", project)
    assert info.value.code == "PS630"


def test_the_export_table_is_checked_where_the_schema_does_not_look(tmp_path: Path) -> None:
    """A value the schema did not see (the resolver is also given sources that were not
    validated as a file) is still refused, with its key path: never written into a unit."""
    from prodserver.config.deploy import resolve_deploy
    from prodserver.config.merge import layers
    from prodserver.config.sources import read_source
    from prodserver.errors import Problem

    path = _write(tmp_path, SHOP + '\n[export]\nroot = "srv/shop"\nvenv = "../x"\n')
    source = read_source(path)
    problems: list[Problem] = []
    deploy = resolve_deploy(source, layers(source, "staging"), {}, problems)
    assert [p.code for p in problems] == ["PS631", "PS631"]
    assert {p.location.key_path for p in problems} == {"export.root", "export.venv"}
    assert deploy.common.root is None and deploy.common.venv == ".venv"


def test_an_env_file_outside_the_project_is_not_named(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.env"
    outside.write_text("X=1\n", encoding="utf-8")
    (tmp_path / "p").mkdir()
    path = _write(tmp_path / "p", SHOP)
    project = resolve_project(
        file=path, profile="staging", for_export=True, environ={}, env_files=[outside]
    )
    result = render("compose", project)
    assert str(tmp_path) not in result.files[0].content
    assert [w for w in result.warnings if "elsewhere.env" in w]
