"""GitHub verdicts against oracles written from GitHub's documentation (Hypothesis)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.github import assess as A
from connectors.github import examples as X

MERGE = datetime(2026, 9, 2, 12, 0, tzinfo=UTC)
HEAD = "h" * 40
OLD = "o" * 40


def _t(minutes: int) -> str:
    return (MERGE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the oracle for effective protection --------------------------------------------------------
# "About rule layering": every source applies; the most restrictive version of a rule wins.
# Classic protection binds admins only with enforce_admins, and never the actors it allows to
# bypass required pull requests ("Managing a branch protection rule"); a ruleset binds all but
# its bypass actors; evaluate/disabled rulesets bind nobody. Bypass actors may be hidden.

def _sources(classic: dict[str, Any] | None, rules: list[dict[str, Any]],
             rulesets: dict[int, dict[str, Any]], hidden_bypass: bool) -> list[tuple[int, bool]]:
    """(approvals required, bypassable) for every source that requires a pull request."""
    out = []
    if classic is not None and classic.get("required_pull_request_reviews") is not None:
        rv = classic["required_pull_request_reviews"]
        allow = rv.get("bypass_pull_request_allowances") or {}
        out.append((rv["required_approving_review_count"],
                    not classic["enforce_admins"]["enabled"]
                    or any(allow.get(k) for k in ("users", "teams", "apps"))))
    for rule in rules:
        rs = rulesets[rule["ruleset_id"]]
        if rs["enforcement"] != "active" or rule["type"] != "pull_request":
            continue
        bypassable = (hidden_bypass if "bypass_actors" not in rs
                      else bool(rs["bypass_actors"]))
        out.append((rule["parameters"]["required_approving_review_count"], bypassable))
    return out


def oracle_min_approvals(sources: list[tuple[int, bool]], bypasser: bool) -> int:
    """The fewest approvals with which the actor can merge, found by trying each count."""
    k = 0
    while not all(k >= need or (bypasser and byp) for need, byp in sources):
        k += 1
    return k


@st.composite
def protection_inputs(draw: st.DrawFn) -> tuple[Any, list[Any], dict[int, Any]]:
    classic = None
    if draw(st.booleans()):
        classic = {"enforce_admins": {"enabled": draw(st.booleans())},
                   "allow_force_pushes": {"enabled": draw(st.booleans())},
                   "allow_deletions": {"enabled": draw(st.booleans())}}
        if draw(st.booleans()):
            classic["required_pull_request_reviews"] = {
                "required_approving_review_count": draw(st.integers(0, 4)),
                "dismiss_stale_reviews": draw(st.booleans())}
            if draw(st.booleans()):
                # "Allow specified actors to bypass required pull requests" (classic).
                classic["required_pull_request_reviews"]["bypass_pull_request_allowances"] = {
                    "users": [{"login": u} for u in draw(st.lists(
                        st.sampled_from(["ops", "bot"]), max_size=1))],
                    "teams": [{"slug": t} for t in draw(st.lists(
                        st.sampled_from(["platform"]), max_size=1))],
                    "apps": [{"slug": a} for a in draw(st.lists(
                        st.sampled_from(["deployer"]), max_size=1))]}
        if draw(st.booleans()):
            classic["required_status_checks"] = {
                "strict": draw(st.booleans()),
                "contexts": draw(st.lists(st.sampled_from(["ci", "lint", "e2e"]), max_size=2))}
    rulesets: dict[int, Any] = {}
    rules: list[Any] = []
    for rid in range(1, draw(st.integers(0, 4)) + 1):
        rs: dict[str, Any] = {"id": rid, "enforcement": draw(
            st.sampled_from(["active", "active", "evaluate", "disabled"]))}
        bypass = draw(st.sampled_from(["none", "admins", "hidden"]))
        if bypass == "none":
            rs["bypass_actors"] = []
        elif bypass == "admins":
            rs["bypass_actors"] = [{"actor_id": 5, "actor_type": "RepositoryRole",
                                    "bypass_mode": draw(st.sampled_from(["always",
                                                                          "pull_request"]))}]
        rulesets[rid] = rs
        for kind in draw(st.lists(st.sampled_from(["pull_request", "non_fast_forward",
                                                   "deletion", "required_status_checks"]),
                                  max_size=3)):
            rule: dict[str, Any] = {"type": kind, "ruleset_id": rid,
                                    "ruleset_source_type": "Repository",
                                    "ruleset_source": "acme/api"}
            if kind == "pull_request":
                rule["parameters"] = {
                    "required_approving_review_count": draw(st.integers(0, 4)),
                    "dismiss_stale_reviews_on_push": draw(st.booleans())}
            elif kind == "required_status_checks":
                rule["parameters"] = {"required_status_checks": [
                    {"context": c} for c in draw(st.lists(st.sampled_from(["ci", "sec"]),
                                                          max_size=2))]}
            rules.append(rule)
    return classic, rules, rulesets


@settings(max_examples=200, deadline=None)
@given(protection_inputs())
def test_effective_protection_matches_layering_oracle(inp: Any) -> None:
    """Required approvals, what binds bypassers, force-push/deletion blocks and checks follow
    GitHub's layering rules, with evaluate/disabled rulesets enforcing nothing."""
    classic, rules, rulesets = inp
    eff = A.effective_protection(classic, rules, rulesets)
    everyone_if_hidden_bypass = _sources(classic, rules, rulesets, hidden_bypass=True)
    everyone_if_hidden_bound = _sources(classic, rules, rulesets, hidden_bypass=False)
    assert eff["required_approvals"] == oracle_min_approvals(everyone_if_hidden_bypass, False)
    worst = oracle_min_approvals(everyone_if_hidden_bypass, True)
    best = oracle_min_approvals(everyone_if_hidden_bound, True)
    assert eff["approvals_binding_everyone"] == worst
    if worst >= 1:
        assert eff["review_required_for_everyone"] is True
    elif best >= 1:
        assert eff["review_required_for_everyone"] is None
    else:
        assert eff["review_required_for_everyone"] is False
    active = [r for r in rules if rulesets[r["ruleset_id"]]["enforcement"] == "active"]
    classic_on = classic is not None
    assert eff["force_pushes_blocked"] == (
        (classic_on and not classic["allow_force_pushes"]["enabled"])
        or any(r["type"] == "non_fast_forward" for r in active))
    assert eff["deletions_blocked"] == (
        (classic_on and not classic["allow_deletions"]["enabled"])
        or any(r["type"] == "deletion" for r in active))
    want_checks = {c["context"] for r in active if r["type"] == "required_status_checks"
                   for c in r["parameters"]["required_status_checks"]}
    if classic_on and classic.get("required_status_checks"):
        want_checks |= set(classic["required_status_checks"]["contexts"])
    assert set(eff["required_status_checks"]) == want_checks
    assert eff["protected"] == (classic_on or bool(active))


def test_evaluate_ruleset_alone_protects_nothing() -> None:
    """A ruleset in evaluate mode requiring two approvals leaves the branch unprotected."""
    rules = [{"type": "pull_request", "ruleset_id": 9,
              "parameters": {"required_approving_review_count": 2}}]
    eff = A.effective_protection(None, rules, {9: {"id": 9, "enforcement": "evaluate",
                                                   "bypass_actors": []}})
    assert not eff["protected"] and eff["required_approvals"] == 0
    fails, _ = A.protection_gaps(eff, A.DEFAULT_POLICY)
    assert fails and "not protected" in fails[0]


def test_hidden_bypass_actors_are_inconclusive_not_pass() -> None:
    """When bypass actors are hidden from the credential, the branch is inconclusive."""
    rules = [{"type": "pull_request", "ruleset_id": 3,
              "parameters": {"required_approving_review_count": 1}},
             {"type": "non_fast_forward", "ruleset_id": 3}, {"type": "deletion", "ruleset_id": 3}]
    content = {"repositories": [{"full_name": "acme/api", "branch": "main",
                                 "effective": A.effective_protection(
                                     None, rules, {3: {"id": 3, "enforcement": "active"}})}]}
    [f] = A.assess_branch_protection(content)
    assert f.status == "inconclusive" and "bypass actors" in f.reason


# --- the oracle for one change's verdict --------------------------------------------------------
# An approval counts when it is its reviewer's most recent APPROVED / CHANGES_REQUESTED /
# DISMISSED review submitted by the merge, is APPROVED, was on the merged head commit, and
# the reviewer is a known account other than the author, with write access as far as its
# author_association shows. COMMENTED and PENDING don't count.

def oracle_counts(change: dict[str, Any]) -> tuple[int, bool, int]:
    """(approvals that count, whether an unattributable approval would add one, how many
    a bot's approval would add: an App's review is no person's)."""
    merged = A.parse_time(change["merged_at"])
    assert merged is not None
    author = change["author"].lower()
    people = {r["reviewer"].lower() if r["reviewer"] else None for r in change["reviews"]}
    count, ghost, bots = 0, False, 0
    for who in people:
        mine = [r for r in change["reviews"]
                if (r["reviewer"].lower() if r["reviewer"] else None) == who
                and r["submitted_at"] is not None
                and A.parse_time(r["submitted_at"]) <= merged  # type: ignore[operator]
                and r["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")]
        if not mine:
            continue
        last = max(mine, key=lambda r: (A.parse_time(r["submitted_at"]), r["id"]))
        # Only reviewers with write access count ("About protected branches"); these
        # author_association values say the reviewer is no owner, member or collaborator.
        writer = last.get("author_association") not in (
            "NONE", "CONTRIBUTOR", "FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR", "MANNEQUIN")
        good = last["state"] == "APPROVED" and last["commit_id"] == change["head_sha"] \
            and (writer or who is None)
        if good and who is None:
            ghost = True
        elif good and who != author and last.get("reviewer_type") == "Bot":
            bots += 1
        elif good and who != author:
            count += 1
    return count, ghost, bots


@st.composite
def changes(draw: st.DrawFn) -> tuple[dict[str, Any], int, dict[str, str | None]]:
    author = draw(st.sampled_from(["alice", "Alice"]))
    reviews = []
    assoc = {who: draw(st.sampled_from(["MEMBER", "COLLABORATOR", "OWNER", "CONTRIBUTOR",
                                        "NONE", "FIRST_TIME_CONTRIBUTOR", None]))
             for who in ("bob", "carol", "alice")}
    for i in range(draw(st.integers(0, 6))):
        state = draw(st.sampled_from(["APPROVED", "APPROVED", "CHANGES_REQUESTED",
                                      "COMMENTED", "DISMISSED", "PENDING"]))
        reviews.append({
            "id": i + 1,
            "reviewer": draw(st.sampled_from(["bob", "BOB", "carol", "alice", None,
                                              "ci[bot]"])),
            "state": state,
            "submitted_at": None if state == "PENDING" else _t(draw(st.integers(-180, 60))),
            "commit_id": draw(st.sampled_from([HEAD, HEAD, OLD]))})
        who = reviews[-1]["reviewer"]
        if who == "ci[bot]":
            reviews[-1]["reviewer_type"] = "Bot"
        elif who is not None and assoc[who.lower()] is not None:
            reviews[-1]["author_association"] = assoc[who.lower()]
    need = draw(st.integers(0, 3))
    results = draw(st.dictionaries(st.sampled_from(["ci", "lint"]),
                                   st.sampled_from(["success", "neutral", "skipped", "failure",
                                                    "cancelled", "pending", None]),
                                   max_size=2))
    change = {"id": "acme/api#1", "repo": "acme/api", "author": author, "merged_by": "bob",
              "merged_at": _t(0), "head_sha": HEAD, "reviews": reviews,
              "checks": {"required": sorted(results), "results": results}}
    return change, need, results


@settings(max_examples=200, deadline=None)
@given(changes())
def test_change_verdict_matches_review_oracle(case: Any) -> None:
    """Pass exactly when enough distinct non-author approvals of the merged head came before
    the merge, undismissed, and every required check passed; an unattributable approval
    that would decide it makes the change inconclusive, never a pass."""
    change, need, results = case
    protection = {"required_approvals": need, "review_bypass": []}
    verdict, reason = A.change_verdict(change, protection)
    count, ghost, bots = oracle_counts(change)
    checks_ok = all(v in ("success", "neutral", "skipped") for v in results.values())
    required = max(1, need)
    if count >= required and checks_ok:
        assert verdict == "pass", reason
    elif (ghost or bots) and count + int(ghost) + bots >= required and checks_ok:
        assert verdict == "inconclusive", reason
    else:
        assert verdict == "fail", reason
        assert reason


@settings(max_examples=200, deadline=None)
@given(changes(), st.sampled_from(["APPROVED", "COMMENTED", "CHANGES_REQUESTED"]),
       st.integers(1, 120))
def test_reviews_after_the_merge_or_by_the_author_never_help(case: Any, state: str,
                                                             later: int) -> None:
    """Adding a review submitted after the merge, or any review by the author, never turns a
    failing change into a pass."""
    change, need, _ = case
    protection = {"required_approvals": need, "review_bypass": []}
    before, _ = A.change_verdict(change, protection)
    for extra in ({"id": 99, "reviewer": "dave", "state": state, "submitted_at": _t(later),
                   "commit_id": HEAD},
                  {"id": 98, "reviewer": change["author"], "state": state,
                   "submitted_at": _t(-later), "commit_id": HEAD}):
        c2 = copy.deepcopy(change)
        c2["reviews"].append(extra)
        after, _ = A.change_verdict(c2, protection)
        if before != "pass":
            assert after != "pass"


def test_admin_merge_without_review_fails_saying_so() -> None:
    """A change merged by an admin where admins are not enforced fails and names the bypass."""
    items = {i["id"]: i for i in A.merged_change_items(X.MERGED_CHANGES)}
    it = items["acme/web#42"]
    assert it["verdict"] == "fail"
    assert "no review before the merge" in it["reason"]
    assert "octo-owner" in it["reason"] and "bypass" in it["reason"]
    assert items["acme/web#41"]["verdict"] == "pass"
    push = next(i for i in items.values() if i["kind"] == "direct_push")
    assert push["verdict"] == "fail" and push["id"].startswith("acme/web@")


def test_verdict_is_recomputed_from_raw_reviews_not_trusted_from_content() -> None:
    """A stored change whose reviews do not support a pass cannot be marked pass by a field."""
    content = copy.deepcopy(X.MERGED_CHANGES)
    content["changes"][1]["verdict"] = "pass"
    [f] = [f for f in A.assess_merged_changes(content) if f.resource == "acme/web#42"]
    assert f.status == "fail"


def test_population_count_mismatch_is_inconclusive() -> None:
    """When fewer merged PRs were fetched than search reports, completeness is flagged."""
    content = copy.deepcopy(X.MERGED_CHANGES)
    content["repositories"][0]["api_total"] = 3
    fs = [f for f in A.assess_merged_changes(content) if f.resource.endswith(":population")]
    assert [f.status for f in fs] == ["inconclusive"] and "reports 3" in fs[0].reason


def test_ticket_keys_from_title_and_branch() -> None:
    """Keys come from the title as written and from the branch in any case, deduplicated."""
    assert A.ticket_keys("ACME-12: fix", "feature/acme-12-and-ops-7") == ["ACME-12", "OPS-7"]
    assert A.ticket_keys("utf-8 cleanup", "main") == []
    assert A.ticket_keys("OPS-1 and ACME-2", None, projects=["ACME"]) == ["ACME-2"]


def test_org_settings_verdicts() -> None:
    """2FA not required and members without 2FA fail; hidden settings are inconclusive."""
    [f] = A.assess_org_settings(X.ORG_SETTINGS)
    assert f.status == "fail" and "dev002" in f.reason and "2FA is not required" in f.reason
    hidden = copy.deepcopy(X.ORG_SETTINGS)
    org = hidden["organizations"][0]
    org.update(two_factor_requirement_enabled=None, members_2fa_disabled=None)
    [g] = A.assess_org_settings(hidden)
    assert g.status == "inconclusive"
    ok = copy.deepcopy(X.ORG_SETTINGS)
    ok["organizations"][0].update(two_factor_requirement_enabled=True, members_2fa_disabled=[])
    assert A.assess_org_settings(ok)[0].status == "pass"
