"""Hostile values survive every format: the exported process receives exactly its arguments.

Each test reads the export back the way its target does (honcho's Procfile parser and a real
shell, supervisor's own config reader, the documented systemd / Kubernetes / Compose rules),
then runs the resulting command for real: the process prints the argv and environment it got.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from prodserver.errors import ConfigError
from prodserver.exporters import render, write_files
from tests.exporters import readers, scenarios

PORT = 5000


def test_procfile_line_runs_with_the_exact_arguments() -> None:
    from honcho.environ import parse_procfile

    content = render("procfile", scenarios.hostile(newline=False)).files[0].content
    procfile = parse_procfile(content)
    command = procfile.processes["odd_name-1"]
    # Heroku and honcho run the line with a shell; PORT comes from the platform.
    report = readers.run_report(["/bin/sh", "-c", command], {"PORT": str(PORT)})
    expected = scenarios.expected_report(PORT, newline=False)
    assert report["argv"] == expected["argv"]
    # the process's own env layer travels on its line; the rest are config vars
    for key in ("HOSTILE_QUOTES", "HOSTILE_PCT", "PLAIN"):
        assert report["env"][key] == expected["env"][key]


def test_procfile_words_split_back_with_shlex() -> None:
    from honcho.environ import parse_procfile

    project = scenarios.hostile(newline=False)
    content = render("procfile", project).files[0].content
    command = parse_procfile(content).processes["odd_name-1"]
    words = shlex.split(command)
    # env KEY=VALUE ... then the argv, references left as $PORT for the platform
    argv_start = words.index("/usr/bin/python3")
    assert words[argv_start + 3 : -1] == scenarios.literal_words(newline=False)
    assert words[-1] == "--port=${PORT}"


def test_procfile_refuses_a_newline_it_cannot_carry() -> None:
    with pytest.raises(ConfigError, match="newline"):
        render("procfile", scenarios.hostile())


def test_compose_command_reads_back_exactly() -> None:
    content = render("compose", scenarios.hostile()).files[0].content
    service = yaml.safe_load(content)["services"]["odd_name-1"]
    argv = [readers.compose_interpolate(w, {}) for w in service["command"]]
    env = {k: readers.compose_interpolate(v, {}) for k, v in service["environment"].items()}
    report = readers.run_report(argv, env)
    assert report == scenarios.expected_report(PORT)


def test_systemd_unit_starts_the_exact_arguments(tmp_path: Path) -> None:
    result = render("systemd", scenarios.hostile())
    files = {str(f.path): f.content for f in result.files}
    argv, env = readers.systemd_command(
        files["hostile-odd_name-1@.service"], str(PORT), [files["hostile.env"]]
    )
    assert argv[0] == "/usr/bin/python3"
    report = readers.run_report(argv, env)
    assert report == scenarios.expected_report(PORT)


def test_supervisord_program_starts_the_exact_arguments(tmp_path: Path) -> None:
    ServerOptions = pytest.importorskip(
        "supervisor.options", reason="supervisor (its own config reader) is not installed"
    ).ServerOptions

    content = render("supervisord", scenarios.hostile()).files[0].content
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n" + content, encoding="utf-8")
    options = ServerOptions()
    options.configfile = str(conf)
    section = options.read_config(str(conf))
    (group,) = section.process_group_configs
    (program,) = group.process_configs
    assert program.name == f"odd_name-1_{PORT}"
    # supervisord splits the command like this before exec (supervisor/process.py)
    argv = shlex.split(program.command)
    report = readers.run_report(argv, program.environment or {})
    assert report == scenarios.expected_report(PORT)


def test_kubernetes_container_runs_the_exact_arguments() -> None:
    content = render("kubernetes", scenarios.hostile()).files[0].content
    documents = list(yaml.safe_load_all(content))
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = readers.k8s_container_env(container, config)
    argv = [readers.k8s_expand(word, env) for word in container["command"]]
    report = readers.run_report(argv, env)
    assert report == scenarios.expected_report(PORT)


@pytest.mark.parametrize("fmt", ["compose", "systemd", "supervisord", "kubernetes"])
def test_default_in_a_reference_is_evaluated_where_it_runs(fmt: str, tmp_path: Path) -> None:
    """``${GREETING:-hello world}`` keeps its default; a set value wins, never split."""
    spec = scenarios.process(
        "greet",
        0,
        ("/usr/bin/python3", "-c", scenarios.REPORT, '${GREETING:-it\'s a "default"}', "${PORT}"),
        listens=True,
    )
    project = scenarios.project([spec], name="greet", runtime_refs=frozenset({"PORT", "GREETING"}))
    result = render(fmt, project)
    argv, env = _argv_and_env(fmt, result, tmp_path)
    assert readers.run_report(argv, env)["argv"] == ['it\'s a "default"', str(PORT)]
    env["GREETING"] = "two words; $HOME"
    if fmt == "compose":
        argv, env = _argv_and_env(fmt, result, tmp_path, {"GREETING": "two words; $HOME"})
    assert readers.run_report(argv, env)["argv"] == ["two words; $HOME", str(PORT)]


def _argv_and_env(fmt, result, tmp_path, outer=None):  # type: ignore[no-untyped-def]
    files = {str(f.path): f.content for f in result.files}
    if fmt == "compose":
        service = yaml.safe_load(files["compose.yaml"])["services"]["greet"]
        argv = [readers.compose_interpolate(w, outer or {}) for w in service["command"]]
        return argv, {"PORT": str(PORT)}
    if fmt == "systemd":
        return readers.systemd_command(files["greet-greet@.service"], str(PORT))
    if fmt == "supervisord":
        ServerOptions = pytest.importorskip(
            "supervisor.options", reason="supervisor (its own config reader) is not installed"
        ).ServerOptions

        conf = tmp_path / "s.conf"
        conf.write_text("[supervisord]\n" + files["greet.conf"], encoding="utf-8")
        section = ServerOptions().read_config(str(conf))
        program = section.process_group_configs[0].process_configs[0]
        return shlex.split(program.command), dict(program.environment or {})
    documents = list(yaml.safe_load_all(files["greet.yaml"]))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = readers.k8s_container_env(container, {})
    return [readers.k8s_expand(w, env) for w in container["command"]], env


def test_written_files_hold_the_same_bytes(tmp_path: Path) -> None:
    result = render("systemd", scenarios.hostile())
    write_files(result.files, tmp_path)
    for file in result.files:
        assert (tmp_path / file.path).read_text(encoding="utf-8") == file.content


@pytest.mark.parametrize("fmt", ["compose", "systemd", "supervisord", "kubernetes"])
@pytest.mark.parametrize("outer", [{}, {"REDIS_URL": "redis://prod:6379/1"}])
def test_an_environment_default_is_evaluated_where_it_runs(
    fmt: str, outer: dict[str, str], tmp_path: Path
) -> None:
    """``REDIS_URL = "${REDIS_URL:-...}"`` keeps its default and lets the deployment set it."""
    report = (
        "import json, os; print(json.dumps({'argv': [], 'env': "
        "{'REDIS_URL': os.environ.get('REDIS_URL'), 'BROKER': os.environ.get('BROKER')}}))"
    )
    spec = scenarios.process("app", 0, ("/usr/bin/python3", "-c", report))
    project = scenarios.project(
        [spec],
        name="redis",
        env={"REDIS_URL": "${REDIS_URL:-redis://127.0.0.1:6379/0}", "BROKER": "${REDIS_URL}/b"},
        runtime_refs=frozenset({"PORT", "REDIS_URL"}),
    )
    files = {str(f.path): f.content for f in render(fmt, project).files}
    if fmt == "compose":
        service = yaml.safe_load(files["compose.yaml"])["services"]["app"]
        env = {k: readers.compose_interpolate(v, outer) for k, v in service["environment"].items()}
        argv = service["command"]
    elif fmt == "systemd":
        provided = "".join(f'{k}="{v}"\n' for k, v in outer.items())
        argv, env = readers.systemd_command(files["redis-app@.service"], "1", [provided])
    elif fmt == "supervisord":
        ServerOptions = pytest.importorskip("supervisor.options").ServerOptions
        conf = tmp_path / "s.conf"
        conf.write_text("[supervisord]\n" + files["redis.conf"], encoding="utf-8")
        program = ServerOptions().read_config(str(conf)).process_group_configs[0].process_configs[0]
        argv = shlex.split(program.command)
        env = {**outer, **(program.environment or {})}  # supervisord's own environment first
    else:
        documents = list(yaml.safe_load_all(files["redis.yaml"]))
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        # the deployment sets it by adding it to the generated ConfigMap (read whole)
        (config,) = [d["data"] for d in documents if d["kind"] == "ConfigMap"]
        env = readers.k8s_container_env(container, {**config, **outer}, outer)
        argv = [readers.k8s_expand(w, env) for w in container["command"]]
    # Compose names the generated redis service instead of the container itself
    local = "redis://redis:6379/0" if fmt == "compose" else "redis://127.0.0.1:6379/0"
    url = outer.get("REDIS_URL", local)
    assert readers.run_report(argv, env)["env"] == {"REDIS_URL": url, "BROKER": f"{url}/b"}
