"""A `notify` readiness check: systemd speaks the protocol, Compose and Kubernetes cannot."""

from __future__ import annotations

import pytest

from prodserver.config.resolve import resolve_project
from prodserver.exporters import compose, kubernetes, systemd
from tests.conftest import BASE_ENV

TOML = """
[project]
name = "shop"
[processes.web]
command = ["/usr/bin/python3", "-m", "http.server"]
healthcheck = { notify = true }
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "prodserver.toml").write_text(TOML)
    return resolve_project(cwd=tmp_path, environ=BASE_ENV, for_export=True)


def _render(module, project):
    from prodserver.exporters.base import ExportOptions

    return module.render(project, ExportOptions())


def test_systemd_unit_is_type_notify(project):
    result = _render(systemd, project)
    unit = next(f.content for f in result.files if f.path.name == "shop-web@.service")
    assert "Type=notify" in unit and "NotifyAccess=main" in unit
    assert not any("notify" in w for w in result.warnings)


@pytest.mark.parametrize("module", [compose, kubernetes])
def test_compose_and_kubernetes_warn_and_write_no_probe(project, module):
    result = _render(module, project)
    assert any("healthcheck (notify)" in w for w in result.warnings)
    text = "".join(f.content for f in result.files)
    assert "healthcheck:" not in text  # Compose
    assert "Probe:" not in text  # Kubernetes readinessProbe / livenessProbe


def test_a_watchdog_becomes_watchdogsec(tmp_path):
    from tests.exporters.readers import systemd_sections

    toml = TOML.replace("{ notify = true }", '{ notify = true, watchdog = "30s" }')
    (tmp_path / "prodserver.toml").write_text(toml)
    project = resolve_project(cwd=tmp_path, environ=BASE_ENV, for_export=True)
    assert project.processes["web"].healthcheck.watchdog == 30.0
    unit = next(
        f.content for f in _render(systemd, project).files if f.path.name.endswith("@.service")
    )
    service = dict(systemd_sections(unit)["Service"])
    assert service["Type"] == "notify" and service["WatchdogSec"] == "30s"


def test_a_watchdog_needs_notify(tmp_path):
    from prodserver.errors import ConfigError

    toml = TOML.replace("{ notify = true }", '{ tcp = "127.0.0.1:9", watchdog = "30s" }')
    (tmp_path / "prodserver.toml").write_text(toml)
    with pytest.raises(ConfigError) as err:
        resolve_project(cwd=tmp_path, environ=BASE_ENV)
    assert [p.code for p in err.value.problems] == ["PS451"]
