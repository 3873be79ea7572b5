"""API operations mapped to the IAM actions that authorize them, and the policy document."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# Where the IAM action is not "<service>:<Operation>" (S3 names its actions differently).
_ACTION_OVERRIDES: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}

# The IAM prefix of each boto3 service name, where the two differ.
_PREFIX = {"s3control": "s3"}

# Actions that reach accounts rather than read them: the base principal assumes member roles
# and lists the organization; every principal identifies itself (STS needs no grant for it).
REACH_ACTIONS = ("organizations:ListAccounts", "sts:GetCallerIdentity")
ASSUME_ACTIONS = ("sts:AssumeRole",)


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes `operation` of boto3 service `service`."""
    return _ACTION_OVERRIDES.get((service, operation),
                                 f"{_PREFIX.get(service, service)}:{operation}")


def policy_document(actions: Iterable[str]) -> str:
    """A minimal read-only IAM policy (JSON): the snapshots' actions, reaching, assuming."""
    read = sorted(set(actions) | set(REACH_ACTIONS))
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentReadOnly", "Effect": "Allow", "Action": read,
             "Resource": "*"},
            {"Sid": "EvidenceAgentAssumeMemberRoles", "Effect": "Allow",
             "Action": list(ASSUME_ACTIONS), "Resource": "arn:aws:iam::*:role/*"},
        ],
    }
    return json.dumps(doc, indent=2)


def granted_actions(document: str) -> set[str]:
    """Every action an Allow statement of `document` grants (for checking coverage)."""
    out: set[str] = set()
    for s in json.loads(document)["Statement"]:
        if s.get("Effect") == "Allow":
            acts = s["Action"]
            out |= {acts} if isinstance(acts, str) else set(acts)
    return out


# --- the policy language: what a statement covers -------------------------------------------
# IAM matches Action with `*` / `?` wildcards, case-insensitively; Resource ARNs with the same
# wildcards, case-sensitively; condition key names case-insensitively (IAM User Guide,
# "IAM JSON policy elements": Action, Resource, Condition).


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _glob_states(pattern: str, text: str) -> set[int]:
    """Positions in `pattern` a wildcard match can be at after reading all of `text`."""

    def close(states: set[int]) -> set[int]:
        out, todo = set(states), list(states)
        while todo:
            p = todo.pop()
            if p < len(pattern) and pattern[p] == "*" and p + 1 not in out:
                out.add(p + 1)
                todo.append(p + 1)
        return out

    states = close({0})
    for ch in text:
        nxt: set[int] = set()
        for p in states:
            if p < len(pattern):
                if pattern[p] == "*":
                    nxt.add(p)
                elif pattern[p] == "?" or pattern[p] == ch:
                    nxt.add(p + 1)
        states = close(nxt)
        if not states:
            break
    return states


def glob_matches(pattern: str, text: str) -> bool:
    """Whether an IAM wildcard pattern (`*` any run, `?` one character) matches `text`."""
    return len(pattern) in _glob_states(pattern, text)


def glob_covers_prefix(pattern: str, prefix: str) -> bool:
    """Whether `pattern` matches every string that starts with `prefix`."""
    return any(all(c == "*" for c in pattern[p:]) for p in _glob_states(pattern, prefix))


def glob_meets_prefix(pattern: str, prefix: str) -> bool:
    """Whether `pattern` matches at least one string that starts with `prefix`."""
    return bool(_glob_states(pattern, prefix))


S3_ACTIONS = "s3:"


def every_principal(stmt: Mapping[str, Any]) -> bool:
    """Whether a resource-policy statement applies to every principal ("*" or {"AWS": "*"})."""
    if "NotPrincipal" in stmt:
        return False
    p = stmt.get("Principal")
    return p == "*" or (isinstance(p, Mapping) and "*" in _as_list(p.get("AWS")))


def _secure_transport_false(cond: Any) -> tuple[bool, list[str]]:
    """Whether a Condition block holds whenever aws:SecureTransport is false and adds no other
    requirement; otherwise what it adds or lacks."""
    if not isinstance(cond, Mapping) or not cond:
        return False, ["a condition on aws:SecureTransport being false"]
    found = False
    extra: list[str] = []
    for op, block in cond.items():
        keys = block.items() if isinstance(block, Mapping) else [(str(block), None)]
        # aws:SecureTransport is single-valued: with it, ForAnyValue: and ForAllValues:
        # compare its one value, as the plain operator does (IAM User Guide, "Set operators
        # for multivalued context keys"; S3 always sets the key, so ForAllValues' "true when
        # the key is absent" never applies).
        base = str(op).removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        for key, value in keys:
            if base in ("Bool", "BoolIfExists") and \
                    str(key).lower() == "aws:securetransport" and \
                    any(str(v).lower() == "false" for v in _as_list(value)):
                found = True
                continue
            extra.append(f"{op} {key}")
    misses = [] if found else ["a Bool condition matching aws:SecureTransport false"]
    if extra:
        misses.append("requests without TLS that fail its other condition(s): "
                      + ", ".join(sorted(extra)))
    return not misses, misses


def tls_statement_misses(stmt: Mapping[str, Any], bucket: str) -> list[str]:
    """What a statement lacks to deny every request without TLS to `bucket` and its objects
    (empty: it denies them all)."""
    misses: list[str] = []
    if stmt.get("Effect") != "Deny":
        return ["Effect Deny"]
    if not every_principal(stmt):
        misses.append("every principal (Principal \"*\" or {\"AWS\": \"*\"})")
    if "NotAction" in stmt:
        excluded = [str(a) for a in _as_list(stmt.get("NotAction"))
                    if glob_meets_prefix(str(a).lower(), S3_ACTIONS)]
        if excluded:
            misses.append("S3 actions excluded by NotAction: " + ", ".join(excluded))
    elif not any(glob_covers_prefix(str(a).lower(), S3_ACTIONS)
                 for a in _as_list(stmt.get("Action"))):
        misses.append("all S3 actions (s3:*)")
    arn = f"arn:aws:s3:::{bucket}"
    if "NotResource" in stmt:
        nots = [str(r) for r in _as_list(stmt.get("NotResource"))]
        if any(glob_matches(r, arn) for r in nots):
            misses.append(f"the bucket {arn} (excluded by NotResource)")
        if any(glob_meets_prefix(r, arn + "/") for r in nots):
            misses.append(f"all objects {arn}/* (some excluded by NotResource)")
    else:
        res = [str(r) for r in _as_list(stmt.get("Resource"))]
        if not any(glob_matches(r, arn) for r in res):
            misses.append(f"the bucket {arn}")
        if not any(glob_covers_prefix(r, arn + "/") for r in res):
            misses.append(f"all objects {arn}/*")
    misses.extend(_secure_transport_false(stmt.get("Condition"))[1])
    return misses


def tls_required(policy: Any, bucket: str) -> tuple[bool, str]:
    """Whether a bucket policy denies every principal every S3 action on the bucket and its
    objects when aws:SecureTransport is false; the reason names what the closest statement
    misses."""
    if not isinstance(policy, Mapping):
        return False, "no bucket policy"
    best: tuple[int, str, list[str]] | None = None
    for i, s in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(s, Mapping):
            continue
        misses = tls_statement_misses(s, bucket)
        if not misses:
            return True, f"statement {s.get('Sid') or i} denies every request without TLS"
        mentions_tls = "securetransport" in json.dumps(s.get("Condition", {})).lower()
        if s.get("Effect") == "Deny" and mentions_tls and (best is None
                                                           or len(misses) < best[0]):
            best = (len(misses), str(s.get("Sid") or i), misses)
    if best is None:
        return False, "no Deny statement on aws:SecureTransport"
    return False, f"statement {best[1]} does not cover: " + "; ".join(best[2])
