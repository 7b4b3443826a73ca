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
    from prodserver.backends.registry import BUILTINS, get_backend

    data = dict(source.data)
    defs = _base_schema()["$defs"]
    problems: list[Problem] = []
    if not _valid(("skeleton",), _skeleton_schema, data):
        skeleton = _skeleton_validator()
        for error in sorted(skeleton.iter_errors(data), key=_error_key):
            problems.extend(_render(error, defs, lambda p: p, source))
    tables = list(_process_tables(data))
    # every backend a process may have anywhere in the file, by process name
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
    known = {n: n not in unknown for names in named.values() for n in names}
    for prefix, table in tables:
        backend = table.get("backend")
        if isinstance(backend, str) and backend in unknown:
            error = unknown[backend]
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
        if isinstance(backend, str) and known.get(backend):
            candidates: tuple[str, ...] = (backend,)
        elif prefix[0] == "processes" and backend is None:
            candidates = ("command",)
        else:
            # an override that does not name its backend: whichever this process has elsewhere
            candidates = tuple(sorted(n for n in named.get(prefix[-1], ()) if known.get(n)))
            if not candidates:
                candidates = tuple(BUILTINS)
        if _valid(("process", *candidates), partial(_process_schema, candidates), table):
            continue
        validator = _process_validator(candidates)
        for error in sorted(validator.iter_errors(table), key=_error_key):
            problems.extend(_render(error, defs, partial(_prefixed, prefix), source))
    return unique_problems(problems)


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


def _render(
    error: Any,
    defs: Mapping[str, Any],
    locate: Callable[[KeyPath], KeyPath],
    source: RawSource,
) -> list[Problem]:
    path: KeyPath = tuple(str(p) for p in error.absolute_path)
    full = locate(path)
    validator = error.validator
    if validator in ("additionalProperties", "unevaluatedProperties"):
        instance = error.instance
        allowed = _allowed_keys(error.schema, instance, defs)
        if not allowed and validator == "unevaluatedProperties":
            allowed = sorted(error.schema.get("properties", {}))
        names = _unexpected_names(error.message, instance, allowed)
        out = []
        for name in names:
            hint = did_you_mean(name, allowed) or _known_hint(allowed)
            out.append(
                Problem(
                    codes.UNKNOWN_KEY,
                    f"unknown key {name!r}{_in(full)}",
                    source.location(locate((*path, name))),
                    hint,
                )
            )
        return out
    if validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        name = str(error.instance)
        from prodserver.config.keys import ENV_NAME_PATTERN, ENV_NAME_RULE, NAME_RULE

        rule = ENV_NAME_RULE if error.schema.get("pattern") == ENV_NAME_PATTERN else NAME_RULE
        return [
            Problem(
                codes.INVALID_NAME,
                f"invalid name {name!r}{_in(full)}: {rule}",
                source.location(locate((*path, name))),
            )
        ]
    if validator in ("anyOf", "oneOf") and error.context:
        alternatives = error.schema.get(validator, [])
        chosen = _alternative_for(alternatives, error.instance)
        if chosen is not None and _is_expression(alternatives[chosen]):
            # A string where a typed value belongs, and no ${VAR} in it: say what the key takes
            # (the schema is generated from the option's declaration), not which regex failed.
            typed = [alt for alt in alternatives if not _is_expression(alt)]
            return [_expected_typed(typed, error.instance, full, source)]
        if chosen is not None:
            inner = [e for e in error.context if e.relative_schema_path[0] == chosen]
            if inner:
                found: list[Problem] = []
                for sub in sorted(inner, key=_error_key):
                    found.extend(_render(sub, defs, locate, source))
                return found
        if validator == "oneOf" and all(set(a) == {"required", "not"} for a in alternatives):
            names = [a["required"][0] for a in alternatives]
            return [
                Problem(
                    codes.EXACTLY_ONE_KEY,
                    f"give exactly one of {', '.join(names)}{_in(full)}",
                    source.location(full),
                )
            ]
        from jsonschema.exceptions import best_match

        # The alternative meant is the one whose type matches the value: report why that
        # one failed (a range, an enum) rather than "expected a string".
        relevant = [e for e in error.context if e.validator not in ("type", "pattern", "const")]
        best = best_match(relevant) if relevant else None
        if best is not None and best.validator not in ("anyOf", "oneOf"):
            return _render(best, defs, locate, source)
        expected = _describe_alternatives(error.schema)
        return [
            Problem(
                codes.WRONG_TYPE,
                f"expected {expected}, found {_show(error.instance)}",
                source.location(full),
            )
        ]
    if validator == "not" and error.validator_value == {"pattern": "^-"}:
        return [
            Problem(
                codes.LEADING_DASH,
                f"{_show(error.instance)} starts with '-': it would be read as an option, "
                f"not as the value of {path[-1] if path else 'this key'}",
                source.location(full),
                "pass options through `args`, and give this key a value without a leading '-'",
            )
        ]
    if validator == "type":
        return [
            Problem(
                codes.WRONG_TYPE,
                f"expected {_type_name(error.validator_value)}, found {_show(error.instance)}",
                source.location(full),
            )
        ]
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = "at least" if "inimum" in validator else "at most"
        return [
            Problem(
                codes.OUT_OF_RANGE,
                f"{_show(error.instance)} is out of range: must be {word} {error.validator_value}",
                source.location(full),
            )
        ]
    if validator == "enum":
        choices = ", ".join(repr(c) for c in _canonical_choices(error.validator_value))
        suggestion: str | None = None
        if isinstance(error.instance, str):
            suggestion = did_you_mean(error.instance, [str(c) for c in error.validator_value])
        return [
            Problem(
                codes.NOT_A_CHOICE,
                f"{_show(error.instance)} is not one of {choices}",
                source.location(full),
                suggestion,
            )
        ]
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return [
            Problem(
                codes.MISSING_KEY,
                f"missing required key {name!r}{_in(full)}",
                source.location(full),
            )
            for name in missing or [str(error.message)]
        ]
    if validator == "const" and path and path[-1] == "backend":
        return []  # reported by the resolver with a suggestion
    if validator == "pattern":
        expected = _describe_alternatives({"anyOf": [error.schema]})
        return [
            Problem(
                codes.WRONG_TYPE,
                f"expected {expected}, found {_show(error.instance)}",
                source.location(full),
            )
        ]
    # never a schema's internals (regular expressions, $ref paths) in a user's message
    message = _SCHEMA_TEXT.sub("", str(error.message)).strip() or "invalid value"
    return [Problem(codes.SCHEMA_INVALID, f"{message}{_in(full)}", source.location(full))]


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
