"""The environment step: shared layers in order, their provenance, and each child's env."""

from __future__ import annotations

import sys
from pathlib import Path

from prodserver.config.environment import (
    env_file_specs,
    runtime_env,
    shared_environment,
    without_shell,
)
from prodserver.config.profiles import linearise
from tests.config.conftest import MakeContext, codes

TOML = """
[project]
env_files = ["?.env", "?missing.env"]

[env]
B = "root ${A}"
C = "root"

[processes.web]
command = "true"

[profiles.prod]
env_files = ["prod.env"]

[profiles.prod.env]
C = "prod ${B}"
"""


def write(ctx_root: Path, name: str, text: str) -> None:
    (ctx_root / name).write_text(text, encoding="utf-8")


def test_layers_stack_env_files_shell_env_then_profile(context: MakeContext) -> None:
    ctx = context(TOML, environ={"A": "shell", "S": "1"})
    write(ctx.root, ".env", "A=file\nB=file\nONLY_FILE=1\n")
    write(ctx.root, "prod.env", "D=prod-file\n")
    chosen = linearise(ctx, "prod")
    shared = shared_environment(ctx, chosen.layers, chosen.profile)
    values = shared.values
    assert values["A"] == "shell"  # the shell is above env files
    assert values["B"] == "root shell"  # [env] above the shell, substituted against it
    assert values["C"] == "prod root shell"  # the profile's env above [env]
    assert values["ONLY_FILE"] == "1" and values["D"] == "prod-file" and values["S"] == "1"
    assert shared.files == (ctx.root / ".env", ctx.root / "prod.env")
    assert ctx.prov.env["A"].layer == "shell environment"
    assert ctx.prov.env["C"].layer == "profile prod env"
    assert ctx.prov.env["ONLY_FILE"].location.line == 3
    assert {"B", "C", "ONLY_FILE", "D"} <= ctx.config_names
    assert "S" not in ctx.config_names
    assert ctx.out.problems == []


def test_an_export_takes_no_value_from_the_shell(context: MakeContext) -> None:
    ctx = context(TOML, export=True, environ={"A": "shell"})
    chosen = linearise(ctx, None)
    values = shared_environment(ctx, chosen.layers, chosen.profile).values
    assert "A" not in values
    assert ctx.placeholders.shown(values["B"]) == "root ${A}"
    assert "B" in ctx.ref_names  # a reference to B stays one too


def test_env_files_load_in_order_and_cli_files_are_relative_to_cwd(
    context: MakeContext,
) -> None:
    ctx = context(TOML, cli_env_files=(Path("extra.env"),))
    specs = env_file_specs(ctx, "prod")
    assert [s.spec for s in specs] == ["?.env", "?missing.env", "prod.env", "extra.env"]
    assert specs[2].where.key_path == "profiles.prod.env_files.0"
    assert specs[-1].base == ctx.cwd and specs[-1].where.key_path == "--env-file"


def test_a_file_outside_the_root_or_missing_is_reported_where_listed(
    context: MakeContext,
) -> None:
    ctx = context('[project]\nenv_files = ["../secret.env", "absent.env"]\n')
    shared_environment(ctx, linearise(ctx, None).layers, None)
    assert codes(ctx)[0] == "PS113"
    assert len(codes(ctx)) == 2
    assert "(listed at" in ctx.out.problems[1].message


def test_inherit_env_false_keeps_the_configuration_and_the_basics(
    context: MakeContext,
) -> None:
    ctx = context(TOML, environ={"A": "shell", "HOME": "/h", "LC_ALL": "C"})
    chosen = linearise(ctx, None)
    shared = shared_environment(ctx, chosen.layers, None).values
    env = without_shell(ctx, {**shared, "PORT": "5000", "OWN": "1"}, {"OWN": "1"})
    assert set(env) == {"B", "C", "PORT", "OWN", "HOME", "LC_ALL", "PATH"}


def test_the_runtime_env_puts_this_virtualenv_first() -> None:
    env = runtime_env({"PATH": "/usr/bin"})
    if sys.prefix != sys.base_prefix:
        assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
        assert env["VIRTUAL_ENV"] == sys.prefix
    else:
        assert env == {"PATH": "/usr/bin"}
