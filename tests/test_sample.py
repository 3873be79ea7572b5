"""Populations frozen from stored windows, gaps made visible, and reproducible samples."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from collector.cli import cli
from collector.config import load
from collector.errors import ConfigError
from collector.runner import Collector, Selection
from fieldwork.sample import draw, freeze_population, record_sample, rederive
from storage.index import records
from storage.store import EvidenceStore
from storage.verify import verify
from tests.clock import Clock

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(config_file: Callable[..., Path]) -> EvidenceStore:
    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg)
    col = Collector(cfg, st, clock=clock)
    col.run(Selection(snapshots=("events",)))  # 3 days of hourly events
    clock.t += timedelta(hours=6)
    col.run(Selection(snapshots=("events",)))
    return st


def test_population_counts_every_item_once(store: EvidenceStore) -> None:
    """Items from consecutive windows in the period, each once, with a stable hash."""
    since, until = T0 - timedelta(days=2), T0 + timedelta(hours=6)
    pop = freeze_population(store, ["CC8.1"], since, until)
    assert len(pop.items) == 2 * 24 + 6
    assert pop.complete and pop.gaps == []
    assert len({i["id"] for i in pop.items}) == len(pop.items)
    assert pop.sha256 == freeze_population(store, ["CC8.1"], since, until).sha256


def test_gaps_are_reported(store: EvidenceStore) -> None:
    """Time no complete window covers is a gap: before collection began, or a failed window."""
    pop = freeze_population(store, ["CC8.1"], T0 - timedelta(days=5), T0)
    assert not pop.complete
    assert pop.gaps == [{"series": "synthetic/one:events", "start": "2026-03-05T12:00:00.000000Z",
                         "end": "2026-03-07T12:00:00.000000Z",
                         "reason": "no complete window"}]
    with store.engine.begin() as c:  # pretend the last window failed
        c.execute(update(records).where(records.c.period_end == T0 + timedelta(hours=6))
                  .values(status="failed"))
    pop = freeze_population(store, ["CC8.1"], T0, T0 + timedelta(hours=6))
    assert len(pop.gaps) == 1 and pop.items == []


def test_sample_is_reproducible_by_anyone(store: EvidenceStore) -> None:
    """Given the population keys and the seed, plain SHA-256 re-derives the sample."""
    pop = freeze_population(store, ["CC8.1"], T0 - timedelta(days=1), T0)
    chosen = draw(pop, 5, "auditor-seed")
    assert chosen == draw(pop, 5, "auditor-seed")
    assert chosen != draw(pop, 5, "other-seed")
    by_hand = sorted(pop.keys, key=lambda k: hashlib.sha256(
        f"auditor-seed:{k['series']}:{k['id']}".encode()).hexdigest())[:5]
    assert {k["id"] for k in by_hand} == {i["id"] for i in chosen}


def test_sample_is_ledgered_and_rederivable(store: EvidenceStore) -> None:
    """A sample is appended to the sealed ledger with its seed and population hash."""
    pop = freeze_population(store, ["CC8.1"], T0 - timedelta(days=1), T0)
    row, chosen = record_sample(store, pop, 4, "s33d")
    assert row["connector"] == "fieldwork" and row["status"] == "complete"
    content = store.blob_json(row["content_sha256"])
    assert content["seed"] == "s33d" and content["population"]["sha256"] == pop.sha256
    assert [i["id"] for i in content["selected"]] == [i["id"] for i in chosen]
    assert rederive(store, row["id"]) == []
    assert verify(store).ok
    with store.engine.begin() as c:  # the window the sample came from is altered
        c.execute(update(records).where(records.c.snapshot == "events",
                                        records.c.period_end == T0).values(status="failed"))
    assert any("population changed" in p for p in rederive(store, row["id"]))


def test_errors(store: EvidenceStore) -> None:
    """Bad periods, sizes and controls without populations are clear errors."""
    with pytest.raises(ConfigError, match="empty period"):
        freeze_population(store, ["CC8.1"], T0, T0)
    with pytest.raises(ConfigError,
                       match=r"no population snapshot mapped to CC6\.1 has been collected"):
        freeze_population(store, ["CC6.1"], T0 - timedelta(days=1), T0)
    pop = freeze_population(store, ["CC8.1"], T0 - timedelta(days=1), T0)
    with pytest.raises(ConfigError, match="at least 1"):
        draw(pop, 0, "x")


def test_cli_sample_and_population(config_file: Callable[..., Path]) -> None:
    """`evidence sample` prints the seed and selection; `--rederive` confirms it."""
    cfg = str(config_file())
    assert CliRunner().invoke(cli, ["-c", cfg, "collect"]).exit_code == 0
    now = datetime.now(UTC)
    since = (now - timedelta(days=2)).date().isoformat()
    until = now.date().isoformat()
    r = CliRunner().invoke(cli, ["-c", cfg, "sample", "--control", "CC8.1", "--since", since,
                                 "--until", until, "--size", "3", "--seed", "abc", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["seed"] == "abc" and len(out["selected"]) == 3
    r = CliRunner().invoke(cli, ["-c", cfg, "sample", "--control", "CC8.1", "--since", since,
                                 "--until", until, "--size", "3",
                                 "--rederive", out["record_id"]])
    assert r.exit_code == 0 and "re-derived identically" in r.stdout
    r = CliRunner().invoke(cli, ["-c", cfg, "population", "--control", "CC8.1", "--since",
                                 "2020-01-01", "--until", until])
    assert r.exit_code == 3 and "GAP synthetic/one:events: 2020-01-01" in r.stdout
