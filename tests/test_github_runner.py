"""The `github` connector through the run loop, the store and a frozen CC8.1 population."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.sample import freeze_population
from simulators.github import GitHubSimulator
from simulators.github_seed import SeedSummary, seed_org
from storage.store import EvidenceStore


@pytest.fixture(scope="module")
def github() -> Iterator[tuple[GitHubSimulator, SeedSummary]]:
    with GitHubSimulator() as sim:
        sim.add_token("ghp_runner_token", login="auditor")
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        yield sim, seed_org(sim, "acme", repos=2, merged_prs=45, days=12, end=end)


def _collector(config_file: Callable[..., Path], url: str,
               monkeypatch: pytest.MonkeyPatch) -> tuple[Collector, EvidenceStore]:
    monkeypatch.setenv("GH_RUNNER_TOKEN", "ghp_runner_token")
    conns = (f'[[connectors]]\ntype = "github"\ninstance = "acme"\nbase_url = "{url}"\n'
             f'organizations = ["acme"]\ntoken = {{ env = "GH_RUNNER_TOKEN" }}\n'
             f'seconds_between_requests = 0\nconcurrency = 2\n')
    cfg = load(config_file(connectors=conns))
    return Collector(cfg, EvidenceStore.open(cfg), sleep=lambda s: None), EvidenceStore.open(cfg)


def test_collection_stores_every_window_and_freezes_the_cc81_population(
        github: tuple[GitHubSimulator, SeedSummary], config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """All github snapshots complete through the runner; the merged_changes windows cover the
    period and the frozen CC8.1 population holds every seeded change with its verdict; an
    unchanged posture re-collection stores the same content."""
    sim, seeded = github
    col, st = _collector(config_file, sim.url, monkeypatch)
    first = col.run(Selection(connectors=("github",)))
    assert {o.status for o in first.outcomes} == {"complete"}, [
        (o.snapshot, o.error) for o in first.outcomes]
    pop = freeze_population(st, ["CC8.1"], seeded.start, seeded.end,
                            snapshot="merged_changes")
    assert pop.complete, pop.gaps
    ids = {i["id"] for i in pop.items if i["kind"] == "pull_request"}
    assert ids == set(seeded.expected)
    verdicts = {i["id"]: i["verdict"] for i in pop.items}
    for pid, deviation in seeded.expected.items():
        assert (verdicts[pid] == "pass") == (deviation == "ok"), pid
    assert {i["id"] for i in pop.items if i["kind"] == "direct_push"} == set(
        seeded.direct_pushes)
    by = {o.snapshot: o for o in first.outcomes}
    rec = st.record(by["branch_protection"].record_ids[-1])
    assert rec is not None and rec["principal"] == "user auditor"
    again = col.run(Selection(snapshots=("branch_protection",)))
    rec2 = st.record(again.outcomes[0].record_ids[0])
    assert rec2 is not None and rec2["content_sha256"] == rec["content_sha256"]
