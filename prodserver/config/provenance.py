"""Where each resolved value came from: the record ``prodserver config --explain`` prints.

The steps of resolution write into one :class:`Provenance` (it travels in the
:class:`~prodserver.config.context.Context`); :func:`~prodserver.config.resolve.
resolve_with_provenance` returns it beside the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prodserver.errors import Location
from prodserver.rawsource import KeyPath, RawSource

#: the layer name of a value the shell's environment gave (``inherit_env = false`` drops them)
SHELL_LAYER = "shell environment"


@dataclass
class EnvOrigin:
    """Where one environment variable's value came from (for ``config --explain``)."""

    layer: str
    location: Location

    def render(self) -> str:
        where = self.location.render()
        return f"{self.layer} ({where})" if where else self.layer


class KeyLocations(Mapping[str, Location]):
    """Where each key of one process is in the file, located when asked.

    Only ``config --explain`` reads them: resolution records how to find them (the key
    paths of the process) instead of locating every key of every process.
    """

    def __init__(self, source: RawSource, where: Callable[..., KeyPath], keys: tuple[str, ...]):
        self._source = source
        self._where = where
        self._keys = keys

    def __getitem__(self, key: str) -> Location:
        if key not in self._keys:
            raise KeyError(key)
        return self._source.location(self._where(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class Provenance:
    """Which layer set each resolved value."""

    env: dict[str, EnvOrigin] = field(default_factory=dict)
    #: process name -> env var -> origin (process env layer and assigned PORT)
    process_env: dict[str, dict[str, EnvOrigin]] = field(default_factory=dict)
    #: process name -> key -> location in the file
    keys: dict[str, Mapping[str, Location]] = field(default_factory=dict)
    profile_origin: str = ""
    #: variables set by one of the configuration's own layers (env files, [env], profiles,
    #: process env): what `config` shows, even where the shell overrides the value
    configured: set[str] = field(default_factory=set)

    def from_configuration(self, name: str) -> bool:
        """Whether ``name``'s shared value came from a layer of the configuration, not the shell."""
        origin = self.env.get(name)
        return origin is not None and origin.layer != SHELL_LAYER
