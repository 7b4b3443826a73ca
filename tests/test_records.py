"""The model's records (prodserver/records.py): NamedTuples that stay frozen dataclasses to
every caller that treats them as such (issue 17: defining ten dataclasses and importing
`dataclasses` was about a quarter of a cached `up`)."""

from __future__ import annotations

import dataclasses
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from prodserver.config import model
from prodserver.records import dataclass_view
from prodserver.template import Ref, Template

RECORDS = [
    model.HealthCheck,
    model.RestartPolicy,
    model.Dependency,
    model.Instance,
    model.ProcessSpec,
    model.ExportSettings,
    model.DeploySettings,
    model.ResolvedProject,
    Template,
    Ref,
]


def spec(**changes):
    values = {
        "name": "web",
        "backend": "command",
        "position": 0,
        "options": model.EMPTY,
        "argv": ("serve",),
        "shell": False,
        "cwd": Path("/srv"),
        "env": model.frozen_map({"A": "1"}),
        "scale": 1,
        "instances": (),
        "listens": True,
    }
    return model.ProcessSpec(**{**values, **changes})


def in_a_fresh_interpreter(code: str) -> str:
    """What ``code`` prints when run by a new interpreter (which imported nothing yet)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_record_is_a_frozen_dataclass_to_dataclasses(cls):
    assert dataclasses.is_dataclass(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == list(cls._fields)
    for f in dataclasses.fields(cls):
        if f.name in cls._field_defaults:
            default = (
                f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            )
            assert default is cls._field_defaults[f.name]
        else:
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        assert f.type == cls.__annotations__[f.name]  # as written, as on a dataclass


def test_replace_fields_and_asdict_work_as_on_the_dataclasses():
    web = spec(healthcheck=model.HealthCheck("tcp", "127.0.0.1:80"))
    changed = dataclasses.replace(web, scale=3, stop_signal=signal.SIGINT)
    assert type(changed) is model.ProcessSpec
    assert (changed.scale, changed.stop_signal, changed.name) == (3, signal.SIGINT, "web")
    assert web.scale == 1  # the original is untouched
    assert changed == web._replace(scale=3, stop_signal=signal.SIGINT)
    # (asdict of a whole spec never worked: it deep-copies, and a mapping proxy cannot be)
    check = dataclasses.asdict(model.HealthCheck("cmd", ("true",), template=(Template.of("x"),)))
    assert check["target"] == ("true",) and check["template"] == ({"pieces": ("x",)},)
    with pytest.raises(TypeError):
        dataclasses.replace(web, no_such_field=1)


def test_records_are_frozen_like_frozen_dataclasses():
    web = spec()
    with pytest.raises(dataclasses.FrozenInstanceError, match="'scale'"):
        web.scale = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        web.anything_else = 2  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
        del web.name  # type: ignore[misc]
    assert web.scale == 1


def test_records_compare_hash_and_pickle_by_value():
    a = Template.of("http://", Ref("HOST"), ":", Ref("PORT", ":-", ("80",)))
    b = Template.of("http://", Ref("HOST"), ":", Ref("PORT", ":-", ("80",)))
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != Template.of("http://", Ref("HOST"))
    assert {a: 1}[b] == 1
    check = model.HealthCheck("http", "http://h/", template=(a,))
    again = pickle.loads(pickle.dumps(check))
    assert again == check and type(again) is model.HealthCheck and again.template[0] == b
    assert repr(model.Dependency("db")) == "Dependency(name='db', condition='started')"


def test_a_default_shared_by_every_instance_is_immutable():
    # what a dataclass would have needed default_factory for is one immutable value here
    assert spec().labels is spec().labels is model.EMPTY
    with pytest.raises(TypeError):
        spec().labels["x"] = "y"  # type: ignore[index]
    assert spec().restart is spec().restart
    assert model.ResolvedProject.__new__.__defaults__ is not None


def test_the_dataclass_view_is_built_only_when_asked_for():
    code = (
        "import sys\n"
        "from prodserver.config import model\n"
        "assert 'dataclasses' not in sys.modules, 'imported with the model'\n"
        "import dataclasses\n"
        "print(len(dataclasses.fields(model.ProcessSpec)))\n"
    )
    assert int(in_a_fresh_interpreter(code)) == len(model.ProcessSpec._fields)


def test_dataclass_view_on_a_new_record():
    from typing import NamedTuple

    @dataclass_view
    class Point(NamedTuple):
        x: int
        y: int = 0

    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y"]
    assert dataclasses.replace(Point(1), y=5) == Point(1, 5)


def test_a_record_class_is_a_namedtuple_made_without_typing():
    code = (
        "import sys\n"
        "from prodserver.config import model\n"
        "from prodserver import codes, template\n"
        "assert 'typing' not in sys.modules, 'typing imported with the model'\n"
        "print(model.ProcessSpec.__annotations__['kill_mode'])\n"
    )
    # as written: nothing compiled or evaluated
    assert in_a_fresh_interpreter(code).strip() == "KillMode"


def test_record_classes_behave_as_typing_namedtuples():
    from prodserver.records import NamedTuple

    class Point(NamedTuple):
        """A point."""

        x: int
        y: int = 0

        @property
        def norm1(self) -> int:
            return abs(self.x) + abs(self.y)

        def moved(self, dx: int) -> Point:
            return self._replace(x=self.x + dx)

    p = Point(3, -4)
    assert isinstance(p, tuple) and p == (3, -4) and Point(1) == Point(1, 0)
    assert (p.norm1, p.moved(1), Point._fields, Point._field_defaults) == (
        7,
        Point(4, -4),
        ("x", "y"),
        {"y": 0},
    )
    assert Point.__doc__ == "A point." and Point.__annotations__ == {"x": "int", "y": "int"}
    assert Point.__qualname__.endswith("<locals>.Point") and Point.__module__ == __name__
    assert pickle.loads(pickle.dumps(Ref("X", ":-", ("d",)))) == Ref("X", ":-", ("d",))
    with pytest.raises(TypeError, match=r"Bad\.b has no default"):

        class Bad(NamedTuple):
            a: int = 0
            b: int

    with pytest.raises(AttributeError, match="_replace"):

        class Worse(NamedTuple):
            a: int

            def _replace(self) -> None: ...
