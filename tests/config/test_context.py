"""The context: the problem sink, and which names stay references (Context.keeps)."""

from __future__ import annotations

from tests.config.conftest import MakeContext

TOML = """
[project]
name = "shop"
secrets = ["*_TOKEN"]

[env]
DEBUG = "0"
"""


def test_a_problem_is_located_at_its_key_path(context: MakeContext) -> None:
    ctx = context(TOML)
    ctx.out.error("PS124", "bad", ("env", "DEBUG"), "fix it")
    ctx.out.warn("PS202", "unset", ("env", "DEBUG"))
    (error,) = ctx.out.problems
    assert error.location.line == 7
    assert error.location.key_path == "env.DEBUG"
    assert (error.code, error.hint, error.severity) == ("PS124", "fix it", "error")
    assert [w.severity for w in ctx.out.warnings] == ["warning"]


def test_a_resolution_for_this_machine_keeps_no_reference(context: MakeContext) -> None:
    ctx = context(TOML)
    assert ctx.keep_rule() is None
    assert not ctx.keeps("PORT")
    assert not ctx.keeps("UNSET_ANYWHERE")
    assert ctx.kept_refs == set()


def test_an_export_keeps_what_only_the_platform_knows(context: MakeContext) -> None:
    ctx = context(TOML, export=True)
    ctx.config_names.update({"DEBUG", "API_TOKEN", "CHAIN"})
    ctx.ref_names.add("CHAIN")
    assert ctx.keep_rule() is not None
    assert ctx.keeps("PORT")  # the platform assigns it
    assert ctx.keeps("API_TOKEN")  # a secret, by [project] secrets
    assert ctx.keeps("NOT_CONFIGURED")  # the deploying machine provides it
    assert ctx.keeps("CHAIN")  # its own value is still a reference
    assert not ctx.keeps("DEBUG")  # a value the configuration sets
    assert ctx.kept_refs == {"PORT", "API_TOKEN", "NOT_CONFIGURED", "CHAIN"}


def test_include_secrets_writes_secret_values(context: MakeContext) -> None:
    ctx = context(TOML, export=True, include_secrets=True)
    ctx.config_names.add("API_TOKEN")
    assert not ctx.keeps("API_TOKEN")


def test_a_name_learnt_to_be_secret_counts_as_one(context: MakeContext) -> None:
    ctx = context(TOML)
    assert ctx.is_secret("API_TOKEN")
    assert not ctx.is_secret("DATABASE")
    ctx.secret_values.add("DATABASE")
    assert ctx.is_secret("DATABASE")


def test_the_inputs_are_read_once(context: MakeContext) -> None:
    ctx = context(TOML)
    assert ctx.project["name"] == "shop"
    assert ctx.root == ctx.source.path.parent.resolve()
    assert ctx.secret_patterns == ["*_TOKEN"]
