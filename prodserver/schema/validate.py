"""Validation against the JSON schema, every problem at once, each with its key path.

``validate_file`` checks the file's structure (every profile, not just the chosen one) with
the file schema; ``validate_process`` checks one resolved process, after substitution and
coercion, with the strict schema of its backend. Both turn jsonschema's errors into
:class:`~prodserver.errors.Problem` objects with a stable code, the key path, the file and line,
what was expected and found, and "did you mean" for unknown keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from prodserver import codes
from prodserver.backends.base import Backend
from prodserver.errors import ConfigError, Location, Problem, unique_problems
from prodserver.rawsource import KeyPath, RawSource
from prodserver.schema.build import DURATION_PATTERN, SIZE_PATTERN
from prodserver.schema.fastcheck import Check
from prodserver.suggest import did_you_mean

_UNEXPECTED = re.compile(r"'([^']+)' (?:was|were) unexpected|\('([^']+)'")


@cache
def _base_schema() -> dict[str, Any]:
    """The file schema without any backend's options (those are added per process below)."""
    from prodserver.schema.build import build_schema

    return build_schema({})


@cache
def _skeleton_schema() -> dict[str, Any]:
    """The file schema with process tables left open: they are checked one by one below."""
    schema = dict(_base_schema())
    schema["$defs"] = {
        **schema["$defs"],
        "process": {"type": "object"},
        "process_override": {"type": "object"},
    }
    return schema


@cache
def _skeleton_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_skeleton_schema())


@cache
def _backend_properties(name: str) -> dict[str, Any]:
    from prodserver.backends.registry import get_backend
    from prodserver.schema.build import options_properties

    return options_properties(get_backend(name).options)


@cache
def _process_schema(backends: tuple[str, ...]) -> dict[str, Any]:
    """A process table that may belong to one of ``backends`` (usually exactly one).

    Only the backends a file uses are loaded, and each table is checked against its own
    backend's options with plain ``additionalProperties``: much cheaper than letting one
    schema try every backend's ``if``/``then``.
    """
    base = _base_schema()
    defs = base["$defs"]
    properties = dict(defs["process"]["properties"])
    # names are checked by the registry, which suggests the closest one
    properties["backend"] = {"type": "string"}
    union: dict[str, list[Any]] = {}
    for name in backends:
        for option, schema in _backend_properties(name).items():
            union.setdefault(option, []).append(schema)
    for option, schemas in union.items():
        properties.setdefault(option, schemas[0] if len(schemas) == 1 else {"anyOf": schemas})
    body = {"type": "object", "properties": properties, "additionalProperties": False}
    return {"$schema": base["$schema"], "$defs": defs, **body}


@cache
def _process_validator(backends: tuple[str, ...]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_process_schema(backends))


def _strict_schema_of(backend: Backend) -> dict[str, Any]:
    from prodserver.schema.build import strict_process_schema

    return strict_process_schema(backend)


_strict_cache: dict[str, Any] = {}


def _strict_validator(backend: Backend) -> Any:
    validator = _strict_cache.get(backend.name)
    if validator is None:
        from jsonschema import Draft202012Validator

        from prodserver.schema.build import strict_process_schema

        validator = Draft202012Validator(strict_process_schema(backend))
        _strict_cache[backend.name] = validator
    return validator


_fast_checks: dict[tuple[str, ...], Check | None] = {}


def _fast_check(key: tuple[str, ...], schema: Callable[[], Mapping[str, Any]]) -> Check | None:
    """``schema`` compiled into a yes/no predicate (fastcheck.py), once; None if it cannot be.

    A table the predicate finds valid has no error, so jsonschema (its import and its
    error-tracking descent) runs only for the tables that have one, to say what is wrong.
    """
    if key not in _fast_checks:
        from prodserver.schema.fastcheck import Unsupported, compile_schema

        try:
            _fast_checks[key] = compile_schema(schema())
        except Unsupported:
            _fast_checks[key] = None
    return _fast_checks[key]


def _valid(key: tuple[str, ...], schema: Callable[[], Mapping[str, Any]], instance: Any) -> bool:
    check = _fast_check(key, schema)
    return check is not None and check(instance)


def validate_file(source: RawSource) -> None:
    """Raise one ConfigError listing every structural problem of the file."""
    problems = file_problems(source)
    if problems:
        raise ConfigError(
            f"the configuration in {source.path} is not valid",
            problems=problems,
            location=Location(source.path),
        )


def file_problems(source: RawSource) -> list[Problem]:
    """Every structural problem of the file (all profiles), in file order."""
    data = dict(source.data)
    defs = _base_schema()["$defs"]
    problems: list[Problem] = []
    if not _valid(("skeleton",), _skeleton_schema, data):
        skeleton = _skeleton_validator()
        for error in sorted(skeleton.iter_errors(data), key=_error_key):
            problems.extend(_render(error, defs, lambda p: p, source))
    tables = list(_process_tables(data))
    backends = _FileBackends.of(tables)
    for prefix, table in tables:
        backend = table.get("backend")
        if isinstance(backend, str) and backend in backends.unknown:
            error = backends.unknown[backend]
            problems.append(
                Problem(
                    codes.UNKNOWN_BACKEND,
                    error.message,
                    source.location((*prefix, "backend")),
                    error.hint,
                )
            )
            # one root cause, one error: the other keys belong to a backend we do not know
            continue
        candidates = backends.candidates(prefix, backend)
        if _valid(("process", *candidates), partial(_process_schema, candidates), table):
            continue
        validator = _process_validator(candidates)
        for error in sorted(validator.iter_errors(table), key=_error_key):
            problems.extend(_render(error, defs, partial(_prefixed, prefix), source))
    return unique_problems(problems)


@dataclass(frozen=True)
class _FileBackends:
    """Which backends each process names anywhere in the file, and which of them we know."""

    named: dict[str, set[str]]
    unknown: dict[str, ConfigError]
    #: the built-in backends: what an override naming none may be checked against
    builtins: tuple[str, ...]

    @classmethod
    def of(cls, tables: list[tuple[KeyPath, dict[str, Any]]]) -> _FileBackends:
        from prodserver.backends.registry import BUILTINS, get_backend

        named: dict[str, set[str]] = {}
        for prefix, table in tables:
            backend = table.get("backend", "command" if prefix[0] == "processes" else None)
            if isinstance(backend, str):
                named.setdefault(prefix[-1], set()).add(backend)
        unknown: dict[str, ConfigError] = {}
        for name in set().union(*named.values()) if named else ():
            try:
                get_backend(name)
            except ConfigError as exc:
                unknown[name] = exc
        return cls(named, unknown, tuple(BUILTINS))

    def candidates(self, prefix: KeyPath, backend: Any) -> tuple[str, ...]:
        """The backends whose schema a process table is checked against."""
        if isinstance(backend, str) and backend not in self.unknown:
            return (backend,)
        if prefix[0] == "processes" and backend is None:
            return ("command",)
        # an override that does not name its backend: whichever this process has elsewhere
        known = sorted(n for n in self.named.get(prefix[-1], ()) if n not in self.unknown)
        return tuple(known) or self.builtins


def _process_tables(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    root = data.get("processes")
    for name, table in (root if isinstance(root, dict) else {}).items():
        if isinstance(table, dict):
            yield ("processes", name), table
    profiles = data.get("profiles")
    for pname, profile in (profiles if isinstance(profiles, dict) else {}).items():
        overrides = profile.get("processes") if isinstance(profile, dict) else None
        for name, table in (overrides if isinstance(overrides, dict) else {}).items():
            if isinstance(table, dict):
                yield ("profiles", pname, "processes", name), table


def _prefixed(prefix: KeyPath, path: KeyPath) -> KeyPath:
    return (*prefix, *path)


def validate_process(
    values: Mapping[str, Any],
    backend: Backend,
    source: RawSource,
    where: Callable[..., KeyPath],
) -> list[Problem]:
    """Problems of one resolved process (values already coerced)."""
    data = {"backend": backend.name, **values}
    if _valid(("strict", backend.name), partial(_strict_schema_of, backend), data):
        return []
    validator = _strict_validator(backend)
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(data), key=_error_key):
        problems.extend(
            _render(
                error,
                validator.schema.get("$defs", {}),
                lambda p: where(*p) if p else where(),
                source,
            )
        )
    return unique_problems(problems)


def _error_key(error: Any) -> tuple[str, ...]:
    return tuple(str(p) for p in error.absolute_path)


def _then_properties(then: Mapping[str, Any], defs: Mapping[str, Any]) -> set[str]:
    names: set[str] = set(then.get("properties", {}))
    ref = then.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        names.update(defs.get(ref[len("#/$defs/") :], {}).get("properties", {}))
    for alt in then.get("anyOf", []):
        names.update(_then_properties(alt, defs))
    return names


def _allowed_keys(schema: Mapping[str, Any], instance: Any, defs: Mapping[str, Any]) -> list[str]:
    """Names a table may have, for "did you mean" (best effort over our schema's shapes)."""
    names: set[str] = set(schema.get("properties", {}))
    if not isinstance(instance, dict):
        return sorted(names)
    for part in schema.get("allOf", []):
        if "if" not in part:
            names.update(_then_properties(part, defs))
            continue
        cond = part.get("if", {})
        backend = cond.get("properties", {}).get("backend", {}).get("const")
        if (backend is not None and instance.get("backend") == backend) or (
            backend is None and "backend" not in instance
        ):
            names.update(_then_properties(part.get("then", {}), defs))
    return sorted(names)


@dataclass(frozen=True)
class _Site:
    """Where one jsonschema error sits: its path in the instance, its path in the file, and how
    to turn a path under it into a file location."""

    path: KeyPath
    full: KeyPath
    locate: Callable[[KeyPath], KeyPath]
    defs: Mapping[str, Any]
    source: RawSource

    def here(self) -> Location:
        return self.source.location(self.full)

    def below(self, name: str) -> Location:
        return self.source.location(self.locate((*self.path, name)))


_Renderer = Callable[[Any, _Site], list[Problem]]


def _render(
    error: Any,
    defs: Mapping[str, Any],
    locate: Callable[[KeyPath], KeyPath],
    source: RawSource,
) -> list[Problem]:
    path: KeyPath = tuple(str(p) for p in error.absolute_path)
    site = _Site(path, locate(path), locate, defs, source)
    return _renderer_for(error, path)(error, site)


def _renderer_for(error: Any, path: KeyPath) -> _Renderer:
    validator = error.validator
    if validator in ("additionalProperties", "unevaluatedProperties"):
        return _unknown_keys
    if validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        return _invalid_name
    if validator in ("anyOf", "oneOf") and error.context:
        return _alternatives
    if validator == "not" and error.validator_value == {"pattern": "^-"}:
        return _leading_dash
    if validator == "const" and path and path[-1] == "backend":
        return _nothing  # reported by the resolver with a suggestion
    return _BY_VALIDATOR.get(validator, _schema_message)


def _unknown_keys(error: Any, site: _Site) -> list[Problem]:
    instance = error.instance
    allowed = _allowed_keys(error.schema, instance, site.defs)
    if not allowed and error.validator == "unevaluatedProperties":
        allowed = sorted(error.schema.get("properties", {}))
    return [
        Problem(
            codes.UNKNOWN_KEY,
            f"unknown key {name!r}{_in(site.full)}",
            site.below(name),
            did_you_mean(name, allowed) or _known_hint(allowed),
        )
        for name in _unexpected_names(error.message, instance, allowed)
    ]


def _invalid_name(error: Any, site: _Site) -> list[Problem]:
    from prodserver.declarations.keys import ENV_NAME_PATTERN, ENV_NAME_RULE, NAME_RULE

    name = str(error.instance)
    rule = ENV_NAME_RULE if error.schema.get("pattern") == ENV_NAME_PATTERN else NAME_RULE
    return [
        Problem(
            codes.INVALID_NAME, f"invalid name {name!r}{_in(site.full)}: {rule}", site.below(name)
        )
    ]


def _alternatives(error: Any, site: _Site) -> list[Problem]:
    validator = error.validator
    alternatives = error.schema.get(validator, [])
    chosen = _alternative_for(alternatives, error.instance)
    if chosen is not None and _is_expression(alternatives[chosen]):
        # A string where a typed value belongs, and no ${VAR} in it: say what the key takes
        # (the schema is generated from the option's declaration), not which regex failed.
        typed = [alt for alt in alternatives if not _is_expression(alt)]
        return [_expected_typed(typed, error.instance, site.full, site.source)]
    if chosen is not None:
        inner = [e for e in error.context if e.relative_schema_path[0] == chosen]
        if inner:
            return [p for sub in sorted(inner, key=_error_key) for p in _render_at(sub, site)]
    if validator == "oneOf" and all(set(a) == {"required", "not"} for a in alternatives):
        names = [a["required"][0] for a in alternatives]
        return [
            Problem(
                codes.EXACTLY_ONE_KEY,
                f"give exactly one of {', '.join(names)}{_in(site.full)}",
                site.here(),
            )
        ]
    from jsonschema.exceptions import best_match

    # The alternative meant is the one whose type matches the value: report why that
    # one failed (a range, an enum) rather than "expected a string".
    relevant = [e for e in error.context if e.validator not in ("type", "pattern", "const")]
    best = best_match(relevant) if relevant else None
    if best is not None and best.validator not in ("anyOf", "oneOf"):
        return _render_at(best, site)
    expected = _describe_alternatives(error.schema)
    return [
        Problem(
            codes.WRONG_TYPE, f"expected {expected}, found {_show(error.instance)}", site.here()
        )
    ]


def _render_at(error: Any, site: _Site) -> list[Problem]:
    return _render(error, site.defs, site.locate, site.source)


def _leading_dash(error: Any, site: _Site) -> list[Problem]:
    return [
        Problem(
            codes.LEADING_DASH,
            f"{_show(error.instance)} starts with '-': it would be read as an option, "
            f"not as the value of {site.path[-1] if site.path else 'this key'}",
            site.here(),
            "pass options through `args`, and give this key a value without a leading '-'",
        )
    ]


def _nothing(error: Any, site: _Site) -> list[Problem]:
    return []


def _wrong_type(error: Any, site: _Site) -> list[Problem]:
    return [
        Problem(
            codes.WRONG_TYPE,
            f"expected {_type_name(error.validator_value)}, found {_show(error.instance)}",
            site.here(),
        )
    ]


def _out_of_range(error: Any, site: _Site) -> list[Problem]:
    word = "at least" if "inimum" in error.validator else "at most"
    return [
        Problem(
            codes.OUT_OF_RANGE,
            f"{_show(error.instance)} is out of range: must be {word} {error.validator_value}",
            site.here(),
        )
    ]


def _not_a_choice(error: Any, site: _Site) -> list[Problem]:
    choices = ", ".join(repr(c) for c in _canonical_choices(error.validator_value))
    suggestion: str | None = None
    if isinstance(error.instance, str):
        suggestion = did_you_mean(error.instance, [str(c) for c in error.validator_value])
    return [
        Problem(
            codes.NOT_A_CHOICE,
            f"{_show(error.instance)} is not one of {choices}",
            site.here(),
            suggestion,
        )
    ]


def _missing_keys(error: Any, site: _Site) -> list[Problem]:
    missing = re.findall(r"'([^']+)' is a required property", error.message)
    return [
        Problem(codes.MISSING_KEY, f"missing required key {name!r}{_in(site.full)}", site.here())
        for name in missing or [str(error.message)]
    ]


def _pattern_mismatch(error: Any, site: _Site) -> list[Problem]:
    expected = _describe_alternatives({"anyOf": [error.schema]})
    return [
        Problem(
            codes.WRONG_TYPE, f"expected {expected}, found {_show(error.instance)}", site.here()
        )
    ]


def _schema_message(error: Any, site: _Site) -> list[Problem]:
    # never a schema's internals (regular expressions, $ref paths) in a user's message
    message = _SCHEMA_TEXT.sub("", str(error.message)).strip() or "invalid value"
    return [Problem(codes.SCHEMA_INVALID, f"{message}{_in(site.full)}", site.here())]


_BY_VALIDATOR: dict[str, _Renderer] = {
    "type": _wrong_type,
    "minimum": _out_of_range,
    "maximum": _out_of_range,
    "exclusiveMinimum": _out_of_range,
    "exclusiveMaximum": _out_of_range,
    "enum": _not_a_choice,
    "required": _missing_keys,
    "pattern": _pattern_mismatch,
}


_SCHEMA_TEXT = re.compile(r"\s*(does not match|is not valid under any of the given schemas).*$")


def _is_expression(alternative: Mapping[str, Any]) -> bool:
    """The file schema's "or a ${VAR} expression" alternative of a typed option."""
    return alternative.get("type") == "string" and alternative.get("pattern") == r"\$"


def _canonical_choices(choices: list[Any]) -> list[Any]:
    """An enum the schema spells in several cases (``info``, ``INFO``, ``Info``) shown once."""
    texts = [c for c in choices if isinstance(c, str)]
    folded = {c.lower() for c in texts}
    if len(folded) < len(texts) and all(c.lower() in texts for c in texts):
        return [c for c in choices if not isinstance(c, str) or c == c.lower()]
    return list(choices)


def _enums(alternatives: Iterable[Mapping[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for alt in alternatives:
        out.extend(alt.get("enum", []))
        out.extend(_enums(alt.get("anyOf", [])))
    return out


def _expected_typed(
    typed: list[Mapping[str, Any]], instance: Any, full: KeyPath, source: RawSource
) -> Problem:
    """``workers = "two"``: expected an integer; ``loglevel = "loud"``: one of the choices."""
    location = source.location(full)
    choices = _enums(typed)
    if choices:
        shown = [str(c) for c in _canonical_choices(choices)]
        return Problem(
            codes.NOT_A_CHOICE,
            f"{_show(instance)} is not one of {', '.join(repr(c) for c in shown)}",
            location,
            did_you_mean(str(instance).lower(), shown),
        )
    expected = _describe_alternatives({"anyOf": typed})
    return Problem(
        codes.WRONG_TYPE,
        f"expected {expected}, found {_show(instance)}",
        location,
        'or write a ${VAR} expression, e.g. "${VAR:-default}"',
    )


_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _alternative_for(alternatives: list[Any], instance: Any) -> int | None:
    """The one alternative of an anyOf/oneOf meant for a value of this type, if exactly one."""
    matches = []
    for index, alt in enumerate(alternatives):
        declared = alt.get("type")
        types = declared if isinstance(declared, list) else [declared] if declared else []
        if "const" in alt or "enum" in alt or not types:
            continue
        for name in types:
            py = _JSON_TYPES.get(name)
            if (
                py is not None
                and isinstance(instance, py)
                and not (py is not bool and isinstance(instance, bool))
            ):
                matches.append(index)
                break
    return matches[0] if len(matches) == 1 else None


def _unexpected_names(message: str, instance: Any, allowed: list[str]) -> list[str]:
    if isinstance(instance, dict):
        return [k for k in instance if k not in allowed]
    return [m.group(1) or m.group(2) for m in _UNEXPECTED.finditer(message)]


def _known_hint(allowed: list[str]) -> str | None:
    if not allowed:
        return None
    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return f"known keys: {shown}"


def _in(path: KeyPath) -> str:
    return f" in {'.'.join(path)}" if path else ""


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    names = {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean",
        "array": "an array",
        "object": "a table",
    }
    if isinstance(value, list):
        return " or ".join(names.get(str(v), str(v)) for v in value)
    return names.get(value, str(value))


def _toml_literal(value: Any) -> str:
    """A value as the user writes it in prodserver.toml (``false``, not ``False``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _range(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" (at least {low:g})"
    if high is not None:
        return f" (at most {high:g})"
    return ""


def _describe_alternatives(schema: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for alt in schema.get("anyOf", schema.get("oneOf", [])):
        if "$ref" in alt:
            ref = alt["$ref"].rsplit("/", 1)[-1]
            parts.append({"duration": 'a duration ("10s")', "integer": "an integer"}.get(ref, ref))
        elif alt.get("pattern") == DURATION_PATTERN:
            parts.append('a duration such as "10s", "500ms" or "2m"')
        elif alt.get("pattern") == SIZE_PATTERN:
            parts.append('a size such as "512MB" or "1GiB"')
        elif "type" in alt:
            if alt.get("pattern") == r"\$":
                parts.append("a ${VAR} expression")
            elif alt.get("pattern"):
                parts.append(_type_name(alt["type"]) + " in the documented form")
            else:
                parts.append(_type_name(alt["type"]) + _range(alt))
        elif "enum" in alt:
            parts.append("one of " + ", ".join(repr(c) for c in alt["enum"]))
        elif "const" in alt:
            parts.append(_toml_literal(alt["const"]))
        elif "anyOf" in alt:
            parts.append(_describe_alternatives(alt))
    return " or ".join(dict.fromkeys(parts)) or "a different value"
