"""Deterministic GitHub organizations for the simulator: from a demo to 5,000 merged PRs.

`seed_org(sim, "acme", merged_prs=5000, seed=7)` builds the same organization every time:
owners and members (some without 2FA), outside collaborators, repositories protected in each
way GitHub allows (classic protection with and without admin enforcement, a repository
ruleset with an `evaluate` one beside it, an organization ruleset that excludes a sandbox),
and merged pull requests with reviews, check runs and repository activity. Most changes are
properly reviewed; a known share carries each kind of deviation an auditor looks for, and
`SeedSummary.expected` says which, so tests can compare verdicts with what was seeded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.github import GitHubSimulator
from simulators.jira import ChangeTicket

ANCHOR = datetime(2026, 10, 1, tzinfo=UTC)

# Deviation kinds and their share of merged changes (the rest are clean approvals).
DEVIATIONS: dict[str, float] = {
    "no_review": 0.03,  # merged by an admin with no approval (admins not enforced)
    "stale_approval": 0.03,  # approved, then a new commit was pushed and merged
    "approved_after_merge": 0.02,
    "dismissed": 0.02,
    "failed_check": 0.02,  # merged with a required check failing (admin bypass)
}
# How each change's Jira ticket is planned (the rest: approved before the merge). Keys follow
# one scheme, `<ticket_project>-<k>` for the k-th merged change, so `tickets_for_changes`
# (simulators/jira.py) serves exactly the tickets these pull requests name.
TICKET_PLANS: dict[str, float] = {
    "none": 0.05,  # no key in the title or branch, and no ticket links the change
    "after": 0.05,  # the ticket is approved only after the merge
    "self": 0.03,  # the ticket is approved only by its own assignee
}


@dataclass
class SeedSummary:
    """What `seed_org` created; `expected` maps "<org>/<repo>#<n>" to a deviation or "ok",
    `ticket_plan` to its ticket's plan ("before", "after", "self" or "none"); `tickets` are
    the Jira tickets the changes name, for `simulators.jira.tickets_for_changes`."""

    org: str
    repos: list[str] = field(default_factory=list)
    merged: int = 0
    expected: dict[str, str] = field(default_factory=dict)
    direct_pushes: list[str] = field(default_factory=list)
    ticket_plan: dict[str, str] = field(default_factory=dict)
    tickets: list[ChangeTicket] = field(default_factory=list)
    start: datetime = ANCHOR
    end: datetime = ANCHOR


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _protections(sim: GitHubSimulator, org: dict[str, Any], repo: dict[str, Any],
                 kind: str) -> bool:
    """Protect `repo`'s default branch in the way `kind` names; True if admins can bypass."""
    b = repo["default_branch"]
    if kind == "classic_enforced":
        repo["protection"][b] = {
            "required_pull_request_reviews": {"required_approving_review_count": 1,
                                              "dismiss_stale_reviews": True,
                                              "require_code_owner_reviews": True},
            "required_status_checks": {"strict": True, "contexts": ["ci/build"]},
            "enforce_admins": True, "allow_force_pushes": False, "allow_deletions": False}
        return False
    if kind == "classic_admins_bypass":
        repo["protection"][b] = {
            "required_pull_request_reviews": {"required_approving_review_count": 2,
                                              "dismiss_stale_reviews": False},
            "required_status_checks": {"strict": False, "contexts": ["ci/build"]},
            "enforce_admins": False, "allow_force_pushes": False, "allow_deletions": False}
        return True
    if kind == "ruleset":
        sim.add_ruleset(repo, name="main-review", enforcement="active",
                        conditions={"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                        rules=[{"type": "pull_request", "parameters": {
                            "required_approving_review_count": 1,
                            "dismiss_stale_reviews_on_push": True,
                            "require_code_owner_review": False,
                            "require_last_push_approval": True,
                            "required_review_thread_resolution": False}},
                            {"type": "required_status_checks", "parameters": {
                                "strict_required_status_checks_policy": False,
                                "required_status_checks": [{"context": "ci/build"}]}}],
                        bypass_actors=[])
        sim.add_ruleset(repo, name="two-reviewers-trial", enforcement="evaluate",
                        conditions={"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                        rules=[{"type": "pull_request", "parameters": {
                            "required_approving_review_count": 2,
                            "dismiss_stale_reviews_on_push": True,
                            "require_code_owner_review": True,
                            "require_last_push_approval": False,
                            "required_review_thread_resolution": False}}])
        return False
    return True  # unprotected: anyone with write access pushes directly


def seed_org(sim: GitHubSimulator, org_login: str = "acme", *, repos: int = 4,
             merged_prs: int = 200, seed: int = 7, end: datetime = ANCHOR,
             days: int = 30, members: int = 40, ticket_project: str = "CHG") -> SeedSummary:
    """Create a deterministic organization with `merged_prs` merged pull requests in the
    `days` before `end`, spread over `repos` repositories plus one unprotected sandbox; the
    k-th change names Jira ticket `<ticket_project>-<k>` unless its plan is "none"."""
    rng = random.Random(seed)
    trng = random.Random(f"{seed}-tickets")
    start = end - timedelta(days=days)
    out = SeedSummary(org=org_login, start=start, end=end)
    org = sim.add_org(org_login, two_factor_requirement_enabled=False,
                      default_repository_permission="write")
    owners = ["octo-owner", "ops-admin"]
    for o in owners:
        sim.add_member(org_login, o, role="admin")
    devs = [f"dev{i:03d}" for i in range(members)]
    for i, d in enumerate(devs):
        sim.add_member(org_login, d, two_factor=(i % 13 != 5))
    for c in ("contractor-ann", "vendor-bot"):
        sim.user(c, two_factor=c != "vendor-bot")
        org["outside"].append(c)
    sim.add_ruleset(org, name="org-baseline", enforcement="active",
                    conditions={"repository_name": {"include": ["~ALL"],
                                                    "exclude": ["sandbox-*"]},
                                "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                    rules=[{"type": "deletion"}, {"type": "non_fast_forward"}],
                    bypass_actors=[{"actor_id": 1, "actor_type": "OrganizationAdmin",
                                    "bypass_mode": "always"}])
    kinds = ["classic_enforced", "classic_admins_bypass", "ruleset"]
    made: list[tuple[dict[str, Any], bool]] = []
    for i in range(repos):
        r = sim.add_repo(org_login, f"service-{i}")
        made.append((r, _protections(sim, org, r, kinds[i % len(kinds)])))
    sandbox = sim.add_repo(org_login, "sandbox-tools", private=False)
    made.append((sandbox, True))
    out.repos = [f"{org_login}/{r['name']}" for r, _ in made]
    numbers = {id(r): 0 for r, _ in made}
    activity_id = 1
    span = (end - start).total_seconds()
    for k in range(merged_prs):
        repo, admins_bypass = made[k % len(made)]
        numbers[id(repo)] += 1
        n = numbers[id(repo)]
        author = devs[rng.randrange(len(devs))]
        reviewer = devs[rng.randrange(len(devs))]
        while reviewer == author:
            reviewer = devs[rng.randrange(len(devs))]
        created = start + timedelta(seconds=int(rng.uniform(0, span * 0.97)))
        merged = created + timedelta(minutes=rng.randint(20, 2880))
        if merged >= end:
            merged = end - timedelta(minutes=rng.randint(1, 60))
        if merged <= created:
            created = merged - timedelta(minutes=10)
        head = _sha(rng)
        first = _sha(rng)
        key = f"{ticket_project}-{k + 1}"
        plan = _pick(trng.random(), TICKET_PLANS, "before")
        if 1 <= k <= 2 * len(TICKET_PLANS):  # even a small organization shows each twice
            plan = list(TICKET_PLANS)[(k - 1) % len(TICKET_PLANS)]
        ticket_in_title = rng.random() < 0.7
        title = (f"{key}: " if ticket_in_title and plan != "none" else "") + rng.choice(
            ["Fix pagination", "Add audit log", "Bump dependency", "Refactor handler",
             "Tune retry", "Update docs"])
        head_ref = f"feature/{key.lower()}-{n}" if not ticket_in_title or rng.random() < .5 \
            else f"topic/{n}"
        if plan == "none":
            head_ref = f"topic/{n}"  # no Jira-style key anywhere
        deviation = _pick(rng.random(), DEVIATIONS, "ok")
        if k // len(made) < len(DEVIATIONS):  # every repository shows every deviation once
            deviation = list(DEVIATIONS)[k // len(made)]
        if deviation in ("no_review", "failed_check") and not admins_bypass:
            deviation = "ok"  # only possible where protection lets admins bypass
        if deviation == "failed_check" and not (repo["protection"] or repo["rulesets"]):
            deviation = "ok"  # a failing check nobody requires is no deviation
        merger = owners[rng.randrange(2)] if deviation in ("no_review", "failed_check") \
            else rng.choice([author, reviewer])
        reviews: list[dict[str, Any]] = []
        rid = sim.new_id
        approve_at = (created + (merged - created) * rng.uniform(0.3, 0.9)).replace(microsecond=0)
        if rng.random() < 0.2:
            reviews.append({"id": rid(), "user": devs[rng.randrange(len(devs))],
                            "state": "COMMENTED", "commit_id": first,
                            "submitted_at": created + (merged - created) // 10})
        if deviation == "no_review":
            pass
        elif deviation == "stale_approval":
            reviews.append({"id": rid(), "user": reviewer, "state": "APPROVED",
                            "commit_id": first, "submitted_at": approve_at})
        elif deviation == "approved_after_merge":
            reviews.append({"id": rid(), "user": reviewer, "state": "APPROVED",
                            "commit_id": head,
                            "submitted_at": merged + timedelta(minutes=rng.randint(1, 300))})
        elif deviation == "dismissed":
            reviews.append({"id": rid(), "user": reviewer, "state": "DISMISSED",
                            "commit_id": head, "submitted_at": approve_at})
        else:
            if rng.random() < 0.05:
                reviews.append({"id": rid(), "user": reviewer, "state": "CHANGES_REQUESTED",
                                "commit_id": first,
                                "submitted_at": created + (merged - created) // 5})
            reviews.append({"id": rid(), "user": reviewer, "state": "APPROVED",
                            "commit_id": head, "submitted_at": approve_at})
            if repo["protection"].get(repo["default_branch"], {}).get(
                    "required_pull_request_reviews", {}).get(
                    "required_approving_review_count", 1) >= 2:
                second = devs[rng.randrange(len(devs))]
                while second in (author, reviewer):
                    second = devs[rng.randrange(len(devs))]
                # Before the merge, however soon after the first approval it came.
                gap = min(timedelta(minutes=5), (merged - approve_at) // 2)
                reviews.append({"id": rid(), "user": second, "state": "APPROVED",
                                "commit_id": head,
                                "submitted_at": (approve_at + gap).replace(microsecond=0)})
        merge_sha = _sha(rng)
        sim.add_pull(repo, {
            "number": n, "title": title, "user": author, "head_ref": head_ref,
            "head_sha": head, "base_ref": repo["default_branch"], "created_at": created,
            "updated_at": merged + timedelta(seconds=30), "closed_at": merged,
            "merged_at": merged, "merged_by": merger, "merge_commit_sha": merge_sha,
            "commits": 2, "reviews": reviews})
        conclusion = "failure" if deviation == "failed_check" else "success"
        repo["check_runs"][head] = [{"id": sim.new_id(), "name": "ci/build",
                                     "status": "completed", "conclusion": conclusion,
                                     "started_at": created,
                                     "completed_at": created + timedelta(minutes=4)}]
        repo["commits"].append({"sha": merge_sha, "branch": repo["default_branch"],
                                "date": merged, "author": merger,
                                "message": f"Merge pull request #{n}", "parents": [head]})
        repo["activity"].append({"id": activity_id, "before": _sha(rng), "after": merge_sha,
                                 "ref": f"refs/heads/{repo['default_branch']}",
                                 "timestamp": merged, "activity_type": "pr_merge",
                                 "actor": merger})
        activity_id += 1
        full = f"{org_login}/{repo['name']}#{n}"
        out.expected[full] = deviation
        out.ticket_plan[full] = plan
        if plan != "none":
            out.tickets.append(ChangeTicket(
                key, f"https://github.com/{org_login}/{repo['name']}/pull/{n}", merged,
                "after" if plan == "after" else "self" if plan == "self" else "before"))
        out.merged += 1
        # Now and then a closed, unmerged PR, which must never enter the population.
        if rng.random() < 0.08:
            numbers[id(repo)] += 1
            sim.add_pull(repo, {
                "number": numbers[id(repo)], "title": "Abandoned experiment", "user": author,
                "head_ref": f"exp-{n}", "head_sha": _sha(rng), "base_ref": repo["default_branch"],
                "created_at": created, "updated_at": merged, "closed_at": merged,
                "merged_at": None, "merged_by": None, "merge_commit_sha": None,
                "reviews": []})
        # A direct push by an admin where protection lets one through.
        if admins_bypass and (rng.random() < 0.02 or n == 3):
            sha = _sha(rng)
            when = merged + timedelta(minutes=3)
            if when < end:
                repo["activity"].append({"id": activity_id, "before": merge_sha, "after": sha,
                                         "ref": f"refs/heads/{repo['default_branch']}",
                                         "timestamp": when, "activity_type": "push",
                                         "actor": owners[0]})
                activity_id += 1
                repo["commits"].append({"sha": sha, "branch": repo["default_branch"],
                                        "date": when, "author": owners[0],
                                        "message": "hotfix config", "parents": [merge_sha]})
                out.direct_pushes.append(f"{org_login}/{repo['name']}@{sha}")
    for r, _ in made:
        last = max((c for c in r["commits"]), key=lambda c: c["date"], default=None)
        r["branches"][r["default_branch"]] = {"sha": last["sha"] if last else "0" * 40}
    return out


def _pick(roll: float, shares: dict[str, float], rest: str) -> str:
    acc = 0.0
    for name, share in shares.items():
        acc += share
        if roll < acc:
            return name
    return rest


DEMO_TOKEN_ENV = "EVIDENCE_DEMO_GITHUB_TOKEN"


def start_demo(now: datetime | None = None) -> tuple[GitHubSimulator, str, SeedSummary]:
    """A started GitHub Enterprise-style simulator with the demo organization, the env var
    holding its (fake) token, and what was seeded (with the Jira tickets its changes name);
    the caller stops it."""
    import os

    sim = GitHubSimulator(prefix="/api/v3").start()
    token = "ghp_demo_token_not_secret"
    sim.add_token(token, login="evidence-demo")
    os.environ.setdefault(DEMO_TOKEN_ENV, token)
    end = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(minutes=5)
    summary = seed_org(sim, "acme", repos=3, merged_prs=60, days=20, end=end)
    return sim, DEMO_TOKEN_ENV, summary
