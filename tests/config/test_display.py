"""The configuration's hash for the audit trail: the SHA-256 of the canonical JSON of what
``prodserver config`` shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prodserver.config.display import config_hash, project_data
from prodserver.config.resolve import resolve_with_provenance


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


CONFIG = """\
[project]
name = "cafe"
description = "café ☕"

[env]
GREETING = "héllo \\"wörld\\"\\n\\ttab"
API_TOKEN = "${API_TOKEN}"

[processes.web]
command = ["python", "-c", "print('\U0001f600 ${GREETING}')"]
stop_timeout = "1.5s"
labels = { team = "ünïcode" }
"""


def test_config_hash_is_the_sha256_of_the_json_of_what_config_shows(tmp_path: Path) -> None:
    path = tmp_path / "prodserver.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {"PATH": "/usr/bin", "API_TOKEN": "s3cr\u00e9t"}
    project, prov = resolve_with_provenance(file=path, cwd=tmp_path, environ=env)
    data = project_data(project, configured=prov.configured)
    data.pop("warnings", None)
    data["secret_names"] = sorted(project.secret_names)
    expected = hashlib.sha256(json_text(data).encode("ascii")).hexdigest()
    assert config_hash(project, prov.configured) == expected
