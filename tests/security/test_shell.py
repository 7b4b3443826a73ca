"""No shell unless ``shell = true``; a value never adds arguments; no double expansion.

The hostile value below is what an attacker who controls one environment variable (or one line
of a ``.env`` file) would try: word splitting, a command separator, command substitution,
a glob and a variable reference, all at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodserver.backends.registry import BUILTINS
from prodserver.config.resolve import resolve_project
from tests.security.helpers import base_table, prodserver, write

HOSTILE = "a b; touch pwned-semicolon $(touch pwned-subst) `touch pwned-tick` * ${HOME}"
ECHO_ARGS = 'python -c "import sys, json; print(json.dumps(sys.argv[1:]))"'


def resolved_argv(tmp_path: Path, body: str, **environ: str) -> list[str]:
    path = write(tmp_path, body)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/nobody", **environ}
    project = resolve_project(file=path, cwd=tmp_path, environ=env)
    return list(next(iter(project.processes.values())).argv)


def pwned(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("pwned"))


def test_a_string_command_is_split_before_substitution(tmp_path: Path) -> None:
    argv = resolved_argv(
        tmp_path,
        '[processes.p]\ncommand = "prog --name ${EVIL} last"\n',
        EVIL=HOSTILE,
    )
    assert argv[1:] == ["--name", HOSTILE, "last"]
    assert argv[0].endswith("prog")


def test_a_value_with_quotes_stays_one_word(tmp_path: Path) -> None:
    argv = resolved_argv(
        tmp_path, '[processes.p]\ncommand = "prog ${EVIL}"\n', EVIL="\"' x ' \"--flag"
    )
    assert argv[1:] == ["\"' x ' \"--flag"]


@pytest.mark.parametrize("backend", sorted(BUILTINS))
def test_no_backend_runs_a_shell_unless_asked(tmp_path: Path, backend: str) -> None:
    table = base_table(backend)
    body = "[processes.p]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    argv = resolved_argv(tmp_path, body + "\n")
    assert Path(argv[0]).name not in ("sh", "bash", "dash", "zsh")
    assert "-c" not in argv[:2]


def test_shell_true_leaves_expansion_to_the_shell_alone(tmp_path: Path) -> None:
    argv = resolved_argv(
        tmp_path,
        '[processes.p]\ncommand = "echo ${EVIL} $$HOME"\nshell = true\n',
        EVIL=HOSTILE,
    )
    # prodserver did not substitute: the shell expands exactly once, at run time
    assert argv == ["/bin/sh", "-c", "echo ${EVIL} $$HOME"]


def test_shell_true_quotes_substituted_args(tmp_path: Path) -> None:
    argv = resolved_argv(
        tmp_path,
        '[processes.p]\ncommand = "printf %s"\nshell = true\nargs = ["${EVIL}"]\n',
        EVIL=HOSTILE,
    )
    assert argv[:2] == ["/bin/sh", "-c"]
    assert "'" + HOSTILE + "'" in argv[2]


def test_the_hostile_value_runs_as_one_inert_argument(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"""
        [processes.p]
        command = '{ECHO_ARGS} ${{EVIL}} tail'
        oneshot = true
        """,
    )
    result = prodserver(tmp_path, "up", env={"EVIL": HOSTILE})
    assert result.returncode == 0, result.stderr
    assert f'p.1 | ["{HOSTILE}", "tail"]' in result.stdout
    assert pwned(tmp_path) == []


def test_no_double_expansion_through_the_shell(tmp_path: Path) -> None:
    # the shell expands $EVIL once; what it expands to is data, never parsed again
    write(
        tmp_path,
        """
        [processes.p]
        command = 'printf "%s\\n" "$EVIL"; printf "%s\\n" $EVIL'
        shell = true
        oneshot = true
        args = ["${EVIL}"]
        """,
    )
    result = prodserver(tmp_path, "up", env={"EVIL": "$(touch pwned-double) `touch pwned-b`"})
    assert result.returncode == 0, result.stderr
    assert "p.1 | $(touch pwned-double) `touch pwned-b`" in result.stdout
    assert pwned(tmp_path) == []


def test_run_passes_its_arguments_without_a_shell(tmp_path: Path) -> None:
    write(tmp_path, '[processes.p]\ncommand = "true"\n')
    result = prodserver(
        tmp_path,
        "run",
        "--",
        "python",
        "-c",
        "import sys; print(sys.argv[1:])",
        HOSTILE,
    )
    assert result.returncode == 0, result.stderr
    assert repr([HOSTILE]) in result.stdout
    assert pwned(tmp_path) == []
