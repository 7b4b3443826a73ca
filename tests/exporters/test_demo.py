"""Every format generated from the repository's demo ``prodserver.toml``, for every profile.

Golden files: ``tests/exporters/golden/demo/<profile>/<format>/`` with the repository path
replaced by ``<root>`` (regenerate with ``PRODSERVER_REGEN_GOLDEN=1``). Each export also goes
through its format's validator.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from prodserver.exporters import (
    FORMATS,
    ExportFile,
    ExportOptions,
    ExportResult,
    render,
    write_files,
)
from tests.conftest import REPO
from tests.exporters.test_formats import (
    GOLDEN,
    _kubernetes_validate,
    _systemd_verify,
    check_golden,
)

DEMO = REPO / "prodserver.toml"
pytestmark = pytest.mark.skipif(not DEMO.exists(), reason="the demo prodserver.toml is not there")


def _profiles() -> list[str]:
    # Read the names only: a configuration error must fail the tests, not their collection.
    import tomllib

    if not DEMO.exists():
        return ["-"]
    return list(tomllib.loads(DEMO.read_text(encoding="utf-8")).get("profiles", {}))


def _export(fmt: str, profile: str) -> ExportResult:
    from prodserver.config.resolve import resolve_project

    project = resolve_project(file=DEMO, profile=profile, for_export=True, environ={})
    # The demo sets no user (its live tests run the exports as root, like `up`'s): its
    # production profiles are exported as `--allow-root` would
    result = render(fmt, project, ExportOptions(allow_root=True))
    # The checkout's location appears in paths (WorkingDirectory=, directory=): normalise it.
    files = tuple(
        dataclasses.replace(f, content=f.content.replace(str(REPO), "<root>")) for f in result.files
    )
    return dataclasses.replace(result, files=files)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("profile", _profiles())
def test_demo_golden(profile: str, fmt: str) -> None:
    check_golden(GOLDEN / "demo" / profile / fmt, _export(fmt, profile))


@pytest.mark.parametrize("profile", _profiles())
def test_demo_exports_pass_their_validators(profile: str, tmp_path: Path) -> None:
    from honcho.environ import parse_procfile

    ServerOptions = pytest.importorskip(
        "supervisor.options", reason="supervisor (its own config reader) is not installed"
    ).ServerOptions

    procfile = _export("procfile", profile).files[0].content
    assert parse_procfile(procfile).processes

    compose = _write(tmp_path / "compose", _export("compose", profile).files)
    proc = subprocess.run(
        [
            str(Path(__import__("sys").executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose[0]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    (manifest,) = _write(tmp_path / "k8s", _export("kubernetes", profile).files)
    _kubernetes_validate(manifest)

    (conf,) = _write(tmp_path / "supervisord", _export("supervisord", profile).files)
    conf.write_text("[supervisord]\n" + conf.read_text(encoding="utf-8"), encoding="utf-8")
    assert ServerOptions().read_config(str(conf)).process_group_configs

    if shutil.which("systemd-analyze"):
        units = _write(tmp_path / "systemd", _export("systemd", profile).files)
        target = next(u for u in units if u.suffix == ".target")
        wants = next(
            line
            for line in target.read_text(encoding="utf-8").splitlines()
            if line.startswith("Wants=")
        ).removeprefix("Wants=")
        _systemd_verify(target.parent, [target.name, *wants.split()])


def _write(directory: Path, files: tuple[ExportFile, ...]) -> list[Path]:
    # <root> is not a real directory: point it at the checkout again for the validators
    real = tuple(
        dataclasses.replace(f, content=f.content.replace("<root>", str(REPO))) for f in files
    )
    return write_files(real, directory)
