"""Pure verdicts for GitHub evidence: effective branch protection and per-change review.

Semantics follow GitHub's documentation:
- Classic branch protection and rulesets layer: every source's rules apply, and where the
  same rule is set several ways the most restrictive wins ("About rule layering").
- Only `active` rulesets enforce anything; `evaluate` and `disabled` ones enforce nothing
  (GET /repos/{o}/{r}/rules/branches/{b} returns only active rules).
- Classic protection binds administrators only when `enforce_admins` is on, and never the
  actors its `bypass_pull_request_allowances` name (they may push without a pull request); a
  ruleset binds everyone except its `bypass_actors` (hidden from callers without write
  access: unknown).
- A reviewer's most recent review decides (COMMENTED does not replace it); a DISMISSED
  review approves nothing; an approval counts for the commit it was submitted on, and only
  from a reviewer with write access (an author_association of NONE, CONTRIBUTOR,
  FIRST_TIMER, FIRST_TIME_CONTRIBUTOR or MANNEQUIN rules it out). An approval by a bot
  (user type Bot: an App, github-actions[bot]) is no person's review: where it would
  decide the verdict, the change is inconclusive.
- A required status check passes when its latest check run concludes success, neutral or
  skipped, or its latest commit status is success.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import Finding

Json = Any
DECISIVE = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
# author_association values that rule out write access: not the owner, not an organization
# member, not an invited collaborator (only approvals "by reviewers with write permissions"
# count toward required reviews).
NO_WRITE_ACCESS = ("NONE", "CONTRIBUTOR", "FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR", "MANNEQUIN")
PASSING_CONCLUSIONS = ("success", "neutral", "skipped")
_KEY = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9_]{1,9}-[1-9][0-9]{0,6})(?![A-Za-z0-9])")


def parse_time(v: str | None) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (None stays None)."""
    if not v:
        return None
    t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def ticket_keys(title: str | None, branch: str | None,
                projects: Iterable[str] | None = None) -> list[str]:
    """Jira-style keys (PROJ-123) in a title (as written) or a branch name (any case)."""
    allowed = {p.upper() for p in projects} if projects is not None else None
    found: list[str] = []
    for text, any_case in ((title or "", False), (branch or "", True)):
        for m in _KEY.finditer(text):
            key = m.group(1)
            if not any_case and key.split("-")[0] != key.split("-")[0].upper():
                continue
            key = key.upper()
            if allowed is not None and key.split("-")[0] not in allowed:
                continue
            if key not in found:
                found.append(key)
    return found


# --- effective protection ----------------------------------------------------------------------

def _bypass(ruleset: Mapping[str, Any] | None) -> list[str] | None:
    """Who may bypass a ruleset: [] nobody, None unknown (bypass_actors not visible)."""
    if ruleset is None or "bypass_actors" not in ruleset:
        return None
    return sorted(f"{a.get('actor_type')}:{a.get('actor_id')}:{a.get('bypass_mode', 'always')}"
                  for a in ruleset["bypass_actors"] or [])


def _allowances(allow: Mapping[str, Any] | None) -> list[str]:
    """The actors classic protection lets push without the required pull request
    ("Allow specified actors to bypass required pull requests")."""
    out: list[str] = []
    for kind, key, field in (("user", "users", "login"), ("team", "teams", "slug"),
                             ("app", "apps", "slug")):
        for a in (allow or {}).get(key) or []:
            name = a.get(field) or a.get("name") or a.get("id") if isinstance(a, dict) else a
            out.append(f"{kind} {name}")
    return sorted(out)


def effective_protection(classic: Mapping[str, Any] | None, rules: Iterable[Mapping[str, Any]],
                         rulesets: Mapping[int, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Aggregate classic protection and the rules in force on one branch into what GitHub
    enforces: the most restrictive value of each rule, and what binds even bypassers."""
    rulesets = rulesets or {}
    out: dict[str, Any] = {
        "protected": False, "pull_request_required": False, "required_approvals": 0,
        "dismiss_stale_reviews": False, "code_owner_review": False,
        "last_push_approval": False, "required_status_checks": [],
        "strict_status_checks": False, "force_pushes_blocked": False,
        "deletions_blocked": False, "approvals_binding_everyone": 0,
        "review_bypass": [], "bypass_unknown": False, "sources": []}
    checks: set[str] = set()
    unknown_approvals = 0
    if classic is not None:
        out["protected"] = True
        admins = bool((classic.get("enforce_admins") or {}).get("enabled"))
        out["sources"].append("classic" + ("" if admins else " (admins not enforced)"))
        rv = classic.get("required_pull_request_reviews")
        if rv is not None:
            n = int(rv.get("required_approving_review_count") or 0)
            out["pull_request_required"] = True
            out["required_approvals"] = max(out["required_approvals"], n)
            out["dismiss_stale_reviews"] |= bool(rv.get("dismiss_stale_reviews"))
            out["code_owner_review"] |= bool(rv.get("require_code_owner_reviews"))
            out["last_push_approval"] |= bool(rv.get("require_last_push_approval"))
            allowed = _allowances(rv.get("bypass_pull_request_allowances"))
            if admins and not allowed:
                out["approvals_binding_everyone"] = max(out["approvals_binding_everyone"], n)
            elif n > 0:
                if not admins:
                    out["review_bypass"].append("repository administrators (classic "
                                                "protection)")
                if allowed:
                    out["review_bypass"].append("allowed to bypass required pull requests "
                                                "(classic protection): " + ", ".join(allowed))
        rsc = classic.get("required_status_checks")
        if rsc is not None:
            checks.update(rsc.get("contexts") or [])
            checks.update(c["context"] for c in rsc.get("checks") or [] if c.get("context"))
            out["strict_status_checks"] |= bool(rsc.get("strict"))
        if not (classic.get("allow_force_pushes") or {}).get("enabled"):
            out["force_pushes_blocked"] = True
        if not (classic.get("allow_deletions") or {}).get("enabled"):
            out["deletions_blocked"] = True
    seen: set[int] = set()
    for rule in rules:
        rid = rule.get("ruleset_id")
        rs = rulesets.get(int(rid)) if rid is not None else None
        if rs is not None and rs.get("enforcement", "active") != "active":
            continue  # evaluate / disabled rulesets enforce nothing
        out["protected"] = True
        if rid is not None and rid not in seen:
            seen.add(int(rid))
            out["sources"].append(f"ruleset {rid} ({rule.get('ruleset_source_type', '?')} "
                                  f"{rule.get('ruleset_source', '?')})")
        t = rule.get("type")
        p = rule.get("parameters") or {}
        if t == "pull_request":
            n = int(p.get("required_approving_review_count") or 0)
            out["pull_request_required"] = True
            out["required_approvals"] = max(out["required_approvals"], n)
            out["dismiss_stale_reviews"] |= bool(p.get("dismiss_stale_reviews_on_push"))
            out["code_owner_review"] |= bool(p.get("require_code_owner_review"))
            out["last_push_approval"] |= bool(p.get("require_last_push_approval"))
            who = _bypass(rs)
            if who is None:
                out["bypass_unknown"] = True
                unknown_approvals = max(unknown_approvals, n)
            elif not who:
                out["approvals_binding_everyone"] = max(out["approvals_binding_everyone"], n)
            elif n > 0:
                out["review_bypass"].append(f"ruleset {rid}: " + ", ".join(who))
        elif t == "required_status_checks":
            checks.update(c["context"] for c in p.get("required_status_checks") or []
                          if c.get("context"))
            out["strict_status_checks"] |= bool(p.get("strict_required_status_checks_policy"))
        elif t == "non_fast_forward":
            out["force_pushes_blocked"] = True
        elif t == "deletion":
            out["deletions_blocked"] = True
    out["required_status_checks"] = sorted(checks)
    out["review_bypass"] = sorted(set(out["review_bypass"]))
    # Whether at least one approval binds everyone: None when it hinges on hidden bypassers.
    if out["approvals_binding_everyone"] >= 1:
        out["review_required_for_everyone"] = True
    elif unknown_approvals >= 1:
        out["review_required_for_everyone"] = None
    else:
        out["review_required_for_everyone"] = False
    return out


DEFAULT_POLICY: dict[str, Any] = {"min_approvals": 1, "require_review_for_admins": True,
                                  "require_force_push_block": True,
                                  "require_deletion_block": True,
                                  "require_dismiss_stale_reviews": False,
                                  "require_code_owner_review": False,
                                  "require_status_checks": False}


def protection_gaps(eff: Mapping[str, Any], policy: Mapping[str, Any]) -> tuple[list[str],
                                                                               list[str]]:
    """(failures, unknowns) of an effective protection against the configured policy."""
    fails: list[str] = []
    unknown: list[str] = []
    if not eff["protected"]:
        return ["default branch is not protected (no classic protection, no active ruleset)"], []
    need = int(policy.get("min_approvals", 1))
    if eff["required_approvals"] < need:
        fails.append(f"{eff['required_approvals']} approvals required, policy needs {need}")
    if policy.get("require_review_for_admins", True) and need >= 1:
        if eff["review_required_for_everyone"] is False:
            who = "; ".join(eff["review_bypass"]) or "nobody is bound"
            fails.append(f"review can be bypassed ({who})")
        elif eff["review_required_for_everyone"] is None:
            unknown.append("ruleset bypass actors are not visible to this credential")
    if policy.get("require_force_push_block", True) and not eff["force_pushes_blocked"]:
        fails.append("force pushes are allowed")
    if policy.get("require_deletion_block", True) and not eff["deletions_blocked"]:
        fails.append("branch deletion is allowed")
    if policy.get("require_dismiss_stale_reviews") and not eff["dismiss_stale_reviews"]:
        fails.append("stale approvals are not dismissed on new commits")
    if policy.get("require_code_owner_review") and not eff["code_owner_review"]:
        fails.append("code owner review is not required")
    if policy.get("require_status_checks") and not eff["required_status_checks"]:
        fails.append("no required status checks")
    return fails, unknown


# --- per-change verdict ------------------------------------------------------------------------

def _login(v: Any) -> str | None:
    return v.lower() if isinstance(v, str) and v else None


def change_verdict(change: Mapping[str, Any], protection: Mapping[str, Any] | None
                   ) -> tuple[str, str]:
    """The verdict an auditor reaches on one merged change: approved by someone other than the
    author, on the final commit, before the merge, not dismissed, enough approvals, and
    required checks passing. Returns (pass|fail|inconclusive, reason)."""
    merged_at = parse_time(change.get("merged_at"))
    author = _login(change.get("author"))
    head = change.get("head_sha")
    reviews = change.get("reviews")
    if merged_at is None or head is None:
        return "inconclusive", "merge time or merged commit unknown"
    if reviews is None:
        return "inconclusive", "reviews could not be read: " + str(change.get("error") or "")
    need = max(1, int((protection or {}).get("required_approvals") or 0))
    latest: dict[str | None, Mapping[str, Any]] = {}
    after: list[str] = []
    for r in sorted(reviews, key=lambda r: (parse_time(r.get("submitted_at")) or merged_at,
                                            int(r.get("id") or 0))):
        at = parse_time(r.get("submitted_at"))
        state = r.get("state")
        if at is None or state not in DECISIVE:
            continue
        who = _login(r.get("reviewer"))
        if at > merged_at:
            if state == "APPROVED":
                after.append(str(who))
            continue
        latest[who] = r
    valid: list[str] = []
    problems: list[str] = []
    ghost = False
    bots: list[str] = []
    for who, r in sorted(latest.items(), key=lambda kv: str(kv[0])):
        state = r["state"]
        if state == "DISMISSED":
            problems.append(f"approval by {who} was dismissed")
        elif state == "CHANGES_REQUESTED":
            problems.append(f"changes requested by {who} were outstanding at merge")
        elif who is None:
            ghost = r.get("commit_id") == head
            problems.append("an approval by a deleted account cannot be attributed")
        elif who == author:
            problems.append("only the author approved")
        elif r.get("reviewer_type") == "Bot":
            if r.get("commit_id") == head:
                bots.append(who)
            problems.append(f"approval by {who} is a bot's, not a person's review")
        elif r.get("author_association") in NO_WRITE_ACCESS:
            problems.append(f"approval by {who} does not count: reviewer association "
                            f"{r['author_association']} has no write access")
        elif r.get("commit_id") != head:
            problems.append(f"approval by {who} was on commit {str(r.get('commit_id'))[:7]}, "
                            f"not the merged head {str(head)[:7]}")
        else:
            valid.append(who)
    for who in sorted(set(after)):
        if who not in valid:
            problems.append(f"approval by {who} came after the merge")
    check_fail: list[str] = []
    checks = change.get("checks")
    if checks is not None:
        for ctx, result in sorted((checks.get("results") or {}).items()):
            if result not in PASSING_CONCLUSIONS:
                check_fail.append(f"required check {ctx}: {result or 'no result'}")
    merger = change.get("merged_by")
    if len(valid) >= need and not check_fail:
        note = "; ".join(p for p in problems if "outstanding" in p)
        return "pass", (f"approved by {', '.join(valid)} on the merged commit before the merge"
                        + (f" (note: {note})" if note else ""))
    if (ghost or bots) and len(valid) + int(ghost) + len(bots) >= need and not check_fail:
        return "inconclusive", "; ".join(problems)
    reasons: list[str] = []
    if len(valid) < need:
        if not latest and not after:
            reasons.append("no review before the merge")
        elif not valid and not problems:
            reasons.append("no approving review")
        if need > 1 or valid:
            reasons.append(f"{len(valid)} of {need} required approvals")
        reasons.extend(problems)
    reasons.extend(check_fail)
    if protection is not None and protection.get("protected") is False:
        reasons.append(f"merged by {merger or 'unknown'} into an unprotected branch")
    elif protection is not None and protection.get("review_bypass"):
        reasons.append(f"merged by {merger or 'unknown'} where review can be bypassed "
                       f"({'; '.join(protection['review_bypass'])})")
    elif merger:
        reasons.append(f"merged by {merger}")
    return "fail", "; ".join(reasons)


# --- assess() for each snapshot ----------------------------------------------------------------

def assess_org_settings(content: Json) -> list[Finding]:
    """2FA required, members without 2FA, default permission, per organization."""
    out: list[Finding] = []
    for org in content.get("organizations", []):
        res = f"org:{org['login']}"
        if org.get("error"):
            out.append(Finding(res, "inconclusive", org["error"]))
            continue
        fails: list[str] = []
        unknown: list[str] = []
        req = org.get("two_factor_requirement_enabled")
        if req is None:
            unknown.append("2FA requirement not visible (needs an organization owner's read)")
        elif not req:
            fails.append("2FA is not required for members")
        no2fa = org.get("members_2fa_disabled")
        if no2fa is None:
            unknown.append("members without 2FA not visible")
        elif no2fa:
            fails.append(f"{len(no2fa)} member(s) without 2FA: {', '.join(no2fa[:10])}"
                         + (" ..." if len(no2fa) > 10 else ""))
        perm = org.get("default_repository_permission")
        if perm in ("write", "admin"):
            fails.append(f"default repository permission is {perm}")
        if fails:
            out.append(Finding(res, "fail", "; ".join(fails + unknown)))
        elif unknown:
            out.append(Finding(res, "inconclusive", "; ".join(unknown)))
        else:
            out.append(Finding(res, "pass",
                               f"2FA required, every member has 2FA, default permission "
                               f"{perm}, {len(org.get('owners', []))} owner(s)"))
    return out


def assess_branch_protection(content: Json) -> list[Finding]:
    """Per repository default branch: effective protection against the recorded policy."""
    policy = {**DEFAULT_POLICY, **(content.get("policy") or {})}
    out: list[Finding] = []
    for repo in content.get("repositories", []):
        res = f"{repo['full_name']}:{repo.get('branch')}"
        if repo.get("error"):
            out.append(Finding(res, "inconclusive", repo["error"]))
            continue
        eff = repo["effective"]
        fails, unknown = protection_gaps(eff, policy)
        if repo.get("classic_unreadable"):
            unknown.append("classic protection not readable: " + repo["classic_unreadable"])
        if fails:
            out.append(Finding(res, "fail", "; ".join(fails + unknown)))
        elif unknown:
            out.append(Finding(res, "inconclusive", "; ".join(unknown)))
        else:
            evaluate = [r["name"] for r in repo.get("rulesets", [])
                        if r.get("enforcement") != "active"]
            note = f"; not enforced (evaluate/disabled): {', '.join(evaluate)}" if evaluate else ""
            out.append(Finding(res, "pass",
                               f"{eff['required_approvals']} approval(s) required for everyone, "
                               f"force pushes and deletion blocked via "
                               f"{', '.join(eff['sources'])}{note}"))
    return out


def change_verdicts(content: Json) -> list[tuple[Mapping[str, Any], str, str]]:
    """(change, verdict, reason) for every change: pull requests judged from their raw
    reviews and checks against their branch's effective protection; direct pushes fail."""
    eff = {r["full_name"]: r.get("effective") for r in content.get("repositories", [])}
    out = []
    for c in content.get("changes", []):
        if c.get("kind") == "direct_push":
            out.append((c, "fail", str(c.get("reason") or "pushed directly, no review")))
        else:
            v, why = change_verdict(c, eff.get(c.get("repo")))
            out.append((c, v, why))
    return out


def merged_change_items(content: Json) -> list[dict[str, Any]]:
    """The population: one item per merged change or direct push, with its verdict."""
    items: list[dict[str, Any]] = []
    for c, verdict, reason in change_verdicts(content):
        item = {k: c.get(k) for k in ("id", "repo", "number", "author", "merged_by", "base",
                                      "head_ref", "title")}
        item["ticket_keys"] = list(c.get("ticket_keys") or [])
        item["time"] = c.get("merged_at")
        item["kind"] = c.get("kind", "pull_request")
        item["verdict"], item["reason"] = verdict, reason
        if item["kind"] == "direct_push":
            item["sha"] = c.get("sha")
        items.append(item)
    return items


def assess_merged_changes(content: Json) -> list[Finding]:
    """Each change's verdict, plus the population's completeness per repository."""
    out = [Finding(str(c["id"]), v, why) for c, v, why in change_verdicts(content)]  # type: ignore[arg-type]
    for repo in content.get("repositories", []):
        api, got = repo.get("api_total"), repo.get("fetched")
        if repo.get("error"):
            out.append(Finding(f"{repo['full_name']}:population", "inconclusive", repo["error"]))
        elif api is None or api != got:
            out.append(Finding(f"{repo['full_name']}:population", "inconclusive",
                               f"fetched {got} merged pull requests, the API reports {api}"))
    return out
