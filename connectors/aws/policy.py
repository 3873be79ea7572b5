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

# Actions the base principal needs to reach member accounts; not granted in those accounts.
ASSUME_ACTIONS = ("sts:AssumeRole",)


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes `operation` of boto3 service `service`."""
    return _ACTION_OVERRIDES.get((service, operation),
                                 f"{_PREFIX.get(service, service)}:{operation}")


def policy_document(actions: Iterable[str]) -> str:
    """A minimal read-only IAM policy (JSON) granting `actions`, plus role assumption."""
    read = sorted({a for a in actions if a not in ASSUME_ACTIONS})
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
