"""Example content of each `github` snapshot (what the store holds), for tests and docs."""

from __future__ import annotations

from typing import Any

ORG_SETTINGS: dict[str, Any] = {"organizations": [{
    "login": "acme", "id": 1001, "two_factor_requirement_enabled": False,
    "default_repository_permission": "read", "members_can_create_repositories": False,
    "owners": ["octo-owner"], "members": ["dev001", "dev002", "octo-owner"],
    "outside_collaborators": ["contractor-ann"], "members_2fa_disabled": ["dev002"]}]}

_EFFECTIVE_OK: dict[str, Any] = {
    "protected": True, "pull_request_required": True, "required_approvals": 1,
    "dismiss_stale_reviews": True, "code_owner_review": False, "last_push_approval": False,
    "required_status_checks": ["ci/build"], "strict_status_checks": True,
    "force_pushes_blocked": True, "deletions_blocked": True, "approvals_binding_everyone": 1,
    "review_bypass": [], "bypass_unknown": False, "review_required_for_everyone": True,
    "sources": ["classic"]}
_EFFECTIVE_BYPASS: dict[str, Any] = dict(
    _EFFECTIVE_OK, approvals_binding_everyone=0, review_required_for_everyone=False,
    review_bypass=["repository administrators (classic protection)"],
    sources=["classic (admins not enforced)"])

BRANCH_PROTECTION: dict[str, Any] = {
    "policy": {"min_approvals": 1, "require_review_for_admins": True,
               "require_force_push_block": True, "require_deletion_block": True,
               "require_dismiss_stale_reviews": False, "require_code_owner_review": False,
               "require_status_checks": False},
    "repositories": [
        {"full_name": "acme/api", "branch": "main", "private": True,
         "classic": {"required_pull_request_reviews": {"required_approving_review_count": 1,
                                                       "dismiss_stale_reviews": True},
                     "required_status_checks": {"strict": True, "contexts": ["ci/build"]},
                     "enforce_admins": {"enabled": True},
                     "allow_force_pushes": {"enabled": False},
                     "allow_deletions": {"enabled": False}},
         "rules": [], "rulesets": [], "effective": _EFFECTIVE_OK},
        {"full_name": "acme/web", "branch": "main", "private": True,
         "classic": {"required_pull_request_reviews": {"required_approving_review_count": 1},
                     "enforce_admins": {"enabled": False},
                     "allow_force_pushes": {"enabled": False},
                     "allow_deletions": {"enabled": False}},
         "rules": [], "rulesets": [], "effective": _EFFECTIVE_BYPASS}]}

MERGED_CHANGES: dict[str, Any] = {
    "period_start": "2026-09-01T00:00:00+00:00", "period_end": "2026-09-08T00:00:00+00:00",
    "repositories": [{"full_name": "acme/web", "branch": "main", "protected": True,
                      "effective": _EFFECTIVE_BYPASS, "api_total": 2, "fetched": 2,
                      "direct_pushes": 1}],
    "changes": [
        {"id": "acme/web#41", "kind": "pull_request", "repo": "acme/web", "number": 41,
         "title": "ACME-123: Fix pagination", "author": "dev001", "merged_by": "dev002",
         "merged_at": "2026-09-02T10:00:00Z", "base": "main", "head_ref": "feature/acme-123",
         "head_sha": "a" * 40, "merge_commit_sha": "b" * 40, "ticket_keys": ["ACME-123"],
         "reviews": [{"id": 1, "reviewer": "dev002", "state": "APPROVED",
                      "submitted_at": "2026-09-02T09:00:00Z", "commit_id": "a" * 40}],
         "checks": {"required": ["ci/build"], "results": {"ci/build": "success"}}},
        {"id": "acme/web#42", "kind": "pull_request", "repo": "acme/web", "number": 42,
         "title": "Hotfix", "author": "dev003", "merged_by": "octo-owner",
         "merged_at": "2026-09-03T10:00:00Z", "base": "main", "head_ref": "hotfix",
         "head_sha": "c" * 40, "merge_commit_sha": "d" * 40, "ticket_keys": [],
         "reviews": [], "checks": {"required": ["ci/build"], "results": {"ci/build": "success"}}},
        {"id": "acme/web@" + "e" * 40, "kind": "direct_push", "repo": "acme/web",
         "number": None, "sha": "e" * 40, "before": "d" * 40, "title": None,
         "author": "octo-owner", "merged_by": "octo-owner",
         "merged_at": "2026-09-03T11:00:00Z", "base": "main", "head_ref": None,
         "ticket_keys": [], "verdict": "fail",
         "reason": "octo-owner pushed directly to the protected branch main, with no pull "
                   "request or review"}]}
