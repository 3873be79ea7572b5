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
