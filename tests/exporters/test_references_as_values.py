"""Exports read back by their real readers: references stay references, values stay bytes.

Regression tests for issue 11 (double expansion, line-break injection, literal ``$``, secrets
in exports, the secret guard's false alarm) and issue 12 point 1 (references as values).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import honcho.environ
import pytest
import yaml
from supervisor.options import UnhosedConfigParser

from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError, OutputError
from prodserver.exporters import ExportResult, render
from prodserver.exporters.base import LINE_BREAKS, write_files
from tests.exporters import readers

FORMATS = ["procfile", "compose", "systemd", "supervisord", "kubernetes"]
INJECTED = "hi; echo INJECTED"


def export(tmp_path: Path, toml: str, fmt: str, dotenv: str = "") -> ExportResult:
    (tmp_path / "prodserver.toml").write_text(toml, encoding="utf-8")
    if dotenv:
        (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    project = resolve_project(
        file=tmp_path / "prodserver.toml", cwd=tmp_path, environ={}, for_export=True
    )
    return render(fmt, project)


def everything(result: ExportResult) -> str:
    return "\n".join([*(f.content for f in result.files), *result.warnings, *result.advice])


def procfile_command(result: ExportResult, name: str) -> str:
    procfile = honcho.environ.parse_procfile(result.files[0].content)
    return str(procfile.processes[name])


SHELL_TOML = """
[project]
name = "shop"
[env]
GREETING = "hi; echo INJECTED"
[processes.web]
shell = true
command = "echo $GREETING && echo done"
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_shell_command_never_has_a_value_pasted_into_it(tmp_path: Path, fmt: str) -> None:
    result = export(tmp_path, SHELL_TOML, fmt)
    commands = [f.content for f in result.files if "GREETING" in f.content and "echo" in f.content]
    assert commands, "the command is exported"
    for content in commands:
        for line in content.splitlines():
            if "echo" in line and "done" in line:
                assert INJECTED not in line, line


def test_the_procfile_shell_line_runs_the_script_as_written(tmp_path: Path) -> None:
    command = procfile_command(export(tmp_path, SHELL_TOML, "procfile"), "web")
    out = subprocess.run(
        ["/bin/sh", "-c", command],
        env={"PATH": "/usr/bin:/bin", "GREETING": INJECTED},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == f"{INJECTED}\ndone\n"


def _breaking_toml(char: str) -> str:
    value = f"a{char}[program:pwned]{char}command=touch PWNED{char}pwned: touch PWNED #"
    return f"""
[project]
name = "shop"
[env]
VAL = {json.dumps(value)}
[processes.web]
command = ["python", "-c", "pass", {json.dumps(value)}, "${{VAL}}"]
"""


@pytest.mark.parametrize("char", list(LINE_BREAKS), ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
@pytest.mark.parametrize("fmt", ["procfile", "compose", "supervisord", "kubernetes"])
def test_a_line_break_never_adds_a_program_process_type_or_key(
    tmp_path: Path, fmt: str, char: str
) -> None:
    try:
        result = export(tmp_path, _breaking_toml(char), fmt)
    except ConfigError as exc:
        assert exc.code in ("PS610", "PS612"), exc.code
        assert "web" in exc.message
        return
    content = result.files[0].content
    if fmt == "procfile":
        assert list(honcho.environ.parse_procfile(content).processes) == ["web"]
    elif fmt == "supervisord":
        path = tmp_path / "shop.conf"
        path.write_text(content, encoding="utf-8")
        parser = UnhosedConfigParser()
        parser.read([str(path)], encoding="utf-8")
        assert parser.sections() == ["group:shop", "program:web"]
    else:
        documents = [d for d in yaml.safe_load_all(content) if d]
        value = f"a{char}[program:pwned]{char}command=touch PWNED{char}pwned: touch PWNED #"
        if fmt == "compose":
            assert list(documents[0]["services"]) == ["web"]
            assert documents[0]["services"]["web"]["command"][3] == value
        else:
            config = next(d for d in documents if d["kind"] == "ConfigMap")
            assert config["data"] == {"VAL": value}


LITERAL = "pa$word %x \\y 'q\" z} ${NOT_A_REF}"


def _literal_toml() -> str:
    # $$ in the file is one literal $ for `up` and for every export
    escaped = LITERAL.replace("$", "$$")
    return f"""
[project]
name = "shop"
[env]
PW = {json.dumps(escaped)}
[processes.web]
command = ["printf", "%s|", "${{PW}}", {json.dumps(escaped)}]
"""


def test_literal_bytes_are_the_same_under_up_and_the_procfile(tmp_path: Path) -> None:
    (tmp_path / "prodserver.toml").write_text(_literal_toml(), encoding="utf-8")
    up = resolve_project(file=tmp_path / "prodserver.toml", cwd=tmp_path, environ={})
    assert up.processes["web"].argv[2:] == (LITERAL, LITERAL)
    command = procfile_command(export(tmp_path, _literal_toml(), "procfile"), "web")
    out = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout
    assert out == f"{LITERAL}|{LITERAL}|"


def test_literal_bytes_are_the_same_in_compose_and_kubernetes(tmp_path: Path) -> None:
    compose = yaml.safe_load(export(tmp_path, _literal_toml(), "compose").files[0].content)
    service = compose["services"]["web"]
    # Compose reads $$ as one literal $
    assert [w.replace("$$", "$") for w in service["command"][2:]] == [LITERAL, LITERAL]
    assert service["environment"]["PW"].replace("$$", "$") == LITERAL
    documents = list(
        yaml.safe_load_all(export(tmp_path, _literal_toml(), "kubernetes").files[0].content)
    )
    config = next(d for d in documents if d and d["kind"] == "ConfigMap")
    assert config["data"]["PW"] == LITERAL  # a ConfigMap value is never expanded


def test_literal_bytes_are_the_same_in_supervisord(tmp_path: Path) -> None:
    content = export(tmp_path, _literal_toml(), "supervisord").files[0].content
    path = tmp_path / "shop.conf"
    path.write_text(content, encoding="utf-8")
    parser = UnhosedConfigParser()
    parser.read([str(path)], encoding="utf-8")
    from supervisor.options import ServerOptions

    (program,) = ServerOptions().processes_from_section(parser, "program:web", "shop")
    argv = shlex.split(program.command)
    env = {"PATH": "/usr/bin:/bin", **(program.environment or {})}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    assert out == f"{LITERAL}|{LITERAL}|"


SECRETS_TOML = """
[project]
name = "shop"
[env]
DATABASE_URL = "postgres://app:CANARY1pw@db/app"
REDIS_URL = "redis://:CANARY2pw@cache/0"
SECRET_KEY = "${DJANGO_SK}"
[processes.web]
command = ["gunicorn", "shop.wsgi"]
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_values_never_reach_an_export(tmp_path: Path, fmt: str) -> None:
    result = export(tmp_path, SECRETS_TOML, fmt, dotenv="DJANGO_SK=CANARY3sk\n")
    text = everything(result)
    for canary in ("CANARY1pw", "CANARY2pw", "CANARY3sk"):
        assert canary not in text, canary


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_common_word_in_a_secret_is_not_a_false_alarm(tmp_path: Path, fmt: str) -> None:
    toml = '[project]\nname = "shop"\n[processes.web]\ncommand = ["gunicorn", "shop.wsgi"]\n'
    dotenv = "POSTGRES_PASSWORD=postgres\nDATABASE_URL=postgres://db/app\n"
    try:
        result = export(tmp_path, toml, fmt, dotenv=dotenv)
    except OutputError as exc:  # pragma: no cover - the regression
        pytest.fail(f"false alarm: {exc}")
    assert result.files


def _systemd_files(tmp_path: Path, toml: str) -> dict[str, str]:
    result = export(tmp_path, toml, "systemd")
    out = tmp_path / "out"
    write_files(result.files, out)
    units = [str(f.path) for f in result.files if f.path.suffix in (".service", ".target")]
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *units],
            cwd=out,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (proc.returncode, proc.stderr) == (0, "")
    return {str(f.path): f.content for f in result.files}


@pytest.mark.parametrize("char", list(LINE_BREAKS), ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_a_line_break_round_trips_through_systemd(tmp_path: Path, char: str) -> None:
    files = _systemd_files(tmp_path, _breaking_toml(char))
    unit = files["shop-web@.service"]
    assert set(readers.systemd_sections(unit)) == {"Unit", "Service"}
    argv, _env = readers.systemd_command(unit, "5000", [files["shop.env"]])
    value = f"a{char}[program:pwned]{char}command=touch PWNED{char}pwned: touch PWNED #"
    assert argv[-2] == value
    assert readers.systemd_env_file(files["shop.env"].split("\n", 2)[2]) == {"VAL": value}


def test_literal_bytes_are_the_same_in_systemd(tmp_path: Path) -> None:
    files = _systemd_files(tmp_path, _literal_toml())
    argv, env = readers.systemd_command(files["shop-web@.service"], "5000", [files["shop.env"]])
    out = subprocess.run(
        argv[1:] if argv[0] == "/usr/bin/env" else argv,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == f"{LITERAL}|{LITERAL}|"


@pytest.mark.parametrize("name", ["A\rB", "A\nB", "A\u2028B", "A B", "A;B", "A,B", "A}B", "1A"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_environment_name_no_format_can_carry_is_refused(
    tmp_path: Path, fmt: str, name: str
) -> None:
    toml = (
        f'[project]\nname = "shop"\n[processes.web]\ncommand = ["true"]\n'
        f'[processes.web.env]\n{json.dumps(name)} = "v"\n'
    )
    with pytest.raises(ConfigError) as info:
        export(tmp_path, toml, fmt)
    # refused when the configuration is read (every target), or at the latest by the export
    problems = info.value.problems or [info.value]
    assert {p.code for p in problems} <= {"PS552", "PS136", "PS139", "PS100"}, problems
    located = [p.location.key_path for p in problems if p.location is not None]
    assert any(name in (path or "") for path in located), located


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("Service", "Nice", "5\rExecStartPre=/bin/touch /tmp/PWNED"),
        ("Service", "Nice", "5\nExecStartPre=/bin/touch /tmp/PWNED"),
        ("Service", "Nice\rExecStartPre", "/bin/touch /tmp/PWNED"),
        ("Service]\r[Install", "WantedBy", "x.target"),
    ],
)
def test_export_systemd_settings_cannot_add_a_line(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    toml = (
        '[project]\nname = "shop"\n[processes.web]\ncommand = ["true"]\n'
        f"[processes.web.export.systemd.{json.dumps(section)}]\n"
        f"{json.dumps(key)} = {json.dumps(value)}\n"
    )
    with pytest.raises(ConfigError) as info:
        export(tmp_path, toml, "systemd")
    assert info.value.code == "PS611"
    assert info.value.location is not None
    assert (info.value.location.key_path or "").startswith("processes.web.export.systemd.")


def test_a_label_keeps_its_literal_dollar_and_its_reference(tmp_path: Path) -> None:
    toml = (
        '[project]\nname = "shop"\n[processes.web]\ncommand = ["true"]\n'
        'labels = { price = "5$$ ${NOT_A_REF}" }\n'
    )
    service = yaml.safe_load(export(tmp_path, toml, "compose").files[0].content)["services"]["web"]
    assert service["labels"]["price"] == "5$$ ${NOT_A_REF}"
    assert readers.compose_interpolate(service["labels"]["price"], {"NOT_A_REF": "x"}) == "5$ x"


def test_no_placeholder_reaches_the_model_or_an_export(tmp_path: Path) -> None:
    toml = """
[project]
name = "shop"
[processes.web]
backend = "gunicorn"
app = "shop.wsgi"
bind = "0.0.0.0:${PORT:-8000}"
workers = "${WEB_CONCURRENCY:-2}"
labels = { tier = "${TIER}" }
healthcheck = { http = "http://127.0.0.1:${PORT}/healthz" }
[processes.web.env]
GREETING = "${HELLO:-hi}"
[processes.web.export.compose]
environment = { EXTRA = "${EXTRA_FROM_SHELL}" }
"""
    (tmp_path / "prodserver.toml").write_text(toml, encoding="utf-8")
    project = resolve_project(
        file=tmp_path / "prodserver.toml", cwd=tmp_path, environ={}, for_export=True
    )
    placeholder = re.compile("[\U000f0000-\U000ffffd]")
    assert not placeholder.search(repr(project))
    for fmt in FORMATS:
        assert not placeholder.search(everything(render(fmt, project))), fmt
    compose = yaml.safe_load(render("compose", project).files[0].content)["services"]["web"]
    assert compose["environment"]["EXTRA"] == "${EXTRA_FROM_SHELL}"
    assert compose["labels"] == {"tier": "${TIER}"}
