"""The configuration commands as a user runs them: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prodserver.exitcodes import ExitCode
from tests.conftest import REPO, run_script

CANARY = "CANARY-7d41e0b2"

APP = """
[project]
name = "shop"
default_profile = "dev"

[env]
DJANGO_SETTINGS_MODULE = "shop.settings"
DATABASE_URL = "postgres://shop:${DB_PASSWORD:-pw}@db:5432/shop"

[processes.web]
command = "python -m http.server ${PORT}"

[processes.worker]
command = ["python", "-c", "print('working')"]

[profiles.dev]

[profiles.prod.env]
SECRET_KEY = "${SECRET_KEY:?set SECRET_KEY in the environment}"
"""


def test_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out.startswith("prodserver ")


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; from prodserver.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('jsonschema', 'django', 'gunicorn', 'tomlkit', 'dotenv', 'psutil',"
        " 'prodserver.config.resolve') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "HEAVY []" in proc.stdout
    assert "up" in proc.stdout and "export" in proc.stdout


def test_usage_error_exit_code(cli):
    assert cli("check", "--no-such-option").code == ExitCode.USAGE
    assert cli("frobnicate").code == ExitCode.USAGE


def test_check_ok(cli, project):
    root = project(APP)
    result = cli("check", cwd=root)
    assert result.code == 0, result.err
    assert "ok: profile dev: 2 processes (web, worker)" in result.out


def test_check_all_profiles_reports_each(cli, project):
    root = project(APP)
    result = cli("check", "--all-profiles", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "ok: profile dev" in result.out
    assert "SECRET_KEY" in result.err  # prod needs it


def test_check_config_error_has_no_traceback(cli, project):
    root = project('[processes.web]\ncommand = "true"\nworkerz = 2\n')
    result = cli("check", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "Traceback" not in result.err
    assert "prodserver.toml:3" in result.err
    assert "processes.web.workerz" in result.err


def test_debug_shows_traceback(project):
    root = project('[processes.web]\ncommand = "true"\nworkerz = 2\n')
    result = run_script("check", "--debug", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "Traceback" in result.err


def test_config_masks_secrets_everywhere(cli, project):
    root = project(
        APP
        + """
[processes.api]
command = ["python", "api.py", "--token", "${API_TOKEN}"]
env = { STRIPE_SECRET = "${STRIPE_SECRET}" }
""",
    )
    env = {
        "SECRET_KEY": CANARY,
        "DB_PASSWORD": CANARY,
        "API_TOKEN": CANARY,
        "STRIPE_SECRET": CANARY,
    }
    for fmt in ("toml", "json"):
        result = cli("config", "--profile", "prod", "--format", fmt, "--explain", cwd=root, env=env)
        assert result.code == 0, result.err
        assert CANARY not in result.out + result.err
        assert "********" in result.out
    shown = cli("config", "--profile", "prod", "--show-secrets", cwd=root, env=env)
    assert CANARY in shown.out


def test_config_json_parses_and_explains(cli, project):
    root = project(APP, **{".env": "FROM_FILE=1\n"})
    result = cli("config", "--format", "json", "--explain", cwd=root, env={"FROM_SHELL": "x"})
    data = json.loads(result.out)
    assert data["project"]["profile"] == "dev"
    assert data["processes"]["web"]["command"] == ["python", "-m", "http.server", "5000"]
    assert "FROM_SHELL" not in data["env"]  # the shell is not repeated
    explain = data["explain"]
    assert explain["env"]["FROM_FILE"].startswith("env file")
    assert "prodserver.toml:7" in explain["env"]["DJANGO_SETTINGS_MODULE"]
    assert explain["profile"] == "dev ([project] default_profile)"


def test_config_toml_is_valid_toml(cli, project):
    import tomllib

    root = project(APP)
    result = cli("config", cwd=root)
    assert tomllib.loads(result.out)["processes"]["worker"]["backend"] == "command"


def test_schema_matches_committed_file(cli):
    result = cli("schema")
    committed = (REPO / "schema" / "prodserver.schema.json").read_text(encoding="utf-8")
    assert result.out == committed, "run: python tools/generate.py"


def test_generated_docs_are_current():
    proc = subprocess.run(
        [sys.executable, "tools/generate.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def test_committed_schema_is_a_valid_2020_12_schema():
    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "schema" / "prodserver.schema.json").read_text())
    Draft202012Validator.check_schema(schema)


def test_demo_file_validates_against_committed_schema():
    import tomllib

    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "schema" / "prodserver.schema.json").read_text())
    data = tomllib.loads((REPO / "prodserver.toml").read_text())
    errors = list(Draft202012Validator(schema).iter_errors(data))
    assert not errors, [e.message for e in errors]


def test_backends_list_and_detail(cli):
    result = cli("backends")
    assert result.code == 0
    assert "command" in result.out
    detail = cli("backends", "command")
    assert "command" in detail.out and "argv" in detail.out
    unknown = cli("backends", "gunicron")
    assert unknown.code == ExitCode.USAGE
    assert "did you mean 'gunicorn'" in unknown.err


def test_backends_json(cli):
    data = json.loads(cli("backends", "--json").out)
    assert any(row["name"] == "command" for row in data)


def test_env_file_option(cli, project, tmp_path: Path):
    root = project('[env]\nA = "${FROM_CLI:-no}"\n[processes.a]\ncommand = "true"\n')
    extra = root / "extra.env"
    extra.write_text("FROM_CLI=yes\n")
    result = cli("config", "--format", "json", "--env-file", "extra.env", cwd=root)
    assert json.loads(result.out)["env"]["A"] == "yes"


@pytest.mark.parametrize("argv", [["check"], ["config"]])
def test_no_configuration_found(cli, tmp_path, argv):
    result = cli(*argv, cwd=tmp_path)
    assert result.code == ExitCode.CONFIG
    assert "no prodserver.toml found" in result.err


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["-f", "Procfile.dev", "start"], ["start", "-f", "Procfile.dev"]),
        (
            ["-p", "prod", "--env-file", ".env.prod", "up", "web"],
            ["up", "-p", "prod", "--env-file", ".env.prod", "web"],
        ),
        (
            ["--profile=prod", "--debug", "run", "--", "true"],
            ["run", "--profile=prod", "--debug", "--", "true"],
        ),
        (["-fProcfile.dev", "check"], ["check", "-fProcfile.dev"]),
        (["up", "-f", "x"], ["up", "-f", "x"]),  # already after the command
        (["-f", "x", "nosuchcommand"], ["-f", "x", "nosuchcommand"]),  # left for argparse
    ],
)
def test_global_options_go_before_or_after_the_command(argv: list[str], hoisted: list[str]) -> None:
    from prodserver.cli.main import hoist_global_options

    assert hoist_global_options(argv) == hoisted


def test_profile_before_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prodserver.cli.main import main

    (tmp_path / "prodserver.toml").write_text(
        '[processes.web]\ncommand = "run"\n[profiles.prod.processes.web]\ncommand = "serve"\n'
    )
    assert (
        main(["-f", str(tmp_path / "prodserver.toml"), "-p", "prod", "config", "--format", "json"])
        == 0
    )
    assert '"serve"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("words", "printed"),
    [
        (["p", "--profile", "prod"], "[] prod"),
        (["p", "--profile", "prod", "--", "-a", "--b"], "['-a', '--b'] prod"),
        (["p", "--", "--profile", "prod"], "['--profile', 'prod'] None"),
        (["--profile", "prod", "p"], "[] prod"),
    ],
)
def test_exec_options_and_the_process_arguments(
    tmp_path: Path, words: list[str], printed: str
) -> None:
    (tmp_path / "prodserver.toml").write_text(
        "[processes.p]\n"
        'command = ["python3", "-c", "import sys, os; '
        "print(sys.argv[1:], os.environ.get('X'))\"]\n"
        '[profiles.prod.processes.p.env]\nX = "prod"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "prodserver", "exec", *words],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        # the prod profile refuses root (CI runs as root): allowed explicitly here
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "HOME": str(tmp_path),
            "PRODSERVER_ALLOW_ROOT": "1",
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed + "\n"


# -- check, config --explain, backends: the contract of SPEC §2/§5 (from test_spec_review.py) -----


def test_config_keeps_a_file_value_the_shell_overrides_and_says_shell(cli, project):
    """SPEC §1.3: layers are "env_files < the shell's environment < [env] ...", and issue 2:
    `--explain` shows which layer set each value ("file and line, `.env` file, shell, CLI").
    A variable set in `.env` and overridden by the shell vanishes from `config` altogether
    (it is filtered as "shell", so the configured value and its override are both hidden)."""
    root = project('[processes.web]\ncommand = "s"\n', **{".env": "FROM_FILE=file\n"})
    result = cli("config", "--format", "json", "--explain", cwd=root, env={"FROM_FILE": "shell"})
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["env"].get("FROM_FILE") == "shell"
    assert "shell" in data["explain"]["env"]["FROM_FILE"]


def test_explain_of_an_assigned_port_says_where_the_base_came_from(cli, project):
    """SPEC §1: "The base is `--port`, else the shell's `PORT`, else `base_port` in
    `[project]`, else 5000", and `--explain` shows which layer set each value. The assigned
    PORT is explained as `processes.web.port` - a key that is not in the file - and the shell's
    PORT that actually set the base is not mentioned."""
    root = project('[processes.web]\ncommand = "s $PORT"\n')
    result = cli("config", "--format", "json", "--explain", cwd=root, env={"PORT": "7000"})
    assert result.code == 0, result.err
    origin = json.loads(result.out)["explain"]["processes.web"]["env.PORT"]
    assert "processes.web.port" not in origin
    assert "shell" in origin.lower() or "$PORT" in origin


def test_check_all_profiles_checks_the_root_even_with_a_default_profile(cli, project):
    """SPEC §2: `check --all-profiles` validates every profile; its help says "(and the
    root)". With `default_profile` set, the root pass silently resolves the default profile
    instead, so the root is never checked and the default profile is checked twice."""
    root = project(
        """
        [project]
        default_profile = "prod"
        [processes.web]
        command = "python -c pass"
        [profiles.prod]
        [profiles.dev]
        """
    )
    result = cli("check", "--all-profiles", cwd=root)
    assert result.code == 0, result.err
    assert result.out.count("ok: profile prod") == 1, result.out
    assert "profile (root)" in result.out


def test_unknown_profile_from_the_environment_says_so(cli, project):
    """SPEC §5: say "how to fix it". When the unknown name came from `$PRODSERVER_PROFILE`
    (not from `--profile`), the message must say so, or the user looks for a typo on a command
    line that has none."""
    root = project('[processes.web]\ncommand = "s"\n[profiles.prod]\n')
    result = cli("check", cwd=root, env={"PRODSERVER_PROFILE": "prdo"})
    assert result.code == ExitCode.CONFIG
    assert "prdo" in result.err and "prod" in result.err
    assert "PRODSERVER_PROFILE" in result.err


def test_backends_with_an_unknown_name_is_a_usage_error(cli):
    """SPEC §2/§5: exit codes are documented: 2 is "usage error", 78 "configuration error".
    `prodserver backends gunicron` has nothing to do with any configuration file (it works
    without one); a wrong argument on the command line is a usage error, with the suggestion."""
    result = cli("backends", "gunicron")
    assert result.code == ExitCode.USAGE
    assert "did you mean 'gunicorn'" in result.err
    assert "Traceback" not in result.err
