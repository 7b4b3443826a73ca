"""The one writer every export goes through: atomic, right modes, never where it should not."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

import pytest

from prodserver.errors import ConfigError, OutputError
from prodserver.exitcodes import ExitCode
from prodserver.exporters import ExportFile, render, write_files
from prodserver.exporters.base import GENERATED_MARK
from tests.exporters import scenarios


def _file(
    name: str, content: str = f"# {GENERATED_MARK} test\nx\n", mode: int = 0o644
) -> ExportFile:
    return ExportFile(PurePosixPath(name), content, mode)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_modes_are_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        write_files([_file("a.conf"), _file("sub/secret.env", mode=0o600)], tmp_path)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.conf") == 0o644
    assert _mode(tmp_path / "sub" / "secret.env") == 0o600


def test_systemd_environment_file_is_written_0600(tmp_path: Path) -> None:
    write_files(render("systemd", scenarios.shop()).files, tmp_path)
    assert _mode(tmp_path / "shop.env") == 0o600
    assert _mode(tmp_path / "shop-web@.service") == 0o644


def test_a_file_prodserver_wrote_is_replaced(tmp_path: Path) -> None:
    write_files([_file("Procfile", f"# {GENERATED_MARK} v1\n")], tmp_path)
    write_files([_file("Procfile", f"# {GENERATED_MARK} v2\n")], tmp_path)
    assert "v2" in (tmp_path / "Procfile").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Procfile"]  # no temp files left


def test_a_foreign_file_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: my own\n")
    with pytest.raises(OutputError, match="prodserver did not write it") as info:
        write_files([_file("Procfile")], tmp_path)
    assert info.value.exit_code == ExitCode.CANTCREAT
    assert (tmp_path / "Procfile").read_text() == "web: my own\n"
    write_files([_file("Procfile")], tmp_path, force=True)
    assert GENERATED_MARK in (tmp_path / "Procfile").read_text()


def test_nothing_is_written_when_one_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b.conf").write_text("mine\n")
    with pytest.raises(OutputError):
        write_files([_file("a.conf"), _file("b.conf")], tmp_path)
    assert not (tmp_path / "a.conf").exists()


def test_never_writes_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text(f"# {GENERATED_MARK}\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "Procfile").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_files([_file("Procfile")], out, force=True)
    (out / "dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link"):
        write_files([_file("dir/x.conf")], out, force=True)
    assert victim.read_text() == f"# {GENERATED_MARK}\n"


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/../../b"])
def test_paths_leaving_the_output_directory_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(OutputError, match="not a plain path"):
        write_files([_file(path)], tmp_path / "out")
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("name", ["../../etc/x", "a/b", "web.1", "", "-web", "wéb", "a" * 64])
def test_unsafe_process_names_are_rejected(name: str) -> None:
    spec = scenarios.process(name, 0, ("true",))
    with pytest.raises(ConfigError, match="cannot be used as a name") as info:
        render("systemd", scenarios.project([spec]))
    assert info.value.location.key_path == f"processes.{name}"


def test_every_generated_file_is_recognised_as_generated(tmp_path: Path) -> None:
    for fmt in ("procfile", "compose", "systemd", "supervisord", "kubernetes"):
        files = render(fmt, scenarios.shop()).files
        write_files(files, tmp_path / fmt)
        # a second export over the first needs no --force
        write_files(files, tmp_path / fmt)
