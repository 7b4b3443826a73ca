"""Every format against golden files and against its own validator.

Golden files live in ``tests/exporters/golden/<scenario>/<format>/``; regenerate them with
``PRODSERVER_REGEN_GOLDEN=1 pytest tests/exporters`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prodserver.config.model import ResolvedProject
from prodserver.config.substitute import parse_template
from prodserver.exporters import FORMATS, ExportOptions, ExportResult, render, write_files
from tests.exporters import scenarios

GOLDEN = Path(__file__).parent / "golden"
BIN = Path(sys.executable).parent
REGEN = os.environ.get("PRODSERVER_REGEN_GOLDEN") == "1"

SCENARIOS: dict[str, Callable[[], ResolvedProject]] = {
    "shop": scenarios.shop,
    "hostile": scenarios.hostile,
    "options": scenarios.options,
}


def _project(scenario: str, fmt: str) -> ResolvedProject:
    if scenario == "hostile" and fmt == "procfile":
        return scenarios.hostile(newline=False)
    return SCENARIOS[scenario]()


def messages(result: ExportResult) -> str:
    """The warnings and advice of an export, as the golden files record them."""
    lines = [f"warning: {w}" for w in result.warnings] + [f"note: {a}" for a in result.advice]
    return "\n".join(lines) + "\n"


def check_golden(directory: Path, result: ExportResult) -> None:
    """Compare (or with PRODSERVER_REGEN_GOLDEN=1, rewrite) one export's golden files."""
    produced = {str(f.path): f.content for f in result.files}
    produced["_messages.txt"] = messages(result)
    if REGEN:
        shutil.rmtree(directory, ignore_errors=True)
        for name, content in produced.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    expected = {
        str(p.relative_to(directory)): p.read_text(encoding="utf-8")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
    assert sorted(produced) == sorted(expected), "files differ from the golden set"
    for name, content in produced.items():
        assert content == expected[name], f"{directory.name}/{name} differs from golden"


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_golden(scenario: str, fmt: str) -> None:
    check_golden(GOLDEN / scenario / fmt, render(fmt, _project(scenario, fmt)))


def test_golden_kustomize() -> None:
    options = ExportOptions(kustomize=True, profiles={"dev": _dev(), "prod": scenarios.shop()})
    check_golden(GOLDEN / "shop" / "kustomize", render("kubernetes", scenarios.shop(), options))


def _dev() -> ResolvedProject:
    """The shop's dev profile: no beat, one web, a debug flag, another web command."""
    shop = scenarios.shop()
    web = dataclasses.replace(
        shop.processes["web"],
        argv=("python", "manage.py", "runserver", "0.0.0.0:${PORT}"),
        words=tuple(
            parse_template(w) for w in ("python", "manage.py", "runserver", "0.0.0.0:${PORT}")
        ),
        scale=1,
        autoscale=None,
    )
    processes = {"web": web, "worker": shop.processes["worker"], "tasks": _tasks()}
    return dataclasses.replace(
        shop,
        profile="dev",
        processes=processes,
        env={**shop.env, "DJANGO_DEBUG": "1"},
        env_values={**shop.env_values, "DJANGO_DEBUG": parse_template("1")},
    )


def _tasks() -> scenarios.ProcessSpec:
    return scenarios.process("tasks", 4, ("python", "manage.py", "db_worker"))


# --------------------------------------------------------------------------------------------
# The formats' own validators


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_compose_passes_the_compose_spec_schema(scenario: str, tmp_path: Path) -> None:
    write_files(render("compose", _project(scenario, "compose")).files, tmp_path)
    proc = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(tmp_path / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _kubernetes_validate(path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" in proc.stdout
    assert "WARN" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kubernetes_passes_strict_schemas(scenario: str, tmp_path: Path) -> None:
    result = render("kubernetes", _project(scenario, "kubernetes"))
    write_files(result.files, tmp_path)
    _kubernetes_validate(tmp_path / result.files[0].path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_overlays_build_to_each_profiles_plain_export(tmp_path: Path) -> None:
    profiles = {"dev": _dev(), "prod": scenarios.shop()}
    options = ExportOptions(kustomize=True, profiles=profiles)
    write_files(render("kubernetes", scenarios.shop(), options).files, tmp_path)
    for name, resolved in profiles.items():
        proc = subprocess.run(
            ["kubectl", "kustomize", str(tmp_path / "overlays" / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        built = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout)}
        plain = render("kubernetes", resolved).files[0].content
        expected = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(plain)}
        assert built == expected, name
        (tmp_path / f"{name}.yaml").write_text(proc.stdout, encoding="utf-8")
        _kubernetes_validate(tmp_path / f"{name}.yaml")


def _systemd_verify(directory: Path, units: list[str]) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    # verify exits 0 on warnings: any output on stderr is a problem in the unit
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is absent")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_systemd_units_pass_systemd_analyze_verify(scenario: str, tmp_path: Path) -> None:
    result = render("systemd", _project(scenario, "systemd"))
    write_files(result.files, tmp_path)
    target = next(f for f in result.files if f.path.suffix == ".target")
    wants = next(
        line for line in target.content.splitlines() if line.startswith("Wants=")
    ).removeprefix("Wants=")
    _systemd_verify(tmp_path, [str(target.path), *wants.split()])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_supervisord_reads_the_program_sections(scenario: str, tmp_path: Path) -> None:
    ServerOptions = pytest.importorskip(
        "supervisor.options", reason="supervisor (its own config reader) is not installed"
    ).ServerOptions

    project = _project(scenario, "supervisord")
    content = render("supervisord", project).files[0].content
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n" + content, encoding="utf-8")
    section = ServerOptions().read_config(str(conf))
    (group,) = section.process_group_configs
    assert group.name == project.name
    counts: dict[str, int] = {}
    for program in group.process_configs:
        base = program.name.rsplit("_", 1)[0] if "_" in program.name else program.name
        counts[base] = counts.get(base, 0) + 1
    for name, spec in project.processes.items():
        assert counts.get(name, 0) == (1 if spec.oneshot else spec.scale), name


def test_procfile_round_trips_through_honcho() -> None:
    import shlex

    from honcho.environ import parse_procfile

    project = scenarios.shop()
    procfile = parse_procfile(render("procfile", project).files[0].content)
    assert list(procfile.processes) == ["release", "web", "worker", "beat"]
    assert shlex.split(procfile.processes["release"]) == list(project.processes["migrate"].argv)
    for name in ("web", "beat"):
        # shlex reads "${PORT:-8000}" back as the reference text the platform expands
        assert shlex.split(procfile.processes[name]) == list(project.processes[name].argv)
    worker = shlex.split(procfile.processes["worker"])
    assert worker[:2] == ["env", "C_FORCE_ROOT=false"]
    assert worker[2:] == list(project.processes["worker"].argv)


def test_a_process_scaled_to_zero_is_defined_but_not_started(tmp_path: Path) -> None:
    ServerOptions = pytest.importorskip(
        "supervisor.options", reason="supervisor (its own config reader) is not installed"
    ).ServerOptions

    spare = scenarios.process("spare", 1, ("/usr/bin/true",), scale=0)
    project = dataclasses.replace(
        scenarios.shop(), processes={**scenarios.shop().processes, "spare": spare}
    )
    compose = yaml.safe_load(render("compose", project).files[0].content)["services"]["spare"]
    assert compose["profiles"] == ["manual"]
    assert "deploy" not in compose
    conf = tmp_path / "s.conf"
    conf.write_text("[supervisord]\n" + render("supervisord", project).files[0].content)
    programs = ServerOptions().read_config(str(conf)).process_group_configs[0].process_configs
    (spare_program,) = [p for p in programs if p.name == "spare"]
    assert spare_program.autostart is False
    target = render("systemd", project).files[0].content
    assert "spare" not in target
    assert "shop-spare@.service" in [str(f.path) for f in render("systemd", project).files]
