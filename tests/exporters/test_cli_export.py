"""``prodserver export`` end to end: the resolver's export resolution, written by the CLI."""

from __future__ import annotations

import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prodserver.exitcodes import ExitCode
from tests.conftest import CliResult

FORMATS = ("procfile", "compose", "systemd", "supervisord", "kubernetes")

CANARY_TOML = """
[project]
name = "canary"
env_files = [".env"]

[env]
DJANGO_SETTINGS_MODULE = "shop.settings"
DATABASE_URL = "postgres://shop:${DB_PASSWORD}@db/shop"

[processes.web]
command = ["/usr/bin/python3", "-m", "http.server", "${PORT}"]
env = { API_TOKEN = "tok-CANARY-2", MODE = "web" }

[processes.migrate]
command = ["/usr/bin/python3", "manage.py", "migrate"]
oneshot = true

[processes.worker]
command = ["/usr/bin/python3", "-c", "import time; time.sleep(1e9)"]
depends_on = { migrate = "completed" }

[profiles.prod.env]
SECRET_KEY = "sk-CANARY-1"

[profiles.prod.export]
user = "canary"

[profiles.dev.env]
DJANGO_DEBUG = "1"
[profiles.dev.processes.worker]
enabled = false
"""
CANARY_ENV = "DB_PASSWORD=pw-CANARY-3\n"
CANARIES = ("sk-CANARY-1", "tok-CANARY-2", "pw-CANARY-3")

Cli = Callable[..., CliResult]


@pytest.fixture
def shop(project: Callable[..., Path]) -> Path:
    return project(CANARY_TOML, **{".env": CANARY_ENV})


def _all_text(directory: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in directory.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_value_reaches_any_export(fmt: str, shop: Path, cli: Cli) -> None:
    result = cli("export", fmt, "-p", "prod", "-o", str(shop / "out") + "/", cwd=shop)
    assert result.code == 0, result.err
    written = _all_text(shop / "out")
    assert written
    for path, text in written.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary} leaked into {path.name}"
    for canary in CANARIES:
        assert canary not in result.out + result.err


@pytest.mark.parametrize("fmt", FORMATS)
def test_include_secrets_writes_them_only_into_0600_files(fmt: str, shop: Path, cli: Cli) -> None:
    out = shop / "out"
    result = cli("export", fmt, "-p", "prod", "--include-secrets", "-o", f"{out}/", cwd=shop)
    assert result.code == 0, result.err
    holders = [p for p, text in _all_text(out).items() if any(c in text for c in CANARIES)]
    assert holders, "--include-secrets wrote no secret"
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_single_file_formats_print_to_stdout(shop: Path, cli: Cli) -> None:
    result = cli("export", "procfile", "-p", "prod", cwd=shop)
    assert result.code == 0, result.err
    assert 'web: env MODE=web /usr/bin/python3 -m http.server "${PORT}"' in result.out
    assert result.out.splitlines()[2].startswith("release: ")
    # advice and warnings go to stderr, never into the file
    assert "heroku ps:scale web=1 worker=1" in result.err
    assert "ps:scale" not in result.out


def test_lost_settings_are_warned_about_on_stderr(shop: Path, cli: Cli) -> None:
    result = cli("export", "kubernetes", "-p", "prod", cwd=shop)
    assert result.code == 0
    # waiting for the release Job is not lost: the notes give the order, once
    assert "depends_on migrate" not in result.err
    assert result.err.count("note: apply the release Job(s) first") == 1
    assert "kind: Job" in result.out


def test_multi_file_formats_need_an_output_directory(shop: Path, cli: Cli) -> None:
    result = cli("export", "systemd", "-p", "prod", cwd=shop)
    assert result.code == ExitCode.USAGE
    assert "-o DIR" in result.err
    assert result.out == ""


def test_output_names_the_file_of_a_single_file_format(shop: Path, cli: Cli) -> None:
    result = cli("export", "compose", "-p", "prod", "-o", "deploy.yaml", cwd=shop)
    assert result.code == 0, result.err
    assert yaml.safe_load((shop / "deploy.yaml").read_text())["name"] == "canary"
    assert f"wrote {Path('deploy.yaml')}" in result.err


def test_a_file_prodserver_did_not_write_is_kept(shop: Path, cli: Cli) -> None:
    (shop / "Procfile").write_text("web: mine\n")
    result = cli("export", "procfile", "-p", "prod", "-o", "Procfile", cwd=shop)
    assert result.code == ExitCode.CANTCREAT
    assert "--force" in result.err
    assert (shop / "Procfile").read_text() == "web: mine\n"
    result = cli("export", "procfile", "-p", "prod", "-o", "Procfile", "--force", cwd=shop)
    assert result.code == 0
    assert "release:" in (shop / "Procfile").read_text()


def test_kustomize_is_for_kubernetes_only(shop: Path, cli: Cli) -> None:
    result = cli("export", "compose", "--kustomize", "-o", "k", cwd=shop)
    assert result.code == ExitCode.USAGE
    assert "kubernetes" in result.err


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_overlay_per_profile_builds_like_the_plain_export(shop: Path, cli: Cli) -> None:
    result = cli("export", "kubernetes", "-p", "prod", "--kustomize", "-o", "k8s", cwd=shop)
    assert result.code == 0, result.err
    for profile in ("dev", "prod"):
        built = subprocess.run(
            ["kubectl", "kustomize", str(shop / "k8s" / "overlays" / profile)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        plain = cli("export", "kubernetes", "-p", profile, cwd=shop).out

        def objects(text: str) -> dict[tuple[str, str], object]:
            return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text)}

        assert objects(built) == objects(plain), profile
    dev = objects(
        subprocess.run(
            ["kubectl", "kustomize", str(shop / "k8s" / "overlays" / "dev")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert ("Deployment", "canary-worker") not in dev
