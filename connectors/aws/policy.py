"""API operations mapped to the IAM actions that authorize them, and the policy document."""

from __future__ import annotations

import json
from collections.abc import Iterable

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
