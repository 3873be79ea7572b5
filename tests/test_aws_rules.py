"""AWS verdict rules against oracles written here from AWS's documentation, over generated input.

The oracles model what AWS does with a request, not how our rules are written:
- S3 Block Public Access (S3 User Guide, "Blocking public access to your Amazon S3 storage"):
  S3 rejects a request that violates the access point, bucket *or* account setting, so each
  of the four settings is in force when either level turns it on.
- IAM policy evaluation (IAM User Guide, "Policy evaluation logic", "Condition", "Condition
  operators"): an explicit Deny whose Principal, Action, Resource and every condition match
  the request denies it; Action names are case-insensitive, Resource ARNs case-sensitive,
  `*` and `?` are wildcards; condition key names are case-insensitive; several values for
  one key match if any matches, several keys and operators must all match; a key absent from
  the request makes a test false, except with ...IfExists, ForAllValues: or a negated
  operator (one condition evaluator, `_condition_holds`, serves every oracle here).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.aws import assess as A
from connectors.aws.policy import tls_required, trust_open_to_anyone

BUCKET = "b"
KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")

# --- S3 Block Public Access --------------------------------------------------------------------

# What each setting stops (S3 User Guide): a new public ACL, an existing public ACL, a new
# public bucket policy, and access through an existing public policy from outside the account.
THREATS = {"put a public ACL": "BlockPublicAcls", "read through a public ACL": "IgnorePublicAcls",
           "put a public bucket policy": "BlockPublicPolicy",
           "cross-account access through a public policy": "RestrictPublicBuckets"}


def pab_oracle(account: Any, account_unread: bool, bucket: Any, bucket_unread: bool) -> str:
    """The bucket is fully blocked when S3 stops every threat; unknown when a stop depends on
    a level that could not be read."""
    outcome = "pass"
    for setting in THREATS.values():
        stopped = False
        unknown = False
        for cfg, unread in ((account, account_unread), (bucket, bucket_unread)):
            if unread:
                unknown = True
            elif cfg is not None and cfg.get(setting) is True:
                stopped = True
        if not stopped:
            if not unknown:
                return "fail"
            outcome = "inconclusive"
    return outcome


pab_config = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS),
                                                  st.sampled_from([True, False])))


@settings(max_examples=200, deadline=None)
@given(pab_config, st.booleans(), pab_config, st.booleans())
def test_public_access_block_combines_levels_setting_by_setting(
        account: Any, account_unread: bool, bucket: Any, bucket_unread: bool) -> None:
    """The public-access-block verdict equals the documented per-setting combination."""
    content = {"accounts": [{
        "account_id": "1", "account_public_access_block": None if account_unread else account,
        "account_public_access_block_unreadable": "denied" if account_unread else None,
        "buckets": [{"name": BUCKET, "public_access_block": None if bucket_unread else bucket,
                     "unreadable": [{"operation": "s3.GetPublicAccessBlock", "error": "denied"}]
                     if bucket_unread else []}]}], "unreadable": []}
    got = [f for f in A.assess_s3_buckets(content) if f.reason.startswith("public access block")]
    assert len(got) == 1
    assert got[0].status == pab_oracle(account, account_unread, bucket, bucket_unread)


def test_split_public_access_block_is_fully_blocked() -> None:
    """The issue's case: ACL settings on the account and policy settings on the bucket."""
    acct = {"BlockPublicAcls": True, "IgnorePublicAcls": True}
    bucket = {"BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert A.effective_public_access_block(acct, False, bucket, False) == dict.fromkeys(KEYS, True)


# --- TLS-only bucket policy ----------------------------------------------------------------

ARN = f"arn:aws:s3:::{BUCKET}"
ACCOUNT = "111122223333"
PROBE_PRINCIPALS: list[dict[str, Any]] = [
    {"kind": "anonymous", "context": {}},
    {"kind": "aws", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
     "context": {"aws:PrincipalAccount": ACCOUNT}},
    {"kind": "aws", "arn": "arn:aws:iam::999988887777:role/vendor",
     "context": {"aws:PrincipalAccount": "999988887777", "aws:MultiFactorAuthPresent": "true"}},
    {"kind": "service", "service": "logging.s3.amazonaws.com", "context": {}},
]
PROBE_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteBucket",
                 "s3:PutBucketPolicy", "s3:GetBucketAcl", "s3:RestoreObject",
                 "s3:AbortMultipartUpload"]
PROBE_RESOURCES = [ARN, f"{ARN}/a.txt", f"{ARN}/logs/2026/x.gz", f"{ARN}/"]


def _values(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _principal_matches(element: Any, who: dict[str, Any]) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    for kind, names in element.items():
        for n in _values(names):
            if kind == "AWS" and (n == "*" or (who["kind"] == "aws" and (
                    n == who["arn"] or n == f"arn:aws:iam::{who['arn'].split(':')[4]}:root"))):
                return True
            if kind == "Service" and who["kind"] == "service" and n == who["service"]:
                return True
    return False


def _arn_match(pattern: str, arn: str) -> bool:
    p, a = pattern.split(":", 5), arn.split(":", 5)
    return len(p) == 6 and len(a) == 6 and all(fnmatch.fnmatchcase(y, x)
                                               for x, y in zip(p, a, strict=True))


def _value_matches(op: str, want: str, have: str) -> bool:
    if op.startswith("Arn"):
        return _arn_match(want, have)
    if op.endswith("IgnoreCase"):
        return want.lower() == have.lower()
    if "Like" in op:
        return fnmatch.fnmatchcase(have, want)
    return want == have


def _condition_holds(cond: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """Every test of a Condition holds for the request context `ctx` (values: a string, or a
    list for a multivalued key)."""
    lower = {k.lower(): v for k, v in ctx.items()}
    for full_op, block in cond.items():
        prefix = full_op.split(":")[0] + ":" if ":" in full_op else ""
        op = full_op.removeprefix(prefix)
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        negated = "Not" in op
        positive = op.replace("Not", "")
        for key, want in block.items():
            have = lower.get(key.lower())
            wants = [str(w) for w in _values(want)]
            if have is None:
                if if_exists or prefix == "ForAllValues:":
                    continue
                if prefix == "ForAnyValue:" or not negated:
                    return False
                continue  # a negated test holds for an absent key
            haves = [str(h) for h in _values(have)]
            if op.startswith("Bool"):
                ok = any(h.lower() in [w.lower() for w in wants] for h in haves)
            elif op == "NumericLessThan":
                ok = any(float(h) < float(w) for h in haves for w in wants)
            elif not op.startswith(("String", "Arn")):
                raise AssertionError(f"oracle has no operator {full_op}")
            else:
                hits = [any(_value_matches(positive, w, h) for w in wants) != negated
                        for h in haves]
                # ForAllValues: every value; ForAnyValue: or a single-valued key: any
                ok = all(hits) if prefix == "ForAllValues:" else any(hits)
            if not ok:
                return False
    return True


def _applies_to(stmt: dict[str, Any], who: dict[str, Any], action: str) -> bool:
    """Whether a statement's Principal (or NotPrincipal) and Action (or NotAction) take in
    `who` doing `action` (actions case-insensitive)."""
    if "NotPrincipal" in stmt:
        if _principal_matches(stmt["NotPrincipal"], who):
            return False
    elif not _principal_matches(stmt.get("Principal"), who):
        return False
    if "NotAction" in stmt:
        return not any(fnmatch.fnmatchcase(action.lower(), a.lower())
                       for a in _values(stmt["NotAction"]))
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _values(stmt["Action"]))


def _denies(stmt: dict[str, Any], who: dict[str, Any], action: str, resource: str) -> bool:
    if stmt["Effect"] != "Deny" or not _applies_to(stmt, who, action):
        return False
    if "NotResource" in stmt:
        if any(fnmatch.fnmatchcase(resource, r) for r in _values(stmt["NotResource"])):
            return False
    elif not any(fnmatch.fnmatchcase(resource, r) for r in _values(stmt["Resource"])):
        return False
    context = {"aws:SecureTransport": "false", **who["context"]}
    return _condition_holds(stmt.get("Condition", {}), context)


def tls_oracle(policy: dict[str, Any]) -> bool:
    """Every probe request made without TLS, by anyone, with any S3 action, on the bucket or
    any object, is denied by some statement."""
    return all(any(_denies(s, who, action, res) for s in policy["Statement"])
               for who in PROBE_PRINCIPALS for action in PROBE_ACTIONS
               for res in PROBE_RESOURCES)


def _one_or_list(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1,
                                                       max_size=3))


secure_key = st.sampled_from(["aws:SecureTransport", "AWS:securetransport",
                              "aws:securetransport", "Aws:SecureTransport"])
secure_value = st.one_of(st.sampled_from(["false", "False", "FALSE", "true", False]),
                         st.lists(st.sampled_from(["false", "true", "FALSE"]), min_size=1,
                                  max_size=2))
extra_condition = st.sampled_from([
    {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
    {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
])


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["Bool", "BoolIfExists", "Bool", "ForAnyValue:Bool",
                               "ForAllValues:Bool", "ForAnyValue:BoolIfExists"]))
    cond: dict[str, Any] = {op: {draw(secure_key): draw(secure_value)}}
    if draw(st.integers(0, 3)) == 0:
        for k, v in draw(extra_condition).items():
            cond.setdefault(k, {}).update(v)
    return cond


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": draw(st.sampled_from(["Deny", "Deny", "Deny", "Allow"]))}
    if draw(st.integers(0, 5)) == 0:
        s["NotPrincipal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    else:
        s["Principal"] = draw(st.sampled_from([
            "*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            {"AWS": ["*", f"arn:aws:iam::{ACCOUNT}:root"]},
            {"Service": "logging.s3.amazonaws.com"}]))
    if draw(st.integers(0, 4)) == 0:
        s["NotAction"] = draw(_one_or_list(["iam:*", "s3:GetObject", "s3:Get*", "ec2:*", "*",
                                            "s3:Put?ucketPolicy"]))
    else:
        s["Action"] = draw(_one_or_list(["s3:*", "*", "S3:*", "s3:Get*", "s3:GetObject",
                                         "s3:*Object", "s3:Put*", "iam:*", "s3:?etObject",
                                         "s*", "s3:*Bucket*"]))
    if draw(st.integers(0, 5)) == 0:
        s["NotResource"] = draw(_one_or_list(["arn:aws:s3:::other/*", f"{ARN}/logs/*", ARN,
                                              "arn:aws:iam::*"]))
    else:
        s["Resource"] = draw(_one_or_list(["*", ARN, f"{ARN}/*", f"{ARN}*", "arn:aws:s3:::*",
                                           f"{ARN}/logs/*", "arn:aws:s3:::other/*",
                                           "arn:aws:s3:::B/*", "arn:aws:s3:::?/*"]))
    s["Condition"] = draw(conditions())
    return s


@settings(max_examples=200, deadline=None)
@given(statements())
def test_tls_rule_matches_the_oracle_on_one_statement(stmt: dict[str, Any]) -> None:
    """A one-statement policy passes exactly when IAM would deny every request without TLS."""
    policy = {"Version": "2012-10-17", "Statement": [stmt]}
    ok, why = tls_required(policy, BUCKET)
    assert ok == tls_oracle(policy), why
    if not ok and stmt["Effect"] == "Deny":
        assert "does not cover" in why


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=3))
def test_tls_rule_never_passes_what_iam_would_allow(stmts: list[dict[str, Any]]) -> None:
    """Over several statements the rule is never looser than IAM: a pass means IAM denies
    every request without TLS (statements that only cover it together are a documented fail)."""
    policy = {"Version": "2012-10-17", "Statement": stmts}
    if tls_required(policy, BUCKET)[0]:
        assert tls_oracle(policy)


def test_the_issue_examples() -> None:
    """A Deny of only s3:GetObject fails naming what it misses; a list-valued condition passes."""
    full = {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [ARN, f"{ARN}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    narrow = dict(full, Action="s3:GetObject")
    ok, why = tls_required({"Statement": [narrow]}, BUCKET)
    assert not ok and "all S3 actions" in why
    listed = dict(full, Condition={"Bool": {"aws:SecureTransport": ["false"]}})
    assert tls_required({"Statement": [listed]}, BUCKET)[0]
    objects_only = dict(full, Resource=f"{ARN}/*")
    ok, why = tls_required({"Statement": [objects_only]}, BUCKET)
    assert not ok and f"the bucket {ARN}" in why
    assert tls_required(None, BUCKET) == (False, "no bucket policy")


# --- credential report ages --------------------------------------------------------------------

GENERATED = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
offsets = st.one_of(st.just(None), st.integers(-200 * 24, 30 * 24))


def _t(hours: int | None) -> str:
    return "N/A" if hours is None else (GENERATED + timedelta(hours=hours)).isoformat()


@settings(max_examples=200, deadline=None)
@given(rotated=offsets, used=offsets, pw_used=offsets)
def test_no_age_counted_from_a_report_older_than_its_dates_passes(
        rotated: int | None, used: int | None, pw_used: int | None) -> None:
    """Any date after the report's GeneratedTime (a negative age) makes the whole report
    inconclusive, never pass (its GeneratedTime is proven too early, so every age in it is
    short); within the report, ages follow 90 and 45 days."""
    row = {"user": "u", "arn": "arn:u", "password_enabled": "true", "mfa_active": "true",
           "password_last_used": "no_information" if pw_used is None else _t(pw_used),
           "password_last_changed": _t(-500 * 24), "access_key_1_active": "true",
           "access_key_1_last_rotated": _t(rotated), "access_key_1_last_used_date": _t(used),
           "access_key_2_active": "false"}
    content = {"accounts": [{"account_id": "1", "generated_time": GENERATED.isoformat(),
                             "root": None, "users": [row]}], "unreadable": []}
    found = A.assess_credential_report(content)
    if any(h is not None and h > 0 for h in (rotated, used, pw_used)):
        # a date after GeneratedTime: the report is older than what it describes
        assert [f.status for f in found] == ["inconclusive"]
        assert "after its GeneratedTime" in found[0].reason
        return
    rot = next(f for f in found if f.reason.startswith("access key 1"))
    if rotated is None:
        assert rot.status == "inconclusive"
    else:
        assert rot.status == ("fail" if -rotated > 90 * 24 else "pass")
    key_use = next(f for f in found if f.reason.startswith("unused credentials: access key"))
    since = used if used is not None else rotated
    if since is None:
        assert key_use.status == "inconclusive"
    else:
        assert key_use.status == ("fail" if -since >= 45 * 24 else "pass")
    pw = [f for f in found if f.reason.startswith("unused credentials: console")]
    if pw_used is None:
        assert pw == []
        assert any(f.status == "fail" and f.reason.startswith("password never used")
                   for f in found)
    else:
        assert [f.status for f in pw] == ["fail" if -pw_used >= 45 * 24 else "pass"]


def test_a_report_with_a_problem_judges_nobody() -> None:
    """A report flagged at collection (stale or from the future) yields one inconclusive."""
    content = {"accounts": [{"account_id": "1", "generated_time": "2015-02-02T20:02:02+00:00",
                             "report_problem": "GeneratedTime ... more than 4 hours before",
                             "root": None, "users": [{"user": "u", "arn": "arn:u",
                                                      "password_enabled": "false"}]}],
               "unreadable": []}
    assert [f.status for f in A.assess_credential_report(content)] == ["inconclusive"]


# --- administrator policies --------------------------------------------------------------------
# Oracle (IAM User Guide, "Policy evaluation logic", "Action", "NotAction", "Resource",
# "NotResource"): a statement allows a request when its Action matches (case-insensitively,
# `*` and `?` wildcards) or its NotAction does not, and its Resource matches (case-sensitively)
# or its NotResource does not. A condition narrows when a statement applies, not what it
# grants: the oracle judges what some request could be allowed. Administrator: every probe
# action on every probe resource; a statement is administrator-equivalent when it allows, on
# every IAM probe resource, one of the IAM actions that attach or write a policy (IAM API
# Reference: its holder can then attach AdministratorAccess to itself), however its Action,
# NotAction or NotResource is spelled (`iam:*`, `i*:*`, NotAction `ec2:*`).
SELF_GRANT = ["iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:AttachRolePolicy",
              "iam:PutRolePolicy", "iam:AttachGroupPolicy", "iam:PutGroupPolicy",
              "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"]

ADMIN_PROBE_ACTIONS = ["iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:PassRole",
                       "iam:GetUser", "iam:CreateAccessKey", "s3:GetObject", "s3:DeleteBucket",
                       "ec2:RunInstances", "kms:ScheduleKeyDeletion", "sts:AssumeRole",
                       "organizations:LeaveOrganization", "cloudtrail:StopLogging"]
ADMIN_PROBE_RESOURCES = ["*", f"arn:aws:iam::{ACCOUNT}:user/alice",
                         f"arn:aws:iam::{ACCOUNT}:role/ops", f"arn:aws:iam::{ACCOUNT}:group/g",
                         f"arn:aws:iam::{ACCOUNT}:policy/p", "arn:aws:s3:::bucket/key",
                         f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1",
                         f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"]


def _allows(stmt: dict[str, Any], action: str, resource: str) -> bool:
    if stmt["Effect"] != "Allow":
        return False
    if "NotAction" in stmt:
        act = not any(fnmatch.fnmatchcase(action.lower(), a.lower())
                      for a in _values(stmt["NotAction"]))
    else:
        act = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _values(stmt["Action"]))
    if "NotResource" in stmt:
        res = not any(fnmatch.fnmatchcase(resource, r) for r in _values(stmt["NotResource"]))
    else:
        res = any(fnmatch.fnmatchcase(resource, r) for r in _values(stmt["Resource"]))
    return act and res


def admin_oracle(stmt: dict[str, Any]) -> bool:
    if all(_allows(stmt, a, r) for a in ADMIN_PROBE_ACTIONS for r in ADMIN_PROBE_RESOURCES):
        return True
    # where the self-granting actions act: the account's users, roles, groups and policies
    # (IAM API Reference)
    iam_only = [r for r in ADMIN_PROBE_RESOURCES if ":iam:" in r]
    return any(all(_allows(stmt, a, r) for r in iam_only) for a in SELF_GRANT)


@st.composite
def admin_statements(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny"]))}
    if draw(st.integers(0, 3)) == 0:
        s["NotAction"] = draw(_one_or_list(["ec2:*", "iam:*", "iam:PassRole", "s3:*", "*",
                                            "iam:Get*", "organizations:*", "*:Leave*",
                                            "iam:Attach*", "iam:Put*", "*Policy*",
                                            "iam:*Version"]))
    else:
        s["Action"] = draw(_one_or_list(["*", "*:*", "*:?*", ":*", "*:Get*", "iam:*", "s3:*",
                                         "?*", "*?", "IAM:*", "*:*Policy", "i*:*", "iam:Get*",
                                         "Iam:Put*", "iam:AttachUserPolicy", "iam:*Version",
                                         "*:Attach*"]))
    if draw(st.integers(0, 3)) == 0:
        s["NotResource"] = draw(_one_or_list(["arn:aws:s3:::*", "arn:aws:iam::*:user/*",
                                              "arn:aws:iam::*", "*", "arn:aws:s3:::bucket/*"]))
    else:
        s["Resource"] = draw(_one_or_list(["*", "arn:aws:s3:::*", "arn:*", "arn:aws:iam::*",
                                           "arn:aws:iam::*:*", f"arn:aws:iam::{ACCOUNT}:*",
                                           "arn:aws:iam::*:user/*", "arn:aws:iam::*:group/*",
                                           "arn:aws:iam::*:policy/*",
                                           "arn:aws:iam::*:role/*"]))
    if draw(st.booleans()):
        s["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return s


@settings(max_examples=300, deadline=None)
@given(admin_statements())
def test_admin_rule_matches_the_oracle(stmt: dict[str, Any]) -> None:
    """A statement is administrator exactly when IAM would let it do everything (or grant
    itself everything), whatever its spelling or condition."""
    assert A.statement_is_admin(stmt) == admin_oracle(stmt)


# --- CloudTrail management events ----------------------------------------------------------------
# Oracle (CloudTrail API Reference, EventSelector, AdvancedEventSelector, AdvancedFieldSelector):
# a trail logs an event when the event matches any of its selectors. A basic selector matches
# a management event when IncludeManagementEvents (default true) is on, ReadWriteType (default
# All) covers it, and its source is not in ExcludeManagementEventSources. An advanced selector
# matches when every field selector holds: Equals / StartsWith / EndsWith any value,
# NotEquals / NotStartsWith / NotEndsWith none. No selectors: all management events.

EVENT_SOURCES = ["kms.amazonaws.com", "rdsdata.amazonaws.com", "iam.amazonaws.com",
                 "s3.amazonaws.com", "dynamodb.amazonaws.com", "sso.amazonaws.com",
                 "ec2.amazonaws.com", "cloudtrail.amazonaws.com"]


def _basic_match(sel: dict[str, Any], read: bool, source: str) -> bool:
    if not sel.get("IncludeManagementEvents", True):
        return False
    if sel.get("ReadWriteType", "All") not in ("All", "ReadOnly" if read else "WriteOnly"):
        return False
    return source not in sel.get("ExcludeManagementEventSources", [])


def _advanced_match(sel: dict[str, Any], read: bool, source: str) -> bool:
    event = {"eventCategory": "Management", "readOnly": str(read).lower(),
             "eventSource": source}
    for f in sel["FieldSelectors"]:
        v = event.get(f["Field"])
        if v is None:
            return False
        if "Equals" in f and v not in f["Equals"]:
            return False
        if "NotEquals" in f and v in f["NotEquals"]:
            return False
        if "StartsWith" in f and not any(v.startswith(x) for x in f["StartsWith"]):
            return False
        if "NotStartsWith" in f and any(v.startswith(x) for x in f["NotStartsWith"]):
            return False
    return True


def trail_oracle(trail: dict[str, Any]) -> bool:
    adv, basic = trail["advanced_event_selectors"] or [], trail["event_selectors"] or []
    if not adv and not basic:
        return True
    return all(any(_advanced_match(s, r, src) for s in adv) if adv else
               any(_basic_match(s, r, src) for s in basic)
               for r in (True, False) for src in EVENT_SOURCES)


basic_selector = st.fixed_dictionaries({}, optional={
    "ReadWriteType": st.sampled_from(["All", "ReadOnly", "WriteOnly"]),
    "IncludeManagementEvents": st.booleans(),
    "ExcludeManagementEventSources": st.sampled_from(
        [[], ["kms.amazonaws.com"], ["rdsdata.amazonaws.com"],
         ["kms.amazonaws.com", "rdsdata.amazonaws.com"]])})
field_selector = st.sampled_from([
    {"Field": "readOnly", "Equals": ["true"]}, {"Field": "readOnly", "Equals": ["false"]},
    {"Field": "readOnly", "NotEquals": ["true"]},
    {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
    {"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com", "kms.amazonaws.com"]},
    {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
    {"Field": "eventSource", "NotStartsWith": ["kms."]},
    {"Field": "eventSource", "StartsWith": ["kms.", "rdsdata."]},
    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}])


@st.composite
def advanced_selector(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from(["Management", "Management", "Management", "Data"]))
    fields = [{"Field": "eventCategory", "Equals": [category]}]
    fields += draw(st.lists(field_selector, max_size=2))
    return {"Name": "s", "FieldSelectors": fields}


@st.composite
def trails(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"event_selectors": draw(st.lists(basic_selector, max_size=3)),
                "advanced_event_selectors": None}
    return {"event_selectors": None,
            "advanced_event_selectors": draw(st.lists(advanced_selector(), max_size=3))}


@settings(max_examples=300, deadline=None)
@given(trails())
def test_management_event_rule_matches_the_oracle(trail: dict[str, Any]) -> None:
    """A trail passes for management events exactly when CloudTrail would log every read and
    write management event from every source; a failing one names what it misses."""
    got = A.management_events_missed(trail)
    assert (not got) == trail_oracle(trail), got


def test_aws_administrator_access_is_known_in_every_partition() -> None:
    """AdministratorAccess's ARN names the account's partition (IAM User Guide, "IAM ARNs"):
    a GovCloud or China account's copy is the same policy; look-alikes are not."""
    for part in ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"):
        assert A.is_aws_admin_policy(f"arn:{part}:iam::aws:policy/AdministratorAccess")
        # iam:* on every resource: administrator-equivalent (AWS Managed Policy Reference)
        assert A.is_aws_admin_policy(f"arn:{part}:iam::aws:policy/IAMFullAccess")
    for arn in ("arn:aws:iam::123456789012:policy/AdministratorAccess",
                "arn:aws:iam::aws:policy/AdministratorAccessAmplify",
                "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
                "arn:aws:iam::aws:policy/job-function/AdministratorAccess",
                "arn:awsx:iam::aws:policy/AdministratorAccess"):
        assert not A.is_aws_admin_policy(arn), arn


# --- role trust: may a stranger assume it? --------------------------------------------------------
# Oracle (IAM User Guide, "Policy evaluation logic", "Condition operators", "Set operators for
# multivalued context keys", "AWS global condition context keys"): a role may be assumed when
# some Allow statement's Principal, Action and every condition match the request and no
# Deny's do. A stranger picks everything but its account, organization and unique ID, which
# are none of the trusted ones: it tries each account, organization and role name a wildcard
# in the policy would let it have, with or without MFA, external IDs, principal types the
# policy names. AssumeRole is signed (aws:PrincipalAccount, aws:PrincipalArn, aws:userid
# present; the org keys when the stranger is in an organization); AssumeRoleWithSAML and
# ...WithWebIdentity are not, and carry none of them. StringEquals takes wildcards literally;
# StringLike spans `:`; ArnEquals and ArnLike match each of the six ARN fields with wildcards.

OWN, PARTNER, ORG = "111122223333", "444455556666", "o-a1b2c3d4e5"
TRUST_ACTIONS = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]
ACCOUNT_VALUES = [OWN, PARTNER, "*", "1111*", "4444555566??", "*3333"]
ORG_VALUES = [ORG, "o-a1b2*", f"{ORG}*", "o-?1b2c3d4e5"]
ARN_VALUES = [f"arn:aws:iam::{OWN}:role/deploy", f"arn:aws:iam::{OWN}:*",
              "arn:aws:iam::*:role/deploy", "arn:aws:iam::1111*:role/*",
              f"arn:aws:iam::{PARTNER}:root", "arn:aws:iam::????????????:role/x",
              "arn:aws:iam::*:role/*"]
PATH_VALUES = [f"{ORG}/*", f"{ORG}/r-ab12/ou-ab12-11111111/*", "o-*/r-ab12/*", "*/r-ab12/*"]
USERID_VALUES = ["AROAOWNROLE:*", "AROA*", "AIDAOWNUSER", "*:alice", "AROAOWNROLE:alice"]
OTHER = {"aws:MultiFactorAuthPresent": ["true", "false"], "sts:ExternalId": ["not-a-secret"],
         "aws:PrincipalType": ["AssumedRole", "User"]}
KEY_VALUES = {"aws:PrincipalAccount": ACCOUNT_VALUES, "aws:SourceAccount": ACCOUNT_VALUES,
              "aws:PrincipalOrgID": ORG_VALUES, "aws:SourceOrgID": ORG_VALUES,
              "aws:PrincipalArn": ARN_VALUES,
              "aws:SourceArn": ARN_VALUES, "aws:PrincipalOrgPaths": PATH_VALUES,
              "aws:userid": USERID_VALUES,
              **{k: v for k, v in OTHER.items()}}
# values that name accounts, organizations or identities (no wildcard where one could stand
# for a stranger's): a Deny with negated tests of these turns away every stranger
NAMED = {"aws:PrincipalAccount": [OWN, PARTNER], "aws:SourceAccount": [OWN],
         "aws:PrincipalOrgID": [ORG], "aws:SourceOrgID": [ORG],
         "aws:PrincipalArn": [f"arn:aws:iam::{OWN}:role/deploy", f"arn:aws:iam::{OWN}:*",
                              f"arn:aws:iam::{PARTNER}:root"],
         "aws:SourceArn": [f"arn:aws:iam::{OWN}:*"],
         "aws:PrincipalOrgPaths": [f"{ORG}/*", f"{ORG}/r-ab12/ou-ab12-11111111/*"],
         "aws:userid": ["AROAOWNROLE:*", "AIDAOWNUSER"]}
STRING_OPS = ["StringEquals", "StringLike", "StringNotEquals", "StringNotLike",
              "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"]
ARN_OPS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]


def _fill(pattern: str, width: int | None = None) -> str:
    """A value a stranger could hold that `pattern` matches: wildcards become 9s (the first
    `*` as many as make `width` characters)."""
    fixed = len(pattern) - pattern.count("*")
    out, first = [], True
    for ch in pattern:
        if ch == "*":
            out.append("9" * (max(1, (width or 0) - fixed) if first else 0) or "9")
            first = False
        else:
            out.append("9" if ch == "?" else ch)
    return "".join(out)


def _fill_arn(pattern: str) -> str | None:
    """An ARN a stranger could have that `pattern` matches (its account filled to 12 digits),
    or None when the pattern names no account field."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return None
    parts[4] = _fill(parts[4], 12)
    return ":".join(_fill(p) for p in parts)


def _strangers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Request contexts of strangers for AssumeRole, built from the policy's wildcards: a
    principal of theirs (signed: its account, ARN, unique ID), or an AWS service acting for a
    resource of theirs (aws:SourceAccount, aws:SourceArn and its organization)."""
    text = json.dumps(policy)
    accounts = {"999999999999"}
    orgs: set[str | None] = {None, "o-zzzzzzzzzz"}
    for v in ACCOUNT_VALUES:
        if json.dumps(v) in text and ("*" in v or "?" in v):
            accounts.add(_fill(v, 12))
    arns = [a for v in ARN_VALUES if json.dumps(v) in text
            for a in [_fill_arn(v)] if a is not None]
    for v in ORG_VALUES + [p.split("/")[0] for p in PATH_VALUES]:
        if ("*" in v or "?" in v) and v in text:
            orgs.add(_fill(v))
    accounts -= {OWN, PARTNER}
    orgs -= {ORG}
    principals = [f"arn:aws:iam::{acct}:{name}" for acct in sorted(accounts)
                  for name in ("role/deploy", "role/x", "role/alice", "user/x")]
    sources = [f"arn:aws:sns:us-east-1:{acct}:topic" for acct in sorted(accounts)]
    for a in arns:
        if a.split(":")[4] not in (OWN, PARTNER):
            principals.append(a)
            sources.append(a)
    out = []
    org_keys: list[dict[str, Any]] = [{}]
    for org in sorted(o for o in orgs if o is not None):
        org_keys += [{"aws:PrincipalOrgID": org, "aws:PrincipalOrgPaths": [f"{org}/{path}"]}
                     for path in ("r-ab12/ou-ab12-11111111/", "r-zz99/")]
    for with_org in org_keys:
        for arn in principals:
            acct, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
            out.append({"aws:PrincipalAccount": acct, "aws:PrincipalArn": arn,
                        "aws:userid": f"AROASTRANGER{acct}:{name}", **with_org})
        for arn in sources:
            out.append({"aws:SourceAccount": arn.split(":")[4], "aws:SourceArn": arn,
                        **{k.replace("Principal", "Source"): v for k, v in with_org.items()}})
    return out


def _trust_matches(stmt: dict[str, Any], ctx: dict[str, Any], action: str) -> bool:
    # "Principal": "*" and {"AWS": "*"} are the same: everyone, unsigned callers included
    # (IAM User Guide, "AWS JSON policy elements: Principal", all principals)
    who = {"kind": "aws" if "aws:PrincipalArn" in ctx else "other",
           "arn": ctx.get("aws:PrincipalArn", "")}
    return _applies_to(stmt, who, action) and _condition_holds(
        stmt.get("Condition", {}), ctx)


def trust_oracle(policy: dict[str, Any]) -> bool:
    """Whether some stranger may assume the role by some assume action."""
    others = [dict(zip(OTHER, combo, strict=True)) for combo in itertools.product(
        *[[*vals, None] for vals in OTHER.values()])]
    for action in TRUST_ACTIONS:
        signed = _strangers(policy) if action == "sts:AssumeRole" else [{}]
        for base in signed:
            for extra in others:
                ctx = {**base, **{k: v for k, v in extra.items() if v is not None}}
                if any(s["Effect"] == "Deny" and _trust_matches(s, ctx, action)
                       for s in policy["Statement"]):
                    continue
                if any(s["Effect"] == "Allow" and _trust_matches(s, ctx, action)
                       for s in policy["Statement"]):
                    return True
    return False


@st.composite
def trust_conditions(draw: st.DrawFn, entries: int = 2,
                     identity_only: bool = False) -> dict[str, Any]:
    """A Condition of 1..`entries` tests; `identity_only`: negated tests of who calls against
    named values."""
    cond: dict[str, Any] = {}
    keys = sorted(k for k in KEY_VALUES if not (identity_only and k in OTHER))
    for _ in range(draw(st.integers(1, entries))):
        key = draw(st.sampled_from(keys))
        if key in OTHER:
            op = draw(st.sampled_from(["Bool", "BoolIfExists"] if key.endswith("Present")
                                      else ["StringEquals", "StringNotEquals"]))
        else:
            ops = ARN_OPS + STRING_OPS if key.endswith("Arn") else STRING_OPS
            if identity_only:
                ops = [o for o in ops if "Not" in o]
            op = draw(st.sampled_from(ops)) + draw(st.sampled_from(["", "", "IfExists"]))
            # multivalued org paths only with a set operator; others now and then
            if key == "aws:PrincipalOrgPaths" or draw(st.integers(0, 5)) == 0:
                op = draw(st.sampled_from(["ForAnyValue:", "ForAllValues:"])) + op
        values = NAMED[key] if identity_only else KEY_VALUES[key]
        if key.endswith("Arn") and op.removeprefix("ForAnyValue:").removeprefix(
                "ForAllValues:").startswith("Arn"):
            values = [v for v in values if len(v.split(":")) >= 6]
        cond.setdefault(op, {})[draw(st.sampled_from([key, key.lower()]))] = \
            draw(_one_or_list(values))
    return cond


@st.composite
def trust_statements(draw: st.DrawFn, effect: str | None = None, entries: int = 2,
                     identity_only: bool = False) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    if draw(st.integers(0, 5)) == 0:
        s["NotPrincipal"] = {"AWS": f"arn:aws:iam::{OWN}:root"}
    else:
        s["Principal"] = draw(st.sampled_from([
            "*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": f"arn:aws:iam::{PARTNER}:root"},
            {"AWS": [f"arn:aws:iam::{PARTNER}:root", "*"]}, {"AWS": OWN}]))
    if draw(st.integers(0, 5)) == 0:
        s["NotAction"] = draw(_one_or_list(["sts:TagSession", "sts:*", "sts:AssumeRoleWith*"]))
    else:
        s["Action"] = draw(_one_or_list(["sts:AssumeRole", "sts:*", "*", "sts:TagSession",
                                         "sts:AssumeRoleWith*", "STS:assumerole"]))
    if draw(st.integers(0, 3)):
        s["Condition"] = draw(trust_conditions(entries, identity_only))
    return s


@settings(max_examples=400, deadline=None)
@given(st.lists(trust_statements(), min_size=1, max_size=3))
def test_trust_rule_never_passes_a_role_a_stranger_may_assume(
        stmts: list[dict[str, Any]]) -> None:
    """Whatever the statements, a pass means no stranger (an account, organization and
    identity the policy does not name) may assume the role by any assume action. Tests that
    contradict each other (a key equal and not equal to one value) may fail a role no one can
    assume: the rule does not solve conditions, and a wrong fail is the safe side."""
    policy = {"Version": "2012-10-17", "Statement": stmts}
    if trust_open_to_anyone(policy) is None:
        assert not trust_oracle(policy)


@settings(max_examples=400, deadline=None)
@given(trust_statements("Allow", entries=1),
       st.lists(trust_statements("Deny", identity_only=True), max_size=1))
def test_trust_rule_matches_the_oracle(allow: dict[str, Any],
                                       deny: list[dict[str, Any]]) -> None:
    """An Allow with one test, and perhaps a Deny with negated tests of who calls (the
    documented "deny all but my organization" shape): the role fails exactly when some
    stranger may assume it. (A Deny of callers some Allow test also requires is not solved:
    such a role fails, the safe side.)"""
    policy = {"Version": "2012-10-17", "Statement": [allow, *deny]}
    why = trust_open_to_anyone(policy)
    assert (why is not None) == trust_oracle(policy), why


def test_trust_rule_examples() -> None:
    """The shapes seen in accounts: MFA or an external ID alone lets strangers in; an
    organization or named accounts pin it; a Deny for all but named accounts restricts an
    Allow for everyone."""
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}

    def judge(*stmts: dict[str, Any]) -> bool:
        return trust_open_to_anyone({"Statement": list(stmts)}) is not None

    assert judge(anyone)
    assert judge(dict(anyone, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    assert judge(dict(anyone, Condition={"StringEquals": {"sts:ExternalId": "x"}}))
    assert judge(dict(anyone, Condition={"StringLike": {
        "aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}))
    assert not judge(dict(anyone, Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}}))
    assert not judge(dict(anyone, Condition={"ArnLike": {
        "aws:PrincipalArn": f"arn:aws:iam::{OWN}:role/*"}}))
    assert not judge(anyone, {"Effect": "Deny", "Principal": "*", "Action": "sts:*",
                              "Condition": {"StringNotEquals": {"aws:PrincipalAccount": OWN}}})
    assert judge(anyone, {"Effect": "Deny", "Principal": "*", "Action": "sts:*", "Condition": {
        "ForAnyValue:StringNotEquals": {"aws:PrincipalOrgID": ORG}}})


# --- role trust: GitHub Actions' OIDC issuer ------------------------------------------------------
# Oracle (AWS IAM User Guide, "Configuring a role for GitHub OIDC identity provider"; GitHub,
# "Example subject claims"): every workflow on github.com gets a token from the one issuer,
# its `sub` claim "repo:OWNER/REPO:" and a context the workflow's owner chooses (branch,
# environment, pull_request), or, if the owner customises it, other claims in another order
# (text not starting "repo:"). A stranger owns any owner but octo-org (owner names compare
# case-insensitively). The role is open when some stranger's `sub` meets every test.

GITHUB_FED = {"Federated": f"arn:aws:iam::{OWN}:oidc-provider/token.actions.githubusercontent.com"}
SUB_VALUES = ["repo:octo-org/deploy:ref:refs/heads/main", "repo:octo-org/*", "repo:octo-org/*:*",
              "repo:*/deploy:*", "repo:*", "repo:octo*/x:*", "*:octo-org/*",
              "repo:Octo-Org/deploy:environment:prod", "repo:octo-org?x/*", "context:prod"]


def _github_strangers(policy: dict[str, Any]) -> list[str]:
    text = json.dumps(policy)
    subs = ["repo:stranger/x:ref:refs/heads/main", "context:prod:repo:stranger/x"]
    subs += [_fill(v) for v in SUB_VALUES if json.dumps(v) in text]
    # an owner who customises the claim's keys can have text not starting "repo:"
    subs += [v for v in SUB_VALUES if json.dumps(v) in text and not v.startswith("repo:")]
    return [s for s in subs if not s.lower().startswith("repo:octo-org/")]


def _token_admitted(policy: dict[str, Any], token: dict[str, Any]) -> bool:
    """Whether some Allow of sts:AssumeRoleWithWebIdentity admits a web-identity token whose
    claims are the request context `token`."""
    for s in policy["Statement"]:
        acts = [a.lower() for a in _values(s["Action"])]
        if s["Effect"] == "Allow" and any(fnmatch.fnmatchcase(
                "sts:assumerolewithwebidentity", a) for a in acts) \
                and _condition_holds(s.get("Condition", {}), token):
            return True
    return False


def github_oracle(policy: dict[str, Any]) -> bool:
    return any(_token_admitted(policy, {
        "token.actions.githubusercontent.com:sub": sub,
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"})
        for sub in _github_strangers(policy))


@st.composite
def github_statements(draw: st.DrawFn) -> dict[str, Any]:
    cond: dict[str, Any] = {}
    if draw(st.booleans()):
        cond["StringEquals"] = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    if draw(st.integers(0, 4)):  # one test of sub (two may contradict: not solved)
        op = draw(st.sampled_from(["StringEquals", "StringLike", "StringNotLike",
                                   "StringEqualsIgnoreCase", "StringLikeIfExists",
                                   "ForAnyValue:StringLike", "ForAllValues:StringEquals"]))
        cond.setdefault(op, {})["token.actions.githubusercontent.com:sub"] = \
            draw(_one_or_list(SUB_VALUES))
    s: dict[str, Any] = {"Effect": "Allow", "Principal": GITHUB_FED, "Action": draw(
        st.sampled_from(["sts:AssumeRoleWithWebIdentity", "sts:*", "sts:AssumeRole"]))}
    if cond:
        s["Condition"] = cond
    return s


@settings(max_examples=300, deadline=None)
@given(github_statements())
def test_github_oidc_trust_matches_the_oracle(stmt: dict[str, Any]) -> None:
    """A role trusting GitHub's issuer fails exactly when a workflow of another owner may
    assume it."""
    policy = {"Version": "2012-10-17", "Statement": [stmt]}
    why = trust_open_to_anyone(policy)
    assert (why is not None) == github_oracle(policy), why


def test_github_oidc_trust_examples() -> None:
    """The audience alone lets in every workflow on github.com; a sub naming the owner pins
    it; a wildcard owner does not."""
    def judge(cond: dict[str, Any] | None) -> str | None:
        s = {"Effect": "Allow", "Principal": GITHUB_FED,
             "Action": "sts:AssumeRoleWithWebIdentity"}
        return trust_open_to_anyone({"Statement": [dict(s, Condition=cond) if cond else s]})

    aud = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    assert "any GitHub Actions workflow" in str(judge({"StringEquals": aud}))
    assert judge({"StringEquals": aud, "StringLike": {
        "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}}) is None
    assert judge({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*/deploy:*"}})


# --- role trust: public web-identity providers shared by every app ------------------------------
# Oracle (IAM User Guide, "Available keys for AWS web identity federation"; Amazon Cognito
# Developer Guide, "Role trust and permissions"; STS AssumeRoleWithWebIdentity, RoleArn): any
# app (identity pool, OAuth client) can get tokens from these issuers for its own users. A
# stranger is a user of another app: their token's app and user claims are values the policy
# does not name (an app's or user's ID is assigned, so a name matches only its own, whatever
# the case), or whatever a wildcard in the policy lets them have; their other claims (amr)
# are what the policy asks. The role is open when some stranger's token meets every test of
# an Allow of sts:AssumeRoleWithWebIdentity for the issuer.
SHARED = {
    "cognito-identity.amazonaws.com": ["cognito-identity.amazonaws.com:aud",
                                       "cognito-identity.amazonaws.com:sub"],
    "accounts.google.com": ["accounts.google.com:aud", "accounts.google.com:oaud",
                            "accounts.google.com:sub"],
    "graph.facebook.com": ["graph.facebook.com:app_id", "graph.facebook.com:id"],
    "www.amazon.com": ["www.amazon.com:app_id", "www.amazon.com:user_id"],
}
APP_VALUES = ["us-east-1:0f1e2d3c-aaaa-bbbb-cccc-123456789012", "us-east-1:*", "*",
              "1234567890.apps.googleusercontent.com", "*.apps.googleusercontent.com",
              "amzn1.application.abc?", "APP-1", "app-1"]


def shared_oracle(policy: dict[str, Any], issuer: str) -> bool:
    text = json.dumps(policy)
    named = {v.lower() for v in APP_VALUES if json.dumps(v) in text and "*" not in v
             and "?" not in v}
    candidates = ["stranger-app"] + [_fill(v) for v in APP_VALUES if json.dumps(v) in text]
    return any(_token_admitted(policy, {**{k: value for k in SHARED[issuer]},
                                        f"{issuer}:amr": ["authenticated"]})
               for value in candidates if value.lower() not in named)


@st.composite
def shared_statements(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    issuer = draw(st.sampled_from(sorted(SHARED)))
    cond: dict[str, Any] = {}
    if draw(st.booleans()):
        cond["ForAnyValue:StringLike"] = {f"{issuer}:amr": "authenticated"}
    if draw(st.integers(0, 4)):  # one test of an app or user claim (two may contradict)
        op = draw(st.sampled_from(["StringEquals", "StringLike", "StringNotEquals",
                                   "StringEqualsIgnoreCase", "StringEqualsIfExists",
                                   "StringNotLike", "ForAnyValue:StringLike",
                                   "ForAllValues:StringEquals"]))
        key = draw(st.sampled_from(SHARED[issuer]))
        cond.setdefault(op, {})[draw(st.sampled_from([key, key.upper()]))] = \
            draw(_one_or_list(APP_VALUES))
    s: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": draw(st.sampled_from(
        [issuer, issuer.upper()]))}, "Action": draw(st.sampled_from(
            ["sts:AssumeRoleWithWebIdentity", "sts:*", "sts:AssumeRole"]))}
    if cond:
        s["Condition"] = cond
    return issuer, s


@settings(max_examples=400, deadline=None)
@given(shared_statements())
def test_shared_web_identity_trust_matches_the_oracle(case: tuple[str, dict[str, Any]]) -> None:
    """A role trusting Cognito identity pools, Google, Facebook or Login with Amazon fails
    exactly when a user of another app may assume it. (A negated test of "*" admits no token
    at all: not solved, such a role fails, the safe side.)"""
    issuer, stmt = case
    assume(not any("Not" in op and "*" in _values(v) for op, block in
                   stmt.get("Condition", {}).items() for v in block.values()))
    policy = {"Version": "2012-10-17", "Statement": [stmt]}
    why = trust_open_to_anyone(policy)
    assert (why is not None) == shared_oracle(policy, issuer), why


def test_shared_web_identity_trust_examples() -> None:
    """AWS's documented Cognito trust (a named identity pool) passes; the same without the
    pool, or with any pool of a region, fails; Google needs its audience named."""
    def judge(fed: str, cond: dict[str, Any] | None) -> str | None:
        s = {"Effect": "Allow", "Principal": {"Federated": fed},
             "Action": "sts:AssumeRoleWithWebIdentity"}
        return trust_open_to_anyone({"Statement": [dict(s, Condition=cond) if cond else s]})

    amr = {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
    pool = {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-dead-beef-1234-567890abcdef"}
    assert judge("cognito-identity.amazonaws.com", {"StringEquals": pool, **amr}) is None
    assert "any Amazon Cognito identity" in str(judge("cognito-identity.amazonaws.com", amr))
    assert judge("cognito-identity.amazonaws.com", {"StringLike": {
        "cognito-identity.amazonaws.com:aud": "us-east-1:*"}}) is not None
    assert "Google" in str(judge("accounts.google.com", None))
    assert judge("accounts.google.com", {"StringEquals": {
        "accounts.google.com:aud": "1234.apps.googleusercontent.com"}}) is None
    # an issuer the account registered itself is the account's own (STS checks its audiences)
    assert judge(f"arn:aws:iam::{OWN}:oidc-provider/oidc.example.com", None) is None
