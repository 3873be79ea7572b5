"""The cross-platform join: GitHub merged changes against Jira ticket approvals, ledgered,
sampled and re-derived from the store alone."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from collector.config import load
from collector.runner import Collector, Selection
from connectors.jira.connector import JiraFactory
from fieldwork.changes import GITHUB, derive, judge, rederive
from fieldwork.sample import freeze_population, record_sample
from fieldwork.sample import rederive as rederive_sample
from simulators.jira import JiraSimulator, Ticket, generate
from storage.index import records
from storage.store import EvidenceStore, NewRecord
from tests.test_jira_assess import APPROVED, T0, oracle, tickets

NOW = datetime(2026, 7, 1, tzinfo=UTC)
SINCE, UNTIL = NOW - timedelta(days=60), NOW


def github_items(content: Any) -> list[dict[str, Any]]:
    """merged_changes items in the shape GitHub's connector documents (CONNECTORS.md)."""
    return [{"id": c["id"], "time": c["merged_at"], "repo": c["repo"], "number": c["number"],
             "author": c["author"], "merged_by": c["merged_by"], "kind": c["kind"],
             "ticket_keys": c["ticket_keys"], "verdict": c["verdict"], "reason": c["reason"]}
            for c in content["changes"]]


def items_of(connector: str, snap: str) -> Callable[[Any], list[dict[str, Any]]]:
    if (connector, snap) == GITHUB:
        return github_items
    from fieldwork.changes import _items_of

    return _items_of(connector, snap)


# --- the pure verdict, against the oracle ---------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(tickets(), st.integers(0, 40000), st.sampled_from(["pass", "fail", "inconclusive"]),
       st.sampled_from([[], ["CHG-1"], ["CHG-9"], ["CHG-9", "CHG-1"]]), st.booleans())
def test_join_verdict_matches_the_oracle(ticket: dict[str, Any], secs: int, review: str,
                                         keys: list[str], linked: bool) -> None:
    """Pass only with a named or linking ticket independently approved before the merge,
    and a passing review; no ticket at all fails."""
    merged = T0 + timedelta(seconds=secs)
    change = {"id": "acme/api#7", "time": merged.isoformat(), "ticket_keys": keys,
              "verdict": review, "reason": "r"}
    lookup = {"CHG-1": {"ticket": ticket, "approved_statuses": APPROVED, "record": "r1"}}
    links = {"acme/api#7": ["CHG-1"]} if linked else {}
    got = judge(change, lookup, links)
    reaches = "CHG-1" in keys or linked
    ok = reaches and any(ok and t < merged for t, _, ok in oracle(ticket))
    want_ticket = "pass" if ok else "fail"
    assert got["ticket_verdict"] == want_ticket
    assert got["approved_before_merge"] is ok
    rank = {"pass": 0, "inconclusive": 1, "fail": 2}
    assert got["verdict"] == max(want_ticket, review, key=lambda v: rank[v])
    if not keys and not linked:
        assert "no ticket" in got["ticket_reason"]


# --- end to end on a store ------------------------------------------------------------------

def _approved_at(t: Ticket) -> datetime:
    return next(c.created for c in t.history if ("status", "In Review", "Approved") in c.items)


def _changes(data: list[Ticket]) -> list[dict[str, Any]]:
    """A GitHub population for the tickets: most merged after approval, some before."""
    out = []
    for i, t in enumerate(data):
        if t.resolutiondate is None or not (SINCE <= t.resolutiondate < UNTIL) or i % 13 == 12:
            continue
        merged = _approved_at(t) + (timedelta(hours=-1) if i % 5 == 4 else timedelta(hours=1))
        repo, number = t.links[0].split("github.com/")[1].split("/pull/")
        keys = [] if i % 6 == 5 else [t.key]  # every 6th names no key; its ticket links it
        out.append({"id": f"{repo}#{number}", "kind": "pull_request", "repo": repo,
                    "number": int(number), "author": "dev", "merged_by": "lead",
                    "merged_at": merged.isoformat().replace("+00:00", "Z"),
                    "ticket_keys": keys, "verdict": "pass", "reason": "approved"})
    out.append({"id": "acme/web#9999", "kind": "pull_request", "repo": "acme/web",
                "number": 9999, "author": "dev", "merged_by": "dev",
                "merged_at": (NOW - timedelta(days=3)).isoformat(), "ticket_keys": [],
                "verdict": "fail", "reason": "no review"})
    return out


def _store_github(store: EvidenceStore, changes: list[dict[str, Any]], start: datetime,
                  end: datetime) -> str:
    run = store.start_run("test")
    row = store.append([NewRecord(
        run_id=run, connector="github", instance="acme", snapshot="merged_changes",
        kind="population", controls=("CC8.1",), max_age_seconds=86400,
        collected_started_at=end, collected_finished_at=end, status="complete",
        ipe={"principal": "app", "source": "acme"}, content={"changes": [
            c for c in changes if start <= datetime.fromisoformat(
                c["merged_at"].replace("Z", "+00:00")) < end]},
        has_content=True, period_start=start, period_end=end)])[0]
    store.finish_run(run, "ok", {})
    store.seal(run, [int(row["seq"])])
    return str(row["id"])


def jira_collected(config_file: Callable[..., Path], tickets: int) -> tuple[EvidenceStore, Any]:
    """A store holding one Jira Data Center collection of `tickets` generated change tickets
    (from the simulator), and the generated data."""
    data = generate(tickets, start=NOW - timedelta(days=75), end=NOW - timedelta(days=2))
    with JiraSimulator("datacenter", data) as sim:
        os.environ["JIRA_TEST_PAT"] = sim.pat
        cfg = load(config_file(connectors=(
            f'[[connectors]]\ntype = "jira"\ninstance = "site"\nurl = "{sim.url}"\n'
            'pat = { env = "JIRA_TEST_PAT" }\njql = "project = CHG"\n')))
        store = EvidenceStore.open(cfg)
        summary = Collector(cfg, store, clock=lambda: NOW, sleep=lambda s: None,
                            factories={"jira": JiraFactory(sleep=lambda s: None)}
                            ).run(Selection())
        assert summary.ok
    return store, data


@pytest.fixture
def joined(config_file: Callable[..., Path]) -> tuple[EvidenceStore, Any, list[Ticket]]:
    store, data = jira_collected(config_file, 80)
    changes = _changes(data.tickets)
    _store_github(store, changes, SINCE, SINCE + timedelta(days=30))
    _store_github(store, changes, SINCE + timedelta(days=30), UNTIL)
    return store, derive(store, SINCE, UNTIL, items_of=items_of), data.tickets


def test_each_change_gets_its_ticket_and_approval_verdict(
        joined: tuple[EvidenceStore, Any, list[Ticket]]) -> None:
    """Approved-before-merge passes; after-merge, self-approved, unapproved and no-ticket
    changes fail; a change naming no key is joined through the ticket's remote link."""
    store, row, data = joined
    assert row["status"] == "complete"
    content = store.blob_json(row["content_sha256"])
    by_id = {c["id"]: c for c in content["changes"]}
    assert by_id["acme/web#9999"]["verdict"] == "fail"
    assert "no ticket" in by_id["acme/web#9999"]["ticket_reason"]
    checked = linked = 0
    for i, t in enumerate(data):
        repo, number = t.links[0].split("github.com/")[1].split("/pull/")
        c = by_id.get(f"{repo}#{number}")
        if c is None:
            continue
        checked += 1
        assert c["ticket_keys"] == [t.key]  # named, or found through the remote link
        linked += i % 6 == 5
        self_approved = i % 11 == 10 or i % 17 == 16
        assert c["ticket"] == (None if self_approved else t.key)
        late = i % 5 == 4
        assert c["verdict"] == ("fail" if self_approved or late else "pass"), (t.key, c)
        if c["verdict"] == "pass":
            assert c["approved_before_merge"] and c["approved_at"] < c["time"]
        elif late and not self_approved:
            assert "after the merge" in c["ticket_reason"]
    assert checked > 20 and linked > 2


def test_the_join_is_the_cc81_population_and_can_be_sampled_and_rederived(
        joined: tuple[EvidenceStore, Any, list[Ticket]]) -> None:
    """population --control CC8.1 returns the joined items (not its inputs); a sample of
    them re-derives, and the join itself re-derives from the records it names."""
    store, row, _ = joined
    pop = freeze_population(store, ["CC8.1"], SINCE, UNTIL)
    assert pop.series == ["changes/all:change_approvals"] and pop.complete
    content = store.blob_json(row["content_sha256"])
    assert [i["id"] for i in pop.items] == [c["id"] for c in content["changes"]]
    sample_row, chosen = record_sample(store, pop, 5, "seed-1")
    assert len(chosen) == 5 and rederive_sample(store, sample_row["id"]) == []
    ipe = store.blob_json(row["ipe_sha256"])
    assert {i["series"] for i in ipe["inputs"]} == {"github/acme:merged_changes",
                                                   "jira/site:change_tickets"}
    assert all(len(i["content_sha256"]) == 64 and len(i["record_hash"]) == 64
               for i in ipe["inputs"])
    assert rederive(store, row["id"], items_of=items_of) == ([], [])
    from storage.verify import verify

    rep = verify(store)
    assert rep.ok, [str(p) for p in rep.problems]  # the join's run sealed what it wrote


def test_rederive_names_a_changed_input(joined: tuple[EvidenceStore, Any, list[Ticket]]
                                        ) -> None:
    """An input record whose content hash was rewritten is named by the re-derivation."""
    store, row, _ = joined
    victim = store.blob_json(row["ipe_sha256"])["inputs"][0]["id"]
    with store.engine.begin() as conn:
        conn.execute(update(records).where(records.c.id == victim)
                     .values(content_sha256=row["content_sha256"]))
    problems, _ = rederive(store, row["id"], items_of=items_of)
    assert len(problems) == 1 and victim in problems[0]


def test_a_gap_in_github_windows_makes_the_join_partial(
        config_file: Callable[..., Path]) -> None:
    """With a GitHub window missing, the join is partial and the population shows the gap."""
    cfg = load(config_file(connectors=""))
    store = EvidenceStore.open(cfg)
    ch = [{"id": "a/b#1", "kind": "pull_request", "repo": "a/b", "number": 1, "author": "x",
           "merged_by": "y", "merged_at": (SINCE + timedelta(days=1)).isoformat(),
           "ticket_keys": ["CHG-1"], "verdict": "pass", "reason": "ok"}]
    _store_github(store, ch, SINCE, SINCE + timedelta(days=10))
    run = store.start_run("test")
    store.append([NewRecord(
        run_id=run, connector="jira", instance="s", snapshot="change_tickets",
        kind="population", controls=("CC8.1",), max_age_seconds=86400,
        collected_started_at=NOW, collected_finished_at=NOW, status="complete", ipe={},
        content={"approved_statuses": ["Approved"], "tickets": []}, has_content=True,
        period_start=SINCE, period_end=UNTIL)])
    row = derive(store, SINCE, UNTIL, items_of=items_of)
    assert row["status"] == "partial" and "gap in github/acme:merged_changes" in row["error"]
    content = store.blob_json(row["content_sha256"])
    assert content["changes"][0]["verdict"] == "fail"  # CHG-1 was never collected
    pop = freeze_population(store, ["CC8.1"], SINCE, UNTIL)
    assert not pop.complete and pop.gaps


def test_the_cli_refuses_a_join_without_both_inputs(config_file: Callable[..., Path]) -> None:
    """`evidence changes join` on a store without GitHub and Jira records: one line, exit 2."""
    from click.testing import CliRunner

    from collector.cli import cli

    p = config_file(connectors="")
    r = CliRunner().invoke(cli, ["-c", str(p), "changes", "join", "--since", "2026-01-01",
                                 "--until", "2026-02-01"])
    assert r.exit_code == 2
    assert "needs collected github merged_changes and jira change_tickets" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
