"""Tricky accounts, seeded in moto and read through the connector over real sockets: near-miss
and disguised forms of each verdict, each judged as AWS's documentation says it behaves.

One account (its own ID, so the demo accounts other modules seed are untouched) holds:
- customer-managed policies that are administrator in disguise (a condition, `*:*` in a list,
  a Statement object, NotAction leaving IAM in, a later default version) and near misses that
  are not (NotAction excluding IAM, `*` on S3 only, an admin statement its own Deny undoes, an
  admin version that is no longer the default), all attached to nothing;
- a user whose only admin rights are a conditional inline policy;
- CloudTrail trails whose selectors log only read management events (advanced, readOnly),
  all but KMS (classic, ExcludeManagementEventSources), or read and write split over two
  classic selectors (which together log everything);
- an AWS Config recorder that records one resource type only;
- a credential report holding a sign-in after its own GeneratedTime;
- TLS-only bucket policies written with a set operator, or covering objects or reads only;
- an admin role whose trust policy allows everyone but one principal (NotPrincipal);
- admin roles trusting every principal under a condition: on MFA or an external ID (anyone
  in any account who meets it), or pinned to an organization, or to named accounts by a Deny;
  and trusting GitHub's OIDC issuer with or without a `sub` naming the repository owner;
- a KMS key with imported key material (it cannot rotate automatically).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.aws import AwsConfig, AwsConnector
from connectors.base import Provenance, SnapshotContext
from simulators.aws_front import AwsFront
from tests.aws_moto import account_session, fresh_moto

os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

ACCOUNT = "444455556666"
ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def _doc(*statements: dict[str, Any], single: bool = False) -> str:
    body: Any = statements[0] if single else list(statements)
    return json.dumps({"Version": "2012-10-17", "Statement": body})


# name -> (policy document, whether it makes its holder an administrator)
POLICIES: dict[str, tuple[str, bool]] = {
    "ConditionalAdmin": (_doc(dict(ADMIN, Condition={
        "Bool": {"aws:MultiFactorAuthPresent": "true"}})), True),
    "StarColonStarList": (_doc({"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]},
                               single=True), True),
    "QuestionStar": (_doc({"Effect": "Allow", "Action": "*:?*", "Resource": "*"}), True),
    "AllButEc2": (_doc({"Effect": "Allow", "NotAction": "ec2:*", "Resource": "*"}), True),
    "PowerUserLike": (_doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"],
                            "Resource": "*"}), False),
    "S3Only": (_doc({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::*"}), False),
    "AdminDeniedBack": (_doc(ADMIN, {"Effect": "Deny", "Action": "*", "Resource": "*"}), False),
    # IAM's own actions on every resource: attach AdministratorAccess to oneself
    "IamStar": (_doc({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}), True),
    "PutAnyUserPolicy": (_doc({"Effect": "Allow", "Action": ["iam:Put*"],
                               "Resource": ["*"]}), True),
    "AttachOnly": (_doc({"Effect": "Allow", "Action": "IAM:AttachUserPolicy",
                         "Resource": "*"}), True),
    "IamReadOnly": (_doc({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"],
                          "Resource": "*"}), False),
}


class Account:
    """moto behind the AWS front, with one tricky account seeded."""

    def __init__(self) -> None:
        self.moto, self.moto_url = fresh_moto()
        self.front = AwsFront(upstream=self.moto_url).start()
        self.session = account_session(self.moto_url, ACCOUNT)
        self.seed()

    def client(self, name: str, region: str = "us-east-1") -> Any:
        return self.session.client(name, region_name=region, endpoint_url=self.moto_url)

    def seed(self) -> None:
        iam = self.client("iam")
        for name, (doc, _admin) in POLICIES.items():
            iam.create_policy(PolicyName=name, PolicyDocument=doc)
        # versions: only the default one counts
        reformed = iam.create_policy(PolicyName="ReformedAdmin", PolicyDocument=_doc(ADMIN))
        iam.create_policy_version(PolicyArn=reformed["Policy"]["Arn"], SetAsDefault=True,
                                  PolicyDocument=_doc({"Effect": "Allow", "Action": "s3:Get*",
                                                       "Resource": "*"}))
        promoted = iam.create_policy(PolicyName="PromotedAdmin", PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}))
        iam.create_policy_version(PolicyArn=promoted["Policy"]["Arn"], SetAsDefault=True,
                                  PolicyDocument=_doc(ADMIN))
        iam.create_user(UserName="ops")
        iam.put_user_policy(UserName="ops", PolicyName="office-hours-admin",
                            PolicyDocument=_doc(dict(ADMIN, Condition={
                                "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})))
        iam.create_user(UserName="auditor")
        iam.create_login_profile(UserName="auditor", Password="Correct-Horse-Battery-9!")
        future = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
        self.front.set_report_fields(f"arn:aws:iam::{ACCOUNT}:user/auditor",
                                     password_last_used=future)

        admin_arn = iam.create_policy(PolicyName="RoleAdmin", PolicyDocument=_doc(ADMIN))[
            "Policy"]["Arn"]
        iam.create_role(RoleName="all-but-one", AssumeRolePolicyDocument=_doc({
            "Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole"}))
        iam.attach_role_policy(RoleName="all-but-one", PolicyArn=admin_arn)
        # admin-equivalent through IAM's own actions, inline, and open to every principal
        iam.create_role(RoleName="iam-star-open", AssumeRolePolicyDocument=_doc(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))
        iam.put_role_policy(RoleName="iam-star-open", PolicyName="iam-everything",
                            PolicyDocument=_doc({"Effect": "Allow", "Action": "IAM:*",
                                                 "Resource": "*"}))
        for name, statements in TRUSTS.items():
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=_doc(*statements))
            iam.attach_role_policy(RoleName=name, PolicyArn=admin_arn)

        kms = self.client("kms")
        self.imported_key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]

        s3 = self.client("s3")
        s3.create_bucket(Bucket="tricky-trails")
        for name, extra in (("tls-set-operator", {"Condition": {
                                "ForAllValues:Bool": {"AWS:SecureTransport": ["FALSE"]}}}),
                            ("tls-objects-only", {"Resource": "arn:aws:s3:::tls-objects-only/*"}),
                            ("tls-reads-only", {"Action": ["s3:Get*", "s3:List*"]})):
            s3.create_bucket(Bucket=name)
            stmt = {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": False}}}
            s3.put_bucket_policy(Bucket=name, Policy=_doc(dict(stmt, **extra), single=True))
        ct = self.client("cloudtrail")
        for name in ("read-only-advanced", "all-but-kms", "split-read-write"):
            ct.create_trail(Name=name, S3BucketName="tricky-trails", IsMultiRegionTrail=True,
                            EnableLogFileValidation=True)
            ct.start_logging(Name=name)
        ct.put_event_selectors(TrailName="read-only-advanced", AdvancedEventSelectors=[{
            "Name": "Management events selector", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]},
                {"Field": "readOnly", "Equals": ["true"]}]}])
        ct.put_event_selectors(TrailName="all-but-kms", EventSelectors=[{
            "ReadWriteType": "All", "IncludeManagementEvents": True,
            "ExcludeManagementEventSources": ["kms.amazonaws.com"]}])
        ct.put_event_selectors(TrailName="split-read-write", EventSelectors=[
            {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])

        for region, group in (
                ("us-east-1", {"allSupported": False, "includeGlobalResourceTypes": False,
                               "resourceTypes": ["AWS::S3::Bucket"]}),
                ("eu-west-1", {"allSupported": True, "includeGlobalResourceTypes": False})):
            cfg = self.client("config", region)
            cfg.put_configuration_recorder(ConfigurationRecorder={
                "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/aws-config",
                "recordingGroup": group})
            cfg.put_delivery_channel(DeliveryChannel={"name": "default",
                                                      "s3BucketName": "tricky-trails"})
            cfg.start_configuration_recorder(ConfigurationRecorderName="default")

    def connector(self) -> AwsConnector:
        return AwsConnector("tricky", AwsConfig(endpoint_url=self.front.url, max_attempts=2,
                                                regions=["us-east-1", "eu-west-1"]),
                            factory=lambda _p: self.session)

    def stop(self) -> None:
        self.front.stop()
        self.moto.stop()


@pytest.fixture(scope="module")
def tricky() -> Iterator[Account]:
    a = Account()
    yield a
    a.stop()


def judged(acct: Account, name: str, prefix: str = "") -> dict[str, tuple[str, str]]:
    conn = acct.connector()
    ctx = SnapshotContext(instance="tricky", snapshot=name, started_at=datetime.now(UTC),
                          ipe=Provenance(), log=logging.getLogger("test.aws.tricky"))
    res = conn.run(name, ctx)
    spec = conn.snapshots()[name]
    assert spec.assess is not None
    return {f.resource: (f.status, f.reason) for f in spec.assess(res.content)
            if f.reason.startswith(prefix)}


def test_admin_in_every_disguise_and_no_near_miss(tricky: Account) -> None:
    """Each disguised admin policy attached to nothing fails; no near miss is called admin;
    only the default version of a policy counts."""
    found = judged(tricky, "privileged_access", "customer-managed administrator policy")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/"
    want = {arn + n for n, (_d, admin) in POLICIES.items() if admin} | {arn + "PromotedAdmin"}
    assert set(found) - {arn + "RoleAdmin"} == want
    assert {s for a, (s, _) in found.items() if a in want} == {"fail"}


def test_conditional_inline_admin_on_a_user_fails(tricky: Account) -> None:
    """A user whose inline policy allows everything from one network is an administrator
    through the user itself."""
    found = judged(tricky, "privileged_access", "administrator rights attached")
    assert found[f"arn:aws:iam::{ACCOUNT}:user/ops"] == (
        "fail", "administrator rights attached to the user itself (inline:office-hours-admin), "
        "not through a group")


def test_trail_selectors_follow_what_cloudtrail_logs(tricky: Account) -> None:
    """Read-only advanced selectors and a KMS exclusion fail naming what is not logged; read
    and write selectors split over two classic selectors log everything and pass."""
    found = judged(tricky, "cloudtrail")
    by_name = {r.rsplit("/", 1)[-1]: v for r, v in found.items() if ":trail/" in r}
    assert by_name["read-only-advanced"] == (
        "fail", "trail is not logging write management events")
    assert by_name["all-but-kms"] == (
        "fail", "trail is not logging read/write management events from kms.amazonaws.com")
    assert by_name["split-read-write"][0] == "pass"
    assert found[f"{ACCOUNT}/us-east-1"] == ("pass", "region coverage: logged by "
                                                     "split-read-write")


def test_config_recorder_recording_one_type_fails(tricky: Account) -> None:
    """A recorder that records only S3 buckets fails; one recording everything passes, but
    without includeGlobalResourceTypes no region records IAM's global types."""
    found = judged(tricky, "config_recorders")
    assert found[f"{ACCOUNT}/global-iam"][0] == "fail"
    assert found[f"{ACCOUNT}/us-east-1"] == (
        "fail", "AWS Config recorder default does not record every resource type: default "
        "records only AWS::S3::Bucket, not all supported resource types")
    assert found[f"{ACCOUNT}/eu-west-1"][0] == "pass"


def test_report_holding_a_date_after_its_generation_is_not_judged(tricky: Account) -> None:
    """A sign-in dated after the report's GeneratedTime proves the report older than what it
    describes: the whole report is inconclusive, nobody passes on its ages."""
    found = judged(tricky, "iam_credential_report")
    statuses = {s for s, _ in found.values()}
    assert statuses == {"inconclusive"}
    (reason,) = [r for _, r in found.values()]
    assert "password_last_used of auditor" in reason and "after its GeneratedTime" in reason



def test_role_trusting_everyone_but_one_fails(tricky: Account) -> None:
    """Allow with NotPrincipal in a trust policy lets every principal but the one named
    assume the role (IAM User Guide, NotPrincipal): an admin role anyone may assume."""
    found = judged(tricky, "privileged_access", "administrator role")
    status, reason = found[f"arn:aws:iam::{ACCOUNT}:role/all-but-one"]
    assert status == "fail"
    assert reason.startswith("administrator role that any principal may assume: statement 0 "
                             "allows every principal but those named (NotPrincipal)")


def test_role_with_iam_star_open_to_anyone_fails(tricky: Account) -> None:
    """A role whose inline policy allows IAM:* on every resource can attach
    AdministratorAccess to itself (IAM API Reference, AttachRolePolicy / PutRolePolicy): it is
    an administrator. Trusting every principal, it was not even listed (no finding at all);
    it fails as an admin role anyone may assume."""
    found = judged(tricky, "privileged_access", "administrator role")
    status, reason = found[f"arn:aws:iam::{ACCOUNT}:role/iam-star-open"]
    assert status == "fail" and "any principal may assume" in reason


ANYONE = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
GITHUB_AUD = "token.actions.githubusercontent.com:aud"
TRUSTS: dict[str, list[dict[str, Any]]] = {
    "anyone-with-mfa": [dict(ANYONE, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})],
    "anyone-with-external-id": [dict(ANYONE, Condition={
        "StringEquals": {"sts:ExternalId": "not-a-secret"}})],
    "anyone-in-any-org-path": [dict(ANYONE, Condition={
        "ForAllValues:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}})],
    "org-members": [dict(ANYONE, Condition={
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})],
    "github-any-repo": [{"Effect": "Allow", "Principal": {"Federated": GITHUB},
                         "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {
                             "StringEquals": {GITHUB_AUD: "sts.amazonaws.com"}}}],
    "github-own-org": [{"Effect": "Allow", "Principal": {"Federated": GITHUB},
                        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {
                            "StringEquals": {GITHUB_AUD: "sts.amazonaws.com"},
                            "StringLike": {GITHUB_AUD.replace(":aud", ":sub"):
                                           "repo:octo-org/deploy:*"}}}],
    "cognito-any-pool": [{"Effect": "Allow", "Principal": {"Federated":
                                                           "cognito-identity.amazonaws.com"},
                          "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {
                              "ForAnyValue:StringLike": {
                                  "cognito-identity.amazonaws.com:amr": "authenticated"}}}],
    "cognito-own-pool": [{"Effect": "Allow", "Principal": {"Federated":
                                                           "cognito-identity.amazonaws.com"},
                          "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {
                              "StringEquals": {"cognito-identity.amazonaws.com:aud":
                                               "us-east-1:12345678-dead-beef-1234-567890abcdef"},
                              "ForAnyValue:StringLike": {
                                  "cognito-identity.amazonaws.com:amr": "authenticated"}}}],
    "named-by-deny": [ANYONE, {"Effect": "Deny", "Principal": "*", "Action": "sts:*",
                               "Condition": {"StringNotEquals": {
                                   "aws:PrincipalAccount": [ACCOUNT, "444455556666"]}}}],
}


def test_roles_trusting_every_principal_under_a_condition(tricky: Account) -> None:
    """An admin role trusting {"AWS": "*"} fails unless a condition pins the caller's account
    or organization: MFA or an external ID lets in anyone who meets it, ForAllValues: holds for
    a caller outside any organization; a PrincipalOrgID test, or a Deny for every account
    but named ones, restricts it. Trusting GitHub's OIDC issuer with the audience alone lets
    in every workflow on github.com; a sub naming the owner restricts it. Trusting Cognito
    identity pools without naming the pool (aud) lets in users of any pool."""
    found = judged(tricky, "privileged_access", "administrator role")
    got = {name: found[f"arn:aws:iam::{ACCOUNT}:role/{name}"][0] for name in TRUSTS}
    assert got == {"anyone-with-mfa": "fail", "anyone-with-external-id": "fail",
                   "anyone-in-any-org-path": "fail", "org-members": "pass",
                   "github-any-repo": "fail", "github-own-org": "pass",
                   "cognito-any-pool": "fail", "cognito-own-pool": "pass",
                   "named-by-deny": "pass"}
    assert "do not pin the caller's account or organization" in found[
        f"arn:aws:iam::{ACCOUNT}:role/anyone-with-mfa"][1]


def test_imported_key_material_cannot_pass_rotation(tricky: Account) -> None:
    """A key with imported key material never rotates automatically (AWS KMS: its rotation
    status is always false): it fails saying why, not as merely switched off."""
    found = judged(tricky, "kms_key_rotation")
    status, reason = found[tricky.imported_key]
    assert status == "fail" and "origin EXTERNAL" in reason


def test_tls_policies_judged_as_iam_evaluates_them(tricky: Account) -> None:
    """A set operator on the single-valued aws:SecureTransport (any case) denies every request
    without TLS and passes; a Deny of objects only, or of reads only, fails naming the gap."""
    found = judged(tricky, "s3_buckets", "TLS required")
    assert found["arn:aws:s3:::tls-set-operator"][0] == "pass"
    status, reason = found["arn:aws:s3:::tls-objects-only"]
    assert status == "fail" and "the bucket arn:aws:s3:::tls-objects-only" in reason
    status, reason = found["arn:aws:s3:::tls-reads-only"]
    assert status == "fail" and "all S3 actions (s3:*)" in reason
