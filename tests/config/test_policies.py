"""The policy step: restart policy, exit codes, signals, dependencies and the account."""

from __future__ import annotations

import os
import signal

import pytest

from prodserver.backends.registry import get_backend
from prodserver.config.model import Dependency
from prodserver.config.policies import (
    dependencies,
    exit_codes,
    reload_signal,
    restart_policy,
    stop_signal,
    user_for,
)
from tests.config.conftest import MakeContext, codes


def where(*key: str) -> tuple[str, ...]:
    return ("processes", "web", *key)


def test_a_restart_word_uses_the_process_defaults(context: MakeContext) -> None:
    policy = restart_policy(context(), {"restart": "always", "max_restarts": 9}, where)
    assert (policy.mode, policy.max_restarts, policy.backoff) == ("always", 9, 1.0)


def test_a_restart_table_reads_durations_and_exit_codes(context: MakeContext) -> None:
    ctx = context()
    raw = {"backoff": "2s", "window": "1m", "max_restarts": 3, "success_exit_codes": [4, 3, 4]}
    policy = restart_policy(ctx, {"restart": raw}, where)
    assert policy.mode == "on-failure"
    assert (policy.backoff, policy.window, policy.max_restarts) == (2.0, 60.0, 3)
    assert policy.success_exit_codes == (3, 4)


@pytest.mark.parametrize("raw", [[256], [True], "1", [-1]])
def test_exit_codes_are_integers_0_to_255(context: MakeContext, raw: object) -> None:
    ctx = context()
    assert exit_codes(ctx, raw, where("restart", "prevent_exit_codes")) == ()
    assert codes(ctx) == ["PS450"]


def test_signals_by_name_or_number(context: MakeContext) -> None:
    ctx = context()
    command = get_backend("command")
    assert stop_signal(ctx, "int", command, where("stop_signal")) is signal.SIGINT
    assert stop_signal(ctx, "SIGQUIT", command, where("stop_signal")) is signal.SIGQUIT
    assert stop_signal(ctx, "1", command, where("stop_signal")) is signal.SIGHUP
    assert stop_signal(ctx, None, command, where("stop_signal")) is command.stop_signal
    assert reload_signal(ctx, None, command, where("reload_signal")) is None
    assert reload_signal(ctx, "HUP", command, where("reload_signal")) is signal.SIGHUP
    assert stop_signal(ctx, "SIGNOPE", command, where("stop_signal")) is command.stop_signal
    assert codes(ctx) == ["PS127"]


def test_dependencies_as_a_list_or_with_conditions() -> None:
    assert dependencies(None) == ()
    assert dependencies(["db"]) == (Dependency("db"),)
    assert dependencies({"migrate": "completed"}) == (Dependency("migrate", "completed"),)


def test_an_unknown_account_is_an_error_here_but_not_in_an_export(
    context: MakeContext,
) -> None:
    ctx = context()
    assert user_for(ctx, "web", None, where) is None
    assert user_for(ctx, "web", str(os.getuid()), where) == str(os.getuid())
    assert user_for(ctx, "web", "no-such-user-xyz", where) == "no-such-user-xyz"
    assert codes(ctx) == ["PS403"]
    exported = context(export=True)
    assert user_for(exported, "web", "no-such-user-xyz", where) == "no-such-user-xyz"
    assert codes(exported) == []
