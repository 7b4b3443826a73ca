"""One value through every export and back through each format's real reader.

Shared by the hypothesis test (tests/exporters/test_roundtrip.py) and the fuzz target
(fuzz/fuzz_exports.py). A value is put in ``[env]`` and twice in a command (literally and as
``${VAL}``); each export must either refuse it with a ConfigError naming the process, or give
the program exactly the argv ``up`` gives, and never add a program, process type, key or line.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import honcho.environ
import yaml
from supervisor.options import ServerOptions, UnhosedConfigParser

from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from prodserver.exporters import render
from tests.exporters import readers

#: printf's format: each argument followed by a NUL (which no argument can hold)
FORMAT = "%s\\0"

#: the codes an export may refuse a value with (a character its format cannot carry)
REFUSALS = {"PS550", "PS605", "PS610", "PS611", "PS612", "PS621"}


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text``."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def configuration(value: str) -> str:
    literal = toml_string(value.replace("$", "$$"))
    return (
        '[project]\nname = "shop"\n'
        f"[env]\nVAL = {literal}\n"
        f'[processes.web]\ncommand = ["printf", {toml_string(FORMAT)}, {literal}, "${{VAL}}"]\n'
    )


def _run(argv: Sequence[str], env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        list(argv), env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, check=True
    ).stdout.decode("utf-8", "surrogateescape")
    return ["printf", FORMAT, *out.split("\0")[:-1]]


def _received(argv: list[str], env: dict[str, str], expected: list[str]) -> list[str]:
    """The argv the program gets: a shell wrapper is run for real."""
    if argv[:2] == ["/bin/sh", "-c"]:
        return _run(argv, env)
    return argv


def check_value(value: str, workdir: Path) -> dict[str, str]:
    """Export ``value`` in every format and read it back; returns each format's outcome."""
    (workdir / "prodserver.toml").write_text(configuration(value), encoding="utf-8")
    try:
        project = resolve_project(
            file=workdir / "prodserver.toml", cwd=workdir, environ={}, for_export=True
        )
    except ConfigError as exc:
        assert {p.code for p in exc.problems} <= REFUSALS, exc.problems
        return {"resolve": "refused"}
    expected = ["printf", FORMAT, value, value]
    assert list(project.processes["web"].argv) == expected
    outcome: dict[str, str] = {}
    for fmt, check in _CHECKS.items():
        try:
            result = render(fmt, project)
        except ConfigError as exc:
            assert exc.code in REFUSALS, (fmt, exc.code, exc.message)
            assert "web" in exc.message or "VAL" in exc.message, exc.message
            outcome[fmt] = "refused"
            continue
        files = {str(f.path): f.content for f in result.files}
        check(files, value, expected, workdir)
        outcome[fmt] = "ok"
    return outcome


def _procfile(files: dict[str, str], value: str, expected: list[str], workdir: Path) -> None:
    processes = honcho.environ.parse_procfile(files["Procfile"]).processes
    assert list(processes) == ["web"]
    assert shlex.split(processes["web"]) == expected


def _compose(files: dict[str, str], value: str, expected: list[str], workdir: Path) -> None:
    (document,) = list(yaml.safe_load_all(files["compose.yaml"]))
    assert list(document["services"]) == ["web"]
    service = document["services"]["web"]
    env = {k: readers.compose_interpolate(v, {}) for k, v in service["environment"].items()}
    assert env["VAL"] == value
    argv = [readers.compose_interpolate(w, {}) for w in service["command"]]
    assert _received(argv, env, expected) == expected


def _supervisord(files: dict[str, str], value: str, expected: list[str], workdir: Path) -> None:
    path = workdir / "shop.conf"
    path.write_text(files["shop.conf"], encoding="utf-8")
    parser = UnhosedConfigParser()
    parser.read([str(path)], encoding="utf-8")
    assert parser.sections() == ["group:shop", "program:web"]
    (program,) = ServerOptions().processes_from_section(parser, "program:web", "shop")
    env: dict[str, str] = dict(program.environment or {})
    argv = shlex.split(program.command)
    if "VAL" in env:
        assert env["VAL"] == value
    assert _received(argv, env, expected) == expected


def _kubernetes(files: dict[str, str], value: str, expected: list[str], workdir: Path) -> None:
    documents: list[Any] = [d for d in yaml.safe_load_all(files["shop.yaml"]) if d]
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in documents)
    assert kinds == [("ConfigMap", "shop-env"), ("Deployment", "shop-web"), ("Service", "shop-web")]
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    assert config == {"VAL": value}
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = readers.k8s_container_env(container, config)
    argv = [readers.k8s_expand(w, env) for w in container["command"]]
    assert _received(argv, env, expected) == expected


def _systemd(files: dict[str, str], value: str, expected: list[str], workdir: Path) -> None:
    unit = files["shop-web@.service"]
    assert set(readers.systemd_sections(unit)) == {"Unit", "Service"}
    env_file = files.get("shop.env", "")
    body = env_file.split("\n", 2)[2]  # after the two header comment lines
    assert readers.systemd_env_file(body) == {"VAL": value}
    argv, env = readers.systemd_command(unit, "1", [body])
    if argv[0] == "/usr/bin/env":
        argv = argv[1:]
    assert _received(argv, env, expected) == expected


_CHECKS = {
    "procfile": _procfile,
    "compose": _compose,
    "supervisord": _supervisord,
    "kubernetes": _kubernetes,
    "systemd": _systemd,
}
