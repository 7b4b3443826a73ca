"""The documentation site's structure: every page is reachable, every link outside it resolves.

``mkdocs build --strict`` (run by tools/test.sh) checks links between pages under ``docs/``.
These tests cover what it cannot see: that no page is left out of the navigation, and the
links in the files that live outside ``docs/`` (README, CHANGELOG, the examples' READMEs).
"""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml

from tests.conftest import REPO

DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def mkdocs_config() -> dict[str, object]:
    # mkdocs.yml has no custom tags, so a plain YAML load reads it.
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_every_page_is_in_the_navigation() -> None:
    config = mkdocs_config()
    listed = set(nav_pages(config["nav"]))
    pages = {
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if not p.relative_to(DOCS).as_posix().startswith("_")
    }
    missing = sorted(pages - listed)
    assert not missing, f"add these pages to the nav in mkdocs.yml: {missing}"
    # changelog.md is generated from CHANGELOG.md by docs/_hooks/changelog.py
    assert sorted(listed - pages - {"changelog.md"}) == [], "the nav lists pages that do not exist"


def test_strict_mode_is_on_and_the_changelog_hook_exists() -> None:
    config = mkdocs_config()
    assert config["strict"] is True
    hooks = config["hooks"]
    assert isinstance(hooks, list)
    for hook in hooks:
        assert (REPO / hook).is_file(), hook


@pytest.mark.parametrize(
    "source",
    [
        "README.md",
        "CHANGELOG.md",
        *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("*/README.md")),
    ],
)
def test_links_outside_the_site_resolve(source: str) -> None:
    path = REPO / source
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL, or an anchor in the same file
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{source}: broken links {broken}"


def test_the_changelog_starts_with_unreleased_then_versions() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    from prodserver import __version__

    assert headings[1].startswith(__version__), "the current version needs a changelog entry"
    assert "Upgrade guide" in headings


def test_the_hook_makes_the_changelog_links_work_on_the_site() -> None:
    spec = importlib.util.spec_from_file_location(
        "changelog_hook", DOCS / "_hooks" / "changelog.py"
    )
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    text = hook.site_text((REPO / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert "](docs/" not in text
    for target in LINK.findall(text):
        if not re.match(r"[a-z]+:", target):
            assert (DOCS / target.split("#")[0]).exists(), target
