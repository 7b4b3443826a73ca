"""Resolution scales linearly with the number of processes.

Work is counted, not timed: the number of lines of prodserver's own code executed while
resolving a file of N processes and one of 10 x N (loop iterations included: a backward jump
is a line event). Linear work gives a ratio near 10; the quadratic scans this guards against
(the merge's search of every recorded origin, the de-duplication of problems by list
look-up) gave ratios of 40 and more at these sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError

PACKAGE = str(Path(__file__).resolve().parents[2] / "prodserver")


def generate(root: Path, processes: int, profiles: int = 5) -> Path:
    """Worker processes (no ports), shared variables, an extends chain overriding a tenth."""
    lines = ['[project]\nname = "scale"\ndefault_profile = "p4"\n', "[env]"]
    lines += [f'VAR_{i} = "value-{i}"' for i in range(20)]
    for i in range(processes):
        lines += [
            f"[processes.proc{i}]",
            'backend = "rq-worker"',
            f'queues = ["q{i % 20}", "${{VAR_{i % 20}}}"]',
            'stop_timeout = "5s"',
        ]
        if i % 7 == 6:
            lines.append(f'depends_on = ["proc{i - 1}"]')
    for p in range(profiles):
        lines.append(f"[profiles.p{p}]")
        if p:
            lines.append(f'extends = "p{p - 1}"')
        for i in range(p, processes, 10):
            lines.append(f"[profiles.p{p}.processes.proc{i}]\nscale = {1 + p % 3}")
    path = root / f"prodserver-{processes}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def lines_executed(path: Path) -> int:
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(global_)
    try:
        project = resolve_project(file=path, environ={"PATH": "/usr/bin"})
    finally:
        sys.settrace(None)
    assert len(project.processes) > 0
    return count


@pytest.mark.parametrize("size", [40])
def test_resolution_work_grows_linearly(tmp_path: Path, size: int) -> None:
    small = lines_executed(generate(tmp_path, size))
    large = lines_executed(generate(tmp_path, 10 * size))
    assert large / small < 13, f"{size} processes: {small} lines, {10 * size}: {large} lines"


def test_many_errors_are_reported_without_quadratic_work(tmp_path: Path) -> None:
    """A file with an error in every process: collecting and de-duplicating the problems stays
    linear. Python calls are counted here (``sys.setprofile``), all code included: the
    comparisons of a list look-up are calls of the problems' generated ``__eq__``."""

    def calls(n: int) -> int:
        path = tmp_path / f"broken-{n}.toml"
        path.write_text("".join(f'[processes.p{i}]\ncommand = "x"\nbogus_{i} = 1\n'
                                for i in range(n)))  # fmt: skip
        count = 0

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            nonlocal count
            count += event == "call"

        sys.setprofile(profile)
        try:
            with pytest.raises(ConfigError) as caught:
                resolve_project(file=path, environ={"PATH": "/usr/bin"})
        finally:
            sys.setprofile(None)
        assert len(caught.value.problems) >= n
        return count

    assert calls(400) / calls(40) < 13
