"""Issue 11, "High" and "Medium": bad input ends in a clear error with a code, quickly.

Every case runs the real command line in a subprocess with a time limit and a memory limit
(``RLIMIT_AS``), and checks the exact observable: the exit code, the error code in the
message, no traceback, no "internal error", and no child process left running (each command
carries a marker word that is looked for among every process afterwards).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import psutil
import pytest

from tests.security.helpers import base_env, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux runtime")

#: every command here must finish within this many seconds (a hang is the bug)
LIMIT_S = 30
#: and within this much address space (a memory bomb is the bug)
LIMIT_AS = 1024 * 1024 * 1024


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


def cli(
    root: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m prodserver ARGS`` with a time and memory limit; PRODSERVER_ALLOW_ROOT as CI
    runs as root (the root rule has its own tests)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "prodserver", *args],
        capture_output=True,
        text=True,
        env=base_env(root, {"PRODSERVER_ALLOW_ROOT": "1", **(env or {})}),
        cwd=root,
        timeout=LIMIT_S,
        check=False,
        preexec_fn=_limits,  # only sets a resource limit in the child
    )
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def clean_error(result: subprocess.CompletedProcess[str], exit_code: int, code: str) -> str:
    """The stderr of a clear error: the exit code, the error code, no traceback."""
    out = result.stdout + result.stderr
    assert result.returncode == exit_code, out
    assert f"error {code}" in result.stderr, out
    assert "Traceback" not in out and "internal error" not in out, out
    return result.stderr


def survivors(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


@pytest.fixture
def marker() -> Iterator[str]:
    word = f"marker-{uuid.uuid4().hex}"
    yield word
    left = survivors(word)
    for proc in left:
        proc.kill()
    assert not left, f"{len(left)} child process(es) left running"


def sleeper(marker: str) -> str:
    return json.dumps(["python", "-c", "import time; time.sleep(60)", marker])


# -- scale -------------------------------------------------------------------------------------


def test_a_negative_scale_from_a_variable_is_a_range_error(tmp_path: Path, marker: str) -> None:
    write(tmp_path, f'[processes.web]\ncommand = {sleeper(marker)}\nscale = "${{N}}"\n')
    for command in (("check",), ("up", "--skip-checks")):
        stderr = clean_error(cli(tmp_path, *command, env={"N": "-1"}), 78, "PS137")
        assert "processes.web.scale: scale -1 is out of range: a process runs 0 to 1000" in stderr


@pytest.mark.parametrize("count", ["1001", "100000", "9" * 5000])
def test_scale_on_the_command_line_cannot_pass_the_limit(
    tmp_path: Path, marker: str, count: str
) -> None:
    write(tmp_path, f"[processes.web]\ncommand = {sleeper(marker)}\nscale = 2\n")
    result = cli(tmp_path, "up", "--skip-checks", "--scale", f"web={count}")
    out = result.stdout + result.stderr
    assert result.returncode in (2, 78), out  # a usage error, or the configuration's range
    assert "0 to 1000" in out and "Traceback" not in out
    assert "started" not in out
    assert result.elapsed < 10  # type: ignore[attr-defined]


def test_a_scale_that_is_not_an_ascii_number_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, '[processes.web]\ncommand = ["true"]\n')
    result = cli(tmp_path, "up", "--scale", "web=\u00b2")
    assert result.returncode == 2, result.stderr
    assert "--scale expects NAME=COUNT" in result.stderr and "Traceback" not in result.stderr


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stop_timeout", "1e300", "stop_timeout must be at most 168h"),
        ("healthcheck", '{ cmd = "true", interval = 1e300 }', "interval must be at most 168h"),
        ("healthcheck", '{ cmd = "true", timeout = 1e300 }', "timeout must be at most 168h"),
        ("healthcheck", '{ cmd = "true", interval = "0s" }', "interval must be at least 100ms"),
        ("healthcheck", '{ cmd = "true", timeout = "0s" }', "timeout must be at least 10ms"),
        ("restart", '{ policy = "always", backoff = "0s" }', "backoff must be at least 10ms"),
        ("stop_timeout", '"${T}"', "stop_timeout must be at most 168h"),
    ],
)
def test_durations_out_of_bounds_are_refused_by_check_and_up(
    tmp_path: Path, marker: str, key: str, value: str, message: str
) -> None:
    write(tmp_path, f"[processes.web]\ncommand = {sleeper(marker)}\n{key} = {value}\n")
    for command in (("check",), ("up", "--skip-checks")):
        stderr = clean_error(cli(tmp_path, *command, env={"T": "9" * 20}), 78, "PS402")
        assert message in stderr


def test_a_huge_stop_timeout_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, '[processes.web]\ncommand = ["true"]\n')
    result = cli(tmp_path, "up", "--stop-timeout", "9" * 400)
    assert result.returncode == 2 and "at most 604800 seconds" in result.stderr


# -- runaway structures ------------------------------------------------------------------------


def test_a_1100_deep_extends_chain_is_refused(tmp_path: Path) -> None:
    lines = ['[processes.web]\ncommand = ["true"]']
    for i in range(1100):
        lines.append(f"[profiles.p{i}]" + (f'\nextends = "p{i - 1}"' if i else ""))
    write(tmp_path, "\n".join(lines) + "\n")
    stderr = clean_error(cli(tmp_path, "check", "--profile", "p1099"), 78, "PS401")
    assert "extends a chain of more than 64 profiles" in stderr
    ok = cli(tmp_path, "check", "--profile", "p60")
    assert ok.returncode == 0, ok.stderr


BILLION_LAUGHS = textwrap.dedent(
    """\
    a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
    i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
    processes:
      web:
        command: ["true"]
        labels:
          x: *i
    """
)


def test_a_yaml_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    path = write(tmp_path, BILLION_LAUGHS, "prodserver.yaml")
    assert path.stat().st_size < 1024
    result = cli(tmp_path, "check", "-f", str(path))
    stderr = clean_error(result, 78, "PS400")
    assert "expands to more than 100000 values" in stderr
    assert result.elapsed < 10  # type: ignore[attr-defined]


def test_a_yaml_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'a: &a [1, *a]\nprocesses: {web: {command: ["true"]}}\n', "p.yaml")
    stderr = clean_error(cli(tmp_path, "check", "-f", str(path)), 78, "PS400")
    assert "p.yaml:1" in stderr


def test_yaml_with_a_few_aliases_still_works(tmp_path: Path) -> None:
    text = 'base: &cmd ["python", "-c", "pass"]\nprocesses:\n  a: {command: *cmd}\n'
    path = write(tmp_path, text + "  b: {command: *cmd}\n", "p.yaml")
    # `base` is not a key of the schema: the aliases were followed, the file validated
    result = cli(tmp_path, "check", "-f", str(path))
    assert "unknown key 'base'" in result.stderr and "Traceback" not in result.stderr


def test_substitution_fanning_out_hits_a_total_limit(tmp_path: Path) -> None:
    # each string stays under the 1 MiB limit of one string (A4 is 1,000,000 characters);
    # together the 300 distinct strings would be 300 MB, from a file of about 4 KiB
    lines = ["[env]", 'A0 = "' + "x" * 100 + '"']
    lines += [f'A{i} = "' + f"${{A{i - 1}}}" * 10 + '"' for i in range(1, 5)]
    lines += [f'B{j} = "-${{A4}}"' for j in range(300)]
    lines += ["[processes.web]", 'command = ["true"]']
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert path.stat().st_size < 6 * 1024
    result = cli(tmp_path, "check")
    stderr = clean_error(result, 78, "PS132")
    assert "more than 33554432 characters in all" in stderr
    assert result.elapsed < 15  # type: ignore[attr-defined]


# -- files that are not regular files ----------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


CONFIG = '[project]\nname = "app"\n[processes.web]\ncommand = ["true"]\n'


def test_a_fifo_as_the_configuration_file_is_refused(tmp_path: Path, fifo: Path) -> None:
    write(tmp_path, CONFIG)
    stderr = clean_error(cli(tmp_path, "check", "-f", str(fifo)), 78, "PS101")
    assert "is not a regular file" in stderr
    named = fifo.with_name("pipe.toml")
    os.mkfifo(named)
    assert "is not a regular file" in clean_error(
        cli(tmp_path, "check", "-f", str(named)), 78, "PS101"
    )


def test_a_fifo_as_an_env_file_is_refused(tmp_path: Path, fifo: Path) -> None:
    write(tmp_path, CONFIG)
    stderr = clean_error(cli(tmp_path, "check", "--env-file", str(fifo)), 78, "PS101")
    assert "is not a regular file" in stderr and "--env-file" in stderr
    write(tmp_path, CONFIG.replace('name = "app"', 'name = "app"\nenv_files = ["pipe"]'))
    stderr = clean_error(cli(tmp_path, "check"), 78, "PS101")
    assert "is not a regular file" in stderr and "project.env_files.0" in stderr


@pytest.mark.parametrize("option", ["-f", "--env-file"])
def test_dev_zero_is_refused_without_reading_it(tmp_path: Path, option: str) -> None:
    write(tmp_path, CONFIG)
    result = cli(tmp_path, "check", option, "/dev/zero")
    stderr = clean_error(result, 78, "PS101")
    assert "/dev/zero is not a regular file" in stderr
    assert result.elapsed < 10  # type: ignore[attr-defined]


def test_a_file_growing_past_the_limit_is_refused_whatever_its_size_says(tmp_path: Path) -> None:
    from prodserver.config.sources import read_bounded
    from prodserver.errors import ConfigError

    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * 2049)
    assert len(read_bounded(path, what="file", limit=2049)) == 2049
    with pytest.raises(ConfigError) as info:
        read_bounded(path, what="file", limit=2048)
    assert info.value.code == "PS102"


def test_a_fifo_as_export_output_is_refused(tmp_path: Path, fifo: Path) -> None:
    write(tmp_path, CONFIG)
    stderr = clean_error(cli(tmp_path, "export", "procfile", "-o", str(fifo)), 73, "PS407")
    assert "is not a regular file" in stderr
    out = tmp_path / "units"
    out.mkdir()
    os.mkfifo(out / "app.target")
    stderr = clean_error(cli(tmp_path, "export", "systemd", "-o", str(out)), 73, "PS407")
    assert not (out / "app-web@.service").exists()  # nothing written when one target is bad


# -- pre-start checks --------------------------------------------------------------------------

PASSWORD = "pw0Canary#frag/path?query"
PIECES = ("pw0Canary", "frag", "path", "query")


def test_a_malformed_url_and_a_password_with_url_syntax_in_pre_start_checks(
    tmp_path: Path, marker: str
) -> None:
    write(
        tmp_path,
        f"""
        [processes.web]
        command = {sleeper(marker)}
        [processes.web.env]
        BROKEN_URL = "redis://:x@[::1:6379/0"
        CACHE_URL = "redis://:{PASSWORD}@127.0.0.1:1/0"
        [profiles.prod]
        """,
    )
    deploy = cli(tmp_path, "check", "--deploy", "--profile", "prod")
    up = cli(tmp_path, "up", "--profile", "prod")
    for result in (deploy, up):
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "error PS303" in out and "Traceback" not in out and "internal error" not in out
        assert "BROKEN_URL: cannot use redis://:********@[::1:6379/0: the URL is malformed" in out
        assert "CACHE_URL: cannot use redis://:********@127.0.0.1:1/0" in out
        for piece in PIECES:
            assert piece not in out


# -- messages: one masking routine -------------------------------------------------------------


def test_a_dotenv_line_that_fails_to_parse_never_shows_its_value(tmp_path: Path) -> None:
    write(tmp_path, CONFIG)
    (tmp_path / ".env").write_text(
        'DJANGO_SK="s3cretCanaryA\n"SECRET_KEY"=s3cretCanaryB junk "x\nghp_s3cretCanaryC\n',
        encoding="utf-8",
    )
    result = cli(tmp_path, "check", "--env-file", ".env", "--debug")
    out = result.stdout + result.stderr
    assert result.returncode == 78, out
    assert "PS141" in out and "PS142" in out
    assert "s3cretCanary" not in out


def test_a_short_secret_is_masked_where_it_stands_as_a_word(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        [env]
        API_TOKEN = "Zq9"
        [processes.web]
        command = ["/opt/Zq9/bin/server", "--token=Zq9"]
        """,
    )
    result = cli(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "program '/opt/********/bin/server' was not found" in result.stderr
    assert "Zq9" not in result.stdout + result.stderr
    shown = cli(tmp_path, "config", "--format", "json")
    assert "Zq9" not in shown.stdout and "--token=********" in shown.stdout


def test_the_masker_hunts_short_values_as_words_and_long_ones_anywhere() -> None:
    from prodserver.config.secrets import Masker

    masker = Masker(["A", "B", "C"], {"A": "pw", "B": "longsecret", "C": ""}, show=False)
    assert masker.text("postgres://app:pw@db") == "postgres://app:********@db"
    assert masker.text("pwd 1024 pw, _pw_") == "pwd 1024 ********, _********_"
    assert masker.text("xlongsecretx") == "x********x"
    assert masker.text("nothing here") == "nothing here"  # an empty secret hides nothing
    flags = Masker(["REQUIRE_AUTH", "X_TOKEN"], {"REQUIRE_AUTH": "1", "X_TOKEN": "on"}, show=False)
    assert flags.text("web.1 is on") == "web.1 is on"  # a flag, not a secret


# -- names no target can carry ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["A B", "A;B", "A\\nB", "1ABC", "A$B", "A'B"])
def test_an_environment_name_no_target_can_carry_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, f'[processes.web]\ncommand = ["true"]\n[processes.web.env]\n"{name}" = "1"\n')
    stderr = clean_error(cli(tmp_path, "check"), 78, "PS136")
    assert "names start with a letter or '_' and hold letters, digits, '_', '.' or '-'" in stderr


def test_a_64_character_process_name_is_refused_by_check(tmp_path: Path) -> None:
    name = "w" * 64
    write(tmp_path, f'[processes.{name}]\ncommand = ["true"]\n')
    stderr = clean_error(cli(tmp_path, "check"), 78, "PS136")
    assert "at most 63 long" in stderr
    write(tmp_path, f'[processes.{name[:63]}]\ncommand = ["true"]\n')
    assert cli(tmp_path, "check").returncode == 0
    (tmp_path / "prodserver.toml").unlink()
    (tmp_path / "Procfile").write_text(f"{name}: true\n", encoding="utf-8")
    stderr = clean_error(cli(tmp_path, "check"), 78, "PS161")
    assert "at most 63 long" in stderr


# -- the --log-file refusal exits with the documented code ------------------------------------


def test_a_refused_log_file_exits_73_with_a_code(tmp_path: Path, fifo: Path) -> None:
    write(tmp_path, CONFIG)
    link = tmp_path / "log.jsonl"
    link.symlink_to(tmp_path / "victim")
    stderr = clean_error(cli(tmp_path, "up", "--skip-checks", "--log-file", str(link)), 73, "PS604")
    assert "symbolic link" in stderr and not (tmp_path / "victim").exists()
    stderr = clean_error(cli(tmp_path, "up", "--skip-checks", "--log-file", str(fifo)), 73, "PS407")
    missing = tmp_path / "no" / "such" / "dir" / "log"
    stderr = clean_error(
        cli(tmp_path, "up", "--skip-checks", "--log-file", str(missing)), 73, "PS408"
    )


# -- the control socket ------------------------------------------------------------------------


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_hundreds_of_idle_control_connections_do_not_take_up_down(
    tmp_path: Path, marker: str
) -> None:
    write(tmp_path, f"[processes.sleeper]\ncommand = {sleeper(marker)}\n")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = base_env(tmp_path, {"XDG_RUNTIME_DIR": str(runtime)})
    up = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up", "--no-color", "--skip-checks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
        # a limit a real server meets: 400 held connections once ran up out of descriptors
        preexec_fn=_few_descriptors,  # only sets a resource limit in the child
    )
    idle: list[socket.socket] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "started with pid" in line:
                break
        from prodserver.runtime.control import SOCKET_NAME
        from prodserver.runtime.rundir import runtime_dir

        path = runtime_dir(tmp_path, {"XDG_RUNTIME_DIR": str(runtime)}) / SOCKET_NAME
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = 0
        for _ in range(400):
            # a client that insists: while the listening backlog is full, connect() fails at
            # once (EAGAIN), so it tries again until up has accepted, or gives up after 0.5s
            deadline = time.monotonic() + 0.5
            while True:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(5)
                try:
                    sock.connect(str(path))
                except OSError:
                    sock.close()
                    if time.monotonic() > deadline:
                        refused += 1
                        break
                    time.sleep(0.002)
                    continue
                idle.append(sock)
                break
        assert refused == 0, f"{refused} of 400 connections never accepted"
        status = subprocess.run(
            [sys.executable, "-m", "prodserver", "status", "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=LIMIT_S,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["processes"]
        assert up.poll() is None
        from prodserver.runtime.control import MAX_CONNECTIONS

        # up holds at most its limit of connections, whatever the clients hold
        held = sum(1 for c in psutil.Process(up.pid).net_connections(kind="unix") if c.raddr == "")
        assert held <= MAX_CONNECTIONS + 2, held  # + the listening socket, + a notify socket
    finally:
        for sock in idle:
            sock.close()
        up.terminate()
        up.wait(timeout=30)
        assert up.stdout is not None
        up.stdout.close()
    assert up.returncode == 0


EMFILE_SCRIPT = """
import os, resource, select, socket, sys
from pathlib import Path
from prodserver.runtime.control import ControlServer

directory = Path(sys.argv[1])
watched = {}
server = ControlServer(directory, lambda request: {"ok": True},
                       lambda fd, cb: watched.__setitem__(fd, cb), watched.pop)
assert server.open() is None
listener = server.sock.fileno()
clients = []
def connect():
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(str(server.path))
    clients.append(c)
    return c
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
hog = []
connect(); connect()
while True:
    try:
        hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        break
watched[listener]()  # accept() fails with EMFILE: survived, the waiting ones taken and closed
poller = select.poll()
poller.register(listener, select.POLLIN)
print("spinning" if poller.poll(0) else "quiet")
for fd in hog:
    os.close(fd)
c = connect()
c.sendall(b'{"command": "status"}\\n')
watched[listener]()
for fd, cb in list(watched.items()):
    if fd != listener:
        cb()
print(c.recv(100).decode().strip())
server.close()
"""


def test_the_control_socket_survives_running_out_of_descriptors(tmp_path: Path) -> None:
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    result = subprocess.run(
        [sys.executable, "-c", EMFILE_SCRIPT, str(directory)],
        capture_output=True,
        text=True,
        env=base_env(tmp_path),
        timeout=LIMIT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["quiet", '{"ok": true}'], result.stdout


def test_an_idle_control_connection_is_dropped_after_its_timeout(tmp_path: Path) -> None:
    from prodserver.runtime import control

    now = [0.0]
    watched: dict[int, object] = {}
    server = control.ControlServer(
        tmp_path,
        lambda request: {"ok": True},
        lambda fd, cb: watched.__setitem__(fd, cb),
        lambda fd: watched.pop(fd),
        clock=lambda: now[0],
    )
    assert server.open() is None
    assert server.sock is not None
    listener = server.sock.fileno()
    clients = []
    try:
        for _ in range(control.MAX_CONNECTIONS + 5):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(str(server.path))
            clients.append(client)
            watched[listener]()  # type: ignore[operator]
        assert len(watched) == control.MAX_CONNECTIONS + 1  # the oldest made room
        now[0] = control.IDLE_TIMEOUT + 1
        late = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        late.connect(str(server.path))
        clients.append(late)
        late.sendall(b'{"command": "status"}\n')
        watched[listener]()  # type: ignore[operator]
        assert len(watched) == 2  # every idle one dropped, the new one kept
        for fd, callback in list(watched.items()):
            if fd != listener:
                callback()  # type: ignore[operator]
        assert late.recv(100) == b'{"ok": true}\n'
        assert clients[0].recv(100) == b""  # the idle ones were closed, not left hanging
    finally:
        for client in clients:
            client.close()
        server.close()


# -- found beyond the review: integers thousands of digits long --------------------------------


def test_a_port_of_thousands_of_digits_in_the_environment_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, '[processes.web]\ncommand = "python -m http.server ${PORT}"\n')
    stderr = clean_error(cli(tmp_path, "check", env={"PORT": "9" * 5000}), 78, "PS123")
    assert "not a port number (1-65535)" in stderr


def test_a_user_of_thousands_of_digits_is_an_unknown_user(tmp_path: Path) -> None:
    write(tmp_path, '[processes.web]\ncommand = ["true"]\nuser = "${U}"\n')
    for uid in ("9" * 5000, "9" * 20):
        stderr = clean_error(cli(tmp_path, "check", env={"U": uid}), 78, "PS403")
        assert "does not exist on this machine" in stderr


def test_a_probe_with_two_kinds_has_its_own_code(tmp_path: Path) -> None:
    # PS124 once meant a wrong type, an unknown user and this; each has its own code now
    write(
        tmp_path,
        '[processes.web]\ncommand = ["true"]\n'
        'healthcheck = { http = "http://127.0.0.1:1/", tcp = "127.0.0.1:1" }\n',
    )
    stderr = clean_error(cli(tmp_path, "check"), 78, "PS404")
    assert "give exactly one of" in stderr


@pytest.mark.parametrize("count", ["1000000000", "9" * 5000, "\u00b3"])
def test_log_file_backups_are_bounded(tmp_path: Path, count: str) -> None:
    # each rotation renames every backup: a billion of them never finished
    write(tmp_path, CONFIG)
    result = cli(tmp_path, "up", "--log-file", "log", "--log-file-backups", count)
    assert result.returncode == 2, result.stderr
    assert "--log-file-backups" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "log").exists()
