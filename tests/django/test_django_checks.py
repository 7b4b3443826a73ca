"""Django system checks: stable ids, hints, and never a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.django.conftest import Run, write
from tests.django.test_django_command import BAD, GOOD


def messages() -> list[Any]:
    from prodserver.checks.django_system import check_configuration

    return check_configuration()


def ids(found: list[Any]) -> list[str]:
    return [m.id for m in found]


def test_checks_are_registered_under_the_prodserver_tag(in_site: Path) -> None:
    from django.core.checks import registry

    assert "prodserver" in registry.registry.tags_available()


def test_no_configuration_is_an_info_only(in_site: Path) -> None:
    found = messages()
    assert ids(found) == ["prodserver.I001"]
    assert "prodserver init" in found[0].hint
    assert not found[0].is_serious()


def test_good_file_reports_nothing(in_site: Path) -> None:
    write(in_site, "prodserver.toml", GOOD)
    assert messages() == []


def test_invalid_file_is_one_error_per_problem_with_location_and_hint(in_site: Path) -> None:
    write(in_site, "prodserver.toml", BAD)
    found = messages()
    assert set(ids(found)) == {"prodserver.E001"}
    assert len(found) == 2
    text = "\n".join(f"{m.msg} {m.hint}" for m in found)
    assert "prodserver.toml:3" in text and "processes.web.workers" in text
    assert "did you mean 'celery-worker'" in text
    assert all(m.is_serious() for m in found)


def test_unparsable_file_is_an_error_not_a_crash(in_site: Path) -> None:
    (in_site / "prodserver.toml").write_text("[processes\n", encoding="utf-8")
    found = messages()
    assert ids(found) == ["prodserver.E001"]
    assert "invalid TOML" in found[0].msg


def test_profile_errors_are_found_in_every_profile(in_site: Path) -> None:
    write(
        in_site,
        "prodserver.toml",
        """\
        [processes.web]
        backend = "gunicorn"
        app = "mysite.wsgi:application"
        [profiles.prod.processes.web]
        workers = 0
        """,
    )
    found = messages()
    assert ids(found) == ["prodserver.E001"]
    assert "profiles.prod.processes.web.workers" in found[0].msg


def test_required_production_variable_is_not_an_error_on_a_dev_machine(in_site: Path) -> None:
    write(
        in_site,
        "prodserver.toml",
        """\
        [processes.web]
        backend = "gunicorn"
        app = "mysite.wsgi:application"
        [profiles.prod.env]
        SECRET_KEY = "${SECRET_KEY:?set SECRET_KEY}"
        """,
    )
    assert messages() == []


def test_missing_backend_package_is_a_warning_naming_the_extra(
    in_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodserver.backends.base import Backend

    write(in_site, "prodserver.toml", GOOD)
    real = Backend.missing_requirements

    def pretend(self: Backend) -> list[str]:
        return ["gunicorn"] if self.name == "gunicorn" else real(self)

    monkeypatch.setattr(Backend, "missing_requirements", pretend)
    found = messages()
    assert ids(found) == ["prodserver.W001"]
    assert "prodserver[gunicorn]" in found[0].hint


def test_production_processes_is_deprecated(in_site: Path) -> None:
    from django.test import override_settings

    legacy = {"web": {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServer"}}
    with override_settings(PRODUCTION_PROCESSES=legacy):
        found = messages()
    assert ids(found) == ["prodserver.W002"]
    assert "init --from-django" in found[0].hint


def test_unknown_legacy_backend_is_an_error(in_site: Path) -> None:
    from django.test import override_settings

    with override_settings(PRODUCTION_PROCESSES={"web": {"BACKEND": "my.Custom"}}):
        found = messages()
    assert ids(found) == ["prodserver.E001"]
    assert "unknown BACKEND 'my.Custom'" in found[0].msg


def test_file_and_setting_together_warn_that_the_setting_is_ignored(in_site: Path) -> None:
    from django.test import override_settings

    write(in_site, "prodserver.toml", GOOD)
    legacy = {"web": {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServer"}}
    with override_settings(PRODUCTION_PROCESSES=legacy):
        assert ids(messages()) == ["prodserver.W003"]


def test_an_unexpected_failure_is_a_warning_never_a_crash(
    in_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodserver.contrib.django import sources

    def boom(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(sources, "has_file", boom)
    assert ids(messages()) == ["prodserver.W009"]


def test_manage_py_check_fails_on_a_bad_file(site: Path, manage: Callable[..., Run]) -> None:
    write(site, "prodserver.toml", BAD)
    done = manage("check")
    assert done.code == 1
    assert "(prodserver.E001)" in done.err
    assert "HINT:" in done.err
    write(site, "prodserver.toml", GOOD)
    done = manage("check")
    assert done.code == 0, done.err
    assert "prodserver." not in done.out + done.err


def test_manage_py_check_on_legacy_settings(site: Path, manage: Callable[..., Run]) -> None:
    done = manage("check", "--settings", "mysite.settings_legacy")
    assert done.code == 0
    assert "(prodserver.W002)" in done.err + done.out
    done = manage("check", "--settings", "mysite.settings_unknown")
    assert done.code == 1
    assert "(prodserver.E001)" in done.err


def test_prodserver_command_reports_its_own_errors_not_the_check(
    site: Path, manage: Callable[..., Run]
) -> None:
    # Django's checks run before the command, but prodserver's are left to the command, so
    # the exit code is the documented configuration code, not SystemCheckError's 1.
    write(site, "prodserver.toml", BAD)
    done = manage("prodserver", "config")
    assert done.code == 78
    assert "SystemCheckError" not in done.err
