"""Discovers connectors through the `evidence_agent.connectors` entry-point group."""

from __future__ import annotations

import logging
from functools import cache

from connectors.base import Connector
from connectors.errors import ConfigError

GROUP = "evidence_agent.connectors"
log = logging.getLogger("evidence.registry")


@cache
def _scan() -> tuple[dict[str, type[Connector]], dict[str, str]]:
    from importlib.metadata import entry_points

    found: dict[str, type[Connector]] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken plugin must not take the others down
            broken[ep.name] = f"{type(e).__name__}: {e}"
            log.warning("connector %s failed to load: %s", ep.name, broken[ep.name])
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            broken[ep.name] = f"{ep.value} is not a Connector subclass"
        elif cls.name != ep.name:
            broken[ep.name] = f"{ep.value} is named {cls.name!r}, not {ep.name!r}"
        else:
            found[ep.name] = cls
    return dict(sorted(found.items())), broken


def registry() -> dict[str, type[Connector]]:
    """Every registered connector class by name (built-ins register the same way)."""
    return dict(_scan()[0])


def broken() -> dict[str, str]:
    """Entry points that failed to load, with why."""
    return dict(_scan()[1])


registry.cache_clear = _scan.cache_clear  # type: ignore[attr-defined]


def get(name: str) -> type[Connector]:
    """The connector class called `name`; ConfigError naming the known ones otherwise."""
    reg, bad = _scan()
    if name in bad:
        raise ConfigError(f"connector {name!r} failed to load: {bad[name]}")
    if name not in reg:
        known = ", ".join(reg) or "none"
        raise ConfigError(f"unknown connector {name!r} (known: {known})")
    return reg[name]
