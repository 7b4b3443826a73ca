"""systemd's syntax for unit and environment files: escaping and sections, after systemd.syntax(7).

In every unit value ``%`` starts a specifier (written ``%%``); in ``ExecStart=`` a literal
``$`` is ``$$`` while ``${NAME}`` is replaced by the variable's value as exactly one argument;
words holding spaces, quotes or control characters are double-quoted with C escapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from prodserver import codes as error_codes
from prodserver.config.model import ProcessSpec
from prodserver.errors import ConfigError, Location
from prodserver.template import Piece

_SETTING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


Section = list[tuple[str, str]]


def exec_word(pieces: Sequence[Piece]) -> str:
    """One ``ExecStart=`` argument: specifiers and ``$`` escaped, quoted where needed."""
    if len(pieces) == 1 and pieces[0] == ";":
        # A lone ";" separates commands; systemd.service documents "\;" for the argument.
        return "\\;"
    text = "".join(
        _c_escape(p).replace("%", "%%").replace("$", "$$")
        if isinstance(p, str)
        else "${" + p.name + "}"
        for p in pieces
    )
    if text and _BARE.fullmatch(text):
        return text
    return f'"{text}"'


def _c_escape(text: str) -> str:
    out = []
    for char in text:
        if char in _C_ESCAPES:
            out.append(_C_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def unit_value(text: str) -> str:
    """A free-text setting (Description, WorkingDirectory, User): specifiers escaped.

    These take the rest of the line as it is, so a character that would end or change the
    line cannot be written.
    """
    if re.search(r"[\x00-\x1f\x7f\\]", text) or text != text.strip():
        raise ConfigError(
            f"{text!r} cannot be written in a systemd unit",
            hint="avoid control characters, backslashes and surrounding spaces in names and paths",
            code=error_codes.SYSTEMD_CHARACTER,
        )
    return text.replace("%", "%%")


def assignment(text: str) -> str:
    """One ``Environment=`` assignment: quoted with C escapes unless it is one plain word."""
    escaped = text.replace("%", "%%")
    if _BARE.fullmatch(escaped):
        return escaped
    return '"' + _c_escape(escaped) + '"'


def env_file_value(value: str) -> str:
    """A value for an ``EnvironmentFile=``: double-quoted, shell-like escapes, no specifiers."""
    return '"' + re.sub(r'([\\"`$])', r"\\\1", value) + '"'


def apply_extra(spec: ProcessSpec, sections: dict[str, Section], extra: Mapping[str, Any]) -> None:
    """``export.systemd.<Section>.<Key> = value`` replaces or adds a setting, as written."""
    for section, settings in extra.items():
        if not isinstance(settings, Mapping):
            raise ConfigError(
                f"export.systemd.{section} must be a table of settings",
                location=Location(key_path=f"processes.{spec.name}.export.systemd.{section}"),
                code=error_codes.SYSTEMD_CHARACTER,
            )
        _check_extra_name(spec, str(section), f"export.systemd.{section}")
        lines = sections.setdefault(section, [])
        for key, value in settings.items():
            path = f"export.systemd.{section}.{key}"
            _check_extra_name(spec, str(key), path)
            values = value if isinstance(value, list) else [value]
            lines[:] = [(k, v) for k, v in lines if k != key]
            for item in values:
                text = str(item).lower() if isinstance(item, bool) else str(item)
                if _CONTROL.search(text):
                    # systemd ends a line at \n and \r: no control character is written raw
                    raise ConfigError(
                        f"{path} cannot hold a line break or control character",
                        location=Location(key_path=f"processes.{spec.name}.{path}"),
                        code=error_codes.SYSTEMD_CHARACTER,
                    )
                lines.append((key, text))


def _check_extra_name(spec: ProcessSpec, name: str, path: str) -> None:
    """Section and setting names are identifiers: anything else would be structure."""
    if not _SETTING_NAME.fullmatch(name):
        raise ConfigError(
            f"{path}: {name!r} is not a systemd section or setting name",
            location=Location(key_path=f"processes.{spec.name}.{path}"),
            hint="use letters and digits, as systemd.directives(7) lists them (ExecStartPre)",
            code=error_codes.SYSTEMD_CHARACTER,
        )


def ini(sections: Mapping[str, Section]) -> str:
    blocks = []
    for section, lines in sections.items():
        body = "".join(f"{key}={value}\n" for key, value in lines)
        blocks.append(f"[{section}]\n{body}")
    return "\n".join(blocks)
