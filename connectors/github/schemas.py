"""The shape of each `github` snapshot's content (JSON Schema), checked by the conformance
suite against real content and the examples. GitHub's own payloads (classic protection,
rules, rulesets) are kept as GitHub sends them, so only their container is fixed here."""

from __future__ import annotations

from typing import Any

_S = {"type": "string"}
_S0 = {"type": ["string", "null"]}
_I0 = {"type": ["integer", "null"]}
_B0 = {"type": ["boolean", "null"]}
_OBJ = {"type": "object"}
_STRS = {"type": "array", "items": _S}


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


EFFECTIVE = _obj({
    "protected": {"type": "boolean"}, "pull_request_required": {"type": "boolean"},
    "required_approvals": {"type": "integer"}, "dismiss_stale_reviews": {"type": "boolean"},
    "code_owner_review": {"type": "boolean"}, "last_push_approval": {"type": "boolean"},
    "required_status_checks": _STRS, "strict_status_checks": {"type": "boolean"},
    "force_pushes_blocked": {"type": "boolean"}, "deletions_blocked": {"type": "boolean"},
    "approvals_binding_everyone": {"type": "integer"}, "review_bypass": _STRS,
    "bypass_unknown": {"type": "boolean"}, "review_required_for_everyone": _B0,
    "sources": _STRS}, ["protected", "required_approvals", "review_required_for_everyone"])

ORG_SETTINGS: dict[str, Any] = _obj({"organizations": {"type": "array", "items": _obj({
    "login": _S, "id": _I0, "two_factor_requirement_enabled": _B0,
    "default_repository_permission": _S0, "members_can_create_repositories": _B0,
    "owners": _STRS, "members": _STRS, "outside_collaborators": _STRS,
    "members_2fa_disabled": {"type": ["array", "null"], "items": _S}, "error": _S},
    ["login"])}}, ["organizations"])

BRANCH_PROTECTION: dict[str, Any] = _obj({
    "policy": _OBJ,
    "repositories": {"type": "array", "items": _obj({
        "full_name": _S, "branch": _S, "private": _B0,
        "classic": {"type": ["object", "null"]}, "classic_unreadable": _S,
        "rules": {"type": "array", "items": _OBJ},
        "rulesets": {"type": "array", "items": _OBJ},
        "effective": EFFECTIVE, "error": _S}, ["full_name", "branch"])}},
    ["policy", "repositories"])

_REVIEW = _obj({"id": _I0, "reviewer": _S0, "state": _S0, "submitted_at": _S0,
                "commit_id": _S0, "author_association": _S0, "reviewer_type": _S0},
               ["reviewer", "state", "submitted_at", "commit_id"])

MERGED_CHANGES: dict[str, Any] = _obj({
    "period_start": _S, "period_end": _S,
    "repositories": {"type": "array", "items": _obj({
        "full_name": _S, "branch": _S, "protected": {"type": "boolean"},
        "effective": EFFECTIVE, "classic_unreadable": _S, "api_total": {"type": "integer"},
        "api_total_query": _S, "fetched": {"type": "integer"},
        "direct_pushes": {"type": "integer"}, "error": _S}, ["full_name", "branch"])},
    "changes": {"type": "array", "items": _obj({
        "id": _S, "kind": {"enum": ["pull_request", "direct_push"]}, "repo": _S,
        "number": _I0, "title": _S0, "author": _S0, "merged_by": _S0,
        "merged_by_source": {"enum": ["activity", "pull"]}, "merged_at": _S, "base": _S,
        "head_ref": _S0, "head_sha": _S0, "merge_commit_sha": _S0, "url": _S0,
        "ticket_keys": _STRS, "reviews": {"type": ["array", "null"], "items": _REVIEW},
        "checks": _obj({"required": _STRS, "results": {
            "type": "object", "additionalProperties": _S0}}, ["required", "results"]),
        "error": _S, "verdict": {"enum": ["pass", "fail", "inconclusive"]}, "reason": _S,
        "sha": _S0, "before": _S0},
        ["id", "kind", "repo", "merged_at", "ticket_keys"])}},
    ["period_start", "period_end", "repositories", "changes"])
