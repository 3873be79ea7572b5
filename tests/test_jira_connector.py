"""The jira connector drives the real `jira` SDK over sockets against the simulator, in both
Cloud and Server/Data Center modes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jira import JIRA, JIRAError

from collector.config import load
from collector.runner import Collector, Selection
from connectors.jira.connector import JiraFactory
from simulators.jira import Fault, JiraSimulator, generate
from storage.store import EvidenceStore

NOW = datetime(2026, 7, 1, tzinfo=UTC)
DATA = generate(60, start=NOW - timedelta(days=85), end=NOW - timedelta(days=1), long_every=9)


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest) -> Iterator[JiraSimulator]:
    with JiraSimulator(request.param, DATA, bot_time_zone="Asia/Tokyo") as s:
        yield s


def _conf(sim: JiraSimulator, extra: str = "", *, both: bool = False) -> str:
    os.environ["JIRA_TEST_TOKEN"] = sim.api_token
    os.environ["JIRA_TEST_PAT"] = sim.pat
    cloud = f'email = "{sim.cloud_email}"\napi_token = {{ env = "JIRA_TEST_TOKEN" }}\n'
    dc = 'pat = { env = "JIRA_TEST_PAT" }\n'
    cred = cloud + dc if both else (cloud if sim.deployment == "cloud" else dc)
    return (f'[[connectors]]\ntype = "jira"\ninstance = "site"\nurl = "{sim.url}"\n{cred}'
            f'jql = "project = CHG"\n{extra}')


def _search(sim: JiraSimulator) -> str:
    return "/rest/api/2/search/jql" if sim.deployment == "cloud" else "/rest/api/2/search"


def _run(config_file: Callable[..., Path], sim: JiraSimulator, extra: str = "",
         wrong_secret: str | None = None) -> tuple[Any, EvidenceStore]:
    cfg = load(config_file(connectors=_conf(sim, extra)))
    if wrong_secret is not None:
        os.environ["JIRA_TEST_TOKEN"] = os.environ["JIRA_TEST_PAT"] = wrong_secret
    store = EvidenceStore.open(cfg)
    waits: list[float] = []
    factory = JiraFactory(sleep=waits.append)
    return Collector(cfg, store, clock=lambda: NOW, sleep=lambda s: None,
                     factories={"jira": factory}).run(Selection()), store


def test_both_deployments_collect_every_ticket_with_its_full_changelog(
        config_file: Callable[..., Path], sim: JiraSimulator) -> None:
    """Every ticket updated in the 90-day lookback is stored once, with all its history."""
    summary, store = _run(config_file, sim)
    (out,) = summary.outcomes
    assert out.status == "complete", out.error
    tickets: dict[str, Any] = {}
    for rid in out.record_ids:
        content = store.blob_json(store.record(rid)["content_sha256"])  # type: ignore[index]
        assert content["deployment"] == ("Cloud" if sim.deployment == "cloud" else "Server")
        for t in content["tickets"]:
            assert t["key"] not in tickets
            tickets[t["key"]] = t
    assert set(tickets) == {t.key for t in DATA.tickets}
    for t in DATA.tickets:
        got = tickets[t.key]
        assert got["changelog_complete"] and got["changelog_total"] == len(t.history)
        kept = [h for h in t.history if any(f in ("status", "assignee", "resolution")
                                            for f, _, _ in h.items)]
        assert len(got["history"]) == len(kept)
        assert got["linked_changes"] == [t.links[0].split("github.com/")[1].replace(
            "/pull/", "#")]
    stats = dict(sim.stats)
    if sim.deployment == "cloud":
        assert stats.get("GET /rest/api/2/issue/{key}/changelog", 0) >= 6  # long histories
        assert "GET /rest/api/2/search" not in stats
    else:
        assert "GET /rest/api/2/issue/{key}/changelog" not in stats
        assert "GET /rest/api/2/search/jql" not in stats


def test_verdicts_match_the_generated_approvals(config_file: Callable[..., Path],
                                                sim: JiraSimulator) -> None:
    """Self-approved and never-approved tickets fail; independently approved ones pass."""
    summary, store = _run(config_file, sim)
    verdicts: dict[str, str] = {}
    for rid in summary.outcomes[0].record_ids:
        for f in store.blob_json(store.record(rid)["findings_sha256"]):  # type: ignore[index]
            verdicts[f["resource"].rsplit("/", 1)[1]] = f["status"]
    for i, t in enumerate(DATA.tickets):
        bad = i % 13 == 12 or i % 11 == 10 or i % 17 == 16
        assert verdicts[t.key] == ("fail" if bad else "pass"), t.key


def test_a_429_is_waited_out_and_recorded(config_file: Callable[..., Path],
                                          sim: JiraSimulator) -> None:
    """A 429 with Retry-After is retried by the connector and counted in the provenance."""
    sim.inject(Fault(429, path=_search(sim), retry_after=1, times=1))
    summary, store = _run(config_file, sim)
    assert summary.outcomes[0].status == "complete"
    retries = sum(store.record(r)["retries"] for r in summary.outcomes[0].record_ids)  # type: ignore[index]
    assert retries == 1


def test_rate_limited_past_the_wait_budget_is_partial(config_file: Callable[..., Path],
                                                      sim: JiraSimulator) -> None:
    """Still limited after rate_limit_wait_seconds: the window is partial, never a pass."""
    sim.inject(Fault(429, path=_search(sim), retry_after=30, times=-1))
    summary, store = _run(config_file, sim, "rate_limit_wait_seconds = 5\n")
    out = summary.outcomes[0]
    assert out.status == "partial" and "429" in (out.error or "")
    r = store.record(out.record_ids[0])
    assert r is not None and r["status"] == "partial"
    findings = store.blob_json(r["findings_sha256"])
    assert any(f["status"] == "inconclusive" for f in findings)
    assert store.watermark("jira", "site", "change_tickets") is None


def test_a_server_error_on_page_two_is_never_a_pass(config_file: Callable[..., Path],
                                                    sim: JiraSimulator) -> None:
    """A 500 on every search after the first: the window it hits mid-way is partial (or,
    hit on its first page, failed); no record after it is complete."""
    sim.inject(Fault(500, path=_search(sim), after=1, times=-1))
    summary, store = _run(config_file, sim, "page_size = 2\n")
    out = summary.outcomes[0]
    assert out.status in ("partial", "failed") and "HTTP 500" in (out.error or "")
    statuses = [store.record(r)["status"] for r in out.record_ids]  # type: ignore[index]
    assert statuses[-1] in ("partial", "failed") and statuses.count("complete") <= 1


def test_a_server_error_on_the_first_page_fails_the_window(
        config_file: Callable[..., Path], sim: JiraSimulator) -> None:
    """A 500 on every search page fails the window (the run loop's retries included)."""
    sim.inject(Fault(500, path=_search(sim), times=-1))
    summary, _ = _run(config_file, sim)
    out = summary.outcomes[0]
    assert out.status == "failed" and "HTTP 500" in (out.error or "")


def test_wrong_credentials_are_an_auth_error_without_the_secret(
        config_file: Callable[..., Path], sim: JiraSimulator) -> None:
    """A refused token fails the snapshot with AuthError; the token appears nowhere."""
    summary, store = _run(config_file, sim, wrong_secret="something-else-entirely")
    out = summary.outcomes[0]
    assert out.status == "failed" and "AuthError" in (out.error or "")
    assert "HTTP 401" in (out.error or "")
    r = store.record(out.record_ids[0])
    blob = str(store.blob_json(r["ipe_sha256"])) + str(r)  # type: ignore[index]
    for secret in ("something-else-entirely", sim.api_token, sim.pat):
        assert secret not in blob and secret not in (out.error or "")


def test_check_says_which_credential_works(config_file: Callable[..., Path],
                                           sim: JiraSimulator) -> None:
    """With both credentials configured, check names the one the site accepts."""
    from connectors.jira import JiraConnector

    cfg = load(config_file(connectors=_conf(sim, both=True)))
    inst = cfg.connectors[0]
    res = JiraConnector(inst.instance, inst.config).check()
    assert res.ok
    good, bad = ("cloud", "datacenter") if sim.deployment == "cloud" else ("datacenter", "cloud")
    assert f"{good} credential: ok" in res.detail
    assert f"{bad} credential: not usable" in res.detail
    assert sim.api_token not in res.detail and sim.pat not in res.detail


def test_check_reports_a_project_the_account_cannot_browse(
        config_file: Callable[..., Path], sim: JiraSimulator) -> None:
    """A JQL naming an invisible project fails check with Jira's own message."""
    from connectors.jira import JiraConnector

    sim.visible = set()
    cfg = load(config_file(connectors=_conf(sim)))
    inst = cfg.connectors[0]
    res = JiraConnector(inst.instance, inst.config).check()
    assert not res.ok and "does not exist for the field 'project'" in res.detail


def test_cloud_removed_the_legacy_search_and_dc_has_no_changelog_endpoint() -> None:
    """The simulator answers as documented: Cloud /search is 410, DC /changelog is 404."""
    with JiraSimulator("cloud", DATA) as c:
        j = JIRA(server=c.url, basic_auth=(c.cloud_email, c.api_token), max_retries=0)
        with pytest.raises(JIRAError) as e:
            j._get_json("search", params={"jql": "project = CHG"})
        assert e.value.status_code == 410
        with pytest.raises(JIRAError, match=r"deprecated"):
            j.search_issues("project = CHG", startAt=5)
        page = j._get_json("issue/CHG-9/changelog", params={"startAt": 0})
        assert page["total"] == len(DATA.by_key()["CHG-9"].history) > 100
    with JiraSimulator("datacenter", DATA) as d:
        j = JIRA(server=d.url, token_auth=d.pat, max_retries=0)
        with pytest.raises(JIRAError) as e:
            j._get_json("issue/CHG-9/changelog")
        assert e.value.status_code == 404
        issue = j.issue("CHG-9", expand="changelog")
        assert len(issue.changelog.histories) == len(DATA.by_key()["CHG-9"].history)


def test_jql_bare_dates_mean_midnight_at_the_start_of_the_day_in_the_users_zone() -> None:
    """`resolutiondate <= "D"` excludes tickets resolved later on day D, in the user's zone."""
    data = generate(40, start=datetime(2026, 3, 1, tzinfo=UTC),
                    end=datetime(2026, 3, 20, tzinfo=UTC))
    for tzname in ("UTC", "America/New_York"):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(tzname)
        with JiraSimulator("datacenter", data, bot_time_zone=tzname) as d:
            j = JIRA(server=d.url, token_auth=d.pat, max_retries=0)
            got = j.search_issues('project = CHG AND resolutiondate <= "2026-03-10"',
                                  maxResults=False, fields="key")
            bound = datetime(2026, 3, 10, tzinfo=tz)
            want = {t.key for t in data.tickets if t.resolutiondate and t.resolutiondate <= bound}
            assert {i.key for i in got} == want
            assert any(t.resolutiondate and bound < t.resolutiondate < bound + timedelta(days=1)
                       for t in data.tickets)


def test_the_last_retried_answer_keeps_jiras_error_message(
        config_file: Callable[..., Path], sim: JiraSimulator) -> None:
    """A 500 on every attempt: the kit reads each retried answer's body before retrying, so
    the last one still carries Jira's documented `errorMessages` into the failed outcome and
    the provenance call (redacted, bounded), not an empty body."""
    sim.inject(Fault(500, path=_search(sim), times=-1))
    summary, store = _run(config_file, sim)
    out = summary.outcomes[0]
    assert out.status == "failed" and "HTTP 500: Internal server error" in (out.error or "")
    r = store.record(out.record_ids[0])
    assert r is not None
    calls = [c for c in store.blob_json(r["ipe_sha256"])["calls"] if not c["ok"]]
    assert calls and calls[-1]["error"] == "HTTP 500: Internal server error"
    assert calls[-1]["retries"] >= 1


def test_an_app_account_moving_a_ticket_to_approved_is_no_independent_approval(
        config_file: Callable[..., Path]) -> None:
    """Jira Cloud's REST User object: accountType "app" is a "system account used for
    Connect applications and OAuth to represent external systems" (e.g. Automation for
    Jira), as opposed to "atlassian", a person. A ticket moved into Approved only by
    automation passed as approved by someone other than its assignee; no person's approval
    shows in the ticket, so it is inconclusive, naming the app. Read through the jira SDK."""
    from simulators.jira import User

    data = generate(3, start=NOW - timedelta(days=20), end=NOW - timedelta(days=2))
    bot = User("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "automation", "automation",
               "Automation for Jira", "automation@connect.atlassian.com",
               account_type="app")
    data.users[bot.account_id] = bot
    ticket = data.tickets[0]
    approvals = [c for c in ticket.history
                 if any(f == "status" and to == "Approved" for f, _, to in c.items)]
    assert approvals
    for c in approvals:
        c.author = bot.account_id
    with JiraSimulator("cloud", data) as sim:
        summary, store = _run(config_file, sim)
    verdicts: dict[str, Any] = {}
    for rid in summary.outcomes[0].record_ids:
        for f in store.blob_json(store.record(rid)["findings_sha256"]):  # type: ignore[index]
            verdicts[f["resource"].rsplit("/", 1)[1]] = f
    got = verdicts[ticket.key]
    assert got["status"] == "inconclusive", got
    assert "Automation for Jira" in got["reason"] and "app" in got["reason"]
    assert verdicts[data.tickets[1].key]["status"] == "pass"
