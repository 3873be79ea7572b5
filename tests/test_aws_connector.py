"""The `aws` connector against moto's server and the CloudTrail simulator, over real sockets."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from collector.errors import AuthError, PermissionDenied, TransientError
from connectors.aws import AwsConfig, AwsConnector
from connectors.aws import assess as A
from connectors.aws.calls import _strip_account_prefix
from connectors.aws.policy import granted_actions, iam_action
from connectors.base import Provenance, SnapshotContext, SnapshotResult
from simulators import s3_listing
from simulators.aws_front import AwsFront
from simulators.aws_seed import (
    ACCOUNT_ID,
    MEMBER_ID,
    Seeded,
    seed_demo_account,
    seed_demo_member_account,
)
from simulators.cloudtrail import CloudTrailSimulator, Fault, iam_event
from tests.aws_moto import fresh_moto

os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

# a day a month back: inside CloudTrail's 90-day event history, whatever the date
PERIOD_END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - \
    timedelta(days=30)
PERIOD_START = PERIOD_END - timedelta(days=1)


class Aws:
    """A moto server with the CloudTrail simulator in front, and the demo account seeded."""

    def __init__(self) -> None:
        self.moto, self.moto_url = fresh_moto()
        self.sim = AwsFront(upstream=self.moto_url).start()
        self.url = self.sim.url
        self.seeded: Seeded = seed_demo_account(self.moto_url)
        self.member: Seeded = seed_demo_member_account(self.moto_url)
        self.sim.apply(self.seeded)
        self.sim.apply(self.member)

    def stop(self) -> None:
        self.sim.stop()
        self.moto.stop()


def module_aws() -> Any:
    """An `aws` fixture for a test module: the demo account on its own moto, once a module."""
    def aws() -> Iterator[Aws]:
        a = Aws()
        yield a
        a.stop()
    return pytest.fixture(scope="module", name="aws")(aws)


aws_fixture = module_aws()


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "aws" in request.fixturenames:
        request.getfixturevalue("aws").sim.clear()


def base_session(_profile: str | None = None) -> boto3.Session:
    """The test's base credentials: moto's dummy keys, as a profile would provide."""
    return boto3.Session(aws_access_key_id="AKIATESTTESTTEST0000",
                         aws_secret_access_key="test-secret-not-real", region_name="us-east-1")


def account_session(url: str, account_id: str) -> boto3.Session:
    """A session in another moto account (moto keys state by the assumed role's account)."""
    sts = base_session().client("sts", endpoint_url=url)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/seed",
                        RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"],
                         aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name="us-east-1")


def connector(url: str, factory: Any = base_session, sleep: Any = time.sleep,
              **cfg: Any) -> AwsConnector:
    cfg.setdefault("max_attempts", 2)
    cfg.setdefault("regions", ["us-east-1", "eu-west-1"])
    return AwsConnector("test", AwsConfig(endpoint_url=url, **cfg), factory=factory,
                        sleep=sleep)


def ctx(name: str, *, start: datetime | None = None,
        end: datetime | None = None) -> SnapshotContext:
    return SnapshotContext(instance="test", snapshot=name, started_at=datetime.now(UTC),
                           ipe=Provenance(), log=logging.getLogger("test.aws"),
                           period_start=start, period_end=end)


def run(conn: AwsConnector, name: str, **kw: Any) -> tuple[SnapshotResult, SnapshotContext]:
    c = ctx(name, **kw)
    return conn.run(name, c), c


def verdicts(conn: AwsConnector, name: str, result: SnapshotResult,
             prefix: str = "") -> dict[str, str]:
    spec = conn.snapshots()[name]
    assert spec.assess is not None
    return {f.resource: f.status for f in spec.assess(result.content)
            if f.reason.startswith(prefix)}


# --- identity and accounts --------------------------------------------------------------------

def test_check_reports_caller_and_account(aws: Aws) -> None:
    """check() calls STS and names the caller ARN and the account."""
    res = connector(aws.url).check()
    assert res.ok
    assert res.source == ACCOUNT_ID
    assert res.principal is not None and res.principal.startswith("arn:aws:sts::")


def test_bad_credentials_are_an_auth_error(aws: Aws) -> None:
    """STS refusing the keys fails check() and raises AuthError from a snapshot."""
    aws.sim.inject(Fault(service="sts", code="InvalidClientTokenId", status=403))
    conn = connector(aws.url)
    assert not conn.check().ok
    with pytest.raises(AuthError):
        run(conn, "root_account")


def test_role_assumption_reaches_another_account(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role account is assumed with its external ID (read from the environment, never
    recorded), and evidence and principal come from that account."""
    monkeypatch.setenv("AWS_TEST_EXTERNAL_ID", "ext-id-very-secret")
    conn = connector(aws.url, accounts=[
        {"profile": "base"},
        {"role_arn": "arn:aws:iam::210987654321:role/EvidenceAgent",
         "external_id": {"env": "AWS_TEST_EXTERNAL_ID"}}])
    res, c = run(conn, "root_account")
    assert [a["account_id"] for a in res.content["accounts"]] == [ACCOUNT_ID, "210987654321"]
    assert c.ipe.source == f"{ACCOUNT_ID}, 210987654321"
    assert "assumed-role/EvidenceAgent" in str(c.ipe.principal)
    ipe = json.dumps(c.ipe.to_json())
    assert "ext-id-very-secret" not in ipe
    assume = [x for x in c.ipe.calls if x.operation == "sts.AssumeRole"]
    assert assume and assume[0].params["ExternalId"] == "<redacted>"


def test_unreachable_account_is_recorded_and_others_go_on(aws: Aws) -> None:
    """One account whose role cannot be assumed is an inconclusive part; the other is read."""
    aws.sim.inject(Fault(service="sts", operation="AssumeRole", code="AccessDenied"))
    conn = connector(aws.url, accounts=[
        {"profile": "base"}, {"role_arn": "arn:aws:iam::210987654321:role/EvidenceAgent"}])
    res, c = run(conn, "password_policy")
    assert [a["account_id"] for a in res.content["accounts"]] == [ACCOUNT_ID]
    assert res.content["unreadable"][0]["error"] == "PermissionDenied"
    assert c.ipe.errors
    v = verdicts(conn, "password_policy", res)
    assert v["210987654321"] == "inconclusive"


def test_organizations_discovery_assumes_a_role_in_each_member(aws: Aws) -> None:
    """Member accounts listed by Organizations are each reached through the named role."""
    mgmt = account_session(aws.moto_url, "333333333333")
    org = mgmt.client("organizations", endpoint_url=aws.moto_url)
    org.create_organization(FeatureSet="ALL")
    for n in ("prod", "staging"):
        org.create_account(AccountName=n, Email=f"{n}@example.com")
    members = sorted(a["Id"] for a in org.list_accounts()["Accounts"])
    conn = connector(aws.url, factory=lambda _p: mgmt,
                     organizations_discovery={"role_name": "EvidenceAgentReadOnly"})
    res, c = run(conn, "root_account")
    assert sorted(a["account_id"] for a in res.content["accounts"]) == members
    assert len(members) == 3
    roles = [x.params["RoleArn"] for x in c.ipe.calls if x.operation == "sts.AssumeRole"]
    assert all(r.endswith(":role/EvidenceAgentReadOnly") for r in roles) and len(roles) == 3


# --- IAM --------------------------------------------------------------------------------------

def test_credential_report_flags_console_users_without_mfa(aws: Aws) -> None:
    """Console users without MFA fail, others pass; the report's GeneratedTime is the
    evidence's effective time and the calls are recorded."""
    conn = connector(aws.url)
    res, c = run(conn, "iam_credential_report")
    v = verdicts(conn, "iam_credential_report", res, "console MFA")
    for arn in aws.seeded.console_without_mfa:
        assert v[arn] == "fail"
    for arn in aws.seeded.console_with_mfa | aws.seeded.no_console:
        assert v[arn] == "pass"
    assert res.record_count == 5
    # the evidence time is the report's GeneratedTime (the front generated it for this run)
    assert res.effective_at is not None
    assert timedelta(0) <= datetime.now(UTC) - res.effective_at < timedelta(hours=4)
    assert res.content["accounts"][0]["generated_time"] == res.effective_at.isoformat()
    ops = [x.operation for x in c.ipe.calls]
    assert "iam.GenerateCredentialReport" in ops and "iam.GetCredentialReport" in ops
    assert c.ipe.api_totals[f"{ACCOUNT_ID}:iam.users"] == 5


def test_credential_report_waits_while_it_is_generated(aws: Aws) -> None:
    """A report that is only STARTED is polled again after a bounded wait, then read."""
    sess = account_session(aws.moto_url, "444444444444")
    sess.client("iam", endpoint_url=aws.moto_url).create_user(UserName="zoe")
    slept: list[float] = []
    conn = connector(aws.url, factory=lambda _p: sess, sleep=slept.append)
    res, _ = run(conn, "iam_credential_report")
    assert slept == [0.25]
    assert [u["user"] for u in res.content["accounts"][0]["users"]] == ["zoe"]


def test_a_stale_credential_report_is_inconclusive_never_pass(aws: Aws) -> None:
    """moto's own report (GeneratedTime fixed in 2015, older than IAM's 4-hour regeneration
    window) is recorded with the reason and judges no user, so no negative age passes."""
    conn = connector(aws.moto_url)
    res, c = run(conn, "iam_credential_report")
    acct = res.content["accounts"][0]
    assert acct["generated_time"].startswith("2015-") and "4 hours" in acct["report_problem"]
    spec = conn.snapshots()["iam_credential_report"]
    assert spec.assess is not None
    found = spec.assess(res.content)
    assert [f.status for f in found] == ["inconclusive"]
    assert "4 hours" in found[0].reason and c.ipe.errors


def test_the_front_keeps_a_report_for_4_hours_then_regenerates(aws: Aws) -> None:
    """As IAM documents: a report younger than 4 hours is reused (content frozen at its
    generation), an older one expires and the next request generates a new one."""
    now = [datetime.now(UTC)]
    front = AwsFront(upstream=aws.moto_url, clock=lambda: now[0]).start()
    try:
        conn = connector(front.url, sleep=lambda s: None)
        first, _ = run(conn, "iam_credential_report")
        now[0] += timedelta(hours=3)
        again, _ = run(conn, "iam_credential_report")
        assert again.effective_at == first.effective_at
        now[0] += timedelta(hours=2)
        later, _ = run(conn, "iam_credential_report")
        assert later.effective_at is not None and first.effective_at is not None
        assert later.effective_at - first.effective_at >= timedelta(hours=4)
    finally:
        front.stop()


def test_credential_report_gives_up_after_the_wait(aws: Aws) -> None:
    """A report still in progress after the configured wait is a TransientError."""
    aws.sim.inject(Fault(service="iam", operation="GetCredentialReport",
                         code="ReportInProgress", status=404))
    conn = connector(aws.url, credential_report_wait_seconds=0.5)
    with pytest.raises(TransientError, match="credential report"):
        run(conn, "iam_credential_report")


def test_root_and_password_policy_verdicts(aws: Aws) -> None:
    """Root without MFA fails; an 8-character password policy fails; no policy fails."""
    conn = connector(aws.url)
    root, _ = run(conn, "root_account")
    assert root.content["accounts"][0]["mfa_enabled"] is False
    assert verdicts(conn, "root_account", root, "root MFA")[
        f"arn:aws:iam::{ACCOUNT_ID}:root"] == "fail"
    pol, _ = run(conn, "password_policy")
    assert pol.content["accounts"][0]["policy"]["MinimumPasswordLength"] == 8
    pv = {f.reason.split(":")[0]: f.status for f in A.assess_password_policy(pol.content)}
    assert pv.pop("password policy numbers") == "pass"  # the only rule the demo meets
    assert set(pv.values()) == {"fail"} and len(pv) == 6
    empty = connector(aws.url, factory=lambda _p: account_session(aws.moto_url, "555555555555"))
    none, c = run(empty, "password_policy")
    assert none.content["accounts"][0]["policy"] is None
    assert not c.ipe.errors  # an absent policy is evidence, not a failure to read


def test_privileged_access_lists_admins_and_how(aws: Aws) -> None:
    """Admins through a group pass, admin attached to a user or trusted by anyone fails."""
    conn = connector(aws.url)
    res, _ = run(conn, "privileged_access")
    acct = res.content["accounts"][0]
    assert {u["name"]: u["via"] for u in acct["users"]} == {
        "dana": ["group:admins"], "eve": ["inline:everything"]}
    assert [g["members"] for g in acct["groups"]] == [["dana"]]
    v = verdicts(conn, "privileged_access", res)
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:user/eve"] == "fail"
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:user/dana"] == "pass"
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:role/legacy-vendor"] == "fail"
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:role/break-glass"] == "pass"
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:role/ci-deploy"] == "fail"  # GitHub, audience only
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:role/mobile-any-pool"] == "fail"  # Cognito, no pool
    assert v[f"arn:aws:iam::{ACCOUNT_ID}:role/mobile-support"] == "pass"  # its own pool


# --- S3 ---------------------------------------------------------------------------------------

def test_s3_bucket_verdicts_match_the_seed(aws: Aws) -> None:
    """Encryption and public access block verdicts agree bucket by bucket with the seed."""
    conn = connector(aws.url)
    res, c = run(conn, "s3_buckets")
    enc = verdicts(conn, "s3_buckets", res, "default encryption")
    pab = verdicts(conn, "s3_buckets", res, "public access block")
    assert {k for k, s in enc.items() if s == "pass"} == {
        f"arn:aws:s3:::{b}" for b in aws.seeded.encrypted_buckets}
    assert {k for k, s in pab.items() if s == "pass"} == {
        f"arn:aws:s3:::{b}" for b in aws.seeded.public_access_blocked}
    assert c.ipe.errors == [] and c.ipe.pagination_exhausted
    lock = {b["name"]: b["object_lock"] for b in res.content["accounts"][0]["buckets"]}
    assert lock["acme-audit-evidence"]["ObjectLockEnabled"] == "Enabled"


def test_account_public_access_block_is_read_through_s3control(aws: Aws) -> None:
    """The account-level block (S3 Control, account ID host prefix) combines with each
    bucket's setting by setting: ACL flags on the account plus policy flags on the bucket
    block fully; the account's ACL flags alone do not."""
    sess = account_session(aws.moto_url, "666666666666")
    s3c = sess.client("s3control", endpoint_url=aws.moto_url)
    s3c.meta.events.register("before-sign.s3-control", _strip_account_prefix)
    s3c.put_public_access_block(AccountId="666666666666", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3 = sess.client("s3", endpoint_url=aws.moto_url)
    s3.create_bucket(Bucket="split-blocked")
    s3.put_public_access_block(Bucket="split-blocked", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.create_bucket(Bucket="acls-only")
    conn = connector(aws.url, factory=lambda _p: sess)
    res, _ = run(conn, "s3_buckets")
    assert res.content["accounts"][0]["account_public_access_block"]["BlockPublicAcls"] is True
    spec = conn.snapshots()["s3_buckets"]
    assert spec.assess is not None
    found = {f.resource: f for f in spec.assess(res.content)
             if f.reason.startswith("public access block")}
    assert found["arn:aws:s3:::split-blocked"].status == "pass"
    assert "BlockPublicAcls (account)" in found["arn:aws:s3:::split-blocked"].reason
    assert "BlockPublicPolicy (bucket)" in found["arn:aws:s3:::split-blocked"].reason
    assert found["arn:aws:s3:::acls-only"].status == "fail"
    assert "BlockPublicPolicy, RestrictPublicBuckets off" in found["arn:aws:s3:::acls-only"].reason


def test_one_unreadable_bucket_setting_is_inconclusive_not_pass(aws: Aws) -> None:
    """A denied GetBucketEncryption makes that check inconclusive and the record partial."""
    aws.sim.inject(Fault(service="s3", path_contains="acme-prod-data?encryption"))
    conn = connector(aws.url)
    res, c = run(conn, "s3_buckets")
    enc = verdicts(conn, "s3_buckets", res, "default encryption")
    assert enc["arn:aws:s3:::acme-prod-data"] == "inconclusive"
    assert enc["arn:aws:s3:::acme-access-logs"] == "pass"
    assert c.ipe.errors and "s3.GetBucketEncryption" in c.ipe.errors[0]


def test_content_is_deterministic_for_an_unchanged_account(aws: Aws) -> None:
    """Collecting twice gives identical content, so the store deduplicates it."""
    conn = connector(aws.url)
    for name in ("s3_buckets", "kms_key_rotation", "cloudtrail", "privileged_access",
                 "iam_credential_report", "config_recorders", "guardduty_detectors"):
        first, _ = run(conn, name)
        second, _ = run(conn, name)
        assert json.dumps(first.content, sort_keys=True) == \
            json.dumps(second.content, sort_keys=True), name


# --- regional posture ---------------------------------------------------------------------

def test_regional_snapshots_cover_each_region(aws: Aws) -> None:
    """EBS, RDS, KMS, Config and GuardDuty verdicts are per region and per resource."""
    conn = connector(aws.url)
    ebs, _ = run(conn, "ebs_default_encryption")
    assert verdicts(conn, "ebs_default_encryption", ebs) == {
        f"{ACCOUNT_ID}/eu-west-1": "fail", f"{ACCOUNT_ID}/us-east-1": "pass"}
    rds, _ = run(conn, "rds_encryption")
    assert sorted(verdicts(conn, "rds_encryption", rds).values()) == ["fail", "pass"]
    kms, _ = run(conn, "kms_key_rotation")
    kv = verdicts(conn, "kms_key_rotation", kms)
    assert {k for k, s in kv.items() if s == "pass"} == aws.seeded.rotating_keys
    assert {k for k, s in kv.items() if s == "fail"} == aws.seeded.non_rotating_keys
    for name in ("config_recorders", "guardduty_detectors"):
        r, _ = run(conn, name)
        # us-east-1's recorder also records the global IAM types (includeGlobalResourceTypes)
        extra = {f"{ACCOUNT_ID}/global-iam": "pass"} if name == "config_recorders" else {}
        assert verdicts(conn, name, r) == {f"{ACCOUNT_ID}/eu-west-1": "fail",
                                           f"{ACCOUNT_ID}/us-east-1": "pass", **extra}, name


def test_cloudtrail_trails_and_account_verdict(aws: Aws) -> None:
    """The multi-region logging trail passes the account; the single-region one fails."""
    conn = connector(aws.url)
    res, _ = run(conn, "cloudtrail")
    by_name = {t["name"]: t for t in res.content["trails"]}
    assert by_name["org-trail"]["multi_region"] and by_name["org-trail"]["is_logging"]
    v = verdicts(conn, "cloudtrail", res)
    assert v[ACCOUNT_ID] == "pass"
    assert v[f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/dev-us-only"] == "fail"


def test_a_failing_region_is_partial_and_inconclusive(aws: Aws) -> None:
    """A region that denies the call is recorded as an error and assessed inconclusive,
    while the other region is still read."""
    aws.sim.inject(Fault(service="ec2", region="eu-west-1", code="UnauthorizedOperation"))
    conn = connector(aws.url)
    res, c = run(conn, "ebs_default_encryption")
    assert [r["region"] for r in res.content["regions"]] == ["us-east-1"]
    assert res.content["unreadable"][0]["region"] == "eu-west-1"
    assert c.ipe.errors and "eu-west-1" in c.ipe.errors[0]
    v = verdicts(conn, "ebs_default_encryption", res)
    assert v[f"{ACCOUNT_ID}/eu-west-1"] == "inconclusive"


def test_every_region_failing_raises_permission_denied_with_the_action(aws: Aws) -> None:
    """Nothing readable at all fails the snapshot, with a hint naming the IAM action."""
    aws.sim.inject(Fault(service="ec2", code="UnauthorizedOperation"))
    with pytest.raises(PermissionDenied) as e:
        run(connector(aws.url), "ebs_default_encryption")
    assert "ec2:GetEbsEncryptionByDefault" in e.value.hint


def test_cloudtrail_without_a_trail_in_an_unread_region_is_inconclusive(aws: Aws) -> None:
    """An account with no good trail and an unreadable region is inconclusive, not fail."""
    sess = account_session(aws.moto_url, "777777777777")
    aws.sim.inject(Fault(service="cloudtrail", region="eu-west-1", code="AccessDeniedException",
                         status=400))
    conn = connector(aws.url, factory=lambda _p: sess)
    res, _ = run(conn, "cloudtrail")
    assert verdicts(conn, "cloudtrail", res)["777777777777"] == "inconclusive"


def test_regions_all_reads_every_enabled_region(aws: Aws) -> None:
    """regions = "all" asks EC2 DescribeRegions and reads each region it names."""
    conn = connector(aws.url, regions="all")
    res, c = run(conn, "ebs_default_encryption")
    regions = [r["region"] for r in res.content["regions"]]
    assert len(regions) > 10 and "ap-southeast-2" in regions
    assert any(x.operation == "ec2.DescribeRegions" for x in c.ipe.calls)


def test_throttling_is_retried_and_counted(aws: Aws) -> None:
    """Throttled calls are retried by botocore and the retries are counted on the record."""
    aws.sim.inject(Fault(service="iam", operation="GetAccountPasswordPolicy",
                         code="Throttling", status=400, times=2))
    res, c = run(connector(aws.url, max_attempts=4, retry_mode="standard"), "password_policy")
    assert res.content["accounts"][0]["policy"] is not None
    assert c.ipe.retries == 2


def test_throttling_that_persists_is_a_transient_error(aws: Aws) -> None:
    """Throttling beyond the retry budget surfaces as TransientError for the runner."""
    aws.sim.inject(Fault(service="iam", operation="GetAccountSummary", code="Throttling",
                         status=400))
    with pytest.raises(TransientError):
        run(connector(aws.url, max_attempts=1), "root_account")


# --- populations ------------------------------------------------------------------------------

def _events(sim: CloudTrailSimulator) -> set[str]:
    evs = [iam_event("CreateUser", PERIOD_START + timedelta(minutes=i), user="alice",
                     request_parameters={"userName": f"u{i}"}) for i in range(110)]
    evs += [iam_event("GetUser", PERIOD_START + timedelta(minutes=i, seconds=30))
            for i in range(10)]
    evs += [iam_event("DeleteUser", PERIOD_END, user="bob"),  # end is exclusive
            iam_event("DeleteUser", PERIOD_START - timedelta(seconds=1), user="bob"),
            iam_event("PutRolePolicy", PERIOD_START + timedelta(hours=5), root=True)]
    sim.add_events(evs)
    return {e.event_id for e in evs
            if PERIOD_START <= e.event_time < PERIOD_END and not e.read_only}


def test_iam_change_events_is_the_whole_window_population(aws: Aws) -> None:
    """Every IAM write in [start, end) is collected across pages, oldest first; reads and
    events outside the window are not; root changes fail."""
    want = _events(aws.sim)
    conn = connector(aws.url)
    res, c = run(conn, "iam_change_events", start=PERIOD_START, end=PERIOD_END)
    events = res.content["accounts"][0]["events"]
    assert {e["event_id"] for e in events} == want and res.record_count == 111
    times = [e["event_time"] for e in events]
    assert times == sorted(times)
    call = next(x for x in c.ipe.calls if x.operation == "cloudtrail.LookupEvents")
    # 122 fetched: LookupEvents includes the event at EndTime, which the window excludes
    assert call.pages == 3 and call.items == 122 and c.ipe.pagination_exhausted
    assert call.params["LookupAttributes"][0]["AttributeValue"] == "iam.amazonaws.com"
    fails = [f for f in conn.snapshots()["iam_change_events"].assess(res.content)  # type: ignore[misc]
             if f.status == "fail"]
    assert len(fails) == 1 and "PutRolePolicy" in fails[0].reason


def test_iam_change_events_cut_short_is_never_complete(aws: Aws) -> None:
    """Throttling on page 2 with no retries left marks the window cut short: the pages read
    are kept, and the provenance says pagination was not exhausted (a partial record)."""
    _events(aws.sim)
    aws.sim.inject(Fault(service="cloudtrail", operation="LookupEvents", body_contains="NextToken",
                         code="ThrottlingException", status=400))
    c = ctx("iam_change_events", start=PERIOD_START, end=PERIOD_END)
    res = connector(aws.url, max_attempts=1).run("iam_change_events", c)
    assert not c.ipe.pagination_exhausted and "after 1 page(s)" in c.ipe.errors[0]
    assert 0 < res.record_count < 111


def test_iam_change_events_throttled_once_is_retried(aws: Aws) -> None:
    """A single ThrottlingException from LookupEvents is retried and counted."""
    _events(aws.sim)
    aws.sim.throttle_next(1)
    res, c = run(connector(aws.url, max_attempts=3, retry_mode="standard"),
                 "iam_change_events", start=PERIOD_START, end=PERIOD_END)
    assert res.record_count == 111 and c.ipe.retries == 1


# --- permissions ----------------------------------------------------------------------------

def test_permission_document_covers_every_operation_called(aws: Aws) -> None:
    """Every API operation any snapshot calls (seen by a botocore hook on the session) is
    granted by the published read-only policy."""
    seen: set[tuple[str, str]] = set()
    lock = threading.Lock()

    def hook(model: Any, **_: Any) -> None:
        with lock:
            seen.add((model.service_model.service_name, model.name))

    def factory(_p: str | None) -> boto3.Session:
        s = base_session()
        s.events.register("after-call", hook)
        return s

    _events(aws.sim)
    conn = connector(aws.url, factory=factory, organizations_discovery={"role_name": "Audit"})
    mgmt = account_session(aws.moto_url, ACCOUNT_ID)
    mgmt.client("organizations", endpoint_url=aws.moto_url).create_organization(FeatureSet="ALL")
    recorded: set[str] = set()
    for name in conn.snapshots():
        c = ctx(name, start=PERIOD_START, end=PERIOD_END)
        conn.run(name, c)
        recorded |= {x.operation for x in c.ipe.calls}
    policy = granted_actions(AwsConnector.permission_document())
    called = {iam_action(s, op) for s, op in seen}
    called |= {iam_action(*op.split(".", 1)) for op in recorded}
    assert "s3:GetAccountPublicAccessBlock" in called and "cloudtrail:LookupEvents" in called
    assert called - policy == set()
    assert all(":Get" in a or ":List" in a or ":Describe" in a or ":Lookup" in a
               or ":Generate" in a or a == "sts:AssumeRole" for a in policy)


# --- config ---------------------------------------------------------------------------------

def test_config_accepts_the_documented_shape_and_rejects_literal_secrets() -> None:
    """Profiles, role ARNs with an env external ID and "all" regions validate; literal keys,
    bad regions and ambiguous accounts are refused without echoing a secret."""
    from collector.config import parse
    from collector.errors import ConfigError

    good = parse('[[connectors]]\ntype = "aws"\ninstance = "prod"\nregions = "all"\n'
                 'accounts = [{ profile = "audit" }, { role_arn = '
                 '"arn:aws:iam::111122223333:role/EvidenceAgent", external_id = '
                 '{ env = "EXT_ID" } }]\n')
    cfg = good.connectors[0].config
    assert isinstance(cfg, AwsConfig) and cfg.regions == "all" and len(cfg.accounts) == 2
    for bad in ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG"',
                'regions = ["moon-base-1"]',
                'accounts = [{ profile = "a", role_arn = "arn:aws:iam::111122223333:role/x" }]',
                'accounts = [{ profile = "a", external_id = "x" }]'):
        with pytest.raises(ConfigError) as e:
            parse(f'[[connectors]]\ntype = "aws"\n{bad}\n')
        assert "wJalrXUtnFEMI" not in str(e.value)


@pytest.mark.parametrize("where", [
    'accounts = [{ role_arn = "arn:aws:iam::111122223333:role/EvidenceAgent", '
    'external_id = "ext-LITERAL-42" }]',
    'organizations_discovery = { external_id = "ext-LITERAL-42" }'])
def test_a_literal_external_id_is_one_line_naming_the_key_without_its_value(where: str) -> None:
    """external_id is a secret: a literal string is refused at load with one line that names
    file, line and key and says how to give it, never echoing the value."""
    import tempfile
    from pathlib import Path

    from collector.config import load
    from collector.errors import ConfigError

    with tempfile.TemporaryDirectory(prefix="kit7-") as d:
        path = Path(d) / "evidence.toml"
        path.write_text(f'[[connectors]]\ntype = "aws"\ninstance = "prod"\n{where}\n')
        with pytest.raises(ConfigError) as e:
            load(path)
    msg = str(e.value)
    assert "\n" not in msg and "ext-LITERAL-42" not in msg
    assert msg.startswith(f"{path}:4: connectors[0].") and "external_id: " in msg
    assert '{ env = "NAME" }' in msg and '{ file = "PATH" }' in msg


def test_no_io_at_import_and_snapshots_are_declared() -> None:
    """Importing the connector opens no socket; every snapshot declares IAM actions."""
    import importlib

    import connectors.aws.connector as mod

    importlib.reload(mod)
    for spec in AwsConnector.snapshots().values():
        assert spec.permissions and all(":" in p for p in spec.permissions)
        assert spec.example is not None and spec.assess is not None
    assert AwsConnector.snapshots()["iam_change_events"].kind == "population"


def test_simulator_answers_unknown_targets_without_upstream() -> None:
    """Without an upstream the simulator refuses other operations in the JSON 1.1 format."""
    with CloudTrailSimulator() as sim:
        req = urllib.request.Request(sim.url + "/", data=b"{}", method="POST", headers={
            "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails",
            "Content-Type": "application/x-amz-json-1.1"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert json.loads(e.value.read())["__type"] == "UnknownOperationException"


# --- checks from issue 9, on the seeded demo accounts ----------------------------------------

def member(url: str, **cfg: Any) -> AwsConnector:
    """A connector for the demo's member account, reached by assuming a role."""
    return connector(url, accounts=[{"role_arn": f"arn:aws:iam::{MEMBER_ID}:role/Evidence"}],
                     **cfg)


def findings(conn: AwsConnector, name: str, result: SnapshotResult,
             prefix: str) -> dict[str, tuple[str, str]]:
    spec = conn.snapshots()[name]
    assert spec.assess is not None
    return {f.resource: (f.status, f.reason) for f in spec.assess(result.content)
            if f.reason.startswith(prefix)}


def test_unused_and_never_used_credentials(aws: Aws) -> None:
    """Passwords and active keys unused for 45 days fail (CIS 1.12), a password never used
    fails, recent use passes; ages count from the report's true GeneratedTime."""
    conn = connector(aws.url)
    res, _ = run(conn, "iam_credential_report")
    unused = findings(conn, "iam_credential_report", res, "unused credentials")
    assert {a for a, (s, _) in unused.items() if s == "fail"} == aws.seeded.unused_credentials
    assert unused[f"arn:aws:iam::{ACCOUNT_ID}:user/alice"][0] == "pass"
    never = findings(conn, "iam_credential_report", res, "password never used")
    assert {a for a, (s, _) in never.items() if s == "fail"} == aws.seeded.never_used_passwords
    assert never[f"arn:aws:iam::{ACCOUNT_ID}:user/alice"][0] == "pass"


def test_password_policy_rules_each_their_own_finding(aws: Aws) -> None:
    """Every rule of a policy meeting them all passes on its own (16 characters, reuse 24,
    90 days, four classes) in the member account."""
    conn = member(aws.url)
    res, _ = run(conn, "password_policy")
    found = [f for f in A.assess_password_policy(res.content)]
    assert len(found) == 7 and {f.status for f in found} == {"pass"}
    assert {f.reason.split(":")[0] for f in found} == {
        "password policy minimum length", "password policy reuse prevention",
        "password policy maximum age", "password policy uppercase",
        "password policy lowercase", "password policy numbers", "password policy symbols"}


def test_customer_admin_policy_attached_to_nothing_fails(aws: Aws) -> None:
    """An unattached customer-managed admin policy fails; attached ones pass."""
    conn = connector(aws.url)
    res, _ = run(conn, "privileged_access")
    pol = findings(conn, "privileged_access", res, "customer-managed administrator policy")
    assert {a for a, (s, _) in pol.items() if s == "fail"} == \
        aws.seeded.unattached_admin_policies
    mres, _ = run(member(aws.url), "privileged_access")
    mpol = findings(conn, "privileged_access", mres, "customer-managed administrator policy")
    assert list(mpol.values()) == [("pass", mpol[f"arn:aws:iam::{MEMBER_ID}:policy/OpsAdmin"][1])]


def test_object_lock_state_per_bucket(aws: Aws) -> None:
    """A bucket with Object Lock passes naming its default mode and retention; others fail."""
    conn = connector(aws.url)
    res, _ = run(conn, "s3_buckets")
    lock = findings(conn, "s3_buckets", res, "object lock")
    assert lock["arn:aws:s3:::acme-audit-evidence"] == (
        "pass", "object lock: enabled, default retention COMPLIANCE 365 days")
    assert {s for a, (s, _) in lock.items() if a != "arn:aws:s3:::acme-audit-evidence"} == \
        {"fail"}


def _bucket_calls(c: SnapshotContext, op: str) -> dict[str, Any]:
    """The recorded `op` calls of a snapshot run, by bucket name."""
    return {call.params["Bucket"]: call for call in c.ipe.calls if call.operation == op}


def test_object_lock_is_read_only_where_versioning_allows_it(aws: Aws) -> None:
    """Object Lock needs versioning Enabled (and versioning cannot be suspended under it): a
    bucket whose versioning reads as never set or Suspended gets no GetObjectLockConfiguration
    call, says why in its entry, and fails as "not enabled"; Enabled versioning, and
    versioning that could not be read, still get the call."""
    sess = account_session(aws.moto_url, "777777777777")
    s3 = sess.client("s3", endpoint_url=aws.moto_url)
    for name in ("ol-never", "ol-suspended", "ol-versioned", "ol-locked", "ol-unread"):
        s3.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True}
                                         if name == "ol-locked" else {}))
    for name, status in (("ol-suspended", "Enabled"), ("ol-suspended", "Suspended"),
                         ("ol-versioned", "Enabled"), ("ol-unread", "Enabled")):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    s3.put_object_lock_configuration(Bucket="ol-locked", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})
    aws.sim.inject(Fault(service="s3", path_contains="/ol-unread?versioning",
                         code="AccessDenied", status=403))
    conn = connector(aws.url, factory=lambda _p: sess)
    res, c = run(conn, "s3_buckets")
    buckets = {b["name"]: b for b in res.content["accounts"][0]["buckets"]}
    called = _bucket_calls(c, "s3.GetObjectLockConfiguration")
    assert set(called) == {"ol-versioned", "ol-locked", "ol-unread"}
    for name, status in (("ol-never", "not enabled (never set)"),
                         ("ol-suspended", "Suspended")):
        assert buckets[name]["object_lock"] is None
        assert buckets[name]["object_lock_not_read"].startswith(f"versioning is {status};")
    for name in ("ol-versioned", "ol-locked", "ol-unread"):
        assert buckets[name]["object_lock_not_read"] is None
    assert buckets["ol-locked"]["object_lock"]["ObjectLockEnabled"] == "Enabled"
    assert [u["operation"] for u in buckets["ol-unread"]["unreadable"]] == [
        "s3.GetBucketVersioning"]
    lock = findings(conn, "s3_buckets", res, "object lock")
    assert lock["arn:aws:s3:::ol-never"] == (
        "fail", "object lock: not enabled (versioning is not enabled, which Object Lock "
                "requires)")
    assert lock["arn:aws:s3:::ol-suspended"][0] == "fail"
    assert lock["arn:aws:s3:::ol-versioned"] == ("fail", "object lock: not enabled")
    assert lock["arn:aws:s3:::ol-unread"] == ("fail", "object lock: not enabled")
    assert lock["arn:aws:s3:::ol-locked"] == (
        "pass", "object lock: enabled, default retention GOVERNANCE 30 days")
    ver = findings(conn, "s3_buckets", res, "versioning")
    assert ver["arn:aws:s3:::ol-unread"][0] == "inconclusive"


def test_bucket_regions_come_from_the_paginated_listing(aws: Aws) -> None:
    """ListBuckets is sent paginated (MaxBuckets), so each bucket's region comes with the
    listing (no GetBucketLocation); listed without BucketRegion (moto's own answer, as an
    older endpoint or an S3-compatible store would), each bucket is located with
    GetBucketLocation, and both give the same regions and settings."""
    sess = account_session(aws.moto_url, "787878787878")
    s3 = sess.client("s3", endpoint_url=aws.moto_url)
    s3.create_bucket(Bucket="where-virginia")
    s3.create_bucket(Bucket="where-ireland",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.create_bucket(Bucket="where-frankfurt",
                     CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    conn = connector(aws.url, factory=lambda _p: sess)
    res, c = run(conn, "s3_buckets")
    got = res.content["accounts"][0]["buckets"]
    assert {b["name"]: (b["region"], b["region_source"]) for b in got} == {
        "where-frankfurt": ("eu-central-1", "ListBuckets"),
        "where-ireland": ("eu-west-1", "ListBuckets"),
        "where-virginia": ("us-east-1", "ListBuckets")}
    listing = [x for x in c.ipe.calls if x.operation == "s3.ListBuckets"]
    assert [x.params for x in listing] == [{"MaxBuckets": 10000}]
    assert _bucket_calls(c, "s3.GetBucketLocation") == {}

    direct = connector(aws.moto_url, factory=lambda _p: sess)  # moto: no BucketRegion
    dres, dc = run(direct, "s3_buckets")
    dgot = dres.content["accounts"][0]["buckets"]
    assert {b["name"]: b["region"] for b in dgot} == {b["name"]: b["region"] for b in got}
    assert {b["region_source"] for b in dgot} == {"GetBucketLocation"}
    assert set(_bucket_calls(dc, "s3.GetBucketLocation")) == {b["name"] for b in got}
    strip = ("region_source",)
    assert [{k: v for k, v in b.items() if k not in strip} for b in dgot] == \
        [{k: v for k, v in b.items() if k not in strip} for b in got]


def test_the_listing_stand_in_pages_as_aws_documents(aws: Aws) -> None:
    """The front answers a paginated ListBuckets in pages of MaxBuckets with a
    ContinuationToken while more remain, and each bucket's region (us-east-1 spelled out);
    an unpaginated request gets moto's own answer; MaxBuckets outside 1-10,000 is refused."""
    sess = account_session(aws.moto_url, "797979797979")
    direct = sess.client("s3", endpoint_url=aws.moto_url)
    names = [f"page-{i:02d}" for i in range(7)]
    for i, n in enumerate(names):
        direct.create_bucket(Bucket=n, **({"CreateBucketConfiguration": {
            "LocationConstraint": "eu-west-1"}} if i % 2 else {}))
    s3 = sess.client("s3", endpoint_url=aws.url)
    pages = list(s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 3}))
    assert [[b["Name"] for b in p["Buckets"]] for p in pages] == [
        names[0:3], names[3:6], names[6:7]]
    assert ["ContinuationToken" in p for p in pages] == [True, True, False]
    assert {b["Name"]: b["BucketRegion"] for p in pages for b in p["Buckets"]} == {
        n: "eu-west-1" if i % 2 else "us-east-1" for i, n in enumerate(names)}
    east = s3.list_buckets(BucketRegion="us-east-1", Prefix="page-")
    assert [b["Name"] for b in east["Buckets"]] == names[0::2] and east["Prefix"] == "page-"
    assert all("BucketRegion" not in b for b in s3.list_buckets()["Buckets"])
    with pytest.raises(ClientError) as e:
        s3.list_buckets(MaxBuckets=10001)  # botocore itself refuses 0
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3_listing.page([], {"max-buckets": "0"})[0] == 400


def test_cloudtrail_coverage_per_region(aws: Aws) -> None:
    """A region no logging trail covers fails even where the account has a trail elsewhere;
    a multi-region trail covers every region."""
    res, _ = run(member(aws.url), "cloudtrail")
    cov = findings(member(aws.url), "cloudtrail", res, "region coverage")
    assert cov[f"{MEMBER_ID}/us-east-1"] == ("fail", "region coverage: no trail covers this "
                                                     "region")
    assert cov[f"{MEMBER_ID}/eu-west-1"][0] == "pass"
    main, _ = run(connector(aws.url), "cloudtrail")
    assert {s for s, _ in findings(connector(aws.url), "cloudtrail", main,
                                   "region coverage").values()} == {"pass"}


def test_config_must_record_and_deliver(aws: Aws) -> None:
    """Config passes only recording and delivering; a failing delivery channel and a stopped
    recorder are their own failing reasons."""
    main, _ = run(connector(aws.url), "config_recorders")
    cfg = findings(connector(aws.url), "config_recorders", main, "")
    assert cfg[f"{ACCOUNT_ID}/us-east-1"][0] == "pass"
    assert cfg[f"{ACCOUNT_ID}/eu-west-1"] == (
        "fail", "AWS Config delivery channel default failing to deliver (NoSuchBucket)")
    mres, _ = run(member(aws.url), "config_recorders")
    mcfg = findings(member(aws.url), "config_recorders", mres, "")
    assert mcfg[f"{MEMBER_ID}/us-east-1"] == (
        "fail", "AWS Config recorder default present but not recording")
    assert mcfg[f"{MEMBER_ID}/eu-west-1"] == ("fail", "no AWS Config recorder")


def test_guardduty_present_but_disabled_is_its_own_reason(aws: Aws) -> None:
    """A disabled detector fails as present-but-disabled, apart from a region with none."""
    res, _ = run(member(aws.url), "guardduty_detectors")
    gd = findings(member(aws.url), "guardduty_detectors", res, "")
    status, reason = gd[f"{MEMBER_ID}/us-east-1"]
    assert status == "fail" and reason.endswith("present but disabled")
    assert gd[f"{MEMBER_ID}/eu-west-1"] == ("fail", "no GuardDuty detector")


def test_sessions_share_parsed_service_data() -> None:
    """Every session the connector makes shares one botocore loader (service models parsed
    once per process) whose search path does not grow with each session."""
    from connectors.aws.accounts import new_session

    a = new_session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    paths = list(a._loader.search_paths)
    b = new_session(aws_access_key_id="c", aws_secret_access_key="d", region_name="us-east-1")
    assert a._loader is b._loader and b._loader.search_paths == paths
    assert b.get_credentials().access_key == "c"


def test_sessions_start_from_botocore_builtin_handlers_each_its_own_copy() -> None:
    """A session starts from a copy of botocore's built-in handlers registered once per
    process: they are all there (an S3 bucket name botocore refuses before sending anything
    is refused), and a handler registered on one session is not seen by another."""
    import botocore.exceptions
    import botocore.session

    from connectors.aws.accounts import new_session

    def handlers_of(events: Any) -> dict[str, list[str]]:
        trie = events._emitter._handlers if hasattr(events, "_emitter") else events._handlers

        def walk(node: dict[str, Any], path: str) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            if node.get("values") is not None:
                v = node["values"]
                out[path] = [getattr(h, "__qualname__", type(h).__name__)
                             for h in [*v.first, *v.middle, *v.last]]
            for k, child in node.get("children", {}).items():
                out.update(walk(child, f"{path}.{k}" if path else k))
            return out
        return walk(trie._root, "")

    plain = boto3.Session(botocore_session=botocore.session.Session(), region_name="us-east-1")
    a = new_session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    b = new_session(aws_access_key_id="c", aws_secret_access_key="d", region_name="us-east-1")
    assert handlers_of(a.events) == handlers_of(plain.events)
    s3 = a.client("s3", endpoint_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(botocore.exceptions.ParamValidationError):
        s3.get_bucket_encryption(Bucket="not/a/bucket")
    seen: list[str] = []
    a.events.register("evidence-test.only-a", lambda **kw: seen.append("a"))
    b.events.emit("evidence-test.only-a")
    assert seen == []
    a.events.emit("evidence-test.only-a")
    assert seen == ["a"]
