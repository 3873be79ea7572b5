"""The GitHub-Jira join on real connector output: both simulators, both real connectors
through the run loop into a store, then `changes join` and its re-derivation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.config import load
from collector.runner import Collector, Selection
from connectors.jira.connector import JiraFactory
from fieldwork.changes import derive, rederive
from simulators.github import GitHubSimulator
from simulators.github_seed import seed_org
from simulators.jira import JiraSimulator, tickets_for_changes


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_join_of_collected_github_and_jira_judges_each_change(
        deployment: str, config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A change whose ticket was approved (by someone else) before the merge passes when its
    review passes; no ticket, a ticket approved after the merge or only by its assignee
    fails, naming why; a review deviation fails the change whatever its ticket."""
    now = datetime.now(UTC).replace(microsecond=0)
    with GitHubSimulator() as gh:
        gh.add_token("ghp_join_token", login="auditor")
        seeded = seed_org(gh, "acme", repos=2, merged_prs=70, days=10,
                          end=now - timedelta(minutes=2), seed=11)
        plans = set(seeded.ticket_plan.values())
        assert plans == {"before", "after", "self", "none"}, plans  # the test sees every kind
        data = tickets_for_changes(seeded.tickets, until=now - timedelta(seconds=30))
        with JiraSimulator(deployment, data) as jira:  # type: ignore[arg-type]
            monkeypatch.setenv("GH_JOIN_TOKEN", "ghp_join_token")
            cred = (f'email = "{jira.cloud_email}"\napi_token = {{ env = "JIRA_JOIN_TOKEN" }}\n'
                    if deployment == "cloud" else 'pat = { env = "JIRA_JOIN_TOKEN" }\n')
            monkeypatch.setenv("JIRA_JOIN_TOKEN",
                               jira.api_token if deployment == "cloud" else jira.pat)
            conns = (f'[[connectors]]\ntype = "github"\ninstance = "acme"\n'
                     f'base_url = "{gh.url}"\norganizations = ["acme"]\n'
                     f'token = {{ env = "GH_JOIN_TOKEN" }}\nseconds_between_requests = 0\n'
                     f'ticket_projects = ["CHG"]\n\n'
                     f'[[connectors]]\ntype = "jira"\ninstance = "site"\nurl = "{jira.url}"\n'
                     f'{cred}jql = "project = CHG"\n')
            cfg = load(config_file(connectors=conns))
            from storage.store import EvidenceStore

            store = EvidenceStore.open(cfg)
            summary = Collector(cfg, store, sleep=lambda s: None,
                                factories={"jira": JiraFactory(sleep=lambda s: None)}
                                ).run(Selection(snapshots=("merged_changes", "change_tickets")))
            bad = [(o.connector, o.snapshot, o.status, o.error) for o in summary.outcomes
                   if o.status != "complete"]
            assert not bad, bad
    row = derive(store, seeded.start, seeded.end)
    assert row["status"] == "complete", row["error"]
    content = store.blob_json(row["content_sha256"])
    by_id = {c["id"]: c for c in content["changes"]}
    assert set(seeded.expected) <= set(by_id)
    keys = {t.pr_url.split("github.com/")[1].replace("/pull/", "#"): t.key
            for t in seeded.tickets}
    seen: dict[str, int] = {}
    for cid, deviation in seeded.expected.items():
        c, plan = by_id[cid], seeded.ticket_plan[cid]
        seen[plan] = seen.get(plan, 0) + 1
        assert c["github_verdict"] == ("pass" if deviation == "ok" else "fail"), (cid, c)
        if plan == "none":
            assert c["ticket_keys"] == [] and c["ticket"] is None
            assert c["ticket_verdict"] == "fail" and "no ticket" in c["ticket_reason"]
        else:
            assert c["ticket_keys"] == [keys[cid]]
        if plan == "before":
            assert c["ticket_verdict"] == "pass", (cid, c["ticket_reason"])
            assert c["ticket"] == keys[cid] and c["approved_before_merge"]
            assert c["approved_at"] < c["time"].replace("Z", ".000Z")
        elif plan == "after":
            assert c["ticket_verdict"] == "fail" and not c["approved_before_merge"]
            assert "after the merge" in c["ticket_reason"], c["ticket_reason"]
        elif plan == "self":
            assert c["ticket_verdict"] == "fail"
            assert "only by its assignee" in c["ticket_reason"], c["ticket_reason"]
        want = "pass" if plan == "before" and deviation == "ok" else "fail"
        assert c["verdict"] == want, (cid, deviation, plan, c["reason"])
        if deviation != "ok" and plan == "before":
            assert "review:" in c["reason"] and c["ticket_verdict"] == "pass"
    assert min(seen.values()) >= 2, seen
    for push in seeded.direct_pushes:  # pushes that bypassed review are joined and fail
        assert by_id[push]["verdict"] == "fail" and "no ticket" in by_id[push]["ticket_reason"]
    assert sum(c["verdict"] == "pass" for c in content["changes"]) > len(by_id) // 2
    assert rederive(store, row["id"]) == ([], [])
