"""Resolution rules: profiles, merge, environment layers, substitution, coercion, ports."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from prodserver.config.merge import ROOT
from prodserver.config.resolve import resolve_project, resolve_with_provenance
from prodserver.errors import ConfigError, ProdserverError
from prodserver.exitcodes import ExitCode
from tests.conftest import BASE_ENV

BASIC = """
[project]
name = "shop"
default_profile = "dev"

[env]
DJANGO_SETTINGS_MODULE = "shop.settings"
SHARED = "root"

[processes.web]
command = "python -m http.server ${PORT}"

[processes.worker]
command = ["python", "worker.py", "--queue", "default"]
depends_on = { migrate = "completed" }
env = { QUEUE = "default" }

[processes.migrate]
command = "python manage.py migrate --noinput"
oneshot = true

[profiles.dev]
[profiles.dev.env]
SHARED = "dev"

[profiles.prod]
[profiles.prod.env]
DJANGO_DEBUG = "0"
[profiles.prod.processes.worker]
command = ["python", "worker.py", "--queue", "high"]
scale = 2

[profiles.staging]
extends = "prod"
[profiles.staging.env]
SHARED = "staging"
"""


def resolve(root: Path, **kw: object) -> object:
    env = dict(BASE_ENV)
    env.update(kw.pop("env", {}))  # type: ignore[arg-type]
    return resolve_project(cwd=root, environ=env, **kw)  # type: ignore[arg-type]


def errors_of(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    return exc.value.render()


class TestProfiles:
    def test_default_profile_from_project(self, project):
        p = resolve(project(BASIC))
        assert p.profile == "dev"
        assert p.env["SHARED"] == "dev"

    def test_profile_env_variable_chooses(self, project):
        p = resolve(project(BASIC), env={"PRODSERVER_PROFILE": "prod"})
        assert p.profile == "prod"

    def test_cli_profile_beats_env_variable(self, project):
        p = resolve(project(BASIC), profile="staging", env={"PRODSERVER_PROFILE": "prod"})
        assert p.profile == "staging"

    def test_root_inherited_and_overridden(self, project):
        p = resolve(project(BASIC), profile="prod")
        assert p.processes["worker"].argv == ("python", "worker.py", "--queue", "high")
        assert p.processes["worker"].scale == 2
        assert p.processes["web"].argv[:3] == ("python", "-m", "http.server")
        assert p.env["DJANGO_SETTINGS_MODULE"] == "shop.settings"

    def test_extends_chain(self, project):
        p = resolve(project(BASIC), profile="staging")
        assert p.env["DJANGO_DEBUG"] == "0"  # from prod
        assert p.env["SHARED"] == "staging"  # staging wins over root
        assert p.processes["worker"].scale == 2

    def test_extends_list_merged_left_to_right(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [profiles.x.env]
            V = "x"
            ONLY_X = "1"
            [profiles.y.env]
            V = "y"
            [profiles.z]
            extends = ["x", "y"]
            """
        )
        p = resolve(root, profile="z")
        assert p.env["V"] == "y"
        assert p.env["ONLY_X"] == "1"

    def test_second_parent_does_not_reset_first_parents_override(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            scale = 1
            [profiles.x.processes.a]
            scale = 3
            [profiles.y.env]
            V = "y"
            [profiles.z]
            extends = ["x", "y"]
            """
        )
        assert resolve(root, profile="z").processes["a"].scale == 3

    def test_cycle_is_named(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [profiles.prod]
            extends = "staging"
            [profiles.staging]
            extends = "prod"
            """
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root, profile="staging")
        assert "staging -> prod -> staging" in errors_of(exc)

    def test_self_extension(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [profiles.a]
            extends = "a"
            """
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root, profile="a")
        assert "a -> a" in errors_of(exc)

    def test_unknown_profile_lists_known_and_suggests(self, project):
        with pytest.raises(ConfigError) as exc:
            resolve(project(BASIC), profile="prd")
        text = errors_of(exc)
        assert "unknown profile 'prd'" in text
        assert "did you mean 'prod'" in text
        assert "dev, prod, staging" in text

    def test_unknown_parent(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [profiles.x]
            extends = "nope"
            """
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root, profile="x")
        assert "extends unknown profile 'nope'" in errors_of(exc)
        assert exc.value.problems[0].location.line == 5

    def test_enabled_false_drops_and_can_be_reenabled(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [processes.b]
            command = "true"
            enabled = false
            [profiles.x.processes.b]
            enabled = true
            [profiles.y.processes.a]
            enabled = false
            """
        )
        assert list(resolve(root).processes) == ["a"]
        assert list(resolve(root, profile="x").processes) == ["a", "b"]
        assert list(resolve(root, profile="y").processes) == []

    def test_no_profile_means_root(self, project):
        root = project('[processes.a]\ncommand = "true"\n[profiles.x]\n')
        assert resolve(root).profile == ROOT


class TestMergeRules:
    def test_tables_merge_arrays_replace(self, project):
        root = project(
            """
            [processes.a]
            command = ["python", "a.py"]
            args = ["--one"]
            env = { A = "1", B = "1" }
            [profiles.x.processes.a]
            args = ["--two"]
            env = { B = "2" }
            """
        )
        spec = resolve(root, profile="x").processes["a"]
        assert spec.argv == ("python", "a.py", "--two")
        assert dict(spec.env) == {"A": "1", "B": "2"}

    def test_backend_change_keeps_only_common_keys(self, project):
        root = project(
            """
            [processes.web]
            backend = "command"
            command = "python serve.py"
            cwd = "sub"
            stop_timeout = "3s"
            [profiles.dev.processes.web]
            backend = "runserver"
            """,
            sub__manage_py="",
        )
        (root / "sub").mkdir(exist_ok=True)
        spec = resolve(root, profile="dev").processes["web"]
        assert spec.backend == "runserver"
        assert "command" not in spec.options
        assert spec.stop_timeout == 3.0  # common key inherited
        assert spec.cwd == root / "sub"

    def test_parent_is_not_mutated(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            env = { A = "root" }
            [profiles.x.processes.a]
            env = { A = "x" }
            """
        )
        assert resolve(root, profile="x").processes["a"].env["A"] == "x"
        assert resolve(root).processes["a"].env["A"] == "root"

    def test_env_files_accumulate_along_the_chain(self, project):
        root = project(
            """
            [project]
            env_files = [".env"]
            [processes.a]
            command = "true"
            [profiles.dev]
            env_files = ["?.env.dev"]
            """,
            **{".env": "A=base\nB=base\n", ".env.dev": "B=dev\n"},
        )
        p = resolve(root, profile="dev")
        assert (p.env["A"], p.env["B"]) == ("base", "dev")


class TestEnvironmentLayers:
    """One test per adjacent pair: env_files < shell < [env] < profile env < process env."""

    def layered(self, project, **env_text: str) -> Path:
        return project(
            f"""
            [project]
            env_files = [".env"]
            [env]
            {env_text.get("root", "")}
            [processes.a]
            command = "true"
            env = {{ {env_text.get("process", "")} }}
            [profiles.p.env]
            {env_text.get("profile", "")}
            """,
            **{".env": "V=file\n"},
        )

    def test_shell_beats_env_files(self, project):
        p = resolve(self.layered(project), profile="p", env={"V": "shell"})
        assert p.env["V"] == "shell"

    def test_env_files_used_without_shell(self, project):
        assert resolve(self.layered(project), profile="p").env["V"] == "file"

    def test_env_table_beats_shell(self, project):
        p = resolve(self.layered(project, root='V = "env"'), profile="p", env={"V": "shell"})
        assert p.env["V"] == "env"

    def test_profile_env_beats_env_table(self, project):
        root = self.layered(project, root='V = "env"', profile='V = "profile"')
        assert resolve(root, profile="p").env["V"] == "profile"

    def test_process_env_beats_profile_env(self, project):
        root = self.layered(project, profile='V = "profile"', process='V = "process"')
        inst = resolve(root, profile="p").processes["a"].instances[0]
        assert inst.env["V"] == "process"

    def test_explain_names_each_layer(self, project):
        root = self.layered(project, root='W = "env"')
        _, prov = resolve_with_provenance(cwd=root, environ={**BASE_ENV, "S": "1"}, profile="p")
        assert prov.env["V"].layer == "env file"
        assert prov.env["V"].location.line == 1
        assert prov.env["W"].layer == "[env]"
        assert prov.env["S"].layer == "shell environment"

    def test_env_value_refers_to_lower_layer(self, project):
        root = project(
            """
            [env]
            SECRET_KEY = "${SECRET_KEY:?set SECRET_KEY in the environment}"
            [processes.a]
            command = "true"
            """
        )
        assert resolve(root, env={"SECRET_KEY": "s3"}).env["SECRET_KEY"] == "s3"
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        text = errors_of(exc)
        assert "SECRET_KEY" in text
        assert "set SECRET_KEY in the environment" in text
        assert "env.SECRET_KEY" in text

    def test_missing_required_env_file(self, project):
        root = project('[project]\nenv_files = [".env.missing"]\n[processes.a]\ncommand = "true"\n')
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert ".env.missing" in errors_of(exc)

    def test_env_file_outside_root_refused(self, project):
        root = project(
            '[project]\nenv_files = ["../outside.env"]\n[processes.a]\ncommand = "true"\n'
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "outside the project root" in errors_of(exc)


class TestSubstitutionAndTypes:
    def test_command_string_split_before_substitution(self, project):
        root = project('[processes.a]\ncommand = "echo ${MSG}"\n')
        spec = resolve(root, env={"MSG": "two words; rm -rf /"}).processes["a"]
        assert spec.argv == ("echo", "two words; rm -rf /")

    def test_whole_expression_coerced_to_integer(self, project):
        root = project('[processes.a]\ncommand = "true"\nscale = "${N:-3}"\n')
        assert resolve(root).processes["a"].scale == 3
        assert resolve(root, env={"N": "2"}).processes["a"].scale == 2

    def test_non_integer_after_substitution_is_an_error_with_key_path(self, project):
        root = project('[processes.a]\ncommand = "true"\nscale = "${N}"\n')
        with pytest.raises(ConfigError) as exc:
            resolve(root, env={"N": "many"})
        text = errors_of(exc)
        assert "processes.a.scale" in text
        assert "'many'" in text

    def test_duration_forms(self, project):
        root = project('[processes.a]\ncommand = "true"\nstop_timeout = "1m30s"\n')
        assert resolve(root).processes["a"].stop_timeout == 90.0

    def test_unset_variable_warns(self, project):
        root = project('[processes.a]\ncommand = "echo ${NOPE}"\n')
        p = resolve(root)
        assert p.processes["a"].argv == ("echo", "")
        assert any("NOPE" in w for w in p.warnings)

    def test_shell_command_left_to_the_shell(self, project):
        root = project('[processes.a]\ncommand = "echo $HOME && true"\nshell = true\n')
        spec = resolve(root).processes["a"]
        assert spec.argv == ("/bin/sh", "-c", "echo $HOME && true")
        assert spec.kill_mode == "group"

    def test_stop_signal_names(self, project):
        root = project('[processes.a]\ncommand = "true"\nstop_signal = "INT"\n')
        assert resolve(root).processes["a"].stop_signal == signal.SIGINT

    def test_bad_signal(self, project):
        root = project('[processes.a]\ncommand = "true"\nstop_signal = "SIGNOPE"\n')
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "SIGNOPE" in errors_of(exc)


class TestPorts:
    def test_foreman_assignment(self, project):
        root = project(
            """
            [processes.web]
            command = "serve ${PORT}"
            scale = 2
            [processes.worker]
            command = "work"
            [processes.api]
            command = "serve $PORT"
            """
        )
        p = resolve(root)
        assert [i.port for i in p.processes["web"].instances] == [5000, 5001]
        assert p.processes["web"].instances[1].argv == ("serve", "5001")
        # like foreman, every plain command may listen, so each gets its PORT
        assert p.processes["worker"].instances[0].port == 5100
        assert p.processes["api"].instances[0].port == 5200

    def test_base_port_precedence(self, project):
        root = project('[project]\nbase_port = 7000\n[processes.web]\ncommand = "s $PORT"\n')
        assert resolve(root).processes["web"].instances[0].port == 7000
        assert resolve(root, env={"PORT": "6000"}).processes["web"].instances[0].port == 6000
        assert (
            resolve(root, port=9000, env={"PORT": "6000"}).processes["web"].instances[0].port
            == 9000
        )

    def test_explicit_port(self, project):
        root = project('[processes.web]\ncommand = "s $PORT"\nport = 8123\n')
        inst = resolve(root).processes["web"].instances[0]
        assert inst.port == 8123
        assert inst.env["PORT"] == "8123"

    def test_instance_env(self, project):
        root = project('[processes.web]\ncommand = "s $PORT"\nscale = 2\n')
        inst = resolve(root).processes["web"].instances[1]
        assert inst.env["PRODSERVER_PROCESS"] == "web"
        assert inst.env["PRODSERVER_INSTANCE"] == "2"
        assert inst.label == "web.2"


class TestDependencies:
    def test_unknown_dependency_suggests(self, project):
        root = project(
            '[processes.a]\ncommand = "true"\ndepends_on = ["migrat"]\n'
            '[processes.migrate]\ncommand = "true"\n'
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "did you mean 'migrate'" in errors_of(exc)

    def test_cycle(self, project):
        root = project(
            '[processes.a]\ncommand = "true"\ndepends_on = ["b"]\n'
            '[processes.b]\ncommand = "true"\ndepends_on = ["a"]\n'
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "a -> b -> a" in errors_of(exc)

    def test_start_order(self, project):
        p = resolve(project(BASIC))
        order = p.start_order()
        assert order.index("migrate") < order.index("worker")


class TestReportsEverythingAtOnce:
    def test_several_errors(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            scael = 2
            [processes.b]
            backend = "gunicron"
            [processes.c]
            command = "true"
            stop_timeout = "soon"
            """
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        text = errors_of(exc)
        assert "unknown key 'scael'" in text and "did you mean 'scale'" in text
        assert "gunicron" in text and "did you mean 'gunicorn'" in text
        assert "stop_timeout" in text
        lines = {p.location.line for p in exc.value.problems}
        assert 4 in lines


class TestProductionAndNotify:
    def test_production_mark_is_inherited_and_overridable(self, project):
        root = project(
            """
            [processes.a]
            command = "true"
            [profiles.live]
            production = true
            [profiles.staging]
            extends = "live"
            [profiles.demo]
            extends = "live"
            production = false
            """
        )
        assert resolve(root, profile="live").production
        assert resolve(root, profile="staging").production
        assert not resolve(root, profile="demo").production
        assert not resolve(root).production

    def test_notify_probe(self, project):
        root = project('[processes.a]\ncommand = "true"\nhealthcheck = { notify = true }\n')
        hc = resolve(root).processes["a"].healthcheck
        assert (hc.kind, hc.target) == ("notify", "")

    def test_two_probe_kinds_are_an_error(self, project):
        root = project(
            '[processes.a]\ncommand = "true"\nhealthcheck = { notify = true, tcp = "h:1" }\n'
        )
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "exactly one of http, tcp, cmd, notify" in errors_of(exc)


class TestUser:
    def test_unknown_user_is_an_error_with_its_key_path(self, project):
        root = project('[processes.a]\ncommand = "true"\nuser = "no-such-user-here"\n')
        with pytest.raises(ConfigError) as exc:
            resolve(root)
        assert "user 'no-such-user-here' does not exist" in errors_of(exc)
        assert "processes.a.user" in errors_of(exc)

    def test_known_user_and_exports_are_not_checked(self, project):
        root = project('[processes.a]\ncommand = "true"\nuser = "nobody"\n')
        assert resolve(root).processes["a"].user == "nobody"
        odd = project('[processes.a]\ncommand = "true"\nuser = "deploy-user-elsewhere"\n')
        assert resolve(odd, for_export=True).processes["a"].user == "deploy-user-elsewhere"


# -- the contract of SPEC §1/§5, one bug each (folded in from test_spec_review.py) --------------


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


def test_env_file_lines_are_right_after_blank_lines_and_comments(project):
    """SPEC §1.3: "`prodserver config --explain` shows which layer set each value" and issue 2
    asks for the `.env` file and line. python-dotenv's binding starts at the blank lines before
    a key, so every key after a blank line is reported on the wrong line."""
    root = project('[processes.web]\ncommand = "s"\n', **{".env": "# settings\n\nA=1\n\n\nB=2\n"})
    env = dict(BASE_ENV)
    _, prov = resolve_with_provenance(cwd=root, environ=env)
    assert prov.env["A"].location.line == 3
    assert prov.env["B"].location.line == 6


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
