"""Which names hold secrets (by value, by definition), and how messages hide them."""

from __future__ import annotations

from prodserver.config.secrecy import (
    mask_problem,
    masker,
    note_secret_value,
    secret_names,
    taint_secret_sources,
)
from prodserver.errors import Problem
from tests.config.conftest import MakeContext, make_spec


def test_a_url_with_a_password_makes_its_variable_secret(context: MakeContext) -> None:
    ctx = context()
    note_secret_value(ctx, "DATABASE", "postgres://app:hunter2@db/app")
    note_secret_value(ctx, "CACHE", "redis://cache:6379/0")
    assert ctx.is_secret("DATABASE")
    assert not ctx.is_secret("CACHE")


def test_what_a_secret_is_defined_from_is_secret_too(context: MakeContext) -> None:
    ctx = context()
    taint_secret_sources(
        ctx,
        [
            {"SECRET_KEY": "${SK}", "PLAIN": "${OTHER}"},
            {"SK": "${RAW_KEY:-x}", "BROKEN": "${"},  # a chain, and a malformed value
        ],
    )
    assert {"SK", "RAW_KEY"} <= ctx.secret_values
    assert not ctx.is_secret("OTHER")


def test_messages_hide_secret_values_of_every_layer(context: MakeContext) -> None:
    ctx = context()
    ctx.process_envs["API_TOKEN"] = "tok-123456"
    hide = masker(ctx, {"SECRET_KEY": "s3cr3t-value", "DEBUG": "1"})
    problem = Problem("PS124", "bad s3cr3t-value and tok-123456", hint="not s3cr3t-value")
    masked = mask_problem(problem, hide)
    assert "s3cr3t-value" not in masked.message + str(masked.hint)
    assert "tok-123456" not in masked.message
    assert masked.code == "PS124"


def test_secret_names_span_the_shared_and_process_environments(context: MakeContext) -> None:
    ctx = context()
    spec = make_spec("web", env={"API_TOKEN": "t"})
    names = secret_names(ctx, {"SECRET_KEY": "x", "DEBUG": "1"}, {"web": spec})
    assert names == {"SECRET_KEY", "API_TOKEN"}
