"""``manage.py prodserver``: the CLI's commands inside Django, in-process and as a subprocess."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest

from prodserver.exitcodes import ExitCode
from tests.django.conftest import Run, write

GOOD = """\
    [project]
    name = "mysite"
    [processes.web]
    backend = "gunicorn"
    app = "mysite.wsgi:application"
    [processes.worker]
    backend = "command"
    command = ["python", "-c", "print(1)"]
"""
BAD = """\
    [processes.web]
    backend = "gunicorn"
    workers = "many"
    [processes.worker]
    backend = "celery-workr"
"""


def call(*args: str) -> tuple[str, str]:
    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("prodserver", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# -- in-process (call_command) -------------------------------------------------------------------


def test_check_passes_on_a_good_file(in_site: Path) -> None:
    write(in_site, "prodserver.toml", GOOD)
    out, _ = call("check")
    assert "ok: profile (root): 2 processes (web, worker)" in out


def test_config_json_is_the_cli_output(in_site: Path) -> None:
    write(in_site, "prodserver.toml", GOOD)
    out, _ = call("config", "--format", "json")
    data = json.loads(out)
    assert data["processes"]["web"]["command"][0] == "gunicorn"
    assert data["project"]["name"] == "mysite"


def test_config_error_is_a_command_error_with_the_config_exit_code(in_site: Path) -> None:
    from django.core.management.base import CommandError

    write(in_site, "prodserver.toml", BAD)
    with pytest.raises(CommandError) as info:
        call("check")
    assert info.value.returncode == ExitCode.CONFIG == 78
    text = str(info.value)
    assert "processes.web.workers" in text
    assert "did you mean 'celery-worker'" in text


def test_usage_error_keeps_the_usage_exit_code(in_site: Path) -> None:
    from django.core.management.base import CommandError

    write(in_site, "prodserver.toml", GOOD)
    with pytest.raises(CommandError) as info:
        call("check", "--all-profiles", "--profile", "dev")
    assert info.value.returncode == ExitCode.USAGE


def test_without_a_file_the_settings_are_the_source(in_site: Path) -> None:
    from django.test import override_settings

    legacy = {
        "web": {
            "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
            "ARGS": {"bind": "0.0.0.0:8111"},
        }
    }
    with override_settings(PRODUCTION_PROCESSES=legacy):
        out, _ = call("config", "--format", "json")
    data = json.loads(out)
    assert data["processes"]["web"]["backend"] == "gunicorn"
    assert data["processes"]["web"]["port"] == 8111
    assert any("PS210" in w for w in data["warnings"])


def test_a_file_wins_over_the_settings(in_site: Path) -> None:
    from django.test import override_settings

    write(in_site, "prodserver.toml", GOOD)
    legacy = {"other": {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServer"}}
    with override_settings(PRODUCTION_PROCESSES=legacy):
        out, _ = call("config", "--format", "json")
    assert set(json.loads(out)["processes"]) == {"web", "worker"}


def test_no_configuration_at_all_is_a_config_error(in_site: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as info:
        call("check")
    assert info.value.returncode == ExitCode.CONFIG
    assert "prodserver init" in str(info.value)


def test_every_cli_command_is_a_subcommand(in_site: Path) -> None:
    from django.core.management import load_command_class

    from prodserver.cli.main import COMMANDS

    command = load_command_class("prodserver", "prodserver")
    parser = command.create_parser("manage.py", "prodserver")
    sub = next(a for a in parser._actions if a.dest == "prodserver_command")
    import importlib.util

    built = {n for n, (module, _) in COMMANDS.items() if importlib.util.find_spec(module)}
    assert set(sub.choices) == built
    assert {"check", "config", "up", "export", "init"} <= built
    # the same options as the standalone parser, command by command
    from prodserver.cli.main import build_parser

    for name, subparser in sub.choices.items():
        ours = build_parser(only=name)
        standalone = next(a for a in ours._actions if a.dest == "command").choices[name]
        theirs = {o for a in subparser._actions for o in a.option_strings}
        mine = {o for a in standalone._actions for o in a.option_strings}
        assert mine <= theirs, name
        assert theirs - mine <= {
            "-v",
            "--verbosity",
            "--settings",
            "--pythonpath",
            "--traceback",
            "--no-color",
            "--force-color",
            "--skip-checks",
        }, name


# -- real manage.py ------------------------------------------------------------------------------


def test_manage_py_check_and_config(site: Path, manage: Callable[..., Run]) -> None:
    write(site, "prodserver.toml", GOOD)
    done = manage("prodserver", "check")
    assert done.code == 0, done.err
    assert "ok: profile (root): 2 processes" in done.out
    done = manage("prodserver", "config", "--format", "json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["processes"]["web"]["backend"] == "gunicorn"


@pytest.mark.parametrize("position", ["before", "after"])
def test_django_options_are_consumed_and_never_reach_argv(
    site: Path, manage: Callable[..., Run], position: str
) -> None:
    django_opts = ["--settings", "mysite.settings_legacy", "-v", "2", "--no-color", "--skip-checks"]
    args = (
        ["prodserver", *django_opts, "config", "--format", "json"]
        if position == "before"
        else ["prodserver", "config", "--format", "json", *django_opts]
    )
    done = manage(*args)
    assert done.code == 0, done.err
    data = json.loads(done.out)
    # --settings was honoured: the legacy settings' PRODUCTION_PROCESSES is the source
    assert data["project"]["source"].endswith("settings_legacy.py")
    assert data["env"]["DJANGO_SETTINGS_MODULE"] == "mysite.settings_legacy"
    for process in data["processes"].values():
        words = " ".join(process["command"])
        for opt in ("--settings", "settings_legacy", "--verbosity", "--no-color", "--skip-checks"):
            assert opt not in words


def test_manage_py_error_exit_codes(site: Path, manage: Callable[..., Run]) -> None:
    write(site, "prodserver.toml", BAD)
    done = manage("prodserver", "check")
    assert done.code == ExitCode.CONFIG
    assert "CommandError" in done.err and "processes.web.workers" in done.err
    assert "Traceback" not in done.err
    done = manage("prodserver", "check", "--bogus")
    assert done.code == ExitCode.USAGE
    done = manage("prodserver", "config", "--settings", "mysite.settings_unknown")
    assert done.code == ExitCode.CONFIG  # the file wins; still the file's errors
    (site / "prodserver.toml").unlink()
    done = manage("prodserver", "config", "--settings", "mysite.settings_unknown")
    assert done.code == ExitCode.CONFIG
    assert "unknown BACKEND 'myproject.backends.CustomServer'" in done.err
    assert "GunicornServer" in done.err


def test_manage_py_traceback_shows_the_traceback(site: Path, manage: Callable[..., Run]) -> None:
    write(site, "prodserver.toml", BAD)
    done = manage("prodserver", "check", "--traceback")
    assert done.code != 0
    assert "Traceback" in done.err


def test_manage_py_init_from_django_then_check(site: Path, manage: Callable[..., Run]) -> None:
    done = manage("prodserver", "init", "--from-django", "--settings", "mysite.settings_legacy")
    assert done.code == 0, done.err
    text = (site / "prodserver.toml").read_text(encoding="utf-8")
    assert text.startswith("#:schema https://")
    assert "Was django_prodserver.backends.servers.gunicorn.GunicornServer." in text
    done = manage("prodserver", "check", "--settings", "mysite.settings_legacy")
    assert done.code == 0, done.err
    assert "PS210" not in done.err  # the file is the source now
    done = manage("prodserver", "init", "--from-django", "--settings", "mysite.settings_legacy")
    assert done.code == ExitCode.CANTCREAT
