"""The provenance record: how an origin is shown, and which values the configuration set."""

from __future__ import annotations

from pathlib import Path

from prodserver.config.provenance import SHELL_LAYER, EnvOrigin, Provenance
from prodserver.errors import Location


def test_an_origin_names_its_layer_and_where() -> None:
    where = Location(file=Path("prodserver.toml"), line=4, key_path="env.A")
    assert EnvOrigin("[env]", where).render() == f"[env] ({where.render()})"
    assert EnvOrigin("shell environment", Location()).render() == "shell environment"


def test_only_the_configurations_own_layers_count_as_configuration() -> None:
    prov = Provenance()
    prov.env["FROM_SHELL"] = EnvOrigin(SHELL_LAYER, Location())
    prov.env["FROM_FILE"] = EnvOrigin("env file", Location(file=Path(".env"), line=1))
    assert prov.from_configuration("FROM_FILE")
    assert not prov.from_configuration("FROM_SHELL")
    assert not prov.from_configuration("NOWHERE")
