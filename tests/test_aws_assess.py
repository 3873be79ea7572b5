"""The `aws` assess functions: pure verdicts over content, inconclusive for what was unread."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connectors.aws import AwsConnector
from connectors.aws import assess as A
from connectors.aws import examples as X
from connectors.aws.policy import tls_required


@pytest.mark.parametrize("name", sorted(AwsConnector.snapshots()))
def test_assess_is_pure_on_the_example(name: str) -> None:
    """assess() on the example gives findings, twice the same, without touching its input."""
    spec = AwsConnector.snapshots()[name]
    assert spec.assess is not None
    before = copy.deepcopy(spec.example)
    first = spec.assess(spec.example)
    assert first and first == spec.assess(spec.example)
    assert spec.example == before
    json.dumps(spec.example)  # content is plain JSON


@pytest.mark.parametrize("name", sorted(AwsConnector.snapshots()))
def test_an_unreadable_part_is_inconclusive_never_pass(name: str) -> None:
    """Adding an unreadable region to any snapshot yields an inconclusive finding for it."""
    spec = AwsConnector.snapshots()[name]
    assert spec.assess is not None
    content: dict[str, Any] = copy.deepcopy(spec.example)
    content["unreadable"] = [{"account_id": "999999999999", "account": "x",
                              "region": "ap-south-1", "error": "PermissionDenied",
                              "detail": "ec2.GetEbsEncryptionByDefault denied"}]
    found = [f for f in spec.assess(content) if f.resource == "999999999999/ap-south-1"]
    assert [f.status for f in found] == ["inconclusive"]


def _user(**kw: str) -> dict[str, str]:
    row = copy.deepcopy(X.CREDENTIAL_REPORT["accounts"][0]["users"][0])
    row.update(kw)
    return dict(row)


def _report(*rows: dict[str, str], root: dict[str, str] | None = None) -> dict[str, Any]:
    return {"accounts": [{"account_id": X.ACCOUNT, "generated_time": "2026-03-15T08:00:00+00:00",
                          "root": root, "users": list(rows)}], "unreadable": []}


def test_old_active_access_keys_fail_and_fresh_ones_pass() -> None:
    """A key rotated over 90 days before the report fails; within 90 days passes."""
    old = _user(arn="arn:old", access_key_1_last_rotated="2025-11-01T00:00:00+00:00")
    new = _user(arn="arn:new", access_key_1_last_rotated="2026-03-01T00:00:00+00:00")
    found = {(f.resource, f.status) for f in A.assess_credential_report(_report(old, new))
             if f.reason.startswith("access key 1")}
    assert found == {("arn:old", "fail"), ("arn:new", "pass")}


def test_inactive_keys_and_unknown_dates() -> None:
    """Inactive keys are not judged; an active key with no rotation date is inconclusive."""
    row = _user(arn="arn:x", access_key_1_last_rotated="N/A")
    statuses = [f.status for f in A.assess_credential_report(_report(row))
                if f.reason.startswith("access key")]
    assert statuses == ["inconclusive"]


def test_root_row_without_mfa_fails() -> None:
    """The report's root row is a console user; without MFA it fails."""
    root = _user(user="<root_account>", arn="arn:aws:iam::1:root", password_enabled="not_supported",
                 mfa_active="false", access_key_1_active="false")
    found = [f for f in A.assess_credential_report(_report(root=root))
             if f.resource == "arn:aws:iam::1:root"]
    assert [f.status for f in found] == ["fail"]


def test_admin_statements() -> None:
    """Allow of every action (any spelling) on every resource is administrator, with or
    without a condition (a condition narrows when, not what); so is any statement (iam:*,
    i*:*, NotAction, NotResource) that allows, on every IAM resource, an action that attaches
    or writes a policy (its holder can grant itself the rest). NotAction excluding those
    (PowerUserAccess), IAM reads, a service wildcard, and a document whose own Deny takes
    every IAM action back are not."""
    def admin(**kw: Any) -> bool:
        return A.statement_is_admin({"Effect": "Allow", **kw})

    assert admin(Action="*", Resource="*")
    assert admin(Action=["*:*"], Resource=["*"])
    assert admin(Action="*:?*", Resource="*")
    assert admin(Action="*", Resource="*",
                 Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    assert admin(NotAction="ec2:*", Resource="*")
    assert admin(Action="*", NotResource="arn:aws:s3:::secrets/*")
    assert not admin(NotAction=["iam:*", "organizations:*", "account:*"], Resource="*")
    assert admin(NotAction="iam:PassRole", Resource="*")
    assert not admin(NotAction=["iam:Attach*", "iam:Put*", "iam:*PolicyVersion"],
                     Resource="*")
    assert not admin(Action="*", NotResource="arn:aws:iam::*:user/*")
    assert admin(Action="iam:*", Resource="*")
    assert admin(Action=["I*:*"], Resource="*")
    assert admin(Action="IAM:attachuserpolicy", Resource="*")
    assert not admin(Action=["iam:Get*", "iam:List*"], Resource="*")
    assert not admin(Action="iam:*", Resource="arn:aws:iam::*:user/alice")
    # every IAM resource is where the self-granting actions act: enough without "*"
    assert admin(Action="iam:*", Resource="arn:aws:iam::*:*")
    assert admin(Action="IAM:Attach*", Resource="arn:aws:iam::111122223333:*")
    assert admin(Action="*", Resource="arn:*")
    assert not admin(Action="*", Resource="arn:aws:iam::*:role/*")
    assert not admin(Action="iam:*", Resource=["arn:aws:iam::*:user/*", "arn:aws:iam::*:role/*"])
    assert admin(Action="iam:*", Resource=[f"arn:aws:iam::*:{t}/*"
                                           for t in ("user", "role", "group", "policy")])
    assert not admin(Action="s3:*", Resource="*")
    assert not admin(Action="*:Get*", Resource="*")
    assert not admin(Action=":*", Resource="*")
    assert not admin(Action="*", Resource="arn:aws:s3:::*")
    assert not A.statement_is_admin({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert A.document_is_admin({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    assert not A.document_is_admin({"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})
    assert A.document_is_admin({"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]})


def test_tls_policy_detection() -> None:
    """A Deny for every principal, all S3 actions, the bucket and its objects when
    aws:SecureTransport is false requires TLS; a named principal does not."""
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert tls_required({"Statement": [deny]}, "b")[0]
    assert tls_required({"Statement": [dict(deny, Principal={"AWS": "*"})]}, "b")[0]
    ok, why = tls_required({"Statement": [dict(deny, Principal={"AWS": "arn:x"})]}, "b")
    assert not ok and "every principal" in why
    assert not tls_required(None, "b")[0]


def test_account_public_access_block_covers_buckets_and_unread_one_is_inconclusive() -> None:
    """A bucket without its own block passes through the account's; if the account's could
    not be read, it is inconclusive rather than failing or passing."""
    content = copy.deepcopy(X.S3_BUCKETS)
    pab = [f for f in A.assess_s3_buckets(content) if f.reason.startswith("public access")]
    assert [f.status for f in pab] == ["pass"] * len(content["accounts"][0]["buckets"])
    acct = content["accounts"][0]
    acct["account_public_access_block"] = None
    acct["account_public_access_block_unreadable"] = "s3control.GetPublicAccessBlock denied"
    pab = [f for f in A.assess_s3_buckets(content) if f.reason.startswith("public access")]
    assert [f.status for f in pab] == ["inconclusive"] * len(acct["buckets"])


def test_kms_skips_aws_managed_and_asymmetric_keys() -> None:
    """Only enabled customer symmetric keys are judged; alias/aws/* keys are AWS-managed."""
    base = X.KMS["keys"][0]
    keys = [dict(base, arn="a", rotation_enabled=False),
            dict(base, arn="b", aliases=["alias/aws/s3"], rotation_enabled=False),
            dict(base, arn="c", spec="RSA_2048", rotation_enabled=None),
            dict(base, arn="d", state="PendingDeletion", rotation_enabled=None),
            dict(base, arn="e", rotation_enabled=None),
            dict(base, arn="f", origin="EXTERNAL", rotation_enabled=False),
            dict(base, arn="g", origin="AWS_CLOUDHSM", rotation_enabled=None)]
    found = {f.resource: f.status for f in A.assess_kms_key_rotation(
        {"keys": keys, "unreadable": []})}
    assert found == {"a": "fail", "e": "inconclusive", "f": "fail", "g": "fail"}


def test_cloudtrail_management_event_selectors() -> None:
    """Write-only or management-excluding selectors do not count as logging management events."""
    trail = dict(X.CLOUDTRAIL["trails"][0])
    assert A.logs_management_events(trail)
    assert not A.logs_management_events(dict(trail, event_selectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]))
    assert A.logs_management_events(dict(trail, event_selectors=None,
                                         advanced_event_selectors=[{"FieldSelectors": [
                                             {"Field": "eventCategory",
                                              "Equals": ["Management"]}]}]))
    bad = dict(trail, is_logging=False)
    v = {f.resource: f.status for f in A.assess_cloudtrail(
        {"trails": [bad], "scope": X.CLOUDTRAIL["scope"], "unreadable": []})}
    assert v[X.ACCOUNT] == "fail" and v[trail["arn"]] == "fail"


def test_password_policy_absent_fails_every_rule() -> None:
    """No password policy at all fails each of the seven rules on its own, naming the rule."""
    out = A.assess_password_policy({"accounts": [{"account_id": "1", "policy": None}],
                                    "unreadable": []})
    assert [f.status for f in out] == ["fail"] * 7
    assert all("no password policy is set" in f.reason for f in out)


def test_password_policy_rule_edges() -> None:
    """Length 13 and reuse 23 fail, 14 and 24 pass; a MaxPasswordAge without ExpirePasswords,
    or over 90 days, fails; each character class is judged alone."""
    base = dict(X.PASSWORD_POLICY["accounts"][0]["policy"], ExpirePasswords=True,
                MaxPasswordAge=90)

    def verdict(**kw: object) -> dict[str, str]:
        content = {"accounts": [{"account_id": "1", "policy": dict(base, **kw)}],
                   "unreadable": []}
        return {f.reason.split(":")[0].removeprefix("password policy "): f.status
                for f in A.assess_password_policy(content)}

    assert set(verdict().values()) == {"pass"}
    assert verdict(MinimumPasswordLength=13)["minimum length"] == "fail"
    assert verdict(PasswordReusePrevention=23)["reuse prevention"] == "fail"
    assert verdict(ExpirePasswords=False)["maximum age"] == "fail"
    assert verdict(MaxPasswordAge=91)["maximum age"] == "fail"
    v = verdict(RequireSymbols=False)
    assert v.pop("symbols") == "fail" and set(v.values()) == {"pass"}


def test_global_iam_types_must_be_recorded_in_some_region() -> None:
    """AWS Config records IAM users, groups, roles and policies only where a recorder
    includes the global types (allSupported + includeGlobalResourceTypes, or an exclusion
    strategy not excluding them) in a Region it reached before February 2022."""
    def judge(*recorders: tuple[str, dict[str, Any]], unread: tuple[str, ...] = ()
              ) -> tuple[str, str]:
        recs = [{"account_id": "1", "region": r, "name": "default", "recording": True,
                 "last_status": "SUCCESS", "recording_group": g} for r, g in recorders]
        chans = [{"account_id": "1", "region": r, "name": "default",
                  "history_status": "Success", "snapshot_status": "Success"}
                 for r, _ in recorders]
        out = A.assess_config_recorders({
            "recorders": recs, "delivery_channels": chans,
            "unreadable": [{"account_id": "1", "region": r, "error": "AccessDenied"}
                           for r in unread],
            "scope": [{"account_id": "1", "region": r} for r, _ in recorders]})
        (g,) = [(f.status, f.reason) for f in out if f.resource == "1/global-iam"]
        return g

    everything = {"allSupported": True, "includeGlobalResourceTypes": False}
    assert judge(("us-east-1", everything), ("eu-west-1", everything))[0] == "fail"
    assert judge(("us-east-1", everything),
                 ("eu-west-1", dict(everything, includeGlobalResourceTypes=True)))[0] == "pass"
    excluding = {"allSupported": False, "recordingStrategy": {
        "useOnly": "EXCLUSION_BY_RESOURCE_TYPES"}, "exclusionByResourceTypes": {
        "resourceTypes": []}}
    assert judge(("us-east-1", excluding))[0] == "pass"
    status, reason = judge(("eu-central-2", dict(everything, includeGlobalResourceTypes=True)))
    assert status == "fail" and "cannot record them" in reason
    # a region that could not be read may be the one recording them: not judged as missing
    status, reason = judge(("us-east-1", everything), unread=("eu-west-1",))
    assert status == "inconclusive" and "eu-west-1 could not be read" in reason
    assert judge(("us-east-1", everything), unread=("eu-central-2",))[0] == "fail"
    assert judge(("us-east-1", dict(everything, includeGlobalResourceTypes=True)),
                 unread=("eu-west-1",))[0] == "pass"


def test_regional_present_but_off_is_its_own_reason() -> None:
    """A stopped Config recorder and a disabled GuardDuty detector fail as present but off;
    a recorder recording without a delivery channel fails too."""
    scope = [{"account_id": "1", "region": "r"}]
    rec = {"account_id": "1", "region": "r", "name": "default", "recording": False,
           "recording_group": {"allSupported": True}}
    out = A.assess_config_recorders({"recorders": [rec], "delivery_channels": [],
                                     "scope": scope, "unreadable": []})
    assert {f.resource: (f.status, f.reason) for f in out}["1/r"] == (
        "fail", "AWS Config recorder default present but not recording")
    out = A.assess_config_recorders({"recorders": [dict(rec, recording=True)],
                                     "delivery_channels": [], "scope": scope,
                                     "unreadable": []})
    assert out[0].status == "fail" and "no delivery channel" in out[0].reason
    det = {"account_id": "1", "region": "r", "name": "d1", "status": "DISABLED"}
    out = A.assess_guardduty_detectors({"detectors": [det], "scope": scope, "unreadable": []})
    assert [(f.status, f.reason) for f in out] == [
        ("fail", "GuardDuty detector d1 present but disabled")]


def test_a_trail_failing_to_deliver_to_s3_does_not_cover_anything() -> None:
    """GetTrailStatus's LatestDeliveryError (an S3 error delivering log files) fails the
    trail and the regions only it covers, naming the error."""
    t = dict(X.CLOUDTRAIL["trails"][0], latest_delivery_error="AccessDenied")
    out = {f.resource: (f.status, f.reason) for f in A.assess_cloudtrail(
        {"trails": [t], "scope": X.CLOUDTRAIL["scope"], "unreadable": []})}
    assert out[t["arn"]] == ("fail", "trail is failing to deliver log files to S3 "
                             "(AccessDenied)")
    assert out[f"{X.ACCOUNT}/us-east-1"][0] == "fail"
    ok = {f.resource: f.status for f in A.assess_cloudtrail(X.CLOUDTRAIL)}
    assert ok[t["arn"]] == "pass"


def test_cloudtrail_region_coverage_follows_where_trails_apply() -> None:
    """A single-region trail covers its home region (and regions DescribeTrails lists it in,
    e.g. an organization's shadow trail); a stopped trail covers nothing."""
    t = dict(X.CLOUDTRAIL["trails"][0], multi_region=False, regions=["us-east-1"])
    scope = [{"account_id": X.ACCOUNT, "region": r} for r in ("eu-west-1", "us-east-1")]
    v = {f.resource: f.status for f in A.assess_cloudtrail(
        {"trails": [t], "scope": scope, "unreadable": []}) if "region coverage" in f.reason}
    assert v == {f"{X.ACCOUNT}/eu-west-1": "fail", f"{X.ACCOUNT}/us-east-1": "pass"}
    shadow = dict(t, regions=["eu-west-1", "us-east-1"])
    v = {f.resource: f.status for f in A.assess_cloudtrail(
        {"trails": [shadow], "scope": scope, "unreadable": []}) if "region coverage" in f.reason}
    assert set(v.values()) == {"pass"}
    stopped = dict(shadow, is_logging=False)
    v = {f.resource: f.status for f in A.assess_cloudtrail(
        {"trails": [stopped], "scope": scope, "unreadable": []}) if "region coverage" in f.reason}
    assert set(v.values()) == {"fail"}


def test_unattached_customer_admin_policy_fails() -> None:
    """The example's customer admin policy attached to nothing fails; one attachment passes."""
    content = copy.deepcopy(X.PRIVILEGED_ACCESS)
    arn = content["accounts"][0]["customer_admin_policies"][0]["arn"]
    assert {f.resource: f.status for f in A.assess_privileged_access(content)}[arn] == "fail"
    content["accounts"][0]["customer_admin_policies"][0]["attachments"] = 1
    assert {f.resource: f.status for f in A.assess_privileged_access(content)}[arn] == "pass"


def test_parse_time_is_aware_utc() -> None:
    """AWS times parse to timezone-aware UTC; placeholders parse to None."""
    t = A.parse_time("2026-03-15T08:00:00Z")
    assert t is not None and t.utcoffset() is not None and t.hour == 8
    assert A.parse_time("N/A") is None and A.parse_time("no_information") is None


def test_trust_policy_allowing_everyone_but_some() -> None:
    """Allow with NotPrincipal trusts every principal but those named; a condition or a
    named account restricts it."""
    role = {"arn": "r", "trust_policy": {"Statement": [{
        "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
        "Action": "sts:AssumeRole"}]}}
    content = {"accounts": [{"account_id": "1", "roles": [role]}], "unreadable": []}
    assert [f.status for f in A.assess_privileged_access(content)] == ["fail"]
    role["trust_policy"] = {"Statement": {"Effect": "Allow", "Principal": {
        "AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}}
    assert [f.status for f in A.assess_privileged_access(content)] == ["pass"]
