"""How a Procfile line runs: directly (the argv sh would build) or by sh, `exec` if simple."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from prodserver.config.shellline import direct_argv, exec_form, unquoted

PRINT_ARGV = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ("gunicorn app.wsgi --log-file -", ["gunicorn", "app.wsgi", "--log-file", "-"]),
        ("python -c 'print(1); print(2)'", ["python", "-c", "print(1); print(2)"]),
        ("node \"my app.js\" ''", ["node", "my app.js", ""]),
        ("celery worker --app=x -l info", ["celery", "worker", "--app=x", "-l", "info"]),
        # anything the shell interprets needs the shell
        ("echo '$HOME'", None),
        ("java $JAVA_OPTS -jar app.jar", None),
        ("cd app && run", None),
        ("a; b", None),
        ("run > log", None),
        ("java -cp lib/* Main", None),
        ("FOO=1 run", None),
        ("exec run", None),
        ("echo hi", None),  # a builtin
        ("run ~/x", None),
        ("run # comment", None),
        ("run 'a\\b'", None),
        ("run 'unclosed", None),
    ],
)
def test_direct_argv(line: str, argv: list[str] | None) -> None:
    assert direct_argv(line) == argv


@pytest.mark.parametrize(
    "line",
    [
        "prog a b",
        "prog 'a b' \"c d\" e''f",
        "prog --x=1 -y '' \"\"",
        "prog 'x;y' \"a|b\" '(z)'",
    ],
)
def test_a_direct_argv_is_the_argv_sh_builds(line: str) -> None:
    words = direct_argv(line)
    assert words is not None
    script = "prog() { " + shlex.join(PRINT_ARGV) + ' "$@"; }; ' + line
    sh = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(sh.stdout) == words[1:]


@pytest.mark.parametrize(
    ("line", "script"),
    [
        ("gunicorn app --bind 0.0.0.0:$PORT", "exec gunicorn app --bind 0.0.0.0:$PORT"),
        ("FOO=1 BAR='a b' run x", "FOO=1 BAR='a b' exec run x"),
        ("run > log 2>&1", "exec run > log 2>&1"),
        ("python -c 'a; b && c'", "exec python -c 'a; b && c'"),
        ('run "$(cat x; echo y)"', 'exec run "$(cat x; echo y)"'),
        # compound lines, builtins and an existing exec keep their shell as written
        ("cd app && run", "cd app && run"),
        ("a; b", "a; b"),
        ("a | b", "a | b"),
        ("run &", "run &"),
        ("exec run", "exec run"),
        ("echo $HOME", "echo $HOME"),
        ("if true; then run; fi", "if true; then run; fi"),
        ("(run)", "(run)"),
        ("FOO=1", "FOO=1"),
        ("'unclosed", "'unclosed"),
    ],
)
def test_exec_form(line: str, script: str) -> None:
    assert exec_form(line) == script


def test_exec_after_assignments_exports_them() -> None:
    script = exec_form("GREETING='hi there' " + shlex.join(PRINT_ARGV) + " $GREETING")
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env)
    assert json.loads(done.stdout) == []  # $GREETING is expanded before the assignment applies
    script = exec_form(
        "GREETING='hi there' " + sys.executable + " -c 'import os; print(os.environ[\"GREETING\"])'"
    )
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env)
    assert done.stdout == "hi there\n"


def test_unquoted_masks_quotes_and_substitutions() -> None:
    assert unquoted("a 'b;c' \"d|e\" $(f;g) `h&i` j\\;k") == "a _____ _____ ______ _____ j__k"
    assert unquoted("a 'b") is None
