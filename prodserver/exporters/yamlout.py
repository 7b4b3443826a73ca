"""YAML output through PyYAML's safe dumper, with one addition: a named anchor and merge keys.

PyYAML quotes every string that a YAML 1.1 reader would take for something else (``on``,
``0755``, ``1e3``), escapes what cannot appear raw, and never emits a Python-specific tag, so
the text reads back as exactly the data given (the exporters' tests check this by loading every
output again). Long strings are never folded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from prodserver import codes
from prodserver.errors import BackendUnavailable


class Anchored(dict[str, Any]):
    """A mapping emitted once as ``&name`` and referenced wherever the same object reappears."""

    def __init__(self, anchor: str, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.anchor = anchor


MERGE = "<<"

# Characters a YAML reader may fold, drop or refuse when they appear raw: line breaks
# (YAML 1.1 counts NEL, LS and PS as breaks, YAML 1.2 does not), control characters, the BOM
# and lone surrogates. A string holding any of them is written double-quoted, where PyYAML
# escapes each one (\n, \N, \L, \P, \x..).
_NEEDS_ESCAPES = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")
# YAML 1.2 (Docker Compose's reader) reads these as integers; PyYAML resolves YAML 1.1, where
# they are strings, so it would leave them plain.
_YAML12_INT = re.compile(r"[-+]?0o[0-7]+")


def dump(documents: Sequence[Any]) -> str:
    """Serialise ``documents`` (plain dicts, lists, str, int, float, bool, None) as YAML."""
    try:
        import yaml  # only the YAML exporters pay for the import
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
        raise BackendUnavailable(
            "the YAML exports need PyYAML", hint="pip install pyyaml", code=codes.YAML_NEEDS_PYYAML
        ) from exc

    class _MergeKey(str):
        __slots__ = ()

    anchor_names: dict[int, str] = {}

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            # Only an Anchored mapping is shared on purpose; anything else that happens to be
            # the same object is written out again rather than turned into an alias.
            return not isinstance(data, Anchored)

        def generate_anchor(self, node: Any) -> str:
            return anchor_names.get(id(node), "common")

        def represent_anchored(self, data: Anchored) -> Any:
            node = self.represent_dict(dict(data))
            anchor_names[id(node)] = data.anchor
            return node

        def represent_merge_key(self, data: str) -> Any:
            # The merge tag resolves implicitly from a plain "<<", so it is written unquoted.
            return self.represent_scalar("tag:yaml.org,2002:merge", MERGE)

        def represent_text(self, data: str) -> Any:
            style = None
            if _NEEDS_ESCAPES.search(data):
                style = '"'
            elif _YAML12_INT.fullmatch(data):
                style = "'"
            return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)

        def represent_mapping_with_merge(self, data: dict[str, Any]) -> Any:
            items = [(_MergeKey(k) if k == MERGE else k, v) for k, v in data.items()]
            return self.represent_mapping("tag:yaml.org,2002:map", items, flow_style=False)

    Dumper.add_representer(Anchored, Dumper.represent_anchored)
    Dumper.add_representer(_MergeKey, Dumper.represent_merge_key)
    Dumper.add_representer(str, Dumper.represent_text)
    Dumper.add_representer(dict, Dumper.represent_mapping_with_merge)

    return yaml.dump_all(
        documents,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31,
        explicit_start=len(documents) > 1,
    )


def load_all(text: str) -> list[Any]:
    """Read YAML back (used by tests and the kustomize overlay builder)."""
    import yaml

    return list(yaml.safe_load_all(text))
