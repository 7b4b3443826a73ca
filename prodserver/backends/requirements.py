"""Whether the packages a backend requires are installed, answered without importing them.

Its own module, importing nothing of prodserver: ``up``'s package check asks it for the
packages a cached entry lists, without importing the backends (issue 17).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def not_importable(modules: Iterable[str]) -> list[str]:
    """The import names among ``modules`` that cannot be found (cheap: nothing is imported)."""
    missing = []
    for module in modules:
        import importlib.util  # not for a backend that requires nothing (`command`)

        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing
