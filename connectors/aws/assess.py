"""Pure verdicts over the `aws` snapshots' content: same content in, same findings out.

Every snapshot's content carries an `unreadable` list (an account, region, or one call that
failed); each entry becomes an inconclusive finding, so a part that could not be read never
counts as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.aws.policy import (
    PARTITIONS,
    covers_action,
    glob_covers_prefix,
    glob_meets_prefix,
    partition_of,
    tls_required,
    trust_open_to_anyone,
)
from connectors.base import Finding

JSON = Any
KEY_MAX_AGE = timedelta(days=90)
UNUSED_MAX = timedelta(days=45)  # CIS AWS Foundations 1.12
MIN_PASSWORD_LENGTH = 14
PASSWORD_REUSE = 24
MAX_PASSWORD_AGE_DAYS = 90
ADMIN_MANAGED_POLICIES = frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"})
# AWS's AdministratorAccess in every partition (aws, aws-cn, aws-us-gov, aws-iso, ...): its
# ARN names the partition the account is in
# IAMFullAccess allows iam:* on every resource (AWS Managed Policy Reference), with which its
# holder attaches AdministratorAccess to itself: administrator-equivalent, as statement_is_admin
# judges the same statement in a customer or inline policy.
_AWS_ADMIN_POLICY = re.compile(
    r"arn:aws(-[a-z]+)*:iam::aws:policy/(AdministratorAccess|IAMFullAccess)")


def is_aws_admin_policy(arn: str) -> bool:
    """Whether `arn` is AWS's AdministratorAccess managed policy, or IAMFullAccess (iam:* on
    every resource: administrator-equivalent), in any partition."""
    return _AWS_ADMIN_POLICY.fullmatch(arn) is not None


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 time from AWS ("2026-01-02T03:04:05+00:00" or "...Z") as aware UTC."""
    if not value or value in ("N/A", "no_information", "not_supported"):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _where(entry: Mapping[str, JSON]) -> str:
    acct = entry.get("account_id") or entry.get("account") or "unknown-account"
    return f"{acct}/{entry['region']}" if entry.get("region") else str(acct)


def unreadable_findings(content: Mapping[str, JSON]) -> list[Finding]:
    """One inconclusive finding per account, region or call that could not be read."""
    return [Finding(_where(u), "inconclusive", f"could not be read: {u.get('detail', '')}")
            for u in content.get("unreadable", [])]


def _unread_scope(content: Mapping[str, JSON]) -> set[tuple[str, str | None]]:
    return {(str(u.get("account_id")), u.get("region")) for u in content.get("unreadable", [])}


def _as_list(v: JSON) -> list[JSON]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


# --- IAM -----------------------------------------------------------------------------------

def _key_findings(arn: str, row: Mapping[str, JSON], generated: datetime) -> list[Finding]:
    out: list[Finding] = []
    for n in (1, 2):
        if row.get(f"access_key_{n}_active") != "true":
            continue
        rotated = parse_time(row.get(f"access_key_{n}_last_rotated"))
        used = parse_time(row.get(f"access_key_{n}_last_used_date"))
        if rotated is None:
            out.append(Finding(arn, "inconclusive", f"access key {n}: rotation date unknown"))
        elif rotated > generated:
            out.append(Finding(arn, "inconclusive", f"access key {n}: rotated after the report "
                               "was generated (the report is older than the key)"))
        elif generated - rotated > KEY_MAX_AGE:
            days = (generated - rotated).days
            out.append(Finding(arn, "fail", f"access key {n}: active and {days} days "
                               f"old (over {KEY_MAX_AGE.days})"))
        else:
            out.append(Finding(arn, "pass", f"access key {n}: rotated within "
                               f"{KEY_MAX_AGE.days} days"))
        # CIS 1.12: an active key unused for 45 days; never used counts from its creation
        since, what = (used, "last used") if used is not None else (rotated, "never used, created")
        if since is None:
            out.append(Finding(arn, "inconclusive", f"unused credentials: access key {n}: "
                               "no use or creation date"))
        elif since > generated:
            out.append(Finding(arn, "inconclusive", f"unused credentials: access key {n} "
                               f"{what} after the report was generated"))
        elif generated - since >= UNUSED_MAX:
            out.append(Finding(arn, "fail", f"unused credentials: access key {n} active, {what} "
                               f"{(generated - since).days} days before the report "
                               f"({UNUSED_MAX.days} or more)"))
        else:
            out.append(Finding(arn, "pass", f"unused credentials: access key {n} {what} "
                               f"{(generated - since).days} days before the report"))
    return out


def _password_findings(arn: str, row: Mapping[str, JSON], generated: datetime) -> list[Finding]:
    if row.get("password_enabled") != "true":
        return []
    used = parse_time(row.get("password_last_used"))
    if used is None:
        set_at = parse_time(row.get("password_last_changed")) or \
            parse_time(row.get("user_creation_time"))
        when = f" (set {set_at.date().isoformat()})" if set_at else ""
        return [Finding(arn, "fail", f"password never used: console password{when} has "
                        "never been used to sign in")]
    out = [Finding(arn, "pass", f"password never used: no, last used {used.date().isoformat()}")]
    if used > generated:
        out.append(Finding(arn, "inconclusive", "unused credentials: console password last "
                           "used after the report was generated"))
    elif generated - used >= UNUSED_MAX:
        out.append(Finding(arn, "fail", f"unused credentials: console password last used "
                           f"{(generated - used).days} days before the report "
                           f"({UNUSED_MAX.days} or more)"))
    else:
        out.append(Finding(arn, "pass", f"unused credentials: console password used "
                           f"{(generated - used).days} days before the report"))
    return out


# Credential-report columns that record something that already happened (IAM User Guide,
# "Getting credential reports": password_next_rotation is the only one in the future).
_PAST_COLUMNS = ("user_creation_time", "password_last_used", "password_last_changed",
                 "access_key_1_last_rotated", "access_key_1_last_used_date",
                 "access_key_2_last_rotated", "access_key_2_last_used_date",
                 "cert_1_last_rotated", "cert_2_last_rotated")
REPORT_TOLERANCE = timedelta(minutes=5)  # a sign-in while IAM was writing the report


def _latest_date_after(rows: Iterable[Mapping[str, JSON]],
                       generated: datetime) -> tuple[datetime, str] | None:
    """The latest past-event date in the report that is later than its GeneratedTime (beyond
    a few minutes), with its column and user; None when every date fits."""
    worst: tuple[datetime, str] | None = None
    for row in rows:
        for col in _PAST_COLUMNS:
            t = parse_time(row.get(col))
            if t is not None and t > generated + REPORT_TOLERANCE and \
                    (worst is None or t > worst[0]):
                worst = (t, f"{col} of {row.get('user')}")
    return worst


def assess_credential_report(content: JSON) -> list[Finding]:
    """Console users without MFA fail; active access keys older than 90 days fail; console
    passwords and active keys unused for 45 days (CIS 1.12) or never used fail; an active
    root access key fails whatever its age (CIS 1.4). Ages count
    from the report's GeneratedTime; a report that is stale, or older than a date it holds,
    is never a pass."""
    out = unreadable_findings(content)
    for acct in content.get("accounts", []):
        generated = parse_time(acct.get("generated_time"))
        where = f"arn:aws:iam::{acct.get('account_id')}:credential-report"
        if acct.get("report_problem") or generated is None:
            why = acct.get("report_problem") or "the report has no GeneratedTime"
            out.append(Finding(where, "inconclusive", f"credential report not judged: {why}"))
            continue
        rows = list(acct.get("users", []))
        if acct.get("root"):
            rows.append(acct["root"])
        ahead = _latest_date_after(rows, generated)
        if ahead is not None:
            out.append(Finding(where, "inconclusive", "credential report not judged: it holds "
                               f"{ahead[1]} {ahead[0].isoformat()}, after its GeneratedTime "
                               f"{generated.isoformat()}: the report is older than what it "
                               "describes, so no age in it can be counted; generate it again"))
            continue
        for row in rows:
            arn = str(row.get("arn") or row.get("user"))
            is_root = row.get("user") == "<root_account>"
            console = is_root or row.get("password_enabled") == "true"
            if not console:
                out.append(Finding(arn, "pass", "console MFA: no console password"))
            elif row.get("mfa_active") == "true":
                out.append(Finding(arn, "pass", "console MFA: MFA active"))
            else:
                out.append(Finding(arn, "fail", "console MFA: console password without MFA"))
            if is_root:
                # The root user must have no access keys at all (CIS AWS Foundations 1.4,
                # IAM User Guide, "Root user best practices"): an active one is never a pass,
                # however recently it was rotated or used. Its password has its own snapshot
                # (root_account).
                out.extend(Finding(arn, "fail", f"access key {n}: the root user has an active "
                                   "access key (the root user should have none: delete it)")
                           for n in (1, 2) if row.get(f"access_key_{n}_active") == "true")
                continue
            out.extend(_key_findings(arn, row, generated))
            out.extend(_password_findings(arn, row, generated))
    return out


def assess_root_account(content: JSON) -> list[Finding]:
    """The root user must have MFA and no access keys."""
    out = unreadable_findings(content)
    for acct in content.get("accounts", []):
        arn = f"arn:aws:iam::{acct['account_id']}:root"
        mfa = bool(acct.get("mfa_enabled"))
        out.append(Finding(arn, "pass" if mfa else "fail",
                           "root MFA: " + ("enabled" if mfa else "not enabled")))
        keys = acct.get("access_keys_present")
        out.append(Finding(arn, "fail" if keys else "pass",
                           "root access keys: " + ("present" if keys else "none")))
    return out


# Each rule of the account password policy, judged on its own (CIS AWS Foundations 1.8-1.9
# and the former 1.5-1.11): (finding label, policy field, test, requirement). With no policy
# set, IAM's default applies: 8 characters, no single class required, no reuse prevention,
# no expiry.
PASSWORD_RULES: tuple[tuple[str, str, Any, str], ...] = (
    ("minimum length", "MinimumPasswordLength",
     lambda v: isinstance(v, int) and v >= MIN_PASSWORD_LENGTH, f"{MIN_PASSWORD_LENGTH} or more"),
    ("reuse prevention", "PasswordReusePrevention",
     lambda v: isinstance(v, int) and v >= PASSWORD_REUSE, f"the last {PASSWORD_REUSE} remembered"),
    ("maximum age", "MaxPasswordAge",
     lambda v: isinstance(v, int) and 0 < v <= MAX_PASSWORD_AGE_DAYS,
     f"passwords expire within {MAX_PASSWORD_AGE_DAYS} days"),
    ("uppercase", "RequireUppercaseCharacters", lambda v: v is True, "required"),
    ("lowercase", "RequireLowercaseCharacters", lambda v: v is True, "required"),
    ("numbers", "RequireNumbers", lambda v: v is True, "required"),
    ("symbols", "RequireSymbols", lambda v: v is True, "required"),
)


def assess_password_policy(content: JSON) -> list[Finding]:
    """Each password-policy rule is its own finding: length 14, reuse prevention 24, maximum
    age 90 days, and each character class required; no policy at all fails every rule."""
    out = unreadable_findings(content)
    for acct in content.get("accounts", []):
        res = f"arn:aws:iam::{acct['account_id']}:account-password-policy"
        pol = acct.get("policy")
        for label, field, ok, want in PASSWORD_RULES:
            if pol is None:
                out.append(Finding(res, "fail", f"password policy {label}: no password policy "
                                   f"is set (IAM's default does not meet: {want})"))
                continue
            value = pol.get(field)
            if field == "MaxPasswordAge" and not pol.get("ExpirePasswords"):
                value = None
            shown = "not set" if value is None else value
            out.append(Finding(res, "pass" if ok(value) else "fail",
                               f"password policy {label}: {field} {shown} (needs {want})"))
    return out


def _matches_all(pattern: str, shortest: int) -> bool:
    """Whether a wildcard pattern matches every string of `shortest` characters or more: only
    `*` and at most `shortest` `?`, with at least one `*`."""
    return "*" in pattern and not set(pattern) - {"*", "?"} and pattern.count("?") <= shortest


def _all_actions(pattern: str) -> bool:
    """Whether an Action pattern matches every action, "service:Operation" (`*`, `*:*`, `?*`,
    ...; service prefixes have 2 characters or more, operation names 3 or more)."""
    p = pattern.lower()
    if p.count(":") > 1:
        return False
    if ":" in p:
        service, op = p.split(":")
        return _matches_all(service, 2) and _matches_all(op, 3)
    return _matches_all(p, 6)


def _all_resources(pattern: str) -> bool:
    """Whether a Resource pattern matches every resource, `*` itself included (the resource
    of actions without resource-level permissions)."""
    return _matches_all(pattern, 1)


def _grants_all_iam(stmt: Mapping[str, JSON]) -> bool:
    """Whether a statement's Action/NotAction covers every IAM action."""
    if "NotAction" in stmt:
        return not any(glob_meets_prefix(str(a).lower(), "iam:")
                       for a in _as_list(stmt.get("NotAction")))
    return any(glob_covers_prefix(str(a).lower(), "iam:") for a in _as_list(stmt.get("Action")))


def _on_all_resources(stmt: Mapping[str, JSON]) -> bool:
    """Whether Resource is `*`, or NotResource leaves every IAM resource in."""
    if "NotResource" in stmt:
        return not any(_all_resources(str(r)) or any(
            glob_meets_prefix(str(r), f"arn:{p}:iam::") for p in PARTITIONS)
            for r in _as_list(stmt.get("NotResource")))
    return any(_all_resources(str(r)) for r in _as_list(stmt.get("Resource")))


# IAM actions with which a principal attaches or writes any policy, or makes any version of
# one the default (IAM API Reference): holding one of them on every IAM resource, it can
# grant itself every other action.
SELF_GRANT_ACTIONS = ("iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:AttachRolePolicy",
                      "iam:PutRolePolicy", "iam:AttachGroupPolicy", "iam:PutGroupPolicy",
                      "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")


def statement_is_admin(stmt: Mapping[str, JSON]) -> bool:
    """Whether one policy statement makes its holder an administrator: it allows every action
    (`*`, `*:*`, any spelling of it) on every resource; or, however its Action, NotAction or
    NotResource is written (`iam:*`, `i*:*`, `IAM:Put*`, NotAction `ec2:*`), it allows on
    every IAM resource an action that attaches or writes a policy (SELF_GRANT_ACTIONS), with
    which its holder grants itself the rest (attaching AdministratorAccess to itself). A
    Condition narrows when, not what: a conditional admin statement is still admin (Prowler
    and CIS 1.16 judge Action and Resource alone). NotAction excluding IAM (PowerUserAccess)
    and IAM reads (`iam:Get*`) are not admin."""
    if stmt.get("Effect") != "Allow":
        return False
    if _on_all_resources(stmt) and "NotAction" not in stmt and \
            any(_all_actions(str(a)) for a in _as_list(stmt.get("Action"))):
        return True
    return (_on_all_resources(stmt) or _on_all_iam_resources(stmt)) and \
        any(covers_action(stmt, a) for a in SELF_GRANT_ACTIONS)


_IAM_ARN = re.compile(r"arn:([^:]*):iam::([^:]*):")


# The IAM resources the self-granting actions act on (IAM API Reference: users, roles,
# groups, and policies for their versions).
_IAM_TYPES = ("user/", "role/", "group/", "policy/")


def _on_all_iam_resources(stmt: Mapping[str, JSON]) -> bool:
    """Whether Resource takes in every user, role, group and policy of an account, in one
    pattern or several (`arn:aws:iam::*:*`, `arn:aws:iam::111122223333:*`, `arn:*`, or
    `...:user/*` beside `...:role/*`, `...:group/*` and `...:policy/*`): where the
    self-granting IAM actions act, whatever else it leaves out."""
    if "NotResource" in stmt:
        return False  # judged by _on_all_resources
    res = [str(x) for x in _as_list(stmt.get("Resource"))]

    def covers(r: str, kind: str) -> bool:
        m = _IAM_ARN.match(r)
        acct = m.group(2) if m and m.group(2).isdigit() else "123456789012"
        return any(glob_covers_prefix(r, f"arn:{p}:iam::{acct}:{kind}") for p in PARTITIONS)

    return all(any(covers(r, kind) for r in res) for kind in _IAM_TYPES)


def document_is_admin(doc: JSON) -> bool:
    """Whether a policy document has an administrator statement (statement_is_admin) that no
    unconditional Deny of every IAM action on every resource in the same document undoes."""
    if not isinstance(doc, Mapping):
        return False
    stmts = [s for s in _as_list(doc.get("Statement")) if isinstance(s, Mapping)]
    if any(s.get("Effect") == "Deny" and not s.get("Condition") and _grants_all_iam(s)
           and _on_all_resources(s) for s in stmts):
        return False
    return any(statement_is_admin(s) for s in stmts)


# IAM actions that take a permissions boundary off a user or role, or put another in its
# place (IAM API Reference): a boundary that allows one of them bounds nothing for an
# administrator, who may remove it.
BOUNDARY_ACTIONS = ("iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
                    "iam:PutUserPermissionsBoundary", "iam:PutRolePermissionsBoundary")


def boundary_grants_admin(doc: JSON) -> bool:
    """Whether a permissions boundary leaves an administrator its rights: it grants admin
    itself (document_is_admin), or some Allow in it lets its holder remove or replace a
    boundary (BOUNDARY_ACTIONS), on any resource, under any condition."""
    if document_is_admin(doc):
        return True
    stmts = _as_list(doc.get("Statement")) if isinstance(doc, Mapping) else []
    return any(isinstance(st, Mapping) and st.get("Effect") == "Allow"
               and any(covers_action(st, a) for a in BOUNDARY_ACTIONS) for st in stmts)


def _boundary_verdict(who: Mapping[str, JSON], failing: bool) -> Finding | None:
    """The verdict a user's or role's permissions boundary settles, or None when it has none,
    its boundary grants administrator rights too, or it is unknown whether it does and the
    entity would not fail without it (`failing`). IAM User Guide, "Permissions boundaries
    for IAM entities": the effective permissions are only those both its policies and its
    boundary allow, so administrator policies under a boundary that grants no administrator
    rights make no administrator (pass); under an AWS managed boundary whose document was not
    read, whether they do is unknown (inconclusive, never pass)."""
    pb = who.get("permissions_boundary")
    if not isinstance(pb, Mapping) or pb.get("grants_admin") is True or \
            (pb.get("grants_admin") is not False and not failing):
        return None
    via = ", ".join(str(v) for v in who.get("via", []))
    if pb.get("grants_admin") is False:
        return Finding(str(who["arn"]), "pass", f"not an administrator: its administrator "
                       f"policies ({via}) are limited by permissions boundary {pb.get('arn')}, "
                       "which grants no administrator rights and does not let it remove "
                       "or replace the boundary")
    return Finding(str(who["arn"]), "inconclusive", f"administrator policies ({via}) limited "
                   f"by permissions boundary {pb.get('arn')}, an AWS managed policy whose "
                   "document was not read: whether any administrator right is left is unknown")


def assess_privileged_access(content: JSON) -> list[Finding]:
    """Admin rights attached straight to a user, a role anyone may assume, or a
    customer-managed admin policy attached to nothing, fail."""
    out = unreadable_findings(content)
    for acct in content.get("accounts", []):
        # GetAccountAuthorizationDetails cut short: policies and users on the pages not read
        # are unknown, so no user passes as admin only through a group, and no group's
        # members are known
        cut = acct.get("not_read_to_the_end")
        for p in acct.get("customer_admin_policies", []):
            n = int(p.get("attachments") or 0)
            if n == 0:
                out.append(Finding(p["arn"], "fail", "customer-managed administrator policy "
                                   "attached to nothing: one attachment away from an "
                                   "administrator; delete it if unused"))
            else:
                out.append(Finding(p["arn"], "pass", f"customer-managed administrator policy "
                                   f"attached to {n} identities (judged with them)"))
        for u in acct.get("users", []):
            direct = [v for v in u.get("via", []) if not str(v).startswith("group:")]
            bounded = _boundary_verdict(u, bool(direct))
            if bounded is not None:
                out.append(bounded)
            elif direct:
                out.append(Finding(u["arn"], "fail", "administrator rights attached to the "
                                   f"user itself ({', '.join(direct)}), not through a group"))
            elif cut:
                out.append(Finding(u["arn"], "inconclusive", "administrator through "
                                   f"{', '.join(u.get('via', []))}; whether administrator "
                                   "policies are attached to the user itself is unknown: "
                                   f"{cut}"))
            else:
                out.append(Finding(u["arn"], "pass", "administrator through "
                                   f"{', '.join(u.get('via', []))}: confirm it is approved"))
        for g in acct.get("groups", []):
            if cut:
                out.append(Finding(g["arn"], "inconclusive", "administrator group whose "
                                   f"members are not all known: {cut}"))
                continue
            out.append(Finding(g["arn"], "pass", f"administrator group with "
                               f"{len(g.get('members', []))} members: confirm they are approved"))
        for r in acct.get("roles", []):
            why = trust_open_to_anyone(r.get("trust_policy"))
            bounded = _boundary_verdict(r, why is not None)
            if bounded is not None:
                out.append(bounded)
            elif why is not None:
                out.append(Finding(r["arn"], "fail", "administrator role that any principal "
                                   f"may assume: {why}"))
            else:
                out.append(Finding(r["arn"], "pass", "administrator role with a restricted "
                                   "trust policy: confirm it is approved"))
    return out


# --- S3 ------------------------------------------------------------------------------------

PAB_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
            "RestrictPublicBuckets")


def effective_public_access_block(account: JSON, account_unread: bool, bucket: JSON,
                                  bucket_unread: bool) -> dict[str, bool | None]:
    """Each Block Public Access setting in force for a bucket: S3 applies a setting when the
    account or the bucket turns it on (each setting on its own); None when it is off at
    the level that was read and the other level could not be read."""
    out: dict[str, bool | None] = {}
    for k in PAB_KEYS:
        levels = [(account, account_unread), (bucket, bucket_unread)]
        if any(not unread and isinstance(cfg, Mapping) and cfg.get(k) is True
               for cfg, unread in levels):
            out[k] = True
        elif account_unread or bucket_unread:
            out[k] = None
        else:
            out[k] = False
    return out


def _pab_finding(res: str, account: JSON, account_unread: bool, bucket: JSON,
                 bucket_unread: bool) -> Finding:
    eff = effective_public_access_block(account, account_unread, bucket, bucket_unread)
    off = [k for k, v in eff.items() if v is False]
    unknown = [k for k, v in eff.items() if v is None]
    if off:
        return Finding(res, "fail", "public access block: " + ", ".join(off)
                       + " off at both the account and the bucket")
    if unknown:
        return Finding(res, "inconclusive", "public access block: could not be read for "
                       + ", ".join(unknown))

    def where(k: str) -> str:
        lv = [n for n, c in (("account", account), ("bucket", bucket))
              if isinstance(c, Mapping) and c.get(k) is True]
        return f"{k} ({' and '.join(lv)})"
    return Finding(res, "pass", "public access block: all four settings in force: "
                   + ", ".join(where(k) for k in PAB_KEYS))


def assess_s3_buckets(content: JSON) -> list[Finding]:
    """Each bucket: default encryption, public access blocked (account and bucket settings
    combined), TLS required, versioning, Object Lock (mode and retention), access logging."""
    out = unreadable_findings(content)
    for acct in content.get("accounts", []):
        acct_pab = acct.get("account_public_access_block")
        acct_pab_unread = acct.get("account_public_access_block_unreadable")
        for b in acct.get("buckets", []):
            res = f"arn:aws:s3:::{b['name']}"
            unread = {str(u.get("operation")): str(u.get("error")) for u in
                      b.get("unreadable", [])}

            def check(name: str, op: str, ok: bool, good: str, bad: str,
                      res: str = res, unread: dict[str, str] = unread) -> None:
                if op in unread:
                    out.append(Finding(res, "inconclusive", f"{name}: {op} failed ({unread[op]})"))
                else:
                    out.append(Finding(res, "pass" if ok else "fail", f"{name}: "
                                       + (good if ok else bad)))

            rules = b.get("encryption") or []
            algos = sorted({str(r.get("ApplyServerSideEncryptionByDefault", {})
                                .get("SSEAlgorithm")) for r in rules})
            check("default encryption", "s3.GetBucketEncryption", bool(rules),
                  ", ".join(algos), "no default encryption")
            out.append(_pab_finding(res, acct_pab, bool(acct_pab_unread),
                                    b.get("public_access_block"),
                                    "s3.GetPublicAccessBlock" in unread))
            tls_ok, tls_why = tls_required(b.get("policy"), str(b["name"]),
                                           partition_of(b.get("region")))
            check("TLS required", "s3.GetBucketPolicy", tls_ok, tls_why, tls_why)
            status = (b.get("versioning") or {}).get("Status")
            check("versioning", "s3.GetBucketVersioning", status == "Enabled", "enabled",
                  f"{(status or 'never enabled').lower()}")
            lock = b.get("object_lock") or {}
            retention = (lock.get("Rule") or {}).get("DefaultRetention") or {}
            period = " ".join(f"{retention[k]} {k.lower()}" for k in ("Days", "Years")
                              if retention.get(k))
            check("object lock", "s3.GetObjectLockConfiguration",
                  lock.get("ObjectLockEnabled") == "Enabled",
                  f"enabled, default retention {retention.get('Mode')} {period}" if retention
                  else "enabled, no default retention (objects are locked only when a "
                  "request sets a retention)",
                  "not enabled" + (" (versioning is not enabled, which Object Lock requires)"
                                   if b.get("object_lock_not_read") else ""))
            logging_cfg = b.get("logging")
            check("access logging", "s3.GetBucketLogging", bool(logging_cfg),
                  f"to {(logging_cfg or {}).get('TargetBucket')}", "disabled")
    return out


# --- regional posture ------------------------------------------------------------------------

Scoped = dict[tuple[str, str], list[Mapping[str, JSON]]]


def _by_scope(items: Iterable[Mapping[str, JSON]]) -> Scoped:
    out: Scoped = {}
    for it in items:
        out.setdefault((str(it["account_id"]), str(it["region"])), []).append(it)
    return out


def assess_ebs_default_encryption(content: JSON) -> list[Finding]:
    """Each region must encrypt new EBS volumes by default."""
    out = unreadable_findings(content)
    for r in content.get("regions", []):
        on = bool(r.get("encryption_by_default"))
        out.append(Finding(f"{r['account_id']}/{r['region']}", "pass" if on else "fail",
                           "EBS encryption by default " + ("enabled" if on else "disabled")))
    return out


def assess_rds_encryption(content: JSON) -> list[Finding]:
    """Each RDS instance and cluster must have encrypted storage."""
    out = unreadable_findings(content)
    for kind in ("instances", "clusters"):
        for db in content.get(kind, []):
            on = bool(db.get("storage_encrypted"))
            out.append(Finding(str(db["arn"]), "pass" if on else "fail",
                               "storage encrypted" + (f" with {db.get('kms_key_id')}"
                                                      if on else ": no")))
    return out


def assess_kms_key_rotation(content: JSON) -> list[Finding]:
    """Enabled customer-managed symmetric keys must rotate automatically."""
    out = unreadable_findings(content)
    for k in content.get("keys", []):
        if k.get("manager") != "CUSTOMER" or k.get("state") != "Enabled" or \
                k.get("spec") != "SYMMETRIC_DEFAULT":
            continue
        if any(str(a).startswith("alias/aws/") for a in k.get("aliases", [])):
            continue  # AWS-managed (AWS rotates it), whatever KeyManager claims
        rot = k.get("rotation_enabled")
        origin = str(k.get("origin") or "AWS_KMS")
        if origin != "AWS_KMS":
            # AWS KMS: keys with imported key material or in a custom key store cannot
            # rotate automatically; their rotation status is always false.
            out.append(Finding(str(k["arn"]), "fail", f"automatic rotation unavailable: key "
                               f"material of origin {origin} (imported or in a custom key "
                               "store) never rotates automatically; rotate it by hand"))
        elif rot is None:
            why = k.get("rotation_unreadable")
            out.append(Finding(str(k["arn"]), "inconclusive", "rotation status not read"
                               + (f": {why}" if why else "")))
        else:
            out.append(Finding(str(k["arn"]), "pass" if rot else "fail",
                               "automatic rotation " + ("enabled" if rot else "disabled")))
    return out


# Management events a trail must log, as sample events: (readOnly, eventSource). CloudTrail logs
# an event when it matches any of the trail's selectors (CloudTrail API Reference,
# EventSelector and AdvancedEventSelector); management selectors can filter on readOnly and
# exclude event sources (kms.amazonaws.com and rdsdata.amazonaws.com today), so every
# combination of a read and a write event with those sources and ordinary ones is checked.
MANAGEMENT_SOURCES = ("kms.amazonaws.com", "rdsdata.amazonaws.com", "iam.amazonaws.com",
                      "sts.amazonaws.com", "signin.amazonaws.com", "s3.amazonaws.com",
                      "ec2.amazonaws.com", "cloudtrail.amazonaws.com", "config.amazonaws.com",
                      "guardduty.amazonaws.com", "organizations.amazonaws.com",
                      "lambda.amazonaws.com", "logs.amazonaws.com")
_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "Equals": lambda v, x: v == x, "StartsWith": lambda v, x: v.startswith(x),
    "EndsWith": lambda v, x: v.endswith(x)}
_NEGATIVE = {"NotEquals": "Equals", "NotStartsWith": "StartsWith", "NotEndsWith": "EndsWith"}


def _field_matches(sel: Mapping[str, JSON], value: str | None) -> bool:
    """One advanced field selector against an event's field value: any value of a positive
    operator must match, no value of a negative one may; every operator given must hold."""
    if value is None:
        return False  # a field management events do not have (resources.type, ...)
    for op, test in _POSITIVE.items():
        if op in sel and not any(test(value, str(x)) for x in _as_list(sel[op])):
            return False
    for op, pos in _NEGATIVE.items():
        if op in sel and any(_POSITIVE[pos](value, str(x)) for x in _as_list(sel[op])):
            return False
    return True


def _advanced_logs(sel: Mapping[str, JSON], read_only: bool, source: str) -> bool:
    event = {"eventCategory": "Management", "readOnly": "true" if read_only else "false",
             "eventSource": source}
    fields = [f for f in _as_list(sel.get("FieldSelectors")) if isinstance(f, Mapping)]
    return bool(fields) and all(_field_matches(f, event.get(str(f.get("Field"))))
                                for f in fields)


def _classic_logs(sel: Mapping[str, JSON], read_only: bool, source: str) -> bool:
    rw = sel.get("ReadWriteType", "All")  # documented defaults: All, management events on
    return bool(sel.get("IncludeManagementEvents", True)) and \
        rw in ("All", "ReadOnly" if read_only else "WriteOnly") and \
        source not in _as_list(sel.get("ExcludeManagementEventSources"))


def _management_missed_set(trail: Mapping[str, JSON]) -> set[tuple[bool, str]]:
    """The (read-only?, event source) sample management events a trail does not log."""
    adv = [s for s in _as_list(trail.get("advanced_event_selectors")) if isinstance(s, Mapping)]
    classic = [s for s in _as_list(trail.get("event_selectors")) if isinstance(s, Mapping)]
    if not adv and not classic:
        return set()
    sels, logs = (adv, _advanced_logs) if adv else (classic, _classic_logs)
    return {(ro, src) for ro in (True, False) for src in MANAGEMENT_SOURCES
            if not any(logs(s, ro, src) for s in sels)}


def _describe_missed(missed: set[tuple[bool, str]]) -> list[str]:
    if not missed:
        return []
    out = []
    whole = [ro for ro in (True, False) if all((ro, s) in missed for s in MANAGEMENT_SOURCES)]
    out += [f"{'read' if ro else 'write'} management events" for ro in whole]
    for src in MANAGEMENT_SOURCES:
        kinds = [("read" if ro else "write") for ro in (True, False)
                 if ro not in whole and (ro, src) in missed]
        if kinds:
            out.append(f"{'/'.join(kinds)} management events from {src}")
    return out


def management_events_missed(trail: Mapping[str, JSON]) -> list[str]:
    """Which management events a trail's selectors do not log (empty: it logs them all, read
    and write, from every source). No selectors at all is CloudTrail's default: all
    management events."""
    return _describe_missed(_management_missed_set(trail))


def logs_management_events(trail: Mapping[str, JSON]) -> bool:
    """Whether a trail's selectors log every management event, read and write."""
    return not management_events_missed(trail)


def _trail_problems(t: Mapping[str, JSON]) -> list[str]:
    problems = []
    if not t.get("is_logging"):
        problems.append("not logging")
    if t.get("latest_delivery_error"):
        # GetTrailStatus: the S3 error CloudTrail met delivering log files to the bucket
        # (a problem with the bucket, never a timeout): the logs may not be reaching it.
        # LatestDeliveryTime is not kept: it moves with every delivery, so an unchanged
        # trail would never store the same content twice.
        problems.append(f"failing to deliver log files to S3 ({t['latest_delivery_error']})")
    missed = management_events_missed(t)
    if missed:
        problems.append("not logging " + "; ".join(missed))
    return problems


def trail_covers(t: Mapping[str, JSON], account_id: str, region: str) -> bool:
    """Whether a trail applies to `region` of `account_id`: listed there by DescribeTrails
    (which shows the trails that apply to a region, shadow trails included), or multi-region,
    or single-region in that home region."""
    if str(t.get("account_id")) != account_id:
        return False
    return region in (t.get("regions") or []) or bool(t.get("multi_region")) or \
        t.get("home_region") == region


def assess_cloudtrail(content: JSON) -> list[Finding]:
    """Each account needs a logging multi-region trail with management events and validation,
    and each enabled region a logging trail that covers it."""
    out = unreadable_findings(content)
    unread = _unread_scope(content)
    good: set[str] = set()
    trails = content.get("trails", [])
    for t in trails:
        arn = str(t["arn"])
        problems = _trail_problems(t)
        if not t.get("multi_region"):
            problems.insert(0, "single-region")
        if not t.get("log_file_validation"):
            problems.append("log file validation off")
        if t.get("include_global_service_events") is False:
            # CloudTrail User Guide, "Global service events": IAM, STS and CloudFront
            # events reach only trails that include them (AWS refuses a multi-region trail
            # without them; a stand-in may not)
            problems.append("not logging global service events (IAM, STS, CloudFront)")
        if t.get("status_unreadable"):
            out.append(Finding(arn, "inconclusive", f"status could not be read: "
                               f"{t['status_unreadable']}"))
            continue
        if problems:
            out.append(Finding(arn, "fail", "trail is " + ", ".join(problems)))
        else:
            out.append(Finding(arn, "pass", "multi-region, logging, validated, management events"))
            good.add(str(t["account_id"]))
    for acct in sorted({str(s["account_id"]) for s in content.get("scope", [])}):
        # a multi-region, validated trail whose status or selectors could not be read may
        # be the account's logging trail: never judged absent
        unsure = sorted(str(t.get("name") or t["arn"]) for t in trails
                        if str(t.get("account_id")) == acct and t.get("status_unreadable")
                        and t.get("multi_region") and t.get("log_file_validation")
                        and t.get("include_global_service_events") is not False)
        if acct in good:
            out.append(Finding(acct, "pass", "account has a multi-region logging trail"))
        elif unsure:
            out.append(Finding(acct, "inconclusive", "no multi-region logging trail found "
                               "among the trails read; the status of trail(s) "
                               f"{', '.join(unsure)} could not be read"))
        elif any(a == acct for a, _ in unread):
            out.append(Finding(acct, "inconclusive", "no multi-region logging trail found, "
                               "but some regions could not be read"))
        else:
            out.append(Finding(acct, "fail", "no multi-region logging trail"))
    for sc in content.get("scope", []):
        acct, region = str(sc["account_id"]), str(sc["region"])
        res = f"{acct}/{region}"
        covering = [t for t in trails if trail_covers(t, acct, region)]
        logging_ = [t for t in covering if not t.get("status_unreadable")
                    and not _trail_problems(t)]
        # Trails that are logging and delivering but each log only part of the management
        # events (one read, another write): CloudTrail records an event in the region when
        # any trail's selectors match it, so together they may log everything.
        healthy = [t for t in covering if not t.get("status_unreadable")
                   and t.get("is_logging") and not t.get("latest_delivery_error")]
        together = not logging_ and len(healthy) > 1 and not set.intersection(
            *(_management_missed_set(t) for t in healthy))
        if logging_:
            out.append(Finding(res, "pass", "region coverage: logged by "
                               + ", ".join(sorted(str(t.get("name")) for t in logging_))))
        elif together:
            out.append(Finding(res, "pass", "region coverage: management events logged by "
                               + ", ".join(sorted(str(t.get("name")) for t in healthy))
                               + " together (each logs part of them)"))
        elif any(t.get("status_unreadable") for t in covering):
            out.append(Finding(res, "inconclusive", "region coverage: a trail covering it "
                               "could not be read"))
        elif covering:
            out.append(Finding(res, "fail", "region coverage: no covering trail logs "
                               "management events (" + "; ".join(
                                   f"{t.get('name')}: {', '.join(_trail_problems(t))}"
                                   for t in covering) + ")"))
        else:
            out.append(Finding(res, "fail", "region coverage: no trail covers this region"))
    return out


def _per_region(content: JSON, judge: Any) -> list[Finding]:
    """`judge(account_id, region)` -> (status, reason) for every (account, region) read."""
    out = unreadable_findings(content)
    for sc in content.get("scope", []):
        acct, region = str(sc["account_id"]), str(sc["region"])
        status, reason = judge(acct, region)
        out.append(Finding(f"{acct}/{region}", status, reason))
    return out


def _names(items: Iterable[Mapping[str, JSON]]) -> str:
    return ", ".join(sorted(str(i.get("name")) for i in items))


def _recording_strategy(group: Mapping[str, JSON]) -> tuple[str, list[str]]:
    """A recording group's strategy (AWS Config API Reference, RecordingGroup): ("ALL", []) for
    every supported type (allSupported), ("EXCLUSION", types excluded), or ("INCLUSION",
    types recorded)."""
    strategy = str((group.get("recordingStrategy") or {}).get("useOnly") or "")
    if group.get("allSupported") is True and strategy in ("", "ALL_SUPPORTED_RESOURCE_TYPES"):
        return "ALL", []
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        return "EXCLUSION", sorted(str(t) for t in _as_list(
            (group.get("exclusionByResourceTypes") or {}).get("resourceTypes")))
    return "INCLUSION", sorted(str(t) for t in _as_list(group.get("resourceTypes")))


def recording_gaps(group: JSON) -> str | None:
    """What a recorder's recording group leaves out, or None when it records every supported
    resource type (AWS Config API Reference, RecordingGroup: allSupported, or the
    EXCLUSION_BY_RESOURCE_TYPES strategy with nothing excluded). CIS AWS Foundations 3.3 asks
    for allSupported; a recorder that records some types, or none, is not enough."""
    if not isinstance(group, Mapping):
        return "no recording group was returned"
    strategy, types = _recording_strategy(group)
    if strategy == "ALL":
        return None
    if strategy == "EXCLUSION":
        return None if not types else f"excludes {', '.join(types)}"
    if not types:
        return "records no resource types"
    shown = ", ".join(types[:5]) + (f" and {len(types) - 5} more" if len(types) > 5 else "")
    return f"records only {shown}, not all supported resource types"


# The global IAM resource types, and the Regions where AWS Config cannot record them (those
# it reached after February 2022; AWS Config Developer Guide, "Recording AWS Resources",
# global resources, and each managed rule on global IAM types lists them as not supported).
IAM_GLOBAL_TYPES = ("AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Role", "AWS::IAM::Policy")
CONFIG_NO_GLOBAL_IAM_REGIONS = frozenset({
    "me-central-1", "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
    "eu-south-2", "eu-central-2", "il-central-1", "ca-west-1", "mx-central-1", "ap-east-2"})


def records_global_iam(group: JSON) -> bool:
    """Whether a recording group records the global IAM resource types (AWS Config API
    Reference, RecordingGroup): all supported types with includeGlobalResourceTypes, or the
    exclusion strategy not excluding them, or an inclusion list naming all four."""
    if not isinstance(group, Mapping):
        return False
    strategy, types = _recording_strategy(group)
    if strategy == "ALL":
        return group.get("includeGlobalResourceTypes") is True
    if strategy == "EXCLUSION":
        return not set(types) & set(IAM_GLOBAL_TYPES)
    return set(IAM_GLOBAL_TYPES) <= set(types)


def assess_config_recorders(content: JSON) -> list[Finding]:
    """Each region needs an AWS Config recorder that is recording every supported resource
    type and a delivery channel that has delivered, without failing; a recorder present but
    stopped is its own failing reason. Each account needs one such region whose recorder also
    records the global IAM resource types (CIS AWS Foundations: AWS Config in all regions,
    global resources in at least one), else IAM changes are recorded nowhere."""
    recs = _by_scope(content.get("recorders", []))
    chans = _by_scope(content.get("delivery_channels", []))

    def judge(acct: str, region: str) -> tuple[str, str]:
        r = recs.get((acct, region), [])
        c = chans.get((acct, region), [])
        if not r:
            return "fail", "no AWS Config recorder"
        on = [x for x in r if x.get("recording") is True]
        if not on:
            return "fail", f"AWS Config recorder {_names(r)} present but not recording"
        broken = [x for x in on if str(x.get("last_status") or "").lower() == "failure"]
        if broken:
            return "fail", (f"AWS Config recorder {_names(broken)} recording but failing "
                            f"({', '.join(str(x.get('last_error_code')) for x in broken)})")
        complete = [x for x in on if recording_gaps(x.get("recording_group")) is None]
        if not complete:
            return "fail", (f"AWS Config recorder {_names(on)} does not record every resource "
                            "type: " + "; ".join(f"{x.get('name')} "
                                                 f"{recording_gaps(x.get('recording_group'))}"
                                                 for x in on))
        if not c:
            return "fail", (f"AWS Config recorder {_names(on)} recording but no delivery "
                            "channel: nothing is delivered")
        failing = [x for x in c if "failure" in (str(x.get("history_status") or "").lower(),
                                                  str(x.get("snapshot_status") or "").lower())]
        if failing:
            codes = ", ".join(str(x.get("last_error_code")) for x in failing)
            return "fail", (f"AWS Config delivery channel {_names(failing)} failing to "
                            f"deliver ({codes})")
        delivered = [x for x in c if str(x.get("history_status") or "").lower() == "success"]
        if not delivered:
            return "fail", (f"AWS Config delivery channel {_names(c)} has not delivered "
                            "configuration history (last status: " + ", ".join(
                                str(x.get("history_status") or "none reported") for x in c)
                            + ")")
        return "pass", (f"AWS Config recorder {_names(complete)} recording every resource "
                        f"type, delivering via {_names(delivered)}")

    verdicts = {(str(sc["account_id"]), str(sc["region"])): judge(str(sc["account_id"]),
                                                                   str(sc["region"]))
                for sc in content.get("scope", [])}
    out = _per_region(content, lambda acct, region: verdicts[(acct, region)])
    unread_scope = _unread_scope(content)
    for acct in sorted({a for a, _ in verdicts}):
        # (region, recorder) recording the global IAM types in a region that passes
        good = sorted((r, str(x.get("name"))) for (a, r), (status, _) in verdicts.items()
                      if a == acct and status == "pass" for x in recs.get((a, r), [])
                      if x.get("recording") is True
                      and records_global_iam(x.get("recording_group")))
        able = [f"{r} ({n})" for r, n in good if r not in CONFIG_NO_GLOBAL_IAM_REGIONS]
        # a region that could not be read may be the one recording them
        unread = sorted(str(r) for a, r in unread_scope if a == acct and r is not None
                        and r not in CONFIG_NO_GLOBAL_IAM_REGIONS)
        if able:
            out.append(Finding(f"{acct}/global-iam", "pass", "global IAM resource types "
                               f"(users, groups, roles, policies) recorded in {', '.join(able)}"))
        elif unread:
            out.append(Finding(f"{acct}/global-iam", "inconclusive", "no region read records "
                               "and delivers the global IAM resource types; "
                               f"{', '.join(unread)} could not be read and may"))
        elif good:
            out.append(Finding(f"{acct}/global-iam", "fail", "global IAM resource types are "
                               f"recorded only in {', '.join(f'{r} ({n})' for r, n in good)}, "
                               "where AWS Config cannot record them (Regions it reached after "
                               "February 2022): IAM changes are recorded nowhere"))
        else:
            out.append(Finding(f"{acct}/global-iam", "fail", "no region whose AWS Config "
                               "recorder records and delivers records the global IAM resource "
                               "types (includeGlobalResourceTypes): IAM changes are recorded "
                               "nowhere"))
    return out


def assess_guardduty_detectors(content: JSON) -> list[Finding]:
    """Each region needs an enabled GuardDuty detector; one present but disabled is its own
    failing reason."""
    dets = _by_scope(content.get("detectors", []))

    def judge(acct: str, region: str) -> tuple[str, str]:
        d = dets.get((acct, region), [])
        on = [x for x in d if x.get("status") == "ENABLED"]
        if on:
            return "pass", f"enabled GuardDuty detector: {_names(on)}"
        if d:
            return "fail", f"GuardDuty detector {_names(d)} present but disabled"
        return "fail", "no GuardDuty detector"

    return _per_region(content, judge)


# --- populations ------------------------------------------------------------------------------

def iam_change_items(content: JSON) -> list[dict[str, JSON]]:
    """Each IAM change event is one population item (id = account:event ID)."""
    out: list[dict[str, JSON]] = []
    for acct in content.get("accounts", []):
        for e in acct.get("events", []):
            out.append({"id": f"{acct.get('account_id')}:{e.get('event_id')}",
                        "time": e.get("event_time"), "account_id": acct.get("account_id"),
                        "event_name": e.get("event_name"), "username": e.get("username"),
                        "error_code": e.get("error_code")})
    return out


def assess_iam_change_events(content: JSON) -> list[Finding]:
    """IAM changes made by the root user fail; an unread window is inconclusive."""
    out = unreadable_findings(content)
    total = 0
    for acct in content.get("accounts", []):
        for ev in acct.get("events", []):
            total += 1
            if (ev.get("user_identity") or {}).get("type") == "Root":
                out.append(Finding(f"{acct['account_id']}/{ev['event_id']}", "fail",
                                   f"{ev['event_name']} made by the root user"))
    if not content.get("unreadable"):
        out.append(Finding("window", "pass", f"{total} IAM changes collected in "
                           f"[{content.get('period_start')}, {content.get('period_end')})"))
    return out
