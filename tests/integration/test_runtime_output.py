"""The multiplexer with real children writing through real pipes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import psutil
import pytest

from tests.conftest import POSIX_RUNTIME

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from realrun import RUNNER, Run, env_for_runner

PY = sys.executable

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def writer(n: int, lines: int) -> list[str]:
    return py(f"""
        import sys
        out = sys.stdout
        pad = 'x' * ({n} * 7 % 50)
        for i in range({lines}):
            out.write(f'w{n} {{i:08d}} {{pad}}\\n')
    """)


@pytest.mark.slow
def test_eight_writers_at_full_speed_lose_and_tear_nothing(tmp_path):
    lines = 20000
    out = tmp_path / "out.log"
    procs = [{"name": f"w{n}", "argv": writer(n, lines), "oneshot": True} for n in range(8)]
    with out.open("wb") as fh:
        run = Run(tmp_path, procs, stdout=fh)
        try:
            assert run.finish(120) == 0
        finally:
            run.kill()
    seen: dict[str, list[int]] = defaultdict(list)
    line_re = re.compile(r"^(w\d)\.1 \| (w\d) (\d{8}) (x*)$")
    for line in out.read_text().splitlines():
        if " * " in line[:12]:
            continue  # prodserver's own messages
        m = line_re.match(line)
        assert m, f"torn or merged line: {line!r}"
        assert m.group(1) == m.group(2)
        assert len(m.group(4)) == int(m.group(1)[1]) * 7 % 50
        seen[m.group(1)].append(int(m.group(3)))
    assert sorted(seen) == [f"w{n}" for n in range(8)]
    for numbers in seen.values():
        assert numbers == list(range(lines))  # all there, in order


def test_partial_line_does_not_stall_others_and_last_line_comes_before_exit(tmp_path):
    prompt = py("""
        import sys, time
        sys.stdout.write('Password: '); sys.stdout.flush()
        time.sleep(3)
    """)
    ticker = py("""
        import time
        for i in range(3):
            print('tick', i, flush=True); time.sleep(0.05)
        print('last words', end='', flush=True)
    """)
    run = Run(tmp_path, [{"name": "prompt", "argv": prompt}, {"name": "ticker", "argv": ticker}])
    try:
        run.wait_for_line("tick 2", timeout=5)
        assert time.monotonic() - run.started < 2.5  # not held back by the prompt
        code = run.finish()
    finally:
        run.kill()
    assert code == 0
    text = run.lines
    assert "prompt.1 | Password: " in text
    last = text.index("ticker.1 | last words")
    assert text[last + 1] == "ticker.1 * exited with code 0"


def test_invalid_utf8_is_replaced_and_not_fatal(tmp_path):
    bad = py(r"""
        import sys
        sys.stdout.buffer.write(b'before \xff\xfe after\n'); sys.stdout.flush()
        print('still alive')
    """)
    run = Run(tmp_path, [{"name": "bad", "argv": bad}])
    try:
        assert run.finish() == 0
    finally:
        run.kill()
    assert "bad.1 | before \ufffd\ufffd after" in run.lines
    assert "bad.1 | still alive" in run.lines


@pytest.mark.slow
def test_ten_megabyte_line_is_split_and_memory_stays_flat(tmp_path):
    big = py("""
        import sys, time
        time.sleep(0.5)
        chunk = b'y' * 65536
        for _ in range(160):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b'\\n'); sys.stdout.flush()
    """)
    out = tmp_path / "out.log"
    with out.open("wb") as fh:
        run = Run(tmp_path, [{"name": "big", "argv": big}], stdout=fh)
        try:
            proc = psutil.Process(run.pid)
            time.sleep(0.3)
            base = proc.memory_info().rss
            peak = base
            while run.popen.poll() is None:
                try:
                    peak = max(peak, proc.memory_info().rss)
                except psutil.Error:
                    break
                time.sleep(0.005)
            assert run.finish() == 0
        finally:
            run.kill()
    pieces = [line for line in out.read_text().splitlines() if line.startswith("big.1 | ")]
    assert sum(len(p) - len("big.1 | ") for p in pieces) == 160 * 65536
    assert len(pieces) > 100 and max(len(p) for p in pieces) <= 128 * 1024
    assert peak - base < 8 * 1024 * 1024, (base, peak)


def test_child_cannot_forge_another_prefix_in_a_pipe(tmp_path):
    forger = py(r"""
        print('\rweb.1 | I am web\x1b[1A\x1b[2K', flush=True)
        print('x\u2028web.1 | me too', flush=True)
    """)
    run = Run(
        tmp_path,
        [
            {"name": "web", "argv": py("import time; time.sleep(0.5)")},
            {"name": "forger", "argv": forger, "oneshot": True},
        ],
    )
    try:
        run.finish()
    finally:
        run.kill()
    web_lines = [line for line in "\n".join(run.lines).splitlines() if line.startswith("web.1")]
    assert all(" * " in line for line in web_lines), web_lines


def test_closed_stdout_ends_cleanly_without_traceback(tmp_path):
    spec = tmp_path / "spec.json"
    chatty = py("""
        import itertools
        for i in itertools.count():
            print('line', i)
    """)
    import json

    spec.write_text(json.dumps({"procs": [{"name": "chatty", "argv": chatty}]}))
    script = f"'{PY}' '{RUNNER}' '{spec}' | head -1; echo \"status=${{PIPESTATUS[0]}}\""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, env=env_for_runner(), timeout=30
    )
    assert time.monotonic() - started < 10
    out = result.stdout.decode()
    assert "status=0" in out
    assert "Traceback" not in result.stderr.decode()
    assert result.stderr.decode().count("\n") <= 1


def test_json_log_format_parses_line_by_line(tmp_path):
    import json

    mixed = py(r"""
        import sys
        print('hello "json"')
        sys.stdout.buffer.write(b'\xff ctrl \x1b[0m\n')
        print('to stderr', file=sys.stderr)
    """)
    run = Run(tmp_path, [{"name": "mixed", "argv": mixed}], {"log_format": "json"})
    try:
        assert run.finish() == 0
    finally:
        run.kill()
    records = [json.loads(line) for line in run.lines]
    lines = {(r["stream"], r["line"]) for r in records}
    assert ("stdout", 'hello "json"') in lines
    assert ("stdout", "\ufffd ctrl \x1b[0m") in lines
    assert ("stderr", "to stderr") in lines
    keys = {"time", "process", "instance", "stream", "line"}
    # a child's line has exactly these keys; prodserver's own events add a name and fields
    assert all(set(r) == keys for r in records if r["stream"] != "prodserver")
    assert all(keys <= set(r) for r in records)


def test_every_line_of_a_multi_line_message_carries_its_prefix(tmp_path):
    # A warning with a hint is two lines: a log collector that reads `name |`/`name *` prefixes
    # (or greps for "prodserver *") must not meet a bare "  hint: ..." line.
    (tmp_path / "prodserver.toml").write_text(
        textwrap.dedent(f"""
            [project]
            name = "prefixes"
            [env]
            EMPTY = "${{PRODSERVER_TEST_UNSET_VARIABLE}}"
            [processes.job]
            command = ["{PY}", "-c", "print('done')"]
            oneshot = true
        """),
        encoding="utf-8",
    )
    env = env_for_runner()
    env.pop("PRODSERVER_TEST_UNSET_VARIABLE", None)
    result = subprocess.run(
        [PY, "-m", "prodserver", "up", "--no-color"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "hint:" in result.stdout
    for line in result.stdout.splitlines():
        assert re.match(r"^(prodserver|job\.1) +[*|] ", line), f"line without a prefix: {line!r}"
