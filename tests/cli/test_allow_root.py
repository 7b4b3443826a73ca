"""`up` refuses root in a production profile; --allow-root and PRODSERVER_ALLOW_ROOT=1 allow it."""

from __future__ import annotations

import argparse

import pytest

from prodserver.cli.commands.up import _refuse_root
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from tests.conftest import BASE_ENV


@pytest.fixture
def prod(project):
    root = project('[processes.web]\ncommand = "true"\n[profiles.prod]\n')
    return resolve_project(cwd=root, environ=BASE_ENV, profile="prod")


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(names=[], allow_root=kw.get("allow_root", False))


def test_refused_as_root(prod, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.delenv("PRODSERVER_ALLOW_ROOT", raising=False)
    with pytest.raises(ConfigError) as exc:
        _refuse_root(prod, args())
    assert "PS114" in exc.value.render()
    assert "PRODSERVER_ALLOW_ROOT=1" in exc.value.render()


def test_allowed_by_flag_or_environment(prod, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.delenv("PRODSERVER_ALLOW_ROOT", raising=False)
    _refuse_root(prod, args(allow_root=True))
    monkeypatch.setenv("PRODSERVER_ALLOW_ROOT", "1")
    _refuse_root(prod, args())


def test_not_root_is_fine(prod, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    _refuse_root(prod, args())
