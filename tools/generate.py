"""Regenerate the committed files that come from declarations in the package.

The schema and the reference docs come from the option declarations; docs/errors.md from the
error-code catalogue (prodserver/codes.py).

.venv/bin/python tools/generate.py          # write them
.venv/bin/python tools/generate.py --check  # exit 1 if any is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def outputs() -> dict[Path, str]:
    from prodserver.codes import errors_reference
    from prodserver.schema.build import build_schema, render_schema
    from prodserver.schema.docs import backends_reference, configuration_reference

    return {
        ROOT / "schema" / "prodserver.schema.json": render_schema(build_schema()),
        ROOT / "docs" / "reference" / "configuration.md": configuration_reference(),
        ROOT / "docs" / "reference" / "backends.md": backends_reference(),
        ROOT / "docs" / "errors.md": errors_reference(),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if "--check" not in argv:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "stale" if "--check" in argv else "wrote"
        print(f"{verb}: {path.relative_to(ROOT)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
