"""Frozen records that cost nothing to define: the model's classes on every start path.

The resolved model (:mod:`prodserver.config.model`, :mod:`prodserver.template`) is read on
every ``up``, and a cached ``up`` does little else before its first child runs. As frozen
dataclasses its ten classes cost more to *define* than the rest of the start: importing
:mod:`dataclasses` brings :mod:`inspect`, :mod:`ast`, :mod:`dis` and :mod:`tokenize` with it,
and each frozen dataclass compiles six generated methods at import (together about 30 ms of a
cached start of ~120 ms; ``docs/performance.md``). They are :class:`typing.NamedTuple`
classes instead: immutable, equal and hashable by value, pickled as their values, and defined
by ``collections.namedtuple`` in a fraction of a millisecond each.

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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    from dataclasses import Field

R = TypeVar("R", bound=type)


class _Fields:
    """``__dataclass_fields__`` of a record class, built on first access and then kept."""

    def __get__(self, obj: object, owner: type) -> dict[str, Field[Any]]:
        import dataclasses

        defaults: dict[str, Any] = getattr(owner, "_field_defaults", {})
        specs: list[tuple[str, Any, Field[Any]]] = []
        for name in getattr(owner, "_fields", ()):
            annotation = owner.__annotations__.get(name, Any)
            # typing.NamedTuple keeps a string annotation as a ForwardRef; a dataclass keeps it
            annotation = getattr(annotation, "__forward_arg__", annotation)
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
