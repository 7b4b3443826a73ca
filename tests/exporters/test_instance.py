"""Scaled copies keep their own identity in every export (Celery node names).

``up`` gives each copy ``PRODSERVER_INSTANCE`` and Celery's ``-n worker.N@%h``; an export writes
it where the engine numbers its copies (systemd's instance name, supervisord's
``process_num``) and leaves Celery's default ``celery@%h`` where each container has its own
hostname (Compose, Kubernetes).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodserver.config.model import ResolvedProject
from prodserver.config.resolve import resolve_project
from prodserver.exporters import compose, kubernetes, procfile, supervisord, systemd
from prodserver.exporters.base import ExportOptions, write_files
from tests.conftest import BASE_ENV
from tests.exporters.readers import systemd_command, systemd_sections

TOML = """
[project]
name = "shop"
[processes.worker]
backend = "celery-worker"
app = "shop"
scale = 2
[processes.beat]
backend = "celery-worker"
app = "shop"
"""

BASE_ARGV = ["celery", "--app", "shop", "worker", "--loglevel", "info"]


def _project(tmp_path: Path, toml: str = TOML, *, for_export: bool = True) -> ResolvedProject:
    (tmp_path / "prodserver.toml").write_text(toml, encoding="utf-8")
    return resolve_project(cwd=tmp_path, environ=BASE_ENV, for_export=for_export)


def test_up_names_each_copy_as_before(tmp_path: Path) -> None:
    project = _project(tmp_path, for_export=False)
    argvs = [list(i.argv) for i in project.processes["worker"].instances]
    assert argvs == [
        [*BASE_ARGV, "--hostname", "worker.1@%h"],
        [*BASE_ARGV, "--hostname", "worker.2@%h"],
    ]
    assert project.processes["worker"].numbered_words == ()


def _systemd_units(tmp_path: Path, project: ResolvedProject) -> dict[str, str]:
    result = systemd.render(project, ExportOptions())
    out = tmp_path / "out"
    write_files(result.files, out)
    target = next(f for f in result.files if f.path.suffix == ".target")
    wants = next(
        line for line in target.content.splitlines() if line.startswith("Wants=")
    ).removeprefix("Wants=")
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(target.path), *wants.split()],
            cwd=out,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (proc.returncode, proc.stderr) == (0, "")
    return {str(f.path): f.content for f in result.files}


def test_systemd_names_each_copy_from_its_instance(tmp_path: Path) -> None:
    units = _systemd_units(tmp_path, _project(tmp_path))
    assert "Wants=shop-worker@1.service shop-worker@2.service" in units["shop.target"]
    unit = units["shop-worker@.service"]
    service = systemd_sections(unit)["Service"]
    assert ("Environment", "PRODSERVER_INSTANCE=%i") in service
    assert dict(service)["ExecStart"] == (
        '/usr/bin/env celery --app shop worker --loglevel info --hostname "worker.%i@%%h"'
    )
    # %%h reaches Celery as %h (its own hostname specifier), %i as the copy's number
    for number in ("1", "2"):
        argv, env = systemd_command(unit, number)
        assert argv == ["/usr/bin/env", *BASE_ARGV, "--hostname", f"worker.{number}@%h"]
        assert env["PRODSERVER_INSTANCE"] == number


def test_systemd_leaves_a_single_copy_alone(tmp_path: Path) -> None:
    unit = _systemd_units(tmp_path, _project(tmp_path))["shop-beat@.service"]
    service = systemd_sections(unit)["Service"]
    assert not any(value.startswith("PRODSERVER_INSTANCE") for _, value in service)
    assert dict(service)["ExecStart"] == "/usr/bin/env " + " ".join(BASE_ARGV)


def test_systemd_instance_of_a_listening_copy_is_its_port(tmp_path: Path) -> None:
    toml = TOML.replace("scale = 2\n", "scale = 2\nport = 7000\n", 1)
    units = _systemd_units(tmp_path, _project(tmp_path, toml))
    assert "Wants=shop-worker@7000.service shop-worker@7001.service" in units["shop.target"]
    argv, env = systemd_command(units["shop-worker@.service"], "7001")
    assert argv[-2:] == ["--hostname", "worker.7001@%h"]
    assert (env["PORT"], env["PRODSERVER_INSTANCE"]) == ("7001", "7001")


def _supervisord_programs(tmp_path: Path, project: ResolvedProject) -> dict[str, Any]:
    options = pytest.importorskip("supervisor.options", reason="supervisor is not installed")
    conf = tmp_path / "supervisord.conf"
    content = supervisord.render(project, ExportOptions()).files[0].content
    conf.write_text("[supervisord]\n" + content, encoding="utf-8")
    server = options.ServerOptions()
    server.here = str(tmp_path)  # supervisord sets it from the file it reads (%(here)s)
    (group,) = server.read_config(str(conf)).process_group_configs
    return {p.name: p for p in group.process_configs}


def test_supervisord_numbers_each_copy(tmp_path: Path) -> None:
    content = supervisord.render(_project(tmp_path), ExportOptions()).files[0].content
    worker = content.split("[program:worker]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    command = "command=celery --app shop worker --loglevel info"
    assert command + " --hostname 'worker.%(process_num)d@%%h'" in worker
    (environment,) = [line for line in worker if line.startswith("environment=")]
    assert 'PRODSERVER_INSTANCE="%(process_num)d"' in environment.split(",")
    programs = _supervisord_programs(tmp_path, _project(tmp_path))
    for number in ("1", "2"):
        program = programs[f"worker_{number}"]
        # supervisord splits the expanded command like a shell when it spawns the copy
        argv = shlex.split(program.command)
        assert argv == [*BASE_ARGV, "--hostname", f"worker.{number}@%h"]
        path = program.environment.pop("PATH")
        assert path.startswith(f"{tmp_path}/.venv/bin:")
        assert program.environment == {"PRODSERVER_INSTANCE": number}
    beat = programs["beat"]
    assert shlex.split(beat.command) == BASE_ARGV
    assert set(beat.environment) == {"PATH"}


@pytest.mark.parametrize("render", [compose.render, kubernetes.render], ids=["compose", "k8s"])
def test_compose_and_kubernetes_keep_celerys_default_name(tmp_path: Path, render: Any) -> None:
    text = render(_project(tmp_path), ExportOptions()).files[0].content
    assert "PRODSERVER_INSTANCE" not in text
    assert "--hostname" not in text
    commands = [
        doc for doc in yaml.safe_load_all(text) if doc is not None for doc in _commands(doc)
    ]
    assert commands and all(c == BASE_ARGV for c in commands)


def _commands(node: object) -> list[list[str]]:
    if isinstance(node, dict):
        found = [node["command"]] if isinstance(node.get("command"), list) else []
        return found + [c for v in node.values() for c in _commands(v)]
    if isinstance(node, list):
        return [c for v in node for c in _commands(v)]
    return []


def test_procfile_is_unchanged(tmp_path: Path) -> None:
    text = procfile.render(_project(tmp_path), ExportOptions()).files[0].content
    assert "worker: celery --app shop worker --loglevel info\n" in text
    assert "hostname" not in text


def test_a_hostname_the_user_chose_is_kept(tmp_path: Path) -> None:
    toml = TOML.replace("scale = 2\n", 'scale = 2\nhostname = "fixed@%h"\n', 1)
    project = _project(tmp_path, toml)
    assert project.processes["worker"].numbered_words == ()
    unit = _systemd_units(tmp_path, project)["shop-worker@.service"]
    service = systemd_sections(unit)["Service"]
    assert not any(value.startswith("PRODSERVER_INSTANCE") for _, value in service)
    argv, _env = systemd_command(unit, "2")
    assert argv[-2:] == ["--hostname", "fixed@%h"]


OWN = """
[project]
name = "shop"
[processes.scaled]
backend = "rq-worker"
args = ["--name", "rq-${PRODSERVER_INSTANCE}"]
scale = 2
"""


def test_up_gives_each_copy_its_number_in_a_users_reference(tmp_path: Path) -> None:
    project = _project(tmp_path, OWN, for_export=False)
    names = [i.argv[-1] for i in project.processes["scaled"].instances]
    assert names == ["rq-1", "rq-2"]


def test_systemd_fills_a_users_instance_reference_from_the_unit(tmp_path: Path) -> None:
    project = _project(tmp_path, OWN)
    units = _systemd_units(tmp_path, project)
    assert "Wants=shop-scaled@1.service shop-scaled@2.service" in units["shop.target"]
    for number in ("1", "2"):
        argv, env = systemd_command(units["shop-scaled@.service"], number)
        assert argv[-2:] == ["--name", f"rq-{number}"]
        assert env["PRODSERVER_INSTANCE"] == number
    # the unit provides it: nothing for the user to write into secrets.env
    advice = " ".join(systemd.render(project, ExportOptions()).advice)
    assert "PRODSERVER_INSTANCE" not in advice


def test_supervisord_fills_a_users_instance_reference(tmp_path: Path) -> None:
    project = _project(tmp_path, OWN)
    programs = _supervisord_programs(tmp_path, project)
    for number in ("1", "2"):
        program = programs[f"scaled_{number}"]
        assert shlex.split(program.command)[-2:] == ["--name", f"rq-{number}"]
        assert program.environment["PRODSERVER_INSTANCE"] == number
    advice = " ".join(supervisord.render(project, ExportOptions()).advice)
    assert "PRODSERVER_INSTANCE" not in advice
