"""Records and structural types that cost nothing to define, for what every ``up`` imports.

The resolved model (:mod:`prodserver.config.model`, :mod:`prodserver.template`) is read on
every ``up``, and a cached ``up`` does little else before its first child runs. As frozen
dataclasses its ten classes cost more to *define* than the rest of the start: importing
:mod:`dataclasses` brings :mod:`inspect`, :mod:`ast`, :mod:`dis` and :mod:`tokenize` with it,
and each frozen dataclass compiles six generated methods at import (together about 30 ms of a
cached start of ~120 ms; ``docs/performance.md``). They are namedtuples instead: immutable,
equal and hashable by value, pickled as their values, and defined by ``collections.namedtuple``
in a fraction of a millisecond each. They are declared as ``typing.NamedTuple`` classes are,
with this module's :data:`NamedTuple` as the base: the type checker sees ``typing``'s, the
interpreter gets one that neither imports :mod:`typing` (4.5 ms) nor compiles each string
annotation into a ``typing.ForwardRef``.

They stay dataclasses to every consumer that asks, so code written against frozen dataclasses
(``dataclasses.replace``, ``fields``, ``asdict``, ``is_dataclass``, ``FrozenInstanceError``)
keeps working unchanged. :func:`dataclass_view` gives a record class a
``__dataclass_fields__`` built on first use, from a real (throwaway) frozen dataclass with the
same fields and defaults, so :mod:`dataclasses` is imported only by a caller that uses it. The
package itself uses the records' own ``_replace`` and ``_fields``.

A record is a tuple: it indexes, iterates and compares equal to a plain tuple of the same
values. Nothing in prodserver relies on either; do not start to.
"""

from __future__ import annotations

from collections import namedtuple

#: ``typing`` is for the type checker only: importing it is about 4.5 ms of every start
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import Field
    from typing import Any, NamedTuple, NoReturn, Protocol, TypeVar

    R = TypeVar("R", bound=type)

__all__ = ["NamedTuple", "Protocol", "dataclass_view"]

#: what a record's class body may not define (its namedtuple's own)
_PROHIBITED = frozenset(
    {
        "__new__",
        "__init__",
        "__slots__",
        "__getnewargs__",
        "_fields",
        "_field_defaults",
        "_make",
        "_replace",
        "_asdict",
        "_source",
    }
)
#: class body entries that are the class's, not attributes to copy
_SPECIAL = frozenset({"__module__", "__name__", "__qualname__", "__annotations__", "__doc__"})


class _RecordMeta(type):
    """Makes ``class X(NamedTuple): a: int; b: str = ""`` a ``collections.namedtuple``.

    What :class:`typing.NamedTuple` does, without importing :mod:`typing` and without
    compiling each annotation into a ``typing.ForwardRef``: the annotations are kept as
    written (strings, under ``from __future__ import annotations``). Type checkers see
    ``typing.NamedTuple`` itself.
    """

    def __new__(mcls, typename: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        annotations: dict[str, Any] = ns.get("__annotations__", {})
        fields = list(annotations)
        defaults = []
        for name in fields:
            if name in ns:
                defaults.append(ns[name])
            elif defaults:
                raise TypeError(f"{typename}.{name} has no default but follows one that has")
        make: Any = namedtuple  # with names known only here (mypy wants literals)
        record = make(typename, fields, defaults=defaults, module=ns["__module__"])
        record.__annotations__ = dict(annotations)
        record.__qualname__ = ns.get("__qualname__", typename)
        if ns.get("__doc__"):
            record.__doc__ = ns["__doc__"]
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError(f"cannot overwrite the record's own {key}")
            if key not in _SPECIAL and key not in annotations:
                setattr(record, key, value)
        return record


if not TYPE_CHECKING:
    #: the base of a structural type (``class Clock(Protocol): ...``): ``typing.Protocol`` to
    #: the type checker, a plain class to the interpreter (nothing inherits from one or asks
    #: ``isinstance`` of one; they describe what the runtime's parts expect of each other)
    Protocol = object
    #: the base of a record class (``class X(NamedTuple): ...``)
    NamedTuple = type.__new__(_RecordMeta, "NamedTuple", (), {"__module__": __name__})


class _Fields:
    """``__dataclass_fields__`` of a record class, built on first access and then kept."""

    def __get__(self, obj: object, owner: type) -> dict[str, Field[Any]]:
        import dataclasses

        defaults: dict[str, Any] = getattr(owner, "_field_defaults", {})
        specs: list[tuple[str, Any, Field[Any]]] = []
        for name in getattr(owner, "_fields", ()):
            # as written (a string under `from __future__ import annotations`), as a dataclass
            annotation = owner.__annotations__.get(name, "Any")
            if name not in defaults:
                specs.append((name, annotation, dataclasses.field()))
                continue
            value = defaults[name]
            # a default dataclasses would call mutable (unhashable: a mapping proxy) is
            # shared by every instance in the record too; say so with a factory
            spec: Field[Any] = (
                dataclasses.field(default=value)
                if type(value).__hash__ is not None
                else dataclasses.field(default_factory=_always(value))
            )
            specs.append((name, annotation, spec))
        shadow = dataclasses.make_dataclass(owner.__name__, specs, frozen=True)
        fields: dict[str, Field[Any]] = getattr(shadow, "__dataclass_fields__")  # noqa: B009
        type.__setattr__(owner, "__dataclass_fields__", fields)
        type.__setattr__(owner, "__dataclass_params__", getattr(shadow, "__dataclass_params__"))  # noqa: B009
        return fields


def _always(value: Any) -> Callable[[], Any]:
    return lambda: value


def _no_assignment(self: object, name: str, value: object) -> NoReturn:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _no_deletion(self: object, name: str) -> NoReturn:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot delete field {name!r}")


def dataclass_view(cls: R) -> R:
    """Make the record class ``cls`` a frozen dataclass to :mod:`dataclasses` (lazily)."""
    type.__setattr__(cls, "__dataclass_fields__", _Fields())
    type.__setattr__(cls, "__setattr__", _no_assignment)
    type.__setattr__(cls, "__delattr__", _no_deletion)
    return cls
