"""What a cached ``prodserver up`` does before the runtime starts (issue 17): the configuration
comes from the cache, and the checks and the audit hash import nothing they do not use."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prodserver.checks.installed import backend_problems
from prodserver.cli import common
from prodserver.cli.common import resolve_here
from prodserver.config.display import config_hash
from prodserver.config.model import ResolvedProject
from tests.conftest import REPO

#: runs `up` with the runtime replaced by a stand-in that lists the modules imported so far
STAND_IN = """\
import sys, types
fake = types.ModuleType("prodserver.runtime.up")
class UpOptions:
    def __init__(self, **kw):
        self.__dict__.update(kw)
def run_up(project, options):
    print("SHA256", options.config_sha256)
    print("LOADED", " ".join(sorted(sys.modules)))
    return 0
fake.UpOptions, fake.run_up = UpOptions, run_up
sys.modules["prodserver.runtime.up"] = fake
from prodserver.cli.main import main
sys.exit(main(["up", "--no-timestamps"]))
"""

#: what a cached `up` must not import before its runtime: the resolver (the cache hit), the
#: backends (their requirements come with the entry), the audit hash's masking and encoding (the
#: hash comes with the entry too), the checks a development profile without ports does not run,
#: the cache's writing side (pickle.py too: an entry is read with _pickle alone), the problems
#: of the error catalogue, and what the help text and the package check used to import
NOT_BEFORE_RUNTIME = (
    "prodserver.config.resolve",
    "prodserver.backends.registry",
    "prodserver.backends.base",
    "prodserver.checks.deploy",
    "prodserver.checks.services",
    "prodserver.hostport",
    "prodserver.config.cache_inputs",
    "prodserver.problems",
    "prodserver.config.display",
    "prodserver.config.secrets",
    "json",
    "_json",
    "hashlib",
    "textwrap",
    "socket",
    "subprocess",
    "tempfile",
    "pickle",
    "importlib.util",
)


def test_a_cached_up_imports_only_what_it_uses_before_the_runtime(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "prodserver.toml").write_text(
        '[project]\nname = "app"\n[processes.t]\ncommand = ["true"]\noneshot = true\n'
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(REPO),
    }
    runs = [
        subprocess.run(
            [sys.executable, "-c", STAND_IN],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    first, cached = (dict(line.split(" ", 1) for line in out.splitlines()) for out in runs)
    assert cached["SHA256"] == first["SHA256"] and len(first["SHA256"]) == 64
    assert "prodserver.config.resolve" in first["LOADED"].split()  # the miss resolved
    loaded = set(cached["LOADED"].split())
    assert "prodserver.config.cache" in loaded
    assert sorted(loaded.intersection(NOT_BEFORE_RUNTIME)) == []


GRANIAN = """\
[processes.web]
backend = "granian"
app = "shop.asgi:app"

[processes.job]
command = ["true"]
"""


def _args(file: Path) -> argparse.Namespace:
    return argparse.Namespace(file=str(file), profile=None, env_file=[], no_cache=False)


def test_a_cache_hit_carries_what_the_backends_require_and_the_packages_are_looked_for_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "prodserver.toml").write_text(GRANIAN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    file = tmp_path / "prodserver.toml"
    results: list[tuple[ResolvedProject, Any]] = []
    for _ in range(2):  # a miss that writes the entry, then a hit
        facts: dict[str, Any] = {}
        project, configured = resolve_here(_args(file), up_facts=facts)
        results.append((project, facts.get("backend_needs")))
        # the audit trail's hash comes with the entry: the one the project gives
        assert facts.get("config_sha256") == config_hash(project, configured)
    (_, written), (project, needs) = results
    for _ in range(2):  # run and exec: entries of their own, nothing computed for up
        with monkeypatch.context() as patched:
            patched.setattr(common, "_facts", lambda *a: pytest.fail("computed for run or exec"))
            resolve_here(_args(file))
    assert (
        needs
        == written
        == {
            "command": ((), None),
            "granian": (("granian",), "pip install 'prodserver[granian]'"),
        }
    )
    assert backend_problems(project, needs=needs) == []

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "granian" else real(name, *a)
    )
    # uninstalled after the entry was written: reported, word for word as without the cache
    problems = backend_problems(project, needs=needs)
    assert [p.render() for p in problems] == [
        f"error PS145: {file}: backend 'granian' (used by web) needs granian, which is not "
        "installed\n  hint: pip install 'prodserver[granian]'"
    ]
    assert problems == backend_problems(project)


def test_only_built_in_backends_checked_by_their_requires_alone_come_with_the_entry() -> None:
    """A plugin (its code is not part of the cache key) and a backend with its own test of what
    is missing (django-tasks accepts an older package layout) are looked up at every start."""
    from types import SimpleNamespace

    from prodserver.checks.installed import backend_needs

    processes = {
        name: SimpleNamespace(backend=backend)
        for name, backend in [("a", "django-tasks"), ("b", "gunicorn"), ("c", "my-plugin")]
    }
    needs = backend_needs(SimpleNamespace(processes=processes))  # type: ignore[arg-type]
    assert needs == {"gunicorn": (("gunicorn",), "pip install 'prodserver[gunicorn]'")}
