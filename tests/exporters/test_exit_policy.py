"""``restart.success_exit_codes`` / ``prevent_exit_codes`` in each export that has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from prodserver.exporters import compose, supervisord, systemd
from prodserver.exporters.base import ExportOptions
from tests.conftest import BASE_ENV
from tests.exporters.readers import systemd_sections

TOML = """
[project]
name = "shop"
[processes.web]
command = ["/usr/bin/python3", "-m", "http.server"]
restart = { policy = "always", success_exit_codes = [3], prevent_exit_codes = [4, 2] }
"""


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "prodserver.toml").write_text(TOML)
    return resolve_project(cwd=tmp_path, environ=BASE_ENV, for_export=True)


def test_the_policy_reaches_the_model(project) -> None:
    policy = project.processes["web"].restart
    assert policy.success_exit_codes == (3,)
    assert policy.prevent_exit_codes == (2, 4)


def test_systemd_gets_success_and_restart_prevent_exit_status(project) -> None:
    result = systemd.render(project, ExportOptions())
    unit = next(f.content for f in result.files if f.path.name == "shop-web@.service")
    service = dict(systemd_sections(unit)["Service"])
    assert service["SuccessExitStatus"] == "3"
    assert service["RestartPreventExitStatus"] == "2 4"


def test_supervisord_expects_the_success_codes_and_says_what_it_cannot(project, tmp_path):
    result = supervisord.render(project, ExportOptions())
    assert any("prevent_exit_codes" in w for w in result.warnings)
    options = pytest.importorskip("supervisor.options", reason="supervisor is not installed")
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n" + result.files[0].content, encoding="utf-8")
    (group,) = options.ServerOptions().read_config(str(conf)).process_group_configs
    (program,) = group.process_configs
    assert sorted(program.exitcodes) == [0, 3]


def test_compose_says_it_has_no_such_setting(project) -> None:
    result = compose.render(project, ExportOptions())
    assert any("success_exit_codes" in w for w in result.warnings)
    assert any("prevent_exit_codes" in w for w in result.warnings)


def test_exit_codes_outside_0_to_255_are_refused(tmp_path: Path) -> None:
    (tmp_path / "prodserver.toml").write_text(TOML.replace("[4, 2]", "[4, 300]"))
    with pytest.raises(ConfigError) as err:
        resolve_project(cwd=tmp_path, environ=BASE_ENV)
    assert "prevent_exit_codes" in str(err.value.problems[0].location) or any(
        "prevent_exit_codes" in str(p) for p in err.value.problems
    )
