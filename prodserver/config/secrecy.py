"""Which variables hold secrets, and how messages hide their values.

A name is a secret by its own name (``[project] secrets`` patterns and the built-in ones, see
:mod:`prodserver.config.secrets`), by its value (a URL with a password), or because a secret
is defined from it (``SECRET_KEY = "${SK}"`` makes ``SK`` one). The memory of such names is
the context's ``secret_values``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from prodserver.config.context import Context
from prodserver.config.model import ProcessSpec
from prodserver.config.secrets import Masker
from prodserver.errors import ConfigError, Problem


def note_secret_value(ctx: Context, name: str, value: str) -> None:
    """A value holding a URL with a password makes its variable a secret."""
    from prodserver.config.secrets import mask_url_passwords

    if "://" in value and mask_url_passwords(value) != value:
        ctx.secret_values.add(name)


def taint_secret_sources(ctx: Context, tables: Iterable[Mapping[str, Any]]) -> None:
    """A variable a secret is defined from is a secret too (``SECRET_KEY = "${SK}"``)."""
    from prodserver.config.substitute import references

    definitions: dict[str, set[str]] = {}
    for table in tables:
        for key, raw in table.items():
            if isinstance(raw, str) and "$" in raw:
                try:
                    definitions.setdefault(key, set()).update(references(raw))
                except ConfigError:
                    continue  # reported with its key path when substituted
    changed = True
    while changed:
        changed = False
        for key, names in definitions.items():
            if ctx.is_secret(key) and not names <= ctx.secret_values:
                ctx.secret_values.update(names)
                changed = True


def masker(ctx: Context, shared_env: Mapping[str, str]) -> Masker:
    """Hides secret values in messages, whatever layer they came from."""
    env = {**shared_env, **ctx.process_envs}
    return Masker([n for n in env if ctx.is_secret(n)], env, show=False)


def mask_problem(problem: Problem, hide: Masker) -> Problem:
    """``problem`` with every secret value in its message and hint masked."""
    hint = hide.text(problem.hint) if problem.hint else problem.hint
    return dataclasses.replace(problem, message=hide.text(problem.message), hint=hint)


def secret_names(
    ctx: Context, env: Mapping[str, str], specs: Mapping[str, ProcessSpec]
) -> set[str]:
    """The secret names among the shared and every process's environment."""
    names = set(env)
    for spec in specs.values():
        names.update(spec.env)
    return {n for n in names if ctx.is_secret(n)}
