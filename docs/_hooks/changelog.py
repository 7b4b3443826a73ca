"""MkDocs hook: publish the repository's CHANGELOG.md as the site's changelog page.

The changelog lives at the root of the repository, where packaging tools and readers of the
source expect it; MkDocs only sees files under ``docs/``. Generating the page from the root
file keeps one copy (a copy under docs/ would drift).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def site_text(text: str) -> str:
    """The changelog as a page at the site's root.

    Links in the root file point into docs/; on the site, pages are relative to docs/.
    """
    return text.replace("](docs/", "](")


def on_files(files: Files, config: Any) -> Files:
    """Add ``changelog.md`` built from the root CHANGELOG.md."""
    text = site_text((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    files.append(File.generated(config, "changelog.md", content=text))
    return files
