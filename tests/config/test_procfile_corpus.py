"""Real-world Procfiles (tests/procfiles/, each with its source in README.md) read as sh reads them.

For every valid file: `prodserver check` passes; each process, as `up` would start it, runs the
very programs with the very argv that `/bin/sh -c LINE` runs (the programs are replaced by a stub
that logs its argv); and `prodserver export procfile` writes lines that mean the same to honcho
and to prodserver.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from prodserver.cli.main import main
from prodserver.config.procfile import parse_procfile
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError

CORPUS = Path(__file__).resolve().parent.parent / "procfiles"
VALID = sorted(p for p in CORPUS.glob("*.Procfile") if not p.name.endswith(".invalid.Procfile"))
INVALID = sorted(CORPUS.glob("*.invalid.Procfile"))
STUB = (
    f"#!{sys.executable}\n"
    "import json, os, sys\n"
    "with open(os.environ['ARGV_LOG'], 'a') as log:\n"
    "    log.write(json.dumps(sys.argv) + '\\n')\n"
)


def test_the_corpus_is_large_and_sourced() -> None:
    assert len(VALID) >= 25
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for path in [*VALID, *INVALID]:
        assert f"`{path.name}` | https://github.com/" in readme, path.name


def _programs(line: str) -> set[str]:
    """The first word of each simple command of a line: what the stubs stand in for."""
    out = set()
    for part in re.split(r"&&|\|\||;|\|", line):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        if words and words[0] == "exec":
            words = words[1:]
        if words:
            out.add(words[0])
    return out


def _project_dir(tmp_path: Path, procfile: Path) -> Path:
    (tmp_path / "Procfile").write_bytes(procfile.read_bytes())
    stubs = tmp_path / "stubbin"
    stubs.mkdir()
    for entry in parse_procfile(procfile.read_text("utf-8"), path=procfile).entries:
        for program in _programs(entry.command):
            target = (tmp_path / program) if "/" in program else (stubs / program)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(STUB, encoding="utf-8")
            target.chmod(0o755)
    return tmp_path


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{tmp_path / 'stubbin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ARGV_LOG": str(tmp_path / "argv.log"),
        **extra,
    }


def _run(argv: list[str] | tuple[str, ...], env: dict[str, str], cwd: Path) -> list[list[str]]:
    log = Path(env["ARGV_LOG"])
    log.unlink(missing_ok=True)
    # the runtime puts prodserver's virtualenv first on PATH: the stubs go before it
    env = {**env, "PATH": str(log.parent / "stubbin") + ":" + env["PATH"]}
    subprocess.run(argv, env=env, cwd=cwd, check=False, timeout=30)
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("procfile", VALID, ids=[p.name for p in VALID])
def test_check_passes(procfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-f", str(procfile)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("procfile", INVALID, ids=[p.name for p in INVALID])
def test_an_invalid_one_is_reported_with_every_line(procfile: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve_project(file=procfile, environ={"PATH": "/usr/bin:/bin"})
    lines = {p.location.line for p in exc.value.problems}
    assert lines == {2, 4, 6, 7, 8}  # two stray lines, three names defined twice


@pytest.mark.parametrize("java_opts", [None, "-Xmx512m -Dfile.encoding=UTF-8"])
@pytest.mark.parametrize("procfile", VALID, ids=[p.name for p in VALID])
def test_each_process_runs_the_argv_sh_builds(
    procfile: Path, java_opts: str | None, tmp_path: Path
) -> None:
    root = _project_dir(tmp_path, procfile)
    extra = {"JAVA_OPTS": java_opts} if java_opts else {}
    project = resolve_project(file=root / "Procfile", environ=_environ(root, **extra))
    lines = parse_procfile(procfile.read_text("utf-8"), path=procfile).commands()
    for name, spec in project.processes.items():
        instance = spec.instances[0]
        env = dict(instance.env)
        ours = _run(instance.argv, env, spec.cwd)
        theirs = _run(["/bin/sh", "-c", lines[name]], env, root)
        assert ours == theirs, (name, lines[name], instance.argv)
        assert ours, f"{name}: nothing ran"


@pytest.mark.parametrize("procfile", VALID, ids=[p.name for p in VALID])
def test_export_procfile_round_trips(procfile: Path, tmp_path: Path) -> None:
    from honcho.environ import parse_procfile as honcho_parse

    out = tmp_path / "Procfile.out"
    assert main(["export", "procfile", "-f", str(procfile), "-o", str(out)]) == 0
    text = out.read_text("utf-8")
    original = parse_procfile(procfile.read_text("utf-8"), path=procfile).commands()
    exported = parse_procfile(text, path=out).commands()
    assert exported.keys() == original.keys()
    for name, line in original.items():
        # the same line, or (for a line run without a shell) the same words
        assert exported[name] == line or shlex.split(exported[name]) == shlex.split(line)
    assert dict(honcho_parse(text).processes) == exported


def test_a_multi_flag_variable_splits_and_an_unset_one_drops(tmp_path: Path) -> None:
    procfile = CORPUS / "Code4SocialGood__c4sg-services.Procfile"
    root = _project_dir(tmp_path, procfile)
    env = _environ(root, JAVA_OPTS="-Xmx512m -Dfile.encoding=UTF-8")
    web = resolve_project(file=root / "Procfile", environ=env).processes["web"]
    [argv] = _run(web.instances[0].argv, dict(web.instances[0].env), root)
    assert argv[1:] == [
        "-Dserver.port=5000",
        "-Xmx512m",
        "-Dfile.encoding=UTF-8",
        "-Dspring.profiles.active=prod",
        "-jar",
        "build/libs/c4sg-services-0.0.1-SNAPSHOT.jar",
    ]
    del env["JAVA_OPTS"]
    web = resolve_project(file=root / "Procfile", environ=env).processes["web"]
    [argv] = _run(web.instances[0].argv, dict(web.instances[0].env), root)
    assert argv[1:3] == ["-Dserver.port=5000", "-Dspring.profiles.active=prod"]
    assert os.path.basename(argv[0]) == "java"
