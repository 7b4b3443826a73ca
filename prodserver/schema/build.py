"""The JSON schema of ``prodserver.toml``, generated from the option declarations.

Two flavours come from the same declarations:

* the *file* schema (``schema/prodserver.schema.json``, what editors use): a value may also be a
  string holding a ``$VAR`` expression wherever a number, boolean or duration is expected,
  because substitution happens later;
* the *strict* schema of one resolved process (after substitution and coercion), which the
  resolver validates every process against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prodserver.backends.base import Backend
from prodserver.options import Option

SCHEMA_ID = "https://prodserver.dev/schema/prodserver.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$|^\s*\d+(\.\d+)?\s*$"
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$"

_INTERPOLATED = {"type": "string", "pattern": r"\$", "description": "a ${VAR} expression"}


def _string(opt: Option, strict: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if opt.pattern:
        schema["pattern"] = opt.pattern
    if opt.positional:
        # a positional argument that starts with "-" would be read as an option
        schema["not"] = {"pattern": "^-"}
    return schema


def _numeric(opt: Option, strict: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": opt.type}
    if opt.minimum is not None:
        schema["minimum"] = opt.minimum
    if opt.maximum is not None:
        schema["maximum"] = opt.maximum
    return schema


def _duration(opt: Option, strict: bool) -> dict[str, Any]:
    seconds = {"type": "number", "minimum": 0}
    if strict:
        return seconds
    return {"anyOf": [seconds, {"type": "string", "pattern": DURATION_PATTERN}]}


def _size(opt: Option, strict: bool) -> dict[str, Any]:
    size = {"type": "integer", "minimum": 0}
    if strict:
        return size
    return {"anyOf": [size, {"type": "string", "pattern": SIZE_PATTERN}]}


def _list(opt: Option, strict: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "string"}
    if opt.pattern:
        item["pattern"] = opt.pattern
    schema: dict[str, Any] = {"type": "array", "items": item}
    return schema if strict else {"anyOf": [schema, {"type": "string"}]}


def _argv(opt: Option, strict: bool) -> dict[str, Any]:
    # strict: split into words already, except a `shell = true` command (one script)
    words: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if opt.required:
        words["minItems"] = 1
    return {"anyOf": [{"type": "string"}, words]}


def _enum(opt: Option, strict: bool) -> dict[str, Any]:
    choices = list(opt.choices)
    if opt.ignore_case and not strict:
        # JSON schema has no case-insensitive enum: the spellings people write
        variants = (str.lower, str.upper, str.capitalize)
        choices = list(dict.fromkeys(f(str(c)) for c in opt.choices for f in variants))
    return {"enum": choices}


#: the JSON schema of each option type, before an option's own schema and interpolation
_BY_TYPE: dict[str, Callable[[Option, bool], dict[str, Any]]] = {
    "string": _string,
    "integer": _numeric,
    "number": _numeric,
    "boolean": lambda opt, strict: {"type": "boolean"},
    "duration": _duration,
    "size": _size,
    "list": _list,
    "argv": _argv,
    "enum": _enum,
    "table": lambda opt, strict: {"type": "object"},
}


def _base_type(opt: Option, *, strict: bool) -> dict[str, Any]:
    t = opt.type
    if t not in _BY_TYPE:  # pragma: no cover - guarded by the OptionType literal
        raise ValueError(f"unknown option type {t!r}")
    schema = _BY_TYPE[t](opt, strict)
    if opt.schema is not None and not (strict and t in ("argv", "list")):
        schema = dict(opt.schema)
    if not strict and t in ("integer", "number", "boolean", "duration", "size", "enum"):
        schema = {"anyOf": [schema, dict(_INTERPOLATED)]}
    return schema


def option_schema(opt: Option, *, strict: bool = False) -> dict[str, Any]:
    """The JSON schema of one option's value."""
    schema = _base_type(opt, strict=strict)
    schema["description"] = opt.doc
    if opt.default is not None and not isinstance(opt.default, (list, dict)):
        schema["default"] = opt.default
    if opt.examples:
        schema["examples"] = list(opt.examples)
    return schema


def options_properties(options: Iterable[Option], *, strict: bool = False) -> dict[str, Any]:
    return {opt.name: option_schema(opt, strict=strict) for opt in options}


def process_schema(backend: Backend, common: Iterable[Option], *, strict: bool) -> dict[str, Any]:
    """The schema of a process using ``backend`` (common keys + its options)."""
    props = options_properties(common, strict=strict)
    props.update(options_properties(backend.options, strict=strict))
    props["backend"] = {"const": backend.name, "description": "Which server or worker runs this."}
    required = [o.name for o in backend.options if o.required]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def build_schema(backends: Mapping[str, Backend] | None = None) -> dict[str, Any]:
    """The file schema. ``backends`` defaults to the built-ins (what is committed)."""
    from prodserver.backends.registry import BUILTINS, get_backend
    from prodserver.declarations.keys import (
        COMMON_OPTIONS,
        ENV_NAME_PATTERN,
        NAME_PATTERN,
        PROFILE_KEYS,
        PROJECT_KEYS,
    )

    if backends is None:
        backends = {name: get_backend(name) for name in BUILTINS}
    names = list(backends)
    common = [o for o in COMMON_OPTIONS if o.name != "backend"]

    # A process table is a common part plus, selected by `backend`, that backend's options.
    # Each backend's options are written once, under $defs, and referenced.
    common_props = options_properties(common)
    backend_defs = {
        f"backend.{name}": {"properties": options_properties(backend.options)}
        for name, backend in backends.items()
    }
    selectors: list[dict[str, Any]] = [
        {
            "if": {"properties": {"backend": {"const": name}}, "required": ["backend"]},
            "then": {"$ref": f"#/$defs/backend.{name}"},
        }
        for name in backends
    ]
    # Only registered backends are valid: `prodserver schema --with-plugins` adds plugins.
    backend_prop = {
        "description": "Which server or worker runs this process (default: command).",
        "enum": names,
    }

    def process_def(*, root: bool) -> dict[str, Any]:
        props = {"backend": backend_prop, **common_props}
        extra: list[dict[str, Any]] = list(selectors)
        if root:
            if "command" in backends:
                extra.append(
                    {
                        "if": {"not": {"required": ["backend"]}},
                        "then": {"$ref": "#/$defs/backend.command"},
                    }
                )
        else:
            # an override in a profile may change any backend's option without naming it
            extra.append(
                {
                    "if": {"not": {"required": ["backend"]}},
                    "then": {"anyOf": [{"$ref": f"#/$defs/backend.{n}"} for n in backends]},
                }
            )
        return {
            "type": "object",
            "properties": props,
            "allOf": extra,
            "unevaluatedProperties": False,
        }

    project = {
        "type": "object",
        "description": "Project-wide settings.",
        "properties": options_properties(PROJECT_KEYS),
        "additionalProperties": False,
    }
    profile_props = options_properties(PROFILE_KEYS)
    profile_props["export"] = {"$ref": "#/$defs/export"}
    profile_props["processes"] = {
        "type": "object",
        "description": "Overrides and additions for this profile.",
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": {"$ref": "#/$defs/process_override"},
    }
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "prodserver.toml",
        "description": "Every process a Python or Django app runs, per environment profile.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "project": project,
            "env": {
                "description": "Environment for every process of every profile.",
                "type": "object",
                "propertyNames": {"pattern": ENV_NAME_PATTERN},
                "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
            },
            "export": {"$ref": "#/$defs/export"},
            "processes": {
                "type": "object",
                "description": "The processes; every profile inherits them.",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/process"},
            },
            "profiles": {
                "type": "object",
                "description": "Environment profiles (dev, staging, prod, ...).",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "object",
                    "properties": profile_props,
                    "additionalProperties": False,
                },
            },
        },
        "$defs": {
            "duration": {
                "description": 'A duration: "500ms", "10s", "2m", "1h" or a number of seconds.',
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": DURATION_PATTERN},
                    _INTERPOLATED,
                ],
            },
            "integer": {"anyOf": [{"type": "integer"}, _INTERPOLATED]},
            "process": process_def(root=True),
            "process_override": process_def(root=False),
            **backend_defs,
            **export_schema_defs(),
        },
    }


def strict_process_schema(backend: Backend) -> dict[str, Any]:
    """The schema one resolved process (after substitution and coercion) must satisfy."""
    from prodserver.declarations.keys import COMMON_OPTIONS

    schema = process_schema(
        backend, [o for o in COMMON_OPTIONS if o.name != "backend"], strict=True
    )
    schema["$defs"] = {
        "duration": {"type": "number", "minimum": 0},
        "integer": {"type": "integer"},
    }
    return schema


def render_schema(schema: Mapping[str, Any]) -> str:
    import json

    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def export_schema_defs() -> dict[str, Any]:
    """The JSON schema ``$defs`` of an ``[export]`` table: ``#/$defs/export`` is the table (in
    the file's root or a profile), the others its per-format tables."""
    from prodserver.declarations.export import COMPOSE_KEYS, EXPORT_KEYS, FORMATS

    common = options_properties(EXPORT_KEYS, strict=True)
    compose = options_properties(COMPOSE_KEYS, strict=True)

    def table(description: str, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "description": description,
            "properties": props,
            "additionalProperties": False,
        }

    formats = {fmt: {"$ref": f"#/$defs/export.{fmt}"} for fmt in FORMATS}
    defs = {
        "export": table(
            "Deployment settings: what differs between this machine and the target.",
            {**common, **compose, **formats},
        )
    }
    for fmt in FORMATS:
        props = {**common, **(compose if fmt == "compose" else {})}
        defs[f"export.{fmt}"] = table(f"`[export]` settings for {fmt} only.", props)
    return defs
