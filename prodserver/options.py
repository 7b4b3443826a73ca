"""The declaration types: how a typed key or backend option is declared, once.

The project's own keys (``declarations/``) and every backend's options (``backends/``) are
declared with :class:`Option`; the JSON schema, the reference docs, validation and argv come
from these declarations. This module imports nothing of prodserver, so configuration, schema
and backends all depend on it and not on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KillMode", "Option", "OptionType"]

#: ``group``: signals go to the whole process group; ``main``: to the main process only
KillMode = Literal["group", "main"]

OptionType = Literal[
    "string",  # a str
    "integer",  # an int (``minimum``/``maximum`` apply)
    "number",  # an int or float
    "boolean",  # a flag: ``--flag`` when true, nothing when false (unless ``negative_flag``)
    "duration",  # seconds as float; written "10s", "500ms", "2m" or a number
    "size",  # bytes as int; written "512MB", "1GiB" or a number
    "list",  # list of str; ``flag`` repeated per item unless ``join`` is set
    "enum",  # one of ``choices``
    "table",  # a free-form table of str -> scalar (rarely used)
    "argv",  # a command: a string (split into words like a shell would, never run by one)
    #          or an array of strings; reaches argv() as a list of str
]


@dataclass(frozen=True)
class Option:
    """One typed option of a backend.

    ``flag`` is how the option appears on the command line (``--workers``); ``None`` means the
    backend handles it itself in :meth:`Backend.argv` (for positionals like ``app``).
    """

    name: str
    type: OptionType
    doc: str
    flag: str | None = None
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: for ``list`` options: join the items with this separator into one value of ``flag``
    join: str | None = None
    #: for ``boolean`` options: flag emitted when the value is false (``--no-x``)
    negative_flag: str | None = None
    #: write ``--flag=value`` instead of ``--flag value``
    equals: bool = False
    #: a value that becomes a positional argument may never start with ``-``
    positional: bool = False
    #: regular expression the value (or each list item) must match, if any
    pattern: str | None = None
    #: for ``enum`` options: the program accepts the choices in any case (Celery's ``INFO``);
    #: the value is passed on as the declared choice
    ignore_case: bool = False
    #: examples shown in the docs
    examples: tuple[str, ...] = ()
    #: an explicit JSON-schema fragment for values of a shape the types above cannot say
    #: (used by a few common keys such as ``depends_on``); overrides ``type`` in the schema
    schema: Mapping[str, Any] | None = None
