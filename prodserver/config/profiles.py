"""Profile step: which profile is chosen, its chain of layers, and what the chain decides.

Input: the context (the source, ``$PRODSERVER_PROFILE`` in the shell environment) and the
profile asked for. Output: the chosen profile and why (recorded in the provenance), the
linearised layers (:func:`prodserver.config.merge.layers`), whether the profile is production
and whether processes inherit the shell's environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prodserver import codes
from prodserver.config.context import Context
from prodserver.config.merge import ROOT, Layer, layers, profile_names, unknown_profile
from prodserver.errors import ConfigError

PROFILE_ENV = "PRODSERVER_PROFILE"


@dataclass(frozen=True)
class Chosen:
    """The profile chosen (None: the root processes) and its chain of layers, root first."""

    profile: str | None
    layers: tuple[Layer, ...]


def choose_profile(ctx: Context, requested: str | None) -> tuple[str | None, str]:
    """(profile, why): ``--profile``, else ``$PRODSERVER_PROFILE``, else the file's default."""
    known = profile_names(ctx.source)
    if requested == ROOT:
        return None, "the root processes, asked for explicitly"
    if requested:
        return requested, "--profile"
    if ctx.environ.get(PROFILE_ENV):
        return ctx.environ[PROFILE_ENV], f"${PROFILE_ENV}"
    default = ctx.project.get("default_profile")
    if isinstance(default, str) and default:
        if default not in known:
            raise ConfigError(
                f"default_profile {default!r} is not a profile of this file",
                hint=unknown_profile(default, known),
                location=ctx.source.location(("project", "default_profile")),
                code=codes.UNKNOWN_PROFILE,
            )
        return default, "[project] default_profile"
    return None, "no profile chosen: the root processes"


def linearise(ctx: Context, requested: str | None) -> Chosen:
    """The chosen profile's layers; an unknown profile says what chose it."""
    profile, why = choose_profile(ctx, requested)
    ctx.prov.profile_origin = why
    try:
        chain_layers = layers(ctx.source, profile)
    except ConfigError as exc:
        if exc.code == codes.UNKNOWN_PROFILE and why != "--profile":
            raise ConfigError(
                f"{exc.message} (chosen by {why})",
                hint=exc.hint,
                location=exc.location,
                code=exc.code,
            ) from None
        raise
    return Chosen(profile, tuple(chain_layers))


def production(chain_layers: Sequence[Layer]) -> bool:
    """Whether the chosen profile is production: the nearest layer of the chain that says
    so wins, and a profile named prod or production says so unless it sets the mark.

    So a profile that extends a production profile is production unless it (or a
    profile between them) says ``production = false``.
    """
    from prodserver.config.model import PRODUCTION_NAMES

    marked = False
    for layer in chain_layers:
        value = layer.data.get("production")
        if isinstance(value, bool):
            marked = value
        elif layer.name != ROOT and layer.name.lower() in PRODUCTION_NAMES:
            marked = True
    return marked


def inherit_env(ctx: Context, chain_layers: Sequence[Layer]) -> bool:
    """Whether processes get the shell's environment: ``[project]``, then the nearest layer."""
    inherit = ctx.project.get("inherit_env", True) is not False
    for layer in chain_layers:
        if isinstance(layer.data.get("inherit_env"), bool):
            inherit = bool(layer.data["inherit_env"])
    return inherit
