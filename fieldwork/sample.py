"""Populations frozen from stored evidence, and seeded samples anyone can re-derive.

A population is every item of the population snapshots mapped to a control, from complete
windows overlapping [since, until), with the time ranges no trusted complete window covers
listed as gaps, each with why (no complete window; or only windows collected while a clock
was ahead, see storage/windows.py). Its hash covers the sorted item keys. A sample ranks
each item by sha256("<seed>:<series>:<id>") and takes the lowest `size`: given the
population and the seed, an auditor re-derives it with any SHA-256 tool. The sample itself
is appended to the ledger as a record, so it is sealed like all other evidence.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from collector.errors import ConfigError
from connectors.registry import get as get_connector
from storage.canonical import canonical, iso, sha256_hex
from storage.queries import (
    complete_windows,
    parse_time,
    permanent_gaps,
    population_series,
)
from storage.store import EvidenceStore, NewRecord
from storage.vouched import named
from storage.vouched import warnings as seal_warnings
from storage.windows import ahead_windows, holes, unsealed_holes

METHOD = "rank items by sha256('<seed>:<series>:<id>') ascending; take the first <size>"


@dataclass
class Population:
    """A frozen population: its items, where they came from, and what is missing."""

    criteria: tuple[str, ...]
    since: datetime
    until: datetime
    items: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    gaps: list[dict[str, str]] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    # windows left out: no seal by the store's key vouches for them (storage/vouched.py)
    unsealed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # computed once, after freeze_population has filled and sorted the items
    @cached_property
    def keys(self) -> list[dict[str, str]]:
        return [{"series": i["series"], "id": i["id"]} for i in self.items]

    @cached_property
    def sha256(self) -> str:
        return sha256_hex(canonical(self.keys))

    @property
    def complete(self) -> bool:
        return not self.gaps and bool(self.series)

    def to_json(self, with_items: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "criteria": list(self.criteria), "since": iso(self.since), "until": iso(self.until),
            "size": len(self.items), "sha256": self.sha256, "series": self.series,
            "sources": self.sources, "gaps": self.gaps, "complete": self.complete,
            "unsealed": self.unsealed, "warnings": self.warnings}
        if with_items:
            out["items"] = self.items
        return out


def freeze_population(store: EvidenceStore, criteria: Sequence[str], since: datetime,
                      until: datetime, snapshot: str | None = None) -> Population:
    """Every item of the population snapshots mapped to `criteria` in [since, until)."""
    if since >= until:
        raise ConfigError(f"empty period: since {iso(since)} is not before until {iso(until)}")
    pop = Population(tuple(criteria), since, until)
    vouched = store.vouched()
    found = population_series(store.engine, criteria, snapshot)
    if snapshot is None:  # a derived population (the cross-platform join) replaces its inputs
        from fieldwork.changes import SUPERSEDES

        present = {(c, s) for c, _, s in found}
        gone = {x for d, inputs in SUPERSEDES.items() if d in present for x in inputs}
        found = [f for f in found if (f[0], f[2]) not in gone]
    if not found:
        # the series come from what was stored: a mapped snapshot never collected is absent
        raise ConfigError(f"no population snapshot mapped to {', '.join(criteria)}"
                          + (f" under the name {snapshot!r}" if snapshot else "")
                          + " has been collected (is one configured, and has it run?)")
    for connector, instance, snap in found:
        key = f"{connector}/{instance}:{snap}"
        pop.series.append(key)
        spec = get_connector(connector).snapshots().get(snap)
        if spec is None or spec.items is None:
            raise ConfigError(f"{connector}.{snap} does not declare its population items")
        # only windows a seal by the store's key vouches for: a forged (or pending) window's
        # items never enter a population, nor a sample sealed from it
        rows, left = vouched.split(complete_windows(store.engine, connector, instance, snap,
                                                    since, until))
        pop.unsealed += left
        seen: set[str] = set()
        for r in rows:
            pop.sources.append(r["id"])
            for item in spec.items(store.blob_json(r["content_sha256"])):
                t = parse_time(str(item["time"]))
                iid = str(item["id"])
                if not (since <= t < until) or iid in seen:
                    continue
                seen.add(iid)
                pop.items.append({"series": key, "record": r["id"], **item, "id": iid})
        ahead = ahead_windows(store, rows, store.clock())
        # a span the source no longer keeps is a hole no later run can fill: say why
        told, left_gaps = vouched.split(permanent_gaps(store.engine, connector, instance, snap,
                                                       since, until))
        pop.unsealed += left_gaps
        lost = [(r["period_start"], r["period_end"], str(r["error"])) for r in told]
        for a, b, why in unsealed_holes(holes((since, until), rows, ahead, lost),
                                     left + left_gaps):
            pop.gaps.append({"series": key, "start": iso(a) or "", "end": iso(b) or "",
                             "reason": why})
    pop.items.sort(key=lambda i: (i["series"], str(i["time"]), i["id"]))
    pop.unsealed = named(pop.unsealed)
    pop.warnings = seal_warnings(pop.unsealed, vouched)
    from fieldwork.exceptions import apply_items, register

    apply_items(pop.items, register(store, until))
    return pop


def rank(seed: str, item: dict[str, Any]) -> str:
    return hashlib.sha256(f"{seed}:{item['series']}:{item['id']}".encode()).hexdigest()


def draw(pop: Population, size: int, seed: str) -> list[dict[str, Any]]:
    """The `size` items with the lowest seeded rank, in time order."""
    if size < 1:
        raise ConfigError(f"sample size must be at least 1 (got {size})")
    chosen = sorted(pop.items, key=lambda i: rank(seed, i))[:size]
    return sorted(chosen, key=lambda i: (i["series"], str(i["time"]), i["id"]))


def record_sample(store: EvidenceStore, pop: Population, size: int,
                  seed: str | None = None, principal: str | None = None
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Draw a sample and append it, with its seed and the population hash, to the ledger."""
    seed = seed or secrets.token_hex(16)
    chosen = draw(pop, size, seed)
    now = store.clock()
    run_id = store.start_run("sample")
    content = {"method": METHOD, "seed": seed, "size": size,
               "population": pop.to_json(with_items=False) | {"keys": pop.keys},
               "selected": chosen}
    try:
        who = principal or f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        who = f"unknown@{socket.gethostname()}"
    gap_lines = [f"gap in {g['series']}: {g['start']}..{g['end']} ({g['reason']})"
                 for g in pop.gaps] + [f"left out: {w}" for w in pop.warnings]
    ipe: dict[str, Any] = {"principal": who, "source": "evidence sample", "api_calls": 0,
           "pages": 0,
           "calls": [{"operation": "freeze_population", "ok": True, "pages": 0,
                      "params": {"criteria": list(pop.criteria), "since": iso(pop.since),
                                 "until": iso(pop.until), "size": size},
                      "items": len(pop.items)}],
           "pagination_exhausted": pop.complete, "errors": gap_lines,
           # the input windows no seal by the store's key vouches for, named and not used
           "excluded_unsealed": pop.unsealed}
    new = NewRecord(run_id=run_id, connector="fieldwork", instance="samples",
                    snapshot="sample", kind="population", controls=pop.criteria,
                    max_age_seconds=365 * 86400, collected_started_at=now,
                    collected_finished_at=store.clock(),
                    status="complete" if pop.complete else "partial", ipe=ipe,
                    content=content, has_content=True, record_count=len(chosen),
                    period_start=pop.since, period_end=pop.until,
                    error=None if pop.complete else
                    ("population has gaps: " + "; ".join(gap_lines))[:1000])
    row = store.append([new])[0]
    try:  # sealed while the run holds its run lock: pending, never unsealed, till then
        store.seal(run_id, [int(row["seq"])])
    finally:
        store.finish_run(run_id, "ok" if pop.complete else "failed-snapshots",
                         {"sample_record": row["id"], "population_sha256": pop.sha256})
    return row, chosen


def rederive(store: EvidenceStore, record_id: str) -> list[str]:
    """Re-freeze the population a stored sample came from and re-draw it; [] when it agrees."""
    r = store.record(record_id)
    if r is None or r["connector"] != "fieldwork":
        raise ConfigError(f"no sample record with ID {record_id!r}")
    c = store.blob_json(r["content_sha256"])
    p = c["population"]
    pop = freeze_population(store, p["criteria"], parse_time(p["since"]),
                            parse_time(p["until"]))
    problems = []
    if pop.sha256 != p["sha256"]:
        problems.append(f"population changed: now {pop.sha256}, sampled {p['sha256']}")
    if pop.sha256 != sha256_hex(canonical(p["keys"])):
        problems.append("stored population keys do not match the stored population hash")
    again = [i["id"] for i in draw(pop, c["size"], c["seed"])]
    if again != [i["id"] for i in c["selected"]]:
        problems.append("re-drawing with the stored seed selects different items")
    return problems
