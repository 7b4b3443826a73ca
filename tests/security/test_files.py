"""Files prodserver reads and writes: atomic writes with exact modes, never through a symbolic
link, nothing outside the output directory, and ``env_files`` confined to the project root
unless named by an absolute path.

Writers: ``prodserver export -o`` (prodserver/exporters/base.py ``write_files``) and
``prodserver init`` (prodserver/init/render.py ``write``). Their unit tests are in
tests/exporters/test_write.py and tests/init/; these go through the command line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from tests.conftest import CliResult
from tests.security.helpers import write

CONFIG = """
[project]
name = "shop"

[env]
GREETING = "hello"

[processes.web]
command = "python -m http.server ${PORT}"

[processes.worker]
command = ["python", "-c", "print(1)"]
env = { API_TOKEN = "${API_TOKEN}" }
"""
Cli = Callable[..., CliResult]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


# -- export ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o077])
def test_export_modes_do_not_depend_on_the_umask(
    tmp_path: Path, cli: Cli, umask: Callable[[int], None], mask: int
) -> None:
    write(tmp_path, CONFIG)
    umask(mask)
    out = tmp_path / "units"
    result = cli("export", "systemd", "-o", str(out), cwd=tmp_path, env={"API_TOKEN": "t0k3n"})
    assert result.code == 0, result.err
    modes = {p.name: mode(p) for p in out.iterdir()}
    # unit files 0644 (systemd reads them as any user); the environment file 0600
    assert modes["shop-web@.service"] == 0o644
    assert modes["shop.env"] == 0o600


def test_an_export_with_secrets_is_private(tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, CONFIG)
    (tmp_path / ".env").write_text("API_TOKEN=t0k3n\n", encoding="utf-8")
    target = tmp_path / "Procfile.out"
    result = cli("export", "procfile", "--include-secrets", "-o", str(target), cwd=tmp_path)
    assert result.code == 0, result.err
    assert mode(target) == 0o600


def test_export_replaces_a_file_by_rename_and_leaves_no_temporary(tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, CONFIG)
    target = tmp_path / "docker-compose.yml"
    assert cli("export", "compose", "-o", str(target), cwd=tmp_path).code == 0
    held = target.open("rb")  # a reader holding the old file keeps the old, whole content
    old_inode = os.fstat(held.fileno()).st_ino
    old_content = held.read()
    write(tmp_path, CONFIG.replace("print(1)", "print(2)"))
    assert cli("export", "compose", "-o", str(target), cwd=tmp_path).code == 0
    assert target.stat().st_ino != old_inode
    held.seek(0)
    assert held.read() == old_content
    held.close()
    assert b"print(2)" in target.read_bytes()
    assert leftovers(tmp_path) == []


def test_export_never_writes_through_a_symlink(tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, CONFIG)
    victim = tmp_path / "victim"
    victim.write_text("precious\n", encoding="utf-8")
    link = tmp_path / "Procfile"
    link.symlink_to(victim)
    result = cli("export", "procfile", "-o", str(link), "--force", cwd=tmp_path)
    assert result.code != 0
    assert "symbolic link" in result.err
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert link.is_symlink()


def test_export_never_writes_into_a_symlinked_subdirectory(tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, CONFIG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "base").symlink_to(elsewhere)
    result = cli("export", "kubernetes", "--kustomize", "-o", str(out), "--force", cwd=tmp_path)
    assert result.code != 0
    assert list(elsewhere.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_export_refuses_to_replace_a_file_it_did_not_write(tmp_path: Path, cli: Cli) -> None:
    write(tmp_path, CONFIG)
    target = tmp_path / "Procfile"
    target.write_text("web: my own\n", encoding="utf-8")
    result = cli("export", "procfile", "-o", str(target), cwd=tmp_path)
    assert result.code != 0
    assert target.read_text(encoding="utf-8") == "web: my own\n"


def test_a_process_name_cannot_leave_the_output_directory(tmp_path: Path) -> None:
    path = write(tmp_path, '[processes."../../evil"]\ncommand = "true"\n')
    with pytest.raises(ConfigError) as info:
        resolve_project(file=path, cwd=tmp_path, environ={"PATH": "/usr/bin"})
    assert "processes" in str(info.value.problems[0].location.key_path)


# -- init ------------------------------------------------------------------------------------


def init_args(target: Path) -> tuple[str, ...]:
    return ("init", "--web", "gunicorn", "--app", "shop.wsgi:application", "-o", str(target))


def test_init_writes_a_readable_file_atomically(
    tmp_path: Path, cli: Cli, umask: Callable[[int], None]
) -> None:
    umask(0o077)
    target = tmp_path / "prodserver.toml"
    result = cli(*init_args(target), cwd=tmp_path)
    assert result.code == 0, result.err
    assert mode(target) == 0o644  # meant to be committed; it holds no secret
    assert leftovers(tmp_path) == []


def test_init_never_follows_a_symlink(tmp_path: Path, cli: Cli) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n", encoding="utf-8")
    link = tmp_path / "prodserver.toml"
    link.symlink_to(victim)
    refused = cli(*init_args(link), cwd=tmp_path)
    assert refused.code != 0
    assert victim.read_text(encoding="utf-8") == "precious\n"
    # --force replaces the link itself, never the file it points to
    forced = cli(*init_args(link), "--force", cwd=tmp_path)
    assert forced.code == 0, forced.err
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not link.is_symlink()


def test_init_refuses_a_dangling_symlink(tmp_path: Path, cli: Cli) -> None:
    link = tmp_path / "prodserver.toml"
    link.symlink_to(tmp_path / "nowhere" / "planted")
    result = cli(*init_args(link), cwd=tmp_path)
    assert result.code != 0
    assert not (tmp_path / "nowhere").exists()


def test_init_refuses_a_broker_password(tmp_path: Path, cli: Cli) -> None:
    target = tmp_path / "prodserver.toml"
    result = cli(
        "init",
        "--non-interactive",
        "--web",
        "none",
        "--worker",
        "celery-worker",
        "--broker",
        "redis://:hunter22@cache:6379/0",
        "-o",
        str(target),
        cwd=tmp_path,
    )
    assert result.code != 0
    assert "password" in result.err
    assert "hunter22" not in result.err
    assert not target.exists()


# -- env_files are confined to the project root ----------------------------------------------


def resolve_env(root: Path, files: str) -> dict[str, str]:
    path = write(root, f'[project]\nenv_files = {files}\n[processes.p]\ncommand = "true"\n')
    return dict(resolve_project(file=path, cwd=root, environ={"PATH": "/usr/bin"}).env)


@pytest.mark.parametrize(
    "spec", ['["../outside.env"]', '["?../outside.env"]', '["sub/../../outside.env"]']
)
def test_a_relative_env_file_outside_the_root_is_refused(tmp_path: Path, spec: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "outside.env").write_text("LEAKED=1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        resolve_env(root, spec)
    assert [p.code for p in info.value.problems] == ["PS113"]
    assert "absolute path" in (info.value.problems[0].hint or "")


def test_a_symlink_inside_the_root_cannot_reach_outside(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "outside.env").write_text("LEAKED=1\n", encoding="utf-8")
    (root / ".env").symlink_to(tmp_path / "outside.env")
    with pytest.raises(ConfigError) as info:
        resolve_env(root, '[".env"]')
    assert [p.code for p in info.value.problems] == ["PS113"]


def test_an_absolute_env_file_is_an_explicit_choice(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside = tmp_path / "outside.env"
    outside.write_text("FROM_OUTSIDE=yes\n", encoding="utf-8")
    assert resolve_env(root, f'["{outside}"]')["FROM_OUTSIDE"] == "yes"
