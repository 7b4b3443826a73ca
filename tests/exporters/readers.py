"""Independent readers of the exported formats, written from each format's documentation.

They exist so that the tests can run what an export says, as the target would: they share no
code with the exporters. Where the format's own tool can read a file (honcho, supervisor,
PyYAML) the tests use that tool instead.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

# ---------------------------------------------------------------------------------------------
# systemd: systemd.syntax(7), systemd.service(5) "Command lines", systemd.unit(5) "Specifiers"

_C_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_C_SIMPLE |= {"\\": "\\", '"': '"', "'": "'", "s": " "}


def systemd_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """``[Section]`` -> ordered (key, raw value) pairs; comments skipped."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in text.split("\n"):
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip()[1:-1], [])
            continue
        assert current is not None, line
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def _c_unescape(text: str, pos: int) -> tuple[str, int]:
    """The character escaped at text[pos] (just after the backslash), and the next index."""
    char = text[pos]
    if char in _C_SIMPLE:
        return _C_SIMPLE[char], pos + 1
    if char == "x":
        return chr(int(text[pos + 1 : pos + 3], 16)), pos + 3
    if char == "u":
        return chr(int(text[pos + 1 : pos + 5], 16)), pos + 5
    if char == "U":
        return chr(int(text[pos + 1 : pos + 9], 16)), pos + 9
    if char in "01234567":
        return chr(int(text[pos : pos + 3], 8)), pos + 3
    raise ValueError(f"invalid escape \\{char} in {text!r}")


def systemd_words(value: str) -> list[str]:
    """Split and unquote like extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)."""
    words: list[str] = []
    pos = 0
    while True:
        while pos < len(value) and value[pos] in " \t\n":
            pos += 1
        if pos >= len(value):
            return words
        if value.startswith("\\;", pos) and (pos + 2 == len(value) or value[pos + 2] in " \t"):
            words.append(";")
            pos += 2
            continue
        word: list[str] = []
        quote: str | None = None
        while pos < len(value):
            char = value[pos]
            if quote is None and char in " \t\n":
                break
            if char == "\\":
                out, pos = _c_unescape(value, pos + 1)
                word.append(out)
                continue
            if quote is None and char in "\"'":
                quote = char
            elif char == quote:
                quote = None
            else:
                word.append(char)
            pos += 1
        assert quote is None, f"unterminated quote in {value!r}"
        words.append("".join(word))


def systemd_specifiers(text: str, instance: str) -> str:
    """Resolve the specifiers the exports use: %% and %i."""

    def one(match: re.Match[str]) -> str:
        spec = match.group(1)
        if spec == "%":
            return "%"
        if spec == "i":
            return instance
        raise ValueError(f"unexpected specifier %{spec} in {text!r}")

    return re.sub(r"%(.)", one, text)


def systemd_env_expand(word: str, env: Mapping[str, str]) -> str:
    """ExecStart= variable expansion of one word: $$ and ${NAME} (the forms exports write)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), "")

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}", one, word)


def systemd_env_file(text: str) -> dict[str, str]:
    """An EnvironmentFile=: KEY=VALUE, double quotes with \\ \" \\` \\$ escapes."""
    env: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if text[pos] in "#;":
            pos = text.find("\n", pos) + 1 or len(text)
            continue
        if text[pos] in " \t\n":
            pos += 1
            continue
        eq = text.index("=", pos)
        key = text[pos:eq]
        pos = eq + 1
        value: list[str] = []
        if text[pos] == '"':
            pos += 1
            while text[pos] != '"':
                if text[pos] == "\\" and text[pos + 1] in '"\\`$':
                    pos += 1
                value.append(text[pos])
                pos += 1
            pos += 1
        else:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            value.append(text[pos:end])
            pos = end
        env[key] = "".join(value)
    return env


def systemd_command(
    unit_text: str, instance: str, env_files: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment systemd would start the unit's instance with."""
    pairs = systemd_sections(unit_text)["Service"]
    service = dict(pairs)
    env: dict[str, str] = {}
    for text in env_files:
        env.update(systemd_env_file(text))
    for key, value in pairs:
        if key == "Environment":
            for word in systemd_words(value):
                name, _, val = systemd_specifiers(word, instance).partition("=")
                env[name] = val
    argv = [
        systemd_env_expand(systemd_specifiers(w, instance), env)
        for w in systemd_words(service["ExecStart"])
    ]
    return argv, env


# ---------------------------------------------------------------------------------------------
# Kubernetes: "Define a command and arguments", "Dependent environment variables"


def k8s_expand(text: str, env: Mapping[str, str]) -> str:
    """$(NAME) of a defined variable is replaced, $$ is a literal $, anything else stays."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, text)


def k8s_container_env(
    container: Mapping[str, Any],
    config: Mapping[str, str],
    provided: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment: envFrom ConfigMap values, then env in order.

    ``provided`` holds the keys of the Secrets and ConfigMaps the user created; a missing key
    of an ``optional`` reference leaves the variable unset.
    """
    env = dict(config)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = k8s_expand(item["value"], env)
            continue
        ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"]["configMapKeyRef"]
        if ref["key"] in (provided or {}):
            env[item["name"]] = (provided or {})[ref["key"]]
        else:
            assert ref.get("optional"), f"{ref['key']} is required but not provided"
    return env


# ---------------------------------------------------------------------------------------------
# Compose: "Interpolation" in the Compose specification


def compose_interpolate(text: str, env: Mapping[str, str]) -> str:
    """$$ is a literal $, ${NAME} and ${NAME:-default} read ``env`` (the forms exports write)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(3)
        value = env.get(name, "")
        return value if value or default is None else default

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", one, text)


# ---------------------------------------------------------------------------------------------


def run_report(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """Run a hostile process (it prints what it received as JSON) and return the report."""
    proc = subprocess.run(
        list(argv), env=dict(env), capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report
