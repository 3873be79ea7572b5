"""The `github` connector end to end: real PyGithub over sockets against the simulator."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from collector.cli import cli
from connectors.base import Provenance, SnapshotContext, SnapshotResult
from connectors.github import GitHubConfig, GitHubConnector
from connectors.github.permissions import known
from simulators.github import Fault, GitHubSimulator
from simulators.github_seed import SeedSummary, seed_org

TOKEN = "ghp_not_a_real_token_0123456789"


class Clock:
    """A clock the simulator and the connector share; sleeping advances it."""

    def __init__(self, t: datetime) -> None:
        self.t = t.timestamp()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[GitHubSimulator, SeedSummary, Clock]]:
    seed_end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(seed_end + timedelta(hours=1))
    with GitHubSimulator(prefix="/api/v3", clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        sim.add_token("reader", login="reader", repo_admin_read=False, org_admin_read=False,
                      write_rulesets=False)
        summary = seed_org(sim, "acme", merged_prs=160, repos=3, end=seed_end)
        yield sim, summary, clock


def connector(sim: GitHubSimulator, clock: Clock, monkeypatch: pytest.MonkeyPatch,
              token: str = TOKEN, **cfg: Any) -> GitHubConnector:
    monkeypatch.setenv("GH_TEST_TOKEN", token)
    conf = GitHubConfig(base_url=sim.url, organizations=["acme"],
                        token={"env": "GH_TEST_TOKEN"},  # type: ignore[arg-type]
                        seconds_between_requests=0, max_retries=2, **cfg)
    return GitHubConnector("test", conf, sleep=clock.sleep, clock=clock)


def run(c: GitHubConnector, snap: str, start: datetime | None = None,
        end: datetime | None = None) -> tuple[SnapshotResult, Provenance]:
    ipe = Provenance()
    ctx = SnapshotContext("test", snap, datetime.now(UTC), ipe, logging.getLogger("t"),
                          start, end)
    try:
        return c.run(snap, ctx), ipe
    finally:
        c.close()


def test_merged_changes_verdicts_match_what_was_seeded(seeded: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every seeded merged PR is in the population once, passing exactly when it was seeded
    clean; each deviation fails naming why; direct pushes appear; counts reconcile."""
    sim, summary, clock = seeded
    c = connector(sim, clock, monkeypatch, concurrency=3)
    res, ipe = run(c, "merged_changes", summary.start, summary.end)
    spec = GitHubConnector.snapshots()["merged_changes"]
    assert spec.items is not None
    items = spec.items(res.content)
    prs = {i["id"]: i for i in items if i["kind"] == "pull_request"}
    assert set(prs) == set(summary.expected)
    words = {"no_review": "no review before the merge", "stale_approval": "not the merged head",
             "approved_after_merge": "after the merge", "dismissed": "dismissed",
             "failed_check": "required check ci/build: failure"}
    for pid, deviation in summary.expected.items():
        it = prs[pid]
        if deviation == "ok":
            assert it["verdict"] == "pass", (pid, it["reason"])
        else:
            assert it["verdict"] == "fail", (pid, deviation)
            assert words[deviation] in it["reason"], (pid, it["reason"])
    assert Counter(summary.expected.values())["no_review"] > 0
    pushes = sorted(i["id"] for i in items if i["kind"] == "direct_push")
    assert pushes == sorted(summary.direct_pushes) and pushes
    for repo in res.content["repositories"]:
        assert repo["api_total"] == repo["fetched"]
    assert ipe.pagination_exhausted and not ipe.errors
    bypass = [i for i in prs.values() if summary.expected[i["id"]] == "no_review"]
    assert bypass and all(i["merged_by"] for i in bypass)
    assert all(("can be bypassed" if i["repo"] == "acme/service-1" else "unprotected branch")
               in i["reason"] for i in bypass)
    assert all(i["time"].endswith("Z") for i in items)
    # Mergers come from the pr_merge activity: no GET /pulls/{n} per change.
    ops = {c["operation"] for c in ipe.to_json()["calls"]}
    assert not any(op.endswith("/pulls/{n}") for op in ops)
    assert {c.get("merged_by_source") for c in res.content["changes"]
            if c["kind"] == "pull_request"} == {"activity"}


def test_merger_falls_back_to_the_pull_when_activity_lacks_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge the activity API does not show costs one GET /pulls/{n}, and names the merger."""
    end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(end)
    with GitHubSimulator(clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        s = seed_org(sim, "acme", merged_prs=8, repos=1, end=end)
        repo = sim.repos["acme/service-0"]
        gone = repo["pulls_by_number"][2]
        repo["activity"] = [a for a in repo["activity"] if a["after"] != gone["merge_commit_sha"]]
        c = connector(sim, clock, monkeypatch, repositories=["service-0"])
        res, ipe = run(c, "merged_changes", s.start, s.end)
        by = {ch["number"]: ch for ch in res.content["changes"]}
        assert by[2]["merged_by"] == gone["merged_by"] and by[2]["merged_by_source"] == "pull"
        assert by[1]["merged_by_source"] == "activity"
        calls = [c for c in ipe.to_json()["calls"]
                 if re.fullmatch(r"GET /repos/acme/service-0/pulls/\d+", c["operation"])]
        assert [(c["operation"], c["pages"]) for c in calls] == [
            ("GET /repos/acme/service-0/pulls/2", 1)]


def test_window_edges_are_half_open(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change merged exactly at period_start is in, one merged exactly at period_end is out,
    and the search count uses the same bounds."""
    sim, _summary, clock = seeded
    repo = sim.repos["acme/service-0"]
    merged = sorted((p for p in repo["pulls"] if p.get("merged_at")),
                    key=lambda p: p["merged_at"])
    start, end = merged[10]["merged_at"], merged[20]["merged_at"]
    c = connector(sim, clock, monkeypatch, repositories=["service-0"], direct_pushes=False)
    res, ipe = run(c, "merged_changes", start, end)
    numbers = {ch["number"] for ch in res.content["changes"]}
    assert merged[10]["number"] in numbers and merged[20]["number"] not in numbers
    assert len(numbers) == 10 == res.content["repositories"][0]["api_total"]
    assert ipe.api_totals == {"acme/service-0:merged_pull_requests": 10}


def test_branch_protection_layers_classic_rulesets_and_org_targeting(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Classic protection with admins enforced passes; admins not enforced fails; a ruleset
    repo passes with its evaluate ruleset not counted; the sandbox the org ruleset excludes
    is unprotected."""
    sim, _, clock = seeded
    res, _ = run(connector(sim, clock, monkeypatch), "branch_protection")
    spec = GitHubConnector.snapshots()["branch_protection"]
    assert spec.assess is not None
    found = {f.resource: f for f in spec.assess(res.content)}
    assert found["acme/service-0:main"].status == "pass"
    assert found["acme/service-1:main"].status == "fail"
    assert "bypass" in found["acme/service-1:main"].reason
    assert found["acme/service-2:main"].status == "pass"
    assert "two-reviewers-trial" in found["acme/service-2:main"].reason
    assert found["acme/sandbox-tools:main"].status == "fail"
    repo2 = next(r for r in res.content["repositories"] if r["full_name"] == "acme/service-2")
    assert repo2["effective"]["required_approvals"] == 1
    assert repo2["effective"]["force_pushes_blocked"]  # from the organization ruleset


def test_read_only_credential_without_admin_fails_or_is_inconclusive_never_pass(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Administration: read, branch_protection fails naming the permission; hidden
    ruleset bypass actors alone make a branch inconclusive; org 2FA settings stay unknown."""
    from collector.errors import PermissionDenied
    from connectors.github import assess as A

    sim, _, clock = seeded
    with pytest.raises(PermissionDenied) as e:
        run(connector(sim, clock, monkeypatch, token="reader"), "branch_protection")
    assert "repository:administration:read" in str(e.value)
    res, _ = run(connector(sim, clock, monkeypatch), "branch_protection")
    repo2 = next(r for r in res.content["repositories"] if r["full_name"] == "acme/service-2")
    for rs in repo2["rulesets"]:
        rs.pop("bypass_actors", None)
    repo2["effective"] = A.effective_protection(repo2["classic"], repo2["rules"],
                                                {r["id"]: r for r in repo2["rulesets"]})
    found = {f.resource: f.status for f in A.assess_branch_protection(
        {"repositories": [repo2]})}
    assert found == {"acme/service-2:main": "inconclusive"}
    org, _ = run(connector(sim, clock, monkeypatch, token="reader"), "org_settings")
    assert org.content["organizations"][0]["two_factor_requirement_enabled"] is None
    spec = GitHubConnector.snapshots()["org_settings"]
    assert spec.assess is not None
    assert spec.assess(org.content)[0].status != "pass"


def test_org_settings_lists_owners_members_and_missing_2fa(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Owners, members, outside collaborators and members without 2FA are all recorded."""
    sim, _, clock = seeded
    res, ipe = run(connector(sim, clock, monkeypatch), "org_settings")
    org = res.content["organizations"][0]
    assert org["owners"] == ["octo-owner", "ops-admin"]
    assert len(org["members"]) == len(sim.orgs["acme"]["members"])
    assert org["outside_collaborators"] == ["contractor-ann", "vendor-bot"]
    assert org["members_2fa_disabled"] and set(org["members_2fa_disabled"]) <= set(org["members"])
    assert ipe.principal == "user auditor"
    assert TOKEN not in json.dumps([res.content, ipe.to_json()])


def test_secondary_rate_limit_waits_retry_after_then_completes(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 secondary limit with retry-after is waited out and the snapshot completes."""
    sim, _, clock = seeded
    sim.inject(Fault(status=403, message="You have exceeded a secondary rate limit.",
                     retry_after=7, path_contains="/members", times=1))
    before = list(clock.slept)
    res, ipe = run(connector(sim, clock, monkeypatch), "org_settings")
    assert clock.slept[len(before):] == [7.0]
    assert ipe.retries == 1 and ipe.pagination_exhausted and res.content["organizations"][0][
        "owners"]


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 whose message names a secondary rate limit, with neither retry-after nor a spent
    primary limit, is waited out for a minute (GitHub's documented minimum) and retried; a
    plain 403 is not retried."""
    sim, _, clock = seeded
    sim.inject(Fault(status=403, message="You have exceeded a secondary rate limit.",
                     path="/orgs/acme/outside_collaborators", times=1))
    before = list(clock.slept)
    res, ipe = run(connector(sim, clock, monkeypatch), "org_settings")
    assert clock.slept[len(before):] == [60.0]
    retried = [c for c in ipe.to_json()["calls"] if c.get("retries")]
    assert [(c["operation"], c["retries"], c["status"]) for c in retried] == [
        ("GET /api/v3/orgs/acme/outside_collaborators", 1, 200)]
    assert res.content["organizations"][0]["outside_collaborators"]


def test_provenance_has_the_kits_form(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every exchange is one provenance call in the kit's form (operation, parameters,
    status, pages folded, items, GitHub's total), with no credential anywhere."""
    sim, summary, clock = seeded
    c = connector(sim, clock, monkeypatch, repositories=["service-1"], per_page=5,
                  direct_pushes=False)
    res, ipe = run(c, "merged_changes", summary.start, summary.end)
    calls = {x["operation"]: x for x in ipe.to_json()["calls"]}
    pulls = calls["GET /api/v3/repos/acme/service-1/pulls"]
    assert pulls["pages"] > 1 and pulls["status"] == 200 and pulls["params"] == {
        "state": "closed", "base": "main", "sort": "updated", "direction": "desc",
        "per_page": "5"}
    search = calls["GET /api/v3/search/issues"]
    assert search["total"] == res.content["repositories"][0]["api_total"]
    n = res.content["changes"][0]["number"]
    reviews = calls[f"GET /api/v3/repos/acme/service-1/pulls/{n}/reviews"]
    assert reviews["items"] == len(res.content["changes"][0]["reviews"])
    assert TOKEN not in json.dumps(ipe.to_json())


def test_primary_rate_limit_beyond_budget_ends_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the primary limit resets later than the wait budget allows, the population is
    recorded as cut short, with what was fetched, instead of sleeping or passing."""
    end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(end)
    with GitHubSimulator(rate_limit=25, clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        s = seed_org(sim, "acme", merged_prs=40, repos=1, end=end)
        c = connector(sim, clock, monkeypatch, rate_limit_wait_seconds=60, per_page=10)
        res, ipe = run(c, "merged_changes", s.start, s.end)
        assert not ipe.pagination_exhausted
        assert any("rate limit" in e for e in ipe.errors)
        assert clock.slept == []
        assert len(res.content["changes"]) < 40


def test_primary_rate_limit_within_budget_waits_for_reset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the reset comes within the budget, the connector sleeps until it and finishes."""
    end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(end)
    with GitHubSimulator(rate_limit=25, clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        s = seed_org(sim, "acme", merged_prs=40, repos=1, end=end)
        c = connector(sim, clock, monkeypatch, rate_limit_wait_seconds=10 * 3600, per_page=10)
        res, ipe = run(c, "merged_changes", s.start, s.end)
        assert ipe.pagination_exhausted and not ipe.errors
        assert len(clock.slept) >= 2 and all(0 < w <= 3601 for w in clock.slept)
        assert len([x for x in res.content["changes"] if x["kind"] == "pull_request"]) == 40


def test_server_error_on_page_two_is_retried(seeded: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 on page 2 of the pull list is retried with backoff and nothing is lost."""
    sim, summary, clock = seeded
    sim.inject(Fault(status=500, page=2, path_contains="/repos/acme/service-1/pulls", times=1))
    c = connector(sim, clock, monkeypatch, repositories=["service-1"], per_page=5,
                  direct_pushes=False)
    res, ipe = run(c, "merged_changes", summary.start, summary.end)
    assert ipe.retries >= 1 and ipe.pagination_exhausted and not ipe.errors
    assert res.content["repositories"][0]["fetched"] == res.content["repositories"][0][
        "api_total"]


def test_bad_token_fails_check_without_echoing_it(seeded: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong token makes check() fail with an auth message that does not contain it."""
    sim, _, clock = seeded
    r = connector(sim, clock, monkeypatch, token="ghp_wrong_secret_value").check()
    assert not r.ok and "credentials" in r.detail and "ghp_wrong_secret_value" not in r.detail
    ok = connector(sim, clock, monkeypatch).check()
    assert ok.ok and ok.principal == "user auditor"
    weak = connector(sim, clock, monkeypatch, token="reader").check()
    assert not weak.ok and "Administration" in weak.detail


def test_github_app_on_enterprise_server_base_url(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A GitHub App (key file by reference) collects from a GHES-style /api/v3 base URL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(end)
    with GitHubSimulator(prefix="/api/v3", clock=clock) as sim:
        s = seed_org(sim, "acme", merged_prs=12, repos=1, end=end)
        sim.add_app(31337, pub, installation_id=99)
        conf = GitHubConfig(base_url=sim.url, organizations=["acme"],
                            app={"app_id": 31337, "installation_id": 99,  # type: ignore[arg-type]
                                 "private_key": {"file": str(pem)}},
                            seconds_between_requests=0)
        c = GitHubConnector("ghes", conf, sleep=clock.sleep, clock=clock)
        assert c.check().ok
        res, ipe = run(c, "merged_changes", s.start, s.end)
        assert ipe.principal == "GitHub App 31337 installation 99"
        assert len([x for x in res.content["changes"] if x["kind"] == "pull_request"]) == 12
        assert "BEGIN" not in json.dumps([res.content, ipe.to_json()])


def test_config_rejects_two_credentials_and_stray_repositories() -> None:
    """A config names exactly one credential, and repositories only inside its orgs."""
    with pytest.raises(ValueError, match="exactly one"):
        GitHubConfig(organizations=["acme"])
    with pytest.raises(ValueError, match="outside organizations"):
        GitHubConfig(organizations=["acme"], token={"env": "X"},  # type: ignore[arg-type]
                     repositories=["other/api"])


def test_permissions_command_prints_read_only_github_permissions() -> None:
    """`evidence connectors permissions github` lists read-only permissions GitHub names."""
    out = CliRunner().invoke(cli, ["connectors", "permissions", "github"])
    assert out.exit_code == 0, out.output
    for name in ("Pull requests: Read-only", "Administration: Read-only", "Members: Read-only",
                 "Checks: Read-only", "Metadata: Read-only"):
        assert name in out.output
    assert "write" not in out.output.lower().replace("write access", "")
    assert known(GitHubConnector.permissions()) == []


def test_a_page_failing_after_retries_cuts_the_population_short(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 that outlasts the retries on page 2 of the pull list keeps what was read, marks
    the record cut short and the population inconclusive, never complete."""
    sim, summary, clock = seeded
    sim.inject(Fault(status=500, page=2, path="/repos/acme/service-1/pulls", times=None))
    try:
        c = connector(sim, clock, monkeypatch, repositories=["service-1"], per_page=5,
                      direct_pushes=False)
        res, ipe = run(c, "merged_changes", summary.start, summary.end)
    finally:
        sim.clear_faults()
    assert not ipe.pagination_exhausted and "stopped after 1 page(s)" in ipe.errors[0]
    repo = res.content["repositories"][0]
    assert 0 < repo["fetched"] < repo["api_total"]
    spec = GitHubConnector.snapshots()["merged_changes"]
    assert spec.assess is not None
    pop = [f for f in spec.assess(res.content) if f.resource.endswith(":population")]
    assert [f.status for f in pop] == ["inconclusive"]


def test_a_denied_call_fails_and_names_the_permission(
        seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 on the organization's repository list fails the snapshot with a hint naming
    the permission id to grant; a 403 on the only organization fails org_settings."""
    from collector.errors import PermissionDenied

    sim, summary, clock = seeded
    sim.inject(Fault(status=403, message="Resource not accessible by personal access token",
                     path="/orgs/acme/repos", times=None))
    try:
        with pytest.raises(PermissionDenied) as e:
            run(connector(sim, clock, monkeypatch), "merged_changes", summary.start,
                summary.end)
        assert "repository:metadata:read" in str(e.value)
    finally:
        sim.clear_faults()
    sim.inject(Fault(status=403, message="Must have admin rights", path="/orgs/acme",
                     times=None))
    try:
        with pytest.raises(PermissionDenied) as e2:
            run(connector(sim, clock, monkeypatch), "org_settings")
        assert "organization:administration:read" in str(e2.value)
    finally:
        sim.clear_faults()


def test_classic_bypass_allowances_let_named_actors_skip_review(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub's "Managing a branch protection rule" (docs.github.com/repositories/
    configuring-branches-and-merges-in-your-repository/managing-protected-branches/
    managing-a-branch-protection-rule): "to allow specific actors to push code to the branch
    without creating pull requests when they're required, select Allow specified actors to
    bypass required pull requests"; GET .../branches/{branch}/protection reports them under
    required_pull_request_reviews.bypass_pull_request_allowances (users, teams, apps).
    Classic protection with admins enforced and a user, a team and an app allowed to bypass
    passed as "1 approval(s) required for everyone"; it fails naming the three, read through
    PyGithub from the simulator."""
    seed_end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(seed_end + timedelta(hours=1))
    with GitHubSimulator(prefix="/api/v3", clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        seed_org(sim, "acme", merged_prs=6, repos=1, end=seed_end)
        repo = sim.repos["acme/service-0"]
        rv = repo["protection"]["main"]["required_pull_request_reviews"]
        assert repo["protection"]["main"]["enforce_admins"] is True
        before, _ = run(connector(sim, clock, monkeypatch), "branch_protection")
        spec = GitHubConnector.snapshots()["branch_protection"]
        assert spec.assess is not None
        assert {f.resource: f.status for f in spec.assess(before.content)}[
            "acme/service-0:main"] == "pass"
        rv["bypass_pull_request_allowances"] = {"users": ["release-bot-user"],
                                                "teams": ["platform"], "apps": ["deployer"]}
        res, _ = run(connector(sim, clock, monkeypatch), "branch_protection")
    found = {f.resource: f for f in spec.assess(res.content)}
    f = found["acme/service-0:main"]
    assert f.status == "fail"
    assert "review can be bypassed" in f.reason
    for who in ("user release-bot-user", "team platform", "app deployer"):
        assert who in f.reason
    eff = next(r for r in res.content["repositories"]
               if r["full_name"] == "acme/service-0")["effective"]
    assert eff["required_approvals"] == 1 and eff["review_required_for_everyone"] is False


def _merged_changes_after(monkeypatch: pytest.MonkeyPatch,
                          tamper: Callable[[GitHubSimulator, list[str]], None]
                          ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """merged_changes items of a one-repository org read through PyGithub, after `tamper`
    changed the simulator; with the ids of the changes the seed made approved ("ok")."""
    seed_end = datetime(2026, 10, 1, tzinfo=UTC)
    clock = Clock(seed_end + timedelta(hours=1))
    with GitHubSimulator(prefix="/api/v3", clock=clock) as sim:
        sim.add_token(TOKEN, login="auditor")
        summary = seed_org(sim, "acme", merged_prs=12, repos=1, end=seed_end)
        ok = sorted(k for k, v in summary.expected.items() if v == "ok")
        assert len(ok) >= 2
        tamper(sim, ok)
        res, _ = run(connector(sim, clock, monkeypatch), "merged_changes", summary.start,
                     summary.end)
    spec = GitHubConnector.snapshots()["merged_changes"]
    assert spec.items is not None
    return {i["id"]: i for i in spec.items(res.content)}, ok


def _approvals(sim: GitHubSimulator, pr_id: str) -> list[dict[str, Any]]:
    repo_name, number = pr_id.split("#")
    pr = sim.repos[repo_name]["pulls_by_number"][int(number)]
    return [r for r in pr["reviews"] if r["state"] == "APPROVED"]


def test_approval_without_write_access_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub's "About protected branches": with required reviews, changes reach a protected
    branch "via a pull request that is approved by the required number of reviewers with
    write permissions". A review's author_association (REST pull request review) NONE,
    CONTRIBUTOR, FIRST_TIMER, FIRST_TIME_CONTRIBUTOR or MANNEQUIN says the reviewer is neither
    the owner, an organization member nor an invited collaborator, so holds no write access
    (anyone may review a public repository's pull request). A PR whose only approval came
    from such a user passed; it fails naming the association. Read through PyGithub."""
    def tamper(sim: GitHubSimulator, ok: list[str]) -> None:
        for r in _approvals(sim, ok[0]):
            r["author_association"] = "CONTRIBUTOR"

    items, ok = _merged_changes_after(monkeypatch, tamper)
    drive_by, member = ok[0], ok[1]
    it = items[drive_by]
    assert it["verdict"] == "fail", it["reason"]
    assert "CONTRIBUTOR" in it["reason"] and "write access" in it["reason"]
    assert items[member]["verdict"] == "pass"


def test_an_approval_by_a_bot_is_no_persons_review(monkeypatch: pytest.MonkeyPatch) -> None:
    """A review's `user.type` is "Bot" for a GitHub App or github-actions[bot] (REST simple
    user: type User, Bot or Organization); GitHub lets Actions approve pull requests when
    "Allow GitHub Actions to create and approve pull requests" is on, and such an approval
    then satisfies branch protection. A PR approved only by github-actions[bot] passed as
    reviewed; no person reviewed it as far as the PR shows, so it is inconclusive, naming
    the bot. Read through PyGithub."""
    def tamper(sim: GitHubSimulator, ok: list[str]) -> None:
        sim.user("github-actions[bot]", kind="Bot")
        for r in _approvals(sim, ok[0]):
            r["user"] = "github-actions[bot]"

    items, ok = _merged_changes_after(monkeypatch, tamper)
    botted, person = ok[0], ok[1]
    assert items[botted]["verdict"] == "inconclusive", items[botted]["reason"]
    assert "github-actions[bot]" in items[botted]["reason"]
    assert "bot" in items[botted]["reason"]
    assert items[person]["verdict"] == "pass"
