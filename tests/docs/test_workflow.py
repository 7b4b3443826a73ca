"""The GitHub Actions workflow: valid, and covering what the README and pyproject promise.

It cannot run here, so it is checked the way GitHub would read it: against the workflow schema
(offline, bundled with check-jsonschema), and for the matrix it must cover.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def load() -> dict[object, object]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_workflow_is_valid_for_github() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("check-jsonschema is not installed")
    proc = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_supported_python_runs_on_every_system() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    supported = set(re.findall(r"Programming Language :: Python :: (3\.\d+)", pyproject))
    jobs = load()["jobs"]
    assert isinstance(jobs, dict)
    systems: dict[str, set[str]] = {}
    for job in jobs.values():
        matrix = job["strategy"]["matrix"]
        for os_name in matrix.get("os", [job["runs-on"]]):
            systems.setdefault(os_name.split("-")[0], set()).update(matrix["python"])
    assert set(systems) == {"ubuntu", "macos", "windows"}
    for os_name, pythons in systems.items():
        assert pythons == supported, os_name


def test_linux_runs_the_same_entry_point_as_developers() -> None:
    jobs = load()["jobs"]
    assert isinstance(jobs, dict)
    steps = jobs["linux"]["steps"]
    assert any(step.get("run") == "bash tools/test.sh" for step in steps)
