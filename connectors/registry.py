"""Discovers connectors through the `evidence_agent.connectors` entry-point group."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import EntryPoint

from connectors.base import Connector
from connectors.errors import ConfigError

GROUP = "evidence_agent.connectors"
log = logging.getLogger("evidence.registry")


def _load(ep: EntryPoint) -> tuple[type[Connector] | None, str | None]:
    """The connector class behind `ep`, or why it is not one."""
    try:
        cls = ep.load()
    except Exception as e:  # a broken plugin must not take the others down
        why = f"{type(e).__name__}: {e}"
        log.warning("connector %s failed to load: %s", ep.name, why)
        return None, why
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        return None, f"{ep.value} is not a Connector subclass"
    if cls.name != ep.name:
        return None, f"{ep.value} is named {cls.name!r}, not {ep.name!r}"
    return cls, None


@cache
def _scan() -> tuple[dict[str, type[Connector]], dict[str, str]]:
    from importlib.metadata import entry_points

    found: dict[str, type[Connector]] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        cls, why = _load(ep)
        if why is not None:
            broken[ep.name] = why
        elif cls is not None:
            found[ep.name] = cls
    return dict(sorted(found.items())), broken


@cache
def _named(name: str) -> tuple[type[Connector] | None, str | None]:
    # Only the entry points called `name` are imported: a run of one connector must not pay
    # for importing every other platform's SDK (gcp's and azure's take seconds).
    from importlib.metadata import entry_points

    cls: type[Connector] | None = None
    for ep in entry_points(group=GROUP, name=name):
        found, why = _load(ep)
        if why is not None:
            return None, why
        cls = found
    return cls, None


def registry() -> dict[str, type[Connector]]:
    """Every registered connector class by name (built-ins register the same way)."""
    return dict(_scan()[0])


def broken() -> dict[str, str]:
    """Entry points that failed to load, with why."""
    return dict(_scan()[1])


def cache_clear() -> None:
    """Forget what was discovered (after entry points changed, e.g. in tests)."""
    _scan.cache_clear()
    _named.cache_clear()


registry.cache_clear = cache_clear  # type: ignore[attr-defined]


def get(name: str) -> type[Connector]:
    """The connector class called `name`; ConfigError naming the known ones otherwise."""
    cls, why = _named(name)
    if why is not None:
        raise ConfigError(f"connector {name!r} failed to load: {why}")
    if cls is None:
        known = ", ".join(registry()) or "none"
        raise ConfigError(f"unknown connector {name!r} (known: {known})")
    return cls
