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

import prodserver
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError

#: the package resolving (not necessarily this checkout's: the tests also run against another)
PACKAGE = str(Path(prodserver.__file__).resolve().parent)


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


@pytest.mark.parametrize("size", [40])
def test_resolution_work_grows_linearly(tmp_path: Path, size: int) -> None:
    small = lines_resolving(generate(tmp_path, size))
    large = lines_resolving(generate(tmp_path, 10 * size))
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


# -- work per process does not depend on the size of the shared environment --------------------


def generate_with_env(root: Path, processes: int, variables: int) -> Path:
    """Commands and workers, a third of them scaled, over ``variables`` shared variables."""
    lines = ['[project]\nname = "envscale"\n', "[env]"]
    lines += [f'SHARED_{i} = "value-{i}"' for i in range(variables)]
    for i in range(processes):
        lines.append(f"[processes.proc{i}]")
        if i % 2:
            lines += ['backend = "rq-worker"', f'queues = ["q{i % 20}"]']
        else:
            lines.append(f'command = "python -c pass --name ${{SHARED_0}} --n {i}"')
        lines.append(f"port = {10000 + 10 * i}")
        if i % 3 == 0:
            lines.append("scale = 2")
    path = root / f"env-{processes}-{variables}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def lines_resolving(path: Path, **options: Any) -> int:
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
        project = resolve_project(file=path, environ={"PATH": "/usr/bin"}, **options)
    finally:
        sys.settrace(None)
    assert len(project.processes) > 0
    return count


@pytest.mark.parametrize("for_export", [False, True], ids=["up", "export"])
def test_the_shared_environment_is_not_rendered_again_for_each_instance(
    tmp_path: Path, for_export: bool
) -> None:
    """Each instance's environment holds every shared variable, but building it costs the
    instance's own variables: the work the shared environment adds is the same for 40 and for
    400 processes. (Rendering every shared variable again for each instance made it grow
    with processes x variables: 10 times more here.)"""

    def extra(processes: int) -> int:
        few = lines_resolving(generate_with_env(tmp_path, processes, 5), for_export=for_export)
        many = lines_resolving(generate_with_env(tmp_path, processes, 305), for_export=for_export)
        return many - few

    small, large = extra(40), extra(400)
    assert large < 2 * small + 2000, (
        f"300 more shared variables: {small} more lines for 40 processes, {large} for 400"
    )


def test_a_profile_changing_every_backend_merges_in_linear_work(tmp_path: Path) -> None:
    """A profile that gives every process another backend: the origins of the keys it drops
    are forgotten by walking the old values, not by scanning every origin recorded."""

    def generate_switch(n: int) -> Path:
        lines = ['[project]\nname = "switch"\ndefault_profile = "workers"\n']
        for i in range(n):
            lines += [
                f"[processes.proc{i}]",
                f'command = "python -c pass --n {i}"',
                f"port = {10000 + i}",
                'stop_timeout = "5s"',
            ]
        lines.append("[profiles.workers]")
        for i in range(n):
            lines += [f"[profiles.workers.processes.proc{i}]", 'backend = "rq-worker"']
        path = tmp_path / f"switch-{n}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    small = lines_resolving(generate_switch(40))
    large = lines_resolving(generate_switch(400))
    assert large / small < 13, f"40 processes: {small} lines, 400: {large} lines"


# -- the cyclic garbage collector --------------------------------------------------------------


def test_the_collector_does_not_walk_the_heap_while_a_file_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and resolving build a large tree of live objects, with next to no cycles: the
    collector is paused meanwhile (its passes found nothing and took a quarter of the time at
    10,000 processes), and runs again afterwards."""
    import gc

    from prodserver.config import resolve

    path = generate(tmp_path, 300)
    inside = False
    passes: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and inside:
            passes.append(info["generation"])

    def watched(step: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            nonlocal inside
            inside = True
            try:
                return step(*args, **kwargs)
            finally:
                inside = False

        return run

    # the file read and parsed, and the resolution: the two steps that build the tree
    monkeypatch.setattr(resolve, "read_source", watched(resolve.read_source))
    monkeypatch.setattr(resolve, "resolve_source", watched(resolve.resolve_source))
    gc.collect()
    gc.callbacks.append(note)
    try:
        project = resolve_project(file=path, environ={"PATH": "/usr/bin"})
    finally:
        gc.callbacks.remove(note)
    assert len(project.processes) == 300
    assert passes == [], f"the collector ran {len(passes)} times during the resolution"
    assert gc.isenabled()


def test_a_collector_paused_by_the_program_stays_paused(tmp_path: Path) -> None:
    import gc

    gc.disable()
    try:
        resolve_project(file=generate(tmp_path, 5), environ={"PATH": "/usr/bin"})
        assert not gc.isenabled()
    finally:
        gc.enable()
