"""A review of the configuration engine against SPEC §1, §2 (check/config/schema/backends), §5
and issue 2: each test states the contract it checks in its docstring.

Most of these tests were written to fail on the code as reviewed (each shows one bug); the few
marked "guard" pass and protect behaviour that had no test yet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodserver.config.envfiles import parse_env
from prodserver.config.resolve import resolve_project, resolve_with_provenance
from prodserver.errors import ConfigError, ProdserverError
from prodserver.exitcodes import ExitCode
from tests.conftest import BASE_ENV

CANARY = "CANARY-5f0c9e1d"


def resolve(root: Path, **kw: object) -> object:
    env = dict(BASE_ENV)
    env.update(kw.pop("env", {}))  # type: ignore[arg-type]
    return resolve_project(cwd=root, environ=env, **kw)  # type: ignore[arg-type]


# -- secrets: a value must never appear in a message ------------------------------------------


@pytest.mark.parametrize(
    ("key", "var", "value"),
    [
        ("scale", "API_TOKEN", CANARY),  # integer coercion
        ("oneshot", "API_TOKEN", CANARY),  # boolean coercion
        ("stop_timeout", "API_TOKEN", CANARY),  # duration parsing
        ("kill_mode", "API_TOKEN", CANARY),  # enum, reported by the strict schema
        ("scale", "DATABASE_URL", f"postgres://shop:{CANARY}@db/shop"),  # a URL password
    ],
)
def test_type_errors_never_print_a_substituted_secret(cli, project, key, var, value):
    """Issue 2: "Secrets are masked by default everywhere prodserver prints a value: names
    matching the usual patterns (...), the password part of URLs". An error message is printed
    too: `scale = "${API_TOKEN}"` must not put the token on the terminal or in CI logs."""
    root = project(f'[processes.web]\ncommand = "python -c pass"\n{key} = "${{{var}}}"\n')
    result = cli("check", cwd=root, env={var: value})
    assert result.code == ExitCode.CONFIG
    assert f"processes.web.{key}" in result.err
    assert CANARY not in result.out + result.err


def test_guard_secret_from_env_file_is_masked_in_every_output(cli, project):
    """Guard. Issue 2: "Add a test with a canary value that must never appear" - here the
    canary comes from a `.env` file (the existing test only uses the shell), and goes through
    `check`, `config` in both formats and `--explain`."""
    root = project(
        """
        [env]
        DATABASE_URL = "postgres://shop:${DB_PASSWORD}@db/shop"
        [processes.web]
        command = ["python", "-c", "pass", "${SECRET_KEY}"]
        """,
        **{".env": f"SECRET_KEY={CANARY}\nDB_PASSWORD={CANARY}\n"},
    )
    outputs = [cli("check", cwd=root)]
    for fmt in ("toml", "json"):
        outputs.append(cli("config", "--format", fmt, cwd=root))
        outputs.append(cli("config", "--format", fmt, "--explain", cwd=root))
    for result in outputs:
        assert result.code == 0, result.err
        assert CANARY not in result.out + result.err


# -- §5: every error says where ----------------------------------------------------------------


def test_malformed_expression_in_a_non_listening_process_names_file_and_key(cli, project):
    """SPEC §1.4/§5: a malformed expression (`${`) is an error, and every user error says
    "where (file:line, key path)". For a backend that does not listen, `_references_port` parses
    the string first and its ConfigError escapes without any location."""
    root = project(
        """
        [processes.worker]
        backend = "celery-worker"
        app = "shop"
        args = ["--hostname=${PORT"]
        """
    )
    result = cli("check", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "prodserver.toml:5" in result.err
    assert "processes.worker.args" in result.err


def test_missing_required_env_file_names_where_it_was_listed(project):
    """SPEC §5: "one clear message saying what, where (file:line, key path)". A missing `.env`
    named in `[project] env_files` should point at that entry (the file that does not exist
    has no line to show), and one named on the command line should say `--env-file`."""
    root = project('[project]\nenv_files = [".env.missing"]\n[processes.web]\ncommand = "s"\n')
    with pytest.raises(ConfigError) as exc:
        resolve(root)
    assert "project.env_files" in exc.value.render()

    root = project('[project]\nenv_files = []\n[processes.web]\ncommand = "s"\n')
    with pytest.raises(ConfigError) as exc:
        resolve(root, env_files=[Path("nothere.env")])
    assert "--env-file" in exc.value.render()


def test_a_missing_variable_in_process_env_is_reported_once(project):
    """SPEC §1.5: "Report every error at once" - once each. A `${VAR:?}` in a process `env`
    is substituted twice (the env layer, then again as the `env` option), so the user reads
    the same error twice and the count says "2 errors"."""
    root = project('[processes.web]\ncommand = "s"\nenv = { E = "${EV:?set EV}" }\n')
    with pytest.raises(ConfigError) as exc:
        resolve(root)
    ps131 = [p for p in exc.value.problems if p.code == "PS131"]
    assert len(ps131) == 1, exc.value.render()
    assert "(1 error)" in exc.value.render()


def test_guard_required_variable_in_healthcheck_url_names_key_path(project):
    """Guard. SPEC §1.4: `${VAR:?message}` is an "error naming the variable, the message and
    the key path" - also inside an inline healthcheck table."""
    root = project(
        '[processes.web]\ncommand = "s $PORT"\n'
        'healthcheck = { http = "http://127.0.0.1:${PORT}/${HC_PATH:?say which path}" }\n'
    )
    with pytest.raises(ConfigError) as exc:
        resolve(root)
    text = exc.value.render()
    assert "HC_PATH" in text and "say which path" in text
    assert "processes.web.healthcheck.http" in text and "prodserver.toml:3" in text


# -- environment files ------------------------------------------------------------------------


def test_env_file_lines_are_right_after_blank_lines_and_comments(project):
    """SPEC §1.3: "`prodserver config --explain` shows which layer set each value" and issue 2
    asks for the `.env` file and line. python-dotenv's binding starts at the blank lines before
    a key, so every key after a blank line is reported on the wrong line."""
    root = project('[processes.web]\ncommand = "s"\n', **{".env": "# settings\n\nA=1\n\n\nB=2\n"})
    env = dict(BASE_ENV)
    _, prov = resolve_with_provenance(cwd=root, environ=env)
    assert prov.env["A"].location.line == 3
    assert prov.env["B"].location.line == 6


def test_env_file_syntax_error_shows_the_offending_line(tmp_path):
    """Issue 2: ".env files ... an unparseable line is an error ... with its line number". The
    message for `B 2` on line 3 should say line 3, not "lines 2-3: ''". Issue 11 (3): the
    text of a line that cannot be parsed is not echoed (it may be a secret), only its line."""
    with pytest.raises(ConfigError) as exc:
        parse_env("A=1\n\nB 2\n", path=tmp_path / ".env")
    text = exc.value.render()
    assert ".env:3" in text
    assert "line 3" in text
    assert "B 2" not in text


def test_env_files_given_as_a_string_is_not_silently_ignored(project):
    """SPEC §1: `env_files = [".env"]` is "loaded in order". The schema accepts a string too
    (`env_files = ".env.custom"`), but the resolver then loads nothing and says nothing: the
    file should be loaded, or the string rejected with its key path."""
    root = project(
        '[project]\nenv_files = ".env.custom"\n[processes.web]\ncommand = "s"\n',
        **{".env.custom": "FROM_CUSTOM=yes\n"},
    )
    try:
        p = resolve(root)
    except ConfigError as exc:
        assert "project.env_files" in exc.value.render()
    else:
        assert p.env.get("FROM_CUSTOM") == "yes"  # type: ignore[attr-defined]


def test_env_names_that_no_process_can_have_are_rejected_by_check(cli, project):
    """SPEC §5 / issue 2: bad input gives "one clear message ... and no traceback". An
    environment name holding `=` passes `check` today and then `prodserver run` dies with
    "internal error: ValueError: illegal environment variable name" (exit 70)."""
    root = project(
        """
        [env]
        "A=B" = "x"
        [processes.web]
        command = "python -c pass"
        """
    )
    result = cli("check", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "A=B" in result.err
    assert "prodserver.toml:3" in result.err


# -- config / --explain -----------------------------------------------------------------------


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


# -- profiles and merge rules -----------------------------------------------------------------


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


def test_a_profile_can_switch_the_healthcheck_probe_kind(project):
    """SPEC §1.2: "Tables merge deeply; arrays and scalars replace." `http`, `tcp` and `cmd`
    are alternatives of one probe, so a profile that says `healthcheck = { tcp = ... }` means
    "probe by TCP" (as overriding `healthcheck.test` does in Compose). Today both keys survive
    the merge and the file is rejected with "False was expected"."""
    root = project(
        """
        [processes.web]
        command = "s $PORT"
        healthcheck = { http = "http://127.0.0.1:${PORT}/healthz", interval = 2 }
        [profiles.p.processes.web]
        healthcheck = { tcp = "127.0.0.1:${PORT}" }
        """
    )
    hc = resolve(root, profile="p").processes["web"].healthcheck  # type: ignore[attr-defined]
    assert hc.kind == "tcp"
    assert hc.target == "127.0.0.1:5000"
    assert hc.interval == 2.0  # the rest of the table still merges deeply


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('healthcheck = { http = "http://127.0.0.1:${PORT}/healthz", interval = "5s" }', 5.0),
        (
            'healthcheck = { http = "http://127.0.0.1:${PORT}/", interval = "${HC_EVERY:-500ms}" }',
            0.5,
        ),
        ('healthcheck = { tcp = "127.0.0.1:${PORT}", timeout = "1m30s" }', 90.0),
    ],
    ids=["spec-example", "whole-expression", "timeout"],
)
def test_healthcheck_durations_as_the_spec_writes_them(project, table, expected):
    """SPEC §1 shows `healthcheck = { http = "...", interval = "5s" }` and says "Durations are
    `"500ms"`, `"10s"`, `"2m"` or a number of seconds" and "A string that was one expression is
    coerced to the ... duration the schema asks for". Inside the healthcheck table a duration
    string is left a string and the strict schema rejects it ("False was expected"): the SPEC's
    own example fails `prodserver check`."""
    root = project(f'[processes.web]\ncommand = "s $PORT"\n{table}\n')
    hc = resolve(root).processes["web"].healthcheck  # type: ignore[attr-defined]
    assert expected in (hc.interval, hc.timeout)


def test_restart_table_backoff_takes_a_duration_string(project):
    """SPEC §1: `restart` (`no` | `on-failure` | `always`, with `max_restarts`, `backoff`) and
    "Durations are `"500ms"`, `"10s"`, `"2m"`". `restart = { policy = "always", backoff =
    "2s" }` is rejected as "a table is not one of 'no', 'on-failure', 'always'"."""
    root = project(
        '[processes.web]\ncommand = "s"\n'
        'restart = { policy = "always", backoff = "2s", max_restarts = "${MAXR:-3}" }\n'
    )
    restart = resolve(root).processes["web"].restart  # type: ignore[attr-defined]
    assert restart.mode == "always"
    assert restart.backoff == 2.0
    assert restart.max_restarts == 3


def test_healthcheck_typo_gets_did_you_mean(cli, project):
    """SPEC §1.5: report "what was expected, and 'did you mean' for unknown keys". Every
    healthcheck mistake (a typo, a missing probe, two probes) is reported as
    "False was expected", because the `const: false` alternative wins the best match."""
    root = project('[processes.web]\ncommand = "s"\nhealthcheck = { htp = "http://127.0.0.1/" }\n')
    result = cli("check", cwd=root)
    assert result.code == ExitCode.CONFIG
    assert "False was expected" not in result.err
    assert "did you mean 'http'" in result.err
    assert "processes.web.healthcheck" in result.err


def test_backend_change_does_not_inherit_the_old_backends_args(project):
    """SPEC §1.2: "When a profile changes a process's backend, only backend-independent keys
    are inherited", and `args` are "extra argv appended to a backend's": flags of that
    backend. gunicorn's `--timeout 120` must not reach `manage.py runserver`."""
    root = project(
        """
        [processes.web]
        backend = "gunicorn"
        app = "shop.wsgi:application"
        args = ["--timeout", "120"]
        [profiles.dev.processes.web]
        backend = "runserver"
        """
    )
    argv = resolve(root, profile="dev").processes["web"].argv  # type: ignore[attr-defined]
    assert "--timeout" not in argv


# -- PORT ---------------------------------------------------------------------------------------


def test_scaling_a_process_to_zero_keeps_the_other_ports(project):
    """SPEC §1: PORT = "base + 100 x its position + instance index, as foreman does". foreman
    numbers processes by their place in the file, so `-m web=0` does not move api's port; here
    `--scale web=0` shifts every later process down by 100 (a proxy pointing at api breaks)."""
    root = project(
        """
        [processes.web]
        command = "s $PORT"
        [processes.worker]
        command = "w"
        [processes.api]
        command = "s $PORT"
        """
    )
    before = resolve(root).processes["api"].instances[0].port  # type: ignore[attr-defined]
    after = resolve(root, scale={"web": 0}).processes["api"].instances[0].port  # type: ignore[attr-defined]
    assert before == after == 5200


def test_instance_port_is_the_port_the_child_is_given(project):
    """SPEC §1: "The assigned PORT belongs to that process's own environment layer". The
    model's `Instance.port` (what health checks, `status` and exports use) must be the PORT the
    child actually gets; with `env = { PORT = ... }` both instances get 8111 while the model
    claims 9000 and 9001. Either honour the env value consistently or reject it."""
    root = project(
        '[processes.web]\ncommand = "s $PORT"\nport = 9000\nscale = 2\nenv = { PORT = "8111" }\n'
    )
    try:
        p = resolve(root)
    except ConfigError as exc:
        assert "processes.web.env.PORT" in exc.render()
        return
    for inst in p.processes["web"].instances:  # type: ignore[attr-defined]
        assert inst.port == int(inst.env["PORT"])
        assert inst.argv[-1] == inst.env["PORT"]


@pytest.mark.parametrize(
    "how", [{"env": {"PORT": "0"}}, {"port": 0}, {"port": -5}], ids=["shell-0", "cli-0", "cli-neg"]
)
def test_a_base_port_that_is_not_a_port_is_an_error(project, how):
    """SPEC §1: the base is `--port`, else the shell's PORT, else `base_port` (which the
    schema limits to 1..65535). PORT=0 or `--port -5` hand `PORT=0`/`PORT=-5` to gunicorn;
    they should be refused like `base_port = 0` is."""
    root = project('[processes.web]\ncommand = "s $PORT"\n')
    with pytest.raises(ProdserverError):
        resolve(root, **how)


def test_guard_port_in_bind_and_healthcheck_is_each_instances_own(project):
    """Guard. SPEC §1: "`${PORT}` in its keys (a `bind`, a healthcheck URL) means its own
    port" - per instance, for a listening backend's option and its probe."""
    root = project(
        """
        [processes.web]
        backend = "gunicorn"
        app = "shop.wsgi:application"
        bind = "0.0.0.0:${PORT:-8000}"
        workers = "${WEB_CONCURRENCY:-2}"
        scale = 2
        healthcheck = { http = "http://127.0.0.1:${PORT}/healthz", retries = "${HC_RETRIES:-4}" }
        [processes.api]
        command = "s"
        """
    )
    p = resolve(root, env={"PORT": "7000"})
    web = p.processes["web"]  # type: ignore[attr-defined]
    assert [i.port for i in web.instances] == [7000, 7001]
    for inst in web.instances:
        assert f"0.0.0.0:{inst.port}" in inst.argv
        assert inst.healthcheck.target == f"http://127.0.0.1:{inst.port}/healthz"
        assert inst.healthcheck.retries == 4
    assert web.options["workers"] == 2
    assert p.processes["api"].instances[0].port == 7100  # type: ignore[attr-defined]


# -- sources --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "web: WEB_CONCURRENCY=3 gunicorn shop.wsgi --bind 0.0.0.0:$PORT",
        "web: exec python -c 'print(1)'",
    ],
    ids=["assignment-prefix", "exec-builtin"],
)
def test_procfile_lines_foreman_runs_with_sh_still_work(project, line):
    """Issue 2: a Procfile as a source, "foreman/honcho syntax". foreman and honcho run every
    line with `sh -c`, so `web: VAR=x cmd` and `web: exec cmd` are common and work; here they
    are split without a shell and `FOO=1`/`exec` becomes the program (check only warns that it
    is "not found on its PATH", `up` fails)."""
    root = project(None, Procfile=line + "\n")
    spec = resolve(root).processes["web"]  # type: ignore[attr-defined]
    program = spec.instances[0].argv[0]
    assert spec.shell or ("=" not in program and program != "exec"), spec.argv


def test_pyproject_source_takes_the_project_name_from_pep621(project):
    """SPEC §1: `[tool.prodserver]` in `pyproject.toml` is an alternative source, and
    `[project] name` is "used by exports: compose project, systemd unit prefix, k8s labels".
    A user of `[tool.prodserver]` has already named the project in `[project] name`; falling
    back to the directory name (a CI checkout's random path) gives exports a wrong name."""
    root = project(
        None,
        **{
            "pyproject.toml": (
                '[project]\nname = "shop-app"\nversion = "1.0"\n\n'
                '[tool.prodserver.processes.web]\ncommand = "s"\n'
            )
        },
    )
    assert resolve(root).name == "shop-app"  # type: ignore[attr-defined]


# -- commands ---------------------------------------------------------------------------------


def test_backends_with_an_unknown_name_is_a_usage_error(cli):
    """SPEC §2/§5: exit codes are documented: 2 is "usage error", 78 "configuration error".
    `prodserver backends gunicron` has nothing to do with any configuration file (it works
    without one); a wrong argument on the command line is a usage error, with the suggestion."""
    result = cli("backends", "gunicron")
    assert result.code == ExitCode.USAGE
    assert "did you mean 'gunicorn'" in result.err
    assert "Traceback" not in result.err
