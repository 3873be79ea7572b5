"""The `aws` connector's failure paths: a part AWS refused, throttled past its retries, or
cut short is recorded and never judged a pass. Real boto3 clients over sockets, against
moto behind the front (`simulators/aws_front.py`), which answers injected faults in each
service's documented error shape."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.aws import AwsConnector
from connectors.errors import DataUnavailable, TransientError
from simulators.cloudtrail import Fault, iam_event
from tests.test_aws_connector import (
    PERIOD_END,
    PERIOD_START,
    Aws,
    _events,
    account_session,
    connector,
    ctx,
    findings,
    module_aws,
    run,
)

os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


aws_fixture = module_aws()


@pytest.fixture(autouse=True)
def _clean_faults(aws: Aws) -> Iterator[None]:
    yield
    aws.sim.clear()


def test_iam_changes_cut_short_never_pass_the_window(aws: Aws) -> None:
    """LookupEvents throttled on page 2 past its retries: the window is not judged complete
    (it passed as 'N IAM changes collected'); an inconclusive finding names the call, and
    the content's unreadable list holds it."""
    _events(aws.sim)
    aws.sim.inject(Fault(service="cloudtrail", operation="LookupEvents", body_contains="NextToken",
                         code="ThrottlingException", status=400))
    conn = connector(aws.url, max_attempts=1)
    c = ctx("iam_change_events", start=PERIOD_START, end=PERIOD_END)
    res = conn.run("iam_change_events", c)
    assert not c.ipe.pagination_exhausted
    spec = conn.snapshots()["iam_change_events"]
    assert spec.assess is not None
    found = spec.assess(res.content)
    assert not [f for f in found if f.resource == "window" and f.status == "pass"]
    inc = [f for f in found if f.status == "inconclusive"]
    assert inc and "cloudtrail.LookupEvents" in inc[0].reason
    assert "after 1 page(s)" in inc[0].reason
    assert [u["region"] for u in res.content["unreadable"]] == ["us-east-1"]


def test_an_unreadable_trail_status_leaves_the_account_inconclusive(aws: Aws) -> None:
    """The account's only multi-region trail, GetTrailStatus denied: the account is
    inconclusive naming the trail (it failed as 'no multi-region logging trail'), and so is
    each region it covers."""
    acct = "818181818181"
    sess = account_session(aws.moto_url, acct)
    sess.client("s3", endpoint_url=aws.moto_url).create_bucket(Bucket="only-trail-logs")
    ct = sess.client("cloudtrail", endpoint_url=aws.moto_url)
    ct.create_trail(Name="only", S3BucketName="only-trail-logs", IsMultiRegionTrail=True,
                    EnableLogFileValidation=True, IncludeGlobalServiceEvents=True)
    ct.start_logging(Name="only")
    conn = connector(aws.url, factory=lambda _p: sess)
    good, _ = run(conn, "cloudtrail")
    assert findings(conn, "cloudtrail", good, "account")[acct][0] == "pass"

    aws.sim.inject(Fault(service="cloudtrail", operation="GetTrailStatus",
                         code="AccessDeniedException", status=400))
    res, c = run(conn, "cloudtrail")
    assert c.ipe.errors
    acc = findings(conn, "cloudtrail", res, "")[acct]
    assert acc[0] == "inconclusive", acc
    assert "only" in acc[1] and "could not be read" in acc[1]
    cov = findings(conn, "cloudtrail", res, "region coverage")
    assert {s for s, _ in cov.values()} == {"inconclusive"}


def test_organization_members_past_a_failed_page_are_unreadable_not_absent(aws: Aws) -> None:
    """ListAccounts answers 100 members a page; page 2 denied: the members read are
    collected, and an inconclusive 'organizations' finding names the listing cut short
    (the members past page 1 were silently absent: the organization looked smaller and
    clean)."""
    mgmt = account_session(aws.moto_url, "838383838383")
    org = mgmt.client("organizations", endpoint_url=aws.moto_url)
    org.create_organization(FeatureSet="ALL")
    for i in range(100):
        org.create_account(AccountName=f"m{i}", Email=f"m{i}@example.com")
    every = [a["Id"] for p in org.get_paginator("list_accounts").paginate()
             for a in p["Accounts"]]
    assert len(every) == 101
    aws.sim.inject(Fault(service="organizations", operation="ListAccounts",
                         body_contains="NextToken", code="AccessDeniedException", status=400))
    conn = connector(aws.url, factory=lambda _p: mgmt, max_attempts=1,
                     organizations_discovery={"role_name": "Audit"})
    res, c = run(conn, "password_policy")
    assert len(res.content["accounts"]) == 100 and not c.ipe.pagination_exhausted
    found = {f.resource: f for f in conn.snapshots()["password_policy"].assess(  # type: ignore[misc]
        res.content)}
    assert found["organizations"].status == "inconclusive"
    assert "organizations.ListAccounts not read to the end" in found["organizations"].reason


ADMIN_DOC = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def test_the_front_pages_authorization_details_as_iam_does(aws: Aws) -> None:
    """GetAccountAuthorizationDetails through the front: MaxItems entities a page (users,
    groups, roles, then policies), IsTruncated and a Marker while more remain."""
    sess = account_session(aws.moto_url, "848484848484")
    iam = sess.client("iam", endpoint_url=aws.moto_url)
    for i in range(5):
        iam.create_user(UserName=f"u{i}")
    iam.create_group(GroupName="g1")
    iam.create_policy(PolicyName="p1", PolicyDocument=ADMIN_DOC)
    front = sess.client("iam", endpoint_url=aws.url)
    pages = list(front.get_paginator("get_account_authorization_details").paginate(
        Filter=["User", "Group", "Role", "LocalManagedPolicy"],
        PaginationConfig={"PageSize": 3}))
    assert [([u["UserName"] for u in p["UserDetailList"]],
             [g["GroupName"] for g in p["GroupDetailList"]], len(p["Policies"]),
             p["IsTruncated"]) for p in pages] == [
        (["u0", "u1", "u2"], [], 0, True), (["u3", "u4"], ["g1"], 0, True), ([], [], 1, False)]
    assert len(front.get_account_authorization_details()["UserDetailList"]) == 5


def test_authorization_details_cut_short_pass_no_admin_through_a_group(aws: Aws) -> None:
    """100 entities a page; mallory is in an admin group (page 1) and has a customer admin
    policy attached directly (page 2). Read whole, she fails; page 2 throttled past its
    retries, she is inconclusive naming the listing (she passed as 'administrator through
    group:admins'), and so is the group whose members are not all known."""
    acct = "858585858585"
    sess = account_session(aws.moto_url, acct)
    iam = sess.client("iam", endpoint_url=aws.moto_url)
    iam.create_user(UserName="mallory")
    for i in range(98):
        iam.create_user(UserName=f"user-{i:03d}")
    iam.create_group(GroupName="admins")  # the 100th entity: the last on page 1
    iam.put_group_policy(GroupName="admins", PolicyName="all", PolicyDocument=ADMIN_DOC)
    iam.add_user_to_group(GroupName="admins", UserName="mallory")
    pol = iam.create_policy(PolicyName="direct-admin", PolicyDocument=ADMIN_DOC)["Policy"]
    iam.attach_user_policy(UserName="mallory", PolicyArn=pol["Arn"])
    mallory = f"arn:aws:iam::{acct}:user/mallory"
    group = f"arn:aws:iam::{acct}:group/admins"
    conn = connector(aws.url, factory=lambda _p: sess, max_attempts=1)
    whole, _ = run(conn, "privileged_access")
    assert findings(conn, "privileged_access", whole, "")[mallory][0] == "fail"

    aws.sim.inject(Fault(service="iam", operation="GetAccountAuthorizationDetails",
                         body_contains="Marker", code="Throttling", status=400))
    res, c = run(conn, "privileged_access")
    assert not c.ipe.pagination_exhausted
    found = findings(conn, "privileged_access", res, "")
    assert found[mallory][0] == "inconclusive", found[mallory]
    assert "iam.GetAccountAuthorizationDetails not read to the end" in found[mallory][1]
    assert found[group][0] == "inconclusive"
    assert found[acct][0] == "inconclusive"  # the unreadable part itself


def test_a_key_whose_rotation_status_is_denied_names_the_call(aws: Aws) -> None:
    """GetKeyRotationStatus denied for one key: that key is inconclusive and its reason
    names the call and AWS's answer (it read only 'rotation status not read'); the other
    keys are judged."""
    sess = account_session(aws.moto_url, "868686868686")
    kms = sess.client("kms", endpoint_url=aws.moto_url, region_name="us-east-1")
    denied = kms.create_key()["KeyMetadata"]
    judged = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=judged["KeyId"])
    aws.sim.inject(Fault(service="kms", operation="GetKeyRotationStatus",
                         body_contains=denied["KeyId"], code="AccessDeniedException",
                         status=400))
    conn = connector(aws.url, factory=lambda _p: sess, regions=["us-east-1"])
    res, c = run(conn, "kms_key_rotation")
    found = findings(conn, "kms_key_rotation", res, "")
    status, reason = found[denied["Arn"]]
    assert status == "inconclusive"
    assert "kms.GetKeyRotationStatus denied" in reason and "AccessDeniedException" in reason
    assert found[judged["Arn"]] == ("pass", "automatic rotation enabled")
    assert c.ipe.errors


def test_bucket_and_account_settings_refused_are_never_a_pass(aws: Aws) -> None:
    """S3 Control's GetPublicAccessBlock denied (the account level unknown): a bucket whose
    own flags are partly off is inconclusive for those flags, one blocking all four itself
    passes; GetBucketPolicy denied makes TLS inconclusive, whatever the missing policy would
    have said; GetPublicAccessBlock denied on a bucket is inconclusive for each flag."""
    acct = "878787878787"
    sess = account_session(aws.moto_url, acct)
    s3 = sess.client("s3", endpoint_url=aws.moto_url)
    every = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                               "RestrictPublicBuckets")}
    s3.create_bucket(Bucket="half-blocked")
    s3.put_public_access_block(Bucket="half-blocked", PublicAccessBlockConfiguration={
        **every, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.create_bucket(Bucket="fully-blocked")
    s3.put_public_access_block(Bucket="fully-blocked", PublicAccessBlockConfiguration=every)
    s3.create_bucket(Bucket="pab-refused")
    s3.put_public_access_block(Bucket="pab-refused", PublicAccessBlockConfiguration=every)
    aws.sim.inject(Fault(service="s3", path_contains="/v20180820/configuration/publicAccessBlock"))
    aws.sim.inject(Fault(service="s3", path_contains="/half-blocked?policy"))
    aws.sim.inject(Fault(service="s3", path_contains="/pab-refused?publicAccessBlock"))
    conn = connector(aws.url, factory=lambda _p: sess)
    res, c = run(conn, "s3_buckets")
    assert res.content["accounts"][0]["account_public_access_block_unreadable"]
    pab = findings(conn, "s3_buckets", res, "public access block")
    assert pab["arn:aws:s3:::half-blocked"] == (
        "inconclusive", "public access block: could not be read for BlockPublicPolicy, "
        "RestrictPublicBuckets")
    assert pab["arn:aws:s3:::fully-blocked"][0] == "pass"
    assert pab["arn:aws:s3:::pab-refused"][0] == "inconclusive"
    tls = findings(conn, "s3_buckets", res, "TLS required")
    assert tls["arn:aws:s3:::half-blocked"][0] == "inconclusive"
    assert "s3.GetBucketPolicy" in tls["arn:aws:s3:::half-blocked"][1]
    assert tls["arn:aws:s3:::fully-blocked"][0] == "fail"  # read: no bucket policy
    assert findings(conn, "s3_buckets", res, "could not be read")[acct][0] == "inconclusive"
    assert len(c.ipe.errors) == 3


def test_an_iam_change_window_past_the_event_history_is_data_unavailable(aws: Aws) -> None:
    """LookupEvents lists only the past 90 days. A window starting 100 days ago is refused
    before any call as DataUnavailable (the runner records the span once as a permanent gap)
    from a point a few minutes inside the 90 days; it passed as 'N IAM changes collected'
    while the events of its first 10 days could never be listed."""
    now = datetime.now(UTC)
    old = now - timedelta(days=95)
    aws.sim.add_events([iam_event("CreateUser", old, user="alice"),
                        iam_event("DeleteUser", now - timedelta(days=80), user="bob")])
    conn = connector(aws.url)
    c = ctx("iam_change_events", start=now - timedelta(days=100), end=now - timedelta(days=79))
    with pytest.raises(DataUnavailable) as e:
        conn.run("iam_change_events", c)
    assert "90 days" in str(e.value)
    floor = e.value.available_from
    assert now - timedelta(days=90) < floor < now - timedelta(days=90) + timedelta(minutes=10)
    assert not any(x.operation == "cloudtrail.LookupEvents" for x in c.ipe.calls)
    res, _ = run(conn, "iam_change_events", start=floor, end=now - timedelta(days=79))
    assert [ev["event_name"] for ev in res.content["accounts"][0]["events"]] == ["DeleteUser"]
    assert AwsConnector.snapshots()["iam_change_events"].lookback < timedelta(days=90)


def test_a_report_in_progress_forever_names_what_iam_answered(aws: Aws) -> None:
    """GenerateCredentialReport says COMPLETE but GetCredentialReport keeps answering
    ReportInProgress: the run gives up as a TransientError naming that answer (it read
    'still COMPLETE'), and nothing is judged."""
    aws.sim.inject(Fault(service="iam", operation="GetCredentialReport",
                         code="ReportInProgress", status=404))
    conn = connector(aws.url, credential_report_wait_seconds=0.5)
    with pytest.raises(TransientError) as e:
        run(conn, "iam_credential_report")
    assert "GetCredentialReport answered ReportInProgress" in str(e.value)
    assert "still COMPLETE" not in str(e.value)
