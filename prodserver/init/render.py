"""A :class:`~prodserver.init.plan.Document` as TOML (commented), JSON or YAML, written safely."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.errors import BackendUnavailable, OutputError
from prodserver.init.plan import Document

FORMATS = ("toml", "json", "yaml")
DEFAULT_NAMES = {"toml": "prodserver.toml", "json": "prodserver.json", "yaml": "prodserver.yaml"}


def render(document: Document, fmt: str) -> str:
    """The text of ``document`` in ``fmt``."""
    from prodserver.schema.build import SCHEMA_ID

    if fmt == "json":
        # JSON has no comments; editors find the schema through their own settings.
        return json.dumps(document.data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        try:
            import yaml
        except ImportError:
            raise BackendUnavailable(
                "--format yaml needs PyYAML, which is not installed",
                hint="pip install pyyaml, or use --format toml (the default) or json",
                code=codes.INIT_YAML_NEEDS_PYYAML,
            ) from None
        head = [f"# yaml-language-server: $schema={SCHEMA_ID}"]
        head += [f"# {line}" for line in document.header]
        body = yaml.safe_dump(document.data, sort_keys=False, allow_unicode=True)
        return "\n".join(head) + "\n" + body
    return _toml(document, SCHEMA_ID)


def _toml(document: Document, schema_id: str) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f":schema {schema_id}"))
    for line in document.header:
        doc.add(tomlkit.comment(line))
    for key, value in document.data.items():
        doc.add(tomlkit.nl())
        doc.add(key, _table(value, (key,), dict(document.comments)))
    text = tomlkit.dumps(doc)
    # tomlkit writes "# :schema"; Taplo and Even Better TOML look for "#:schema" exactly.
    return text.replace(f"# :schema {schema_id}", f"#:schema {schema_id}", 1)


def _table(
    data: dict[str, Any], path: tuple[str, ...], comments: dict[tuple[str, ...], str]
) -> Any:
    import tomlkit

    table = tomlkit.table(is_super_table=_is_super(data))
    if _is_super(data):
        # a super table has no header of its own to comment: the first child carries it
        first = (*path, next(iter(data)))
        own = comments.pop(path, None)
        if own:
            comments[first] = own + ("\n" + comments[first] if comments.get(first) else "")
    else:
        for line in _lines(comments.get(path)):
            table.add(tomlkit.comment(line))
    for key, value in data.items():
        child = (*path, key)
        if isinstance(value, dict) and value and not _inline(child):
            table.add(key, _table(value, child, comments))
            continue
        for line in _lines(comments.get(child)):
            table.add(tomlkit.comment(line))
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            table.add(key, inline)
        else:
            table.add(key, value)
    return table


def _is_super(data: dict[str, Any]) -> bool:
    # `[processes.web]` rather than an empty `[processes]` header above it
    return bool(data) and all(isinstance(v, dict) for v in data.values())


def _inline(path: tuple[str, ...]) -> bool:
    # small tables that read best on one line: `env = { ... }` inside a process
    return len(path) >= 3 and path[-1] in ("env", "depends_on", "healthcheck", "labels")


def _lines(comment: str | None) -> list[str]:
    return comment.splitlines() if comment else []


def write(text: str, target: Path, *, force: bool) -> None:
    """Write ``text`` to ``target`` atomically; an existing file is replaced only with ``force``.

    The text goes to a temporary file in the same directory first. Without ``force`` it is then
    hard-linked to the target, which fails if the target exists, even if another process created
    it a moment ago; with ``force`` it is renamed over the target. A reader sees the old file or
    the new one, never half of it.
    """
    if target.is_dir():
        raise OutputError(
            f"{target} is a directory",
            hint="name a file to write",
            code=codes.INIT_TARGET_UNWRITABLE,
        )
    if target.exists() and not force:
        raise OutputError(
            f"{target} already exists",
            hint="pass --force to replace it, or -o PATH to write elsewhere",
            code=codes.INIT_TARGET_EXISTS,
        )
    directory = target.parent
    if not directory.is_dir():
        raise OutputError(
            f"directory {directory} does not exist", code=codes.INIT_TARGET_UNWRITABLE
        )
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(
            f"cannot write in {directory}: {exc.strerror}", code=codes.INIT_TARGET_UNWRITABLE
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OutputError(
                    f"{target} already exists",
                    hint="pass --force to replace it",
                    code=codes.INIT_TARGET_EXISTS,
                ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
