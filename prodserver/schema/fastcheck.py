"""A JSON schema compiled once into a Python predicate: is this instance valid, yes or no.

Validation with ``jsonschema`` costs an import of about 75 ms at every start and, per
validated table, the building of an error-tracking validator for every sub-schema it descends
into: for a 10,000-process file that was most of ``check``'s time. Almost every table is valid,
and a valid table needs no error at all. So each schema is compiled here into nested closures
that answer only "valid?"; ``jsonschema`` is imported and run only for a table this says is
invalid, to produce the same messages as before (``prodserver.schema.validate``).

The compiler knows the Draft 2020-12 keywords prodserver's schemas use, with ``jsonschema``'s
semantics (an integer may be ``1.0``, ``true`` is not ``1`` in ``enum``, ``pattern`` searches,
keywords of one type ignore instances of another). A schema holding any other keyword raises
:class:`Unsupported` when compiled, and the caller then uses ``jsonschema`` for every instance:
this predicate may only ever say "valid" where ``jsonschema`` finds no error
(``tests/schema/test_fastcheck.py`` compares both on every schema and many instances).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from typing import Any

Check = Callable[[Any], bool]

#: keywords that never make an instance invalid
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",  # an annotation unless a format checker is given (prodserver gives none)
        "markdownDescription",
        "$defs",
        "definitions",
    }
)


_OBJECT_KEYWORDS = ("properties", "patternProperties", "additionalProperties")


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not implement."""


def compile_schema(schema: Mapping[str, Any] | bool) -> Check:
    """The predicate of ``schema`` (``$ref`` resolved against ``schema`` itself)."""
    return _Compiler(schema).compile(schema)


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: ``true`` is not ``1``, lists and tables compare deeply."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    try:
        return bool(one == two)
    except Exception:  # incomparable values are simply not equal
        return False


class _Compiler:
    def __init__(self, root: Mapping[str, Any] | bool) -> None:
        self.root = root
        self.done: dict[int, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema that is {type(schema).__name__}")
        key = id(schema)
        if key in self.done:
            return self.done[key]
        slot: list[Check] = []

        def pending(x: Any) -> bool:  # a recursive $ref reaches this schema before it is done
            return slot[0](x)

        self.done[key] = pending
        checks = self.keywords(schema)
        if not checks:
            check: Check = _always
        elif len(checks) == 1:
            check = checks[0]
        else:
            parts = tuple(checks)

            def check(x: Any) -> bool:
                return all(c(x) for c in parts)

        slot.append(check)
        self.done[key] = check
        return check

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r}")
        target: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")  # noqa: PLW2901
            if not isinstance(target, dict) or part not in target:
                raise Unsupported(f"$ref {ref!r}")
            target = target[part]
        return self.compile(target)

    def keywords(self, schema: Mapping[str, Any]) -> list[Check]:
        checks: list[Check] = []
        for keyword in schema:
            if keyword in _ANNOTATIONS or keyword in ("then", "else"):
                continue
            checks.append(self.keyword(keyword, schema[keyword], schema))
        return [c for c in checks if c is not _always]

    def keyword(self, keyword: str, value: Any, schema: Mapping[str, Any]) -> Check:
        simple = _SIMPLE.get(keyword)
        if simple is not None:
            return simple(value)
        if keyword == "items":
            if "prefixItems" in schema:
                raise Unsupported("prefixItems")
            return _each_item(self.compile(value))
        if keyword in _OBJECT_KEYWORDS:
            # one check for the three: the first of them present makes it
            first = next(
                k
                for k in ("properties", "patternProperties", "additionalProperties")
                if k in schema
            )
            return self.object(schema) if keyword == first else _always
        if keyword == "propertyNames":
            return _each_name(self.compile(value))
        if keyword in ("allOf", "anyOf", "oneOf"):
            return _combined(keyword, tuple(self.compile(s) for s in value))
        if keyword == "not":
            return _negated(self.compile(value))
        if keyword == "if":
            then = self.compile(schema.get("then", True))
            other = self.compile(schema.get("else", True))
            return _conditional(self.compile(value), then, other)
        if keyword == "$ref":
            return self.ref(value)  # a recursive one is the target's pending check
        raise Unsupported(keyword)

    def object(self, schema: Mapping[str, Any]) -> Check:
        """``properties``, ``patternProperties`` and ``additionalProperties`` together."""
        props = {k: self.compile(v) for k, v in (schema.get("properties") or {}).items()}
        patterns = [
            (re.compile(p).search, self.compile(v))
            for p, v in (schema.get("patternProperties") or {}).items()
        ]
        additional = self.compile(schema.get("additionalProperties", True))
        any_additional = additional is _always

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for key, value in x.items():
                known = props.get(key)
                matched = False
                if known is not None:
                    if not known(value):
                        return False
                    matched = True
                for search, sub in patterns:
                    if search(key) is not None:
                        matched = True
                        if not sub(value):
                            return False
                if not matched and not any_additional and not additional(value):
                    return False
            return True

        return check


def _type(value: Any) -> Check:
    names = value if isinstance(value, list) else [value]
    if any(n not in _TYPES for n in names):
        raise Unsupported(f"type {value!r}")
    tests = tuple(_TYPES[n] for n in names)
    if len(tests) == 1:
        return tests[0]
    return lambda x: any(f(x) for f in tests)


def _enum(value: Any) -> Check:
    choices = list(value)
    return lambda x: any(_equal(x, e) for e in choices)


def _const(value: Any) -> Check:
    return lambda x: _equal(x, value)


def _pattern(value: Any) -> Check:
    search = re.compile(value).search
    return lambda x: not isinstance(x, str) or search(x) is not None


def _size(kind: type[Sized], least: bool) -> Callable[[Any], Check]:
    def make(value: Any) -> Check:
        n = int(value)
        if least:
            return lambda x: not isinstance(x, kind) or len(x) >= n
        return lambda x: not isinstance(x, kind) or len(x) <= n

    return make


def _required(value: Any) -> Check:
    names = list(value)
    return lambda x: not isinstance(x, dict) or all(k in x for k in names)


def _unique_items(value: Any) -> Check:
    return _unique if value else _always


def _dependent_required(value: Any) -> Check:
    needs = {k: list(v) for k, v in value.items()}
    return lambda x: (
        not isinstance(x, dict) or all(all(r in x for r in needs[k]) for k in needs if k in x)
    )


def _each_item(item: Check) -> Check:
    return lambda x: not isinstance(x, list) or all(item(i) for i in x)


def _each_name(name: Check) -> Check:
    return lambda x: not isinstance(x, dict) or all(name(k) for k in x)


def _combined(keyword: str, parts: tuple[Check, ...]) -> Check:
    if keyword == "allOf":
        return lambda x: all(c(x) for c in parts)
    if keyword == "anyOf":
        return lambda x: any(c(x) for c in parts)
    return lambda x: sum(1 for c in parts if c(x)) == 1


def _negated(inner: Check) -> Check:
    return lambda x: not inner(x)


def _conditional(cond: Check, then: Check, other: Check) -> Check:
    return lambda x: then(x) if cond(x) else other(x)


def _bound(keyword: str, limit: Any) -> Check:
    if not _is_number(limit):
        raise Unsupported(f"{keyword} {limit!r}")
    if keyword == "minimum":
        return lambda x: not _is_number(x) or x >= limit
    if keyword == "maximum":
        return lambda x: not _is_number(x) or x <= limit
    if keyword == "exclusiveMinimum":
        return lambda x: not _is_number(x) or x > limit
    return lambda x: not _is_number(x) or x < limit


def _unique(x: Any) -> bool:
    if not isinstance(x, list):
        return True
    return all(not _equal(x[i], x[j]) for i in range(len(x)) for j in range(i + 1, len(x)))


#: keywords whose check depends on their value alone
_SIMPLE: dict[str, Callable[[Any], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minLength": _size(str, least=True),
    "maxLength": _size(str, least=False),
    "minItems": _size(list, least=True),
    "maxItems": _size(list, least=False),
    "minProperties": _size(dict, least=True),
    "maxProperties": _size(dict, least=False),
    "minimum": lambda v: _bound("minimum", v),
    "maximum": lambda v: _bound("maximum", v),
    "exclusiveMinimum": lambda v: _bound("exclusiveMinimum", v),
    "exclusiveMaximum": lambda v: _bound("exclusiveMaximum", v),
    "required": _required,
    "uniqueItems": _unique_items,
    "dependentRequired": _dependent_required,
}
