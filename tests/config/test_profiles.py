"""The profile step: which profile is chosen and why, its chain, and what the chain decides."""

from __future__ import annotations

import pytest

from prodserver.config.merge import ROOT
from prodserver.config.profiles import choose_profile, inherit_env, linearise, production
from prodserver.errors import ConfigError
from tests.config.conftest import MakeContext

TOML = """
[project]
default_profile = "dev"
inherit_env = false

[processes.web]
command = "true"

[profiles.dev]

[profiles.prod]
inherit_env = true

[profiles.canary]
extends = "prod"

[profiles.prod-like]
extends = "prod"
production = false
"""


def test_the_flag_wins_then_the_environment_then_the_file(context: MakeContext) -> None:
    ctx = context(TOML, environ={"PRODSERVER_PROFILE": "prod"})
    assert choose_profile(ctx, "canary") == ("canary", "--profile")
    assert choose_profile(ctx, None) == ("prod", "$PRODSERVER_PROFILE")
    assert choose_profile(context(TOML), None) == ("dev", "[project] default_profile")
    assert choose_profile(ctx, ROOT)[0] is None
    assert choose_profile(context("[processes.a]\ncommand='x'\n"), None)[0] is None


def test_a_default_profile_the_file_lacks_is_an_error(context: MakeContext) -> None:
    ctx = context('[project]\ndefault_profile = "prd"\n[profiles.prod]\n')
    with pytest.raises(ConfigError) as exc:
        choose_profile(ctx, None)
    assert exc.value.code == "PS110"
    assert exc.value.location is not None and exc.value.location.line == 2


def test_the_chain_is_root_first_and_records_why(context: MakeContext) -> None:
    ctx = context(TOML)
    chosen = linearise(ctx, "canary")
    assert chosen.profile == "canary"
    assert [layer.name for layer in chosen.layers] == [ROOT, "prod", "canary"]
    assert ctx.prov.profile_origin == "--profile"


def test_an_unknown_profile_says_what_chose_it(context: MakeContext) -> None:
    ctx = context(TOML, environ={"PRODSERVER_PROFILE": "nope"})
    with pytest.raises(ConfigError) as exc:
        linearise(ctx, None)
    assert exc.value.code == "PS110"
    assert "(chosen by $PRODSERVER_PROFILE)" in exc.value.message


@pytest.mark.parametrize(
    ("profile", "expected"),
    [("dev", False), ("prod", True), ("canary", True), ("prod-like", False)],
)
def test_production_is_the_nearest_mark_of_the_chain(
    context: MakeContext, profile: str, expected: bool
) -> None:
    ctx = context(TOML)
    assert production(linearise(ctx, profile).layers) is expected


def test_inherit_env_is_the_nearest_layers_choice(context: MakeContext) -> None:
    ctx = context(TOML)
    assert inherit_env(ctx, linearise(ctx, "dev").layers) is False
    assert inherit_env(ctx, linearise(ctx, "canary").layers) is True
