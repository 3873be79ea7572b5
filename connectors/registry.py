"""Discovers connectors through the `evidence_agent.connectors` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from collector.errors import ConfigError
from connectors.base import Connector

GROUP = "evidence_agent.connectors"


@cache
def registry() -> dict[str, type[Connector]]:
    """Every registered connector class by name (built-ins register the same way)."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ConfigError(f"entry point {ep.name!r} in {GROUP} is not a Connector subclass")
        if cls.name != ep.name:
            raise ConfigError(f"entry point {ep.name!r} loads connector named {cls.name!r}")
        found[ep.name] = cls
    return dict(sorted(found.items()))


def get(name: str) -> type[Connector]:
    """The connector class called `name`; ConfigError naming the known ones otherwise."""
    reg = registry()
    if name not in reg:
        known = ", ".join(reg) or "none"
        raise ConfigError(f"unknown connector {name!r} (known: {known})")
    return reg[name]
