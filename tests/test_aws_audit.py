"""AWS verdicts on inputs an adversarial tester would build, each against AWS's documentation.

Every case here was a wrong verdict before its fix; the docstring names the input, the old
verdict and the AWS document it contradicted.
"""

from __future__ import annotations

from typing import Any

from connectors.aws import assess as A

GENERATED = "2026-03-15T08:00:00+00:00"


def _root_row(**kw: str) -> dict[str, str]:
    # a credential report's root row as the connector stores it (csv.DictReader, all text)
    row = {"user": "<root_account>", "arn": "arn:aws:iam::111122223333:root",
           "user_creation_time": "2020-01-01T00:00:00+00:00", "password_enabled": "not_supported",
           "password_last_used": "2026-03-01T00:00:00+00:00",
           "password_last_changed": "not_supported", "password_next_rotation": "not_supported",
           "mfa_active": "true", "access_key_1_active": "false", "access_key_1_last_rotated": "N/A",
           "access_key_1_last_used_date": "N/A", "access_key_1_last_used_region": "N/A",
           "access_key_1_last_used_service": "N/A", "access_key_2_active": "false",
           "access_key_2_last_rotated": "N/A", "access_key_2_last_used_date": "N/A",
           "access_key_2_last_used_region": "N/A", "access_key_2_last_used_service": "N/A",
           "cert_1_active": "false", "cert_1_last_rotated": "N/A", "cert_2_active": "false",
           "cert_2_last_rotated": "N/A"}
    row.update(kw)
    return row


def _report(root: dict[str, str]) -> dict[str, Any]:
    return {"accounts": [{"account_id": "111122223333", "generated_time": GENERATED,
                          "root": root, "users": [], "report_problem": None}],
            "unreadable": []}


def test_root_access_key_in_the_credential_report_never_passes() -> None:
    """The root row with an active access key rotated 10 days and used 1 day before the report
    passed "access key 1: rotated within 90 days" and "unused credentials: ... 1 days"
    (two pass lines on the root user's key). CIS AWS Foundations 1.4 and the IAM User Guide
    ("Root user best practices": do not create access keys for the root user) admit no root
    key at all: each active root key is one fail, and nothing about it passes."""
    root = _root_row(access_key_1_active="true",
                     access_key_1_last_rotated="2026-03-05T00:00:00+00:00",
                     access_key_1_last_used_date="2026-03-14T00:00:00+00:00",
                     access_key_2_active="true",
                     access_key_2_last_rotated="2026-03-06T00:00:00+00:00")
    found = [f for f in A.assess_credential_report(_report(root))
             if f.resource == root["arn"]]
    keys = [f for f in found if "access key" in f.reason]
    assert [(f.status, f.reason.split(":")[0]) for f in keys] == [
        ("fail", "access key 1"), ("fail", "access key 2")]
    assert "root user has an active access key" in keys[0].reason
    assert [f.status for f in found if f not in keys] == ["pass"]  # console MFA


def test_root_without_keys_gets_no_key_finding() -> None:
    """An inactive root key (the root_account snapshot reports that one exists) is not a
    credential-report finding; MFA is still judged."""
    root = _root_row(access_key_1_active="false",
                     access_key_1_last_rotated="2019-01-01T00:00:00+00:00")
    found = [f for f in A.assess_credential_report(_report(root)) if f.resource == root["arn"]]
    assert [(f.status, f.reason) for f in found] == [("pass", "console MFA: MFA active")]


# --- TLS-only bucket policy: a Deny split over statements ------------------------------------
# IAM User Guide, "Policy evaluation logic": a request is denied when ANY Deny statement
# matches it. A policy whose Deny on aws:SecureTransport false is written as several
# statements (the bucket in one, its objects in another; `NotAction X` beside `Action X`)
# denies every request without TLS as one statement would. The oracle is test_aws_rules'
# evaluation of IAM over probe requests; the pieces split on probe actions, so dropping one
# leaves a probe request through.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from connectors.aws.policy import tls_required  # noqa: E402
from tests.test_aws_rules import ARN, BUCKET, conditions, tls_oracle  # noqa: E402

RESOURCE_SPLITS: list[list[Any]] = [
    [[ARN, f"{ARN}/*"]], [[ARN], [f"{ARN}/*"]], [ARN, f"{ARN}/*"], ["*"],
    [[ARN], ["arn:aws:s3:::*/*"]], [f"{ARN}*"], [[ARN], [f"{ARN}/*"], [f"{ARN}/logs/*"]]]
ACTION_SPLITS: list[list[dict[str, Any]]] = [
    [{"Action": "s3:*"}],
    [{"NotAction": "s3:GetObject"}, {"Action": "S3:GetObject"}],
    [{"NotAction": ["s3:Get*", "s3:Put*"]}, {"Action": ["s3:Get*"]}, {"Action": "s3:put*"}],
    [{"NotAction": "s3:Get*"}, {"NotAction": "s3:Put*"}],
    [{"NotAction": ["s3:DeleteBucket", "s3:ListBucket"]}, {"Action": "s3:*Bucket"}],
]


@st.composite
def split_policies(draw: st.DrawFn) -> dict[str, Any]:
    resources = draw(st.sampled_from(RESOURCE_SPLITS))
    actions = draw(st.sampled_from(ACTION_SPLITS))
    principal = draw(st.sampled_from(["*", {"AWS": "*"}, {"AWS": ["*"]}]))
    pieces = [{"Effect": "Deny", "Principal": principal, **act, "Resource": res,
               "Condition": draw(conditions())} for res in resources for act in actions]
    if len(pieces) > 1 and draw(st.booleans()):
        del pieces[draw(st.integers(0, len(pieces) - 1))]
    if draw(st.booleans()):
        pieces.insert(0, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                          "Resource": f"{ARN}/*"})
    return {"Version": "2012-10-17", "Statement": pieces}


@settings(max_examples=300, deadline=None)
@given(split_policies())
def test_a_tls_deny_split_over_statements_is_judged_as_iam_does(policy: dict[str, Any]) -> None:
    """A TLS Deny split over statements passes exactly when IAM denies every probe request
    without TLS. Before: the bucket in one statement and its objects in another (or `NotAction
    s3:GetObject` beside `Action s3:GetObject`) failed, naming a statement's gap that another
    statement filled: a wrong fail."""
    ok, why = tls_required(policy, BUCKET)
    assert ok == tls_oracle(policy), why


def test_the_split_tls_examples() -> None:
    """The bucket and its objects denied by two statements pass, naming both; with the
    objects' statement gone the bucket's statement is named with its gap."""
    cond = {"Bool": {"aws:SecureTransport": "false"}}
    bucket = {"Sid": "Bucket", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
              "Resource": ARN, "Condition": cond}
    objects = dict(bucket, Sid="Objects", Resource=f"{ARN}/*")
    ok, why = tls_required({"Statement": [bucket, objects]}, BUCKET)
    assert ok and "the bucket arn:aws:s3:::b by Bucket" in why and "by Objects" in why
    ok, why = tls_required({"Statement": [bucket]}, BUCKET)
    assert not ok and why == "statement Bucket does not cover: all objects arn:aws:s3:::b/*"
    # an objects statement narrowed by another condition adds nothing
    narrowed = dict(objects, Condition={**cond, "StringEquals": {"aws:PrincipalAccount": "1"}})
    assert not tls_required({"Statement": [bucket, narrowed]}, BUCKET)[0]
