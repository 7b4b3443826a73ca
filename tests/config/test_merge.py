"""The merge rules of ``config/merge.py``, one test per row of its table, as a user sees them:
a file with a base layer and a profile over it, resolved for that profile."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from prodserver.config.merge import layers, merge_processes
from prodserver.config.model import ResolvedProject
from prodserver.config.resolve import load_source, resolve_project


def resolved(
    project: Callable[..., Path], toml: str, profile: str = "p", **files: str
) -> ResolvedProject:
    root = project(toml, **files)
    return resolve_project(file=root / "prodserver.toml", profile=profile, environ={})


def test_a_table_merges_key_by_key_and_the_higher_layer_wins_per_key(project):
    spec = resolved(
        project,
        """
        [processes.web]
        command = "serve"
        env = { A = "base", B = "base" }
        [profiles.p.processes.web]
        env = { B = "profile", C = "profile" }
        """,
    ).processes["web"]
    assert dict(spec.env) == {"A": "base", "B": "profile", "C": "profile"}
    assert spec.argv == ("serve",)  # the keys the profile does not name stay


def test_an_array_is_replaced_as_a_whole(project):
    spec = resolved(
        project,
        """
        [processes.worker]
        backend = "rq-worker"
        queues = ["high", "default", "low"]
        [profiles.p.processes.worker]
        queues = ["mail"]
        """,
    ).processes["worker"]
    assert list(spec.options["queues"]) == ["mail"]


def test_a_scalar_is_replaced(project):
    spec = resolved(
        project,
        """
        [processes.web]
        command = "serve"
        stop_timeout = "5s"
        [profiles.p.processes.web]
        stop_timeout = "30s"
        """,
    ).processes["web"]
    assert spec.stop_timeout == 30.0


def test_a_changed_backend_keeps_only_the_keys_that_mean_the_same_for_every_backend(project):
    spec = resolved(
        project,
        """
        [processes.web]
        command = "serve"
        args = ["--old"]
        stop_signal = "SIGINT"
        kill_mode = "main"
        cwd = "app"
        env = { KEPT = "1" }
        [profiles.p.processes.web]
        backend = "gunicorn"
        app = "shop.wsgi:application"
        """,
        app__placeholder="",
    ).processes["web"]
    assert spec.backend == "gunicorn"
    assert "--old" not in spec.argv  # args, stop_signal, kill_mode were the old program's
    assert spec.stop_signal == signal.SIGTERM
    assert spec.kill_mode == "main"  # gunicorn's own, not the command's
    assert spec.cwd.name == "app" and spec.env["KEPT"] == "1"


def test_enabled_false_drops_the_process_and_a_higher_layer_may_enable_it_again(project):
    toml = """
    [processes.web]
    command = "serve"
    [processes.debug]
    command = "debugger"
    enabled = false
    [profiles.p.processes.web]
    enabled = false
    [profiles.q.processes.debug]
    enabled = true
    """
    assert list(resolved(project, toml, "p").processes) == []
    assert list(resolved(project, toml, "q").processes) == ["web", "debug"]


def test_naming_a_probe_kind_drops_the_other_kinds_from_below_but_keeps_other_keys(project):
    spec = resolved(
        project,
        """
        [processes.web]
        command = "serve --port $PORT"
        healthcheck = { http = "http://127.0.0.1:$PORT/health", interval = "2s" }
        [profiles.p.processes.web]
        healthcheck = { tcp = "127.0.0.1:$PORT" }
        """,
    ).processes["web"]
    assert spec.healthcheck is not None
    assert spec.healthcheck.kind == "tcp"
    assert spec.healthcheck.interval == 2.0


def test_env_files_are_concatenated_along_the_chain(project):
    project_ = resolved(
        project,
        """
        [project]
        env_files = ["base.env"]
        [processes.web]
        command = "serve"
        [profiles.p]
        env_files = ["profile.env"]
        """,
        **{"base.env": "A=base\nB=base\n", "profile.env": "B=profile\n"},
    )
    assert [p.name for p in project_.env_files] == ["base.env", "profile.env"]
    assert project_.env["A"] == "base" and project_.env["B"] == "profile"


def test_extends_is_never_inherited(project):
    toml = """
    [processes.web]
    command = "serve"
    [profiles.base]
    env = { FROM = "base" }
    [profiles.p]
    extends = "base"
    [profiles.child]
    extends = "p"
    env = { OWN = "child" }
    """
    root = project(toml)
    source = load_source(root / "prodserver.toml")
    assert [layer.name for layer in layers(source, "child")][1:] == ["base", "p", "child"]
    child = resolved(project, toml, "child")
    assert child.env["FROM"] == "base" and child.env["OWN"] == "child"


def test_merging_never_changes_its_inputs(project):
    root = project(
        """
        [processes.web]
        command = "serve"
        env = { A = "base" }
        [profiles.p.processes.web]
        env = { A = "profile" }
        """
    )
    source = load_source(root / "prodserver.toml")
    chain = layers(source, "p")
    merged = merge_processes(chain)
    assert merged.processes["web"]["env"] == {"A": "profile"}
    assert source.data["processes"]["web"]["env"] == {"A": "base"}  # the base layer as read
    assert merged.origins[("web", "env", "A")] == ("profiles", "p", "processes", "web", "env", "A")
