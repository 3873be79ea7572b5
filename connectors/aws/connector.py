"""The `aws` connector: IAM, MFA, encryption, logging and change evidence with boto3."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.aws import assess as A
from connectors.aws import examples as X
from connectors.aws.accounts import Account, SessionFactory, default_factory, resolve_accounts
from connectors.aws.calls import Recorder
from connectors.aws.config import AwsConfig
from connectors.aws.policy import policy_document
from connectors.aws.run import Run
from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import ConfigError, ConnectorError, DataUnavailable, TransientError

DAY = timedelta(days=1)
_IAM_READ_PREFIXES = ("Get", "List", "Generate", "Simulate", "Describe")


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return str(t)


def _bucket_region(location: str | None) -> str:
    # GetBucketLocation answers null for us-east-1 and "EU" for the oldest eu-west-1 buckets.
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


# Buckets per ListBuckets page: AWS's maximum (1-10,000). Setting it makes the request a
# paginated one, whose answer carries each bucket's BucketRegion (S3 API Reference).
LIST_BUCKETS_PAGE = 10_000
# CloudTrail User Guide, "Getting and viewing your CloudTrail log files": CloudTrail
# "typically delivers logs within an average of about 5 minutes of an API call. This time is
# not guaranteed" (it was long documented as 15 minutes): an IAM-change window ends this long
# before now, so an event delivered late is read by the next window, not lost between two.
CLOUDTRAIL_DELIVERY = timedelta(minutes=15)


def _object_lock_impossible(bucket: dict[str, Any]) -> str | None:
    """Why a bucket cannot have Object Lock, from its versioning as read, or None (read it).

    The S3 User Guide ("Configuring S3 Object Lock"): "Before you lock any objects, you must
    enable S3 Versioning and Object Lock on a general purpose bucket", and "After you enable
    Object Lock on a bucket, you can't disable Object Lock or suspend versioning for that
    bucket." So a bucket whose versioning was read and is not Enabled (never enabled, or
    Suspended) has no Object Lock: GetObjectLockConfiguration is not called for it. When
    versioning could not be read, Object Lock is read as usual."""
    if any(u["operation"] == "s3.GetBucketVersioning" for u in bucket["unreadable"]):
        return None
    status = (bucket.get("versioning") or {}).get("Status")
    if status == "Enabled":
        return None
    return (f"versioning is {status or 'not enabled (never set)'}; Object Lock requires "
            "versioning Enabled and cannot be on while versioning is not, so "
            "GetObjectLockConfiguration was not called")


def _doc(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


EVENT_HISTORY = timedelta(days=90)  # what CloudTrail LookupEvents can list
REPORT_REGENERATION = timedelta(hours=4)  # IAM reuses a report younger than this
CLOCK_SKEW = timedelta(minutes=5)


def report_age_problem(generated: datetime | None, started: datetime,
                       now: datetime) -> str | None:
    """Why a credential report's GeneratedTime cannot be trusted for ages, or None: IAM
    regenerates a report older than 4 hours when asked, so a fresh request never gets an
    older one, and a report cannot come from the future."""
    if generated is None:
        return "has no GeneratedTime"
    if generated > now + CLOCK_SKEW:
        return f"GeneratedTime {generated.isoformat()} is after the collection ({now.isoformat()})"
    if started - generated > REPORT_REGENERATION:
        return (f"GeneratedTime {generated.isoformat()} is more than 4 hours before the "
                f"collection began ({started.isoformat()}); IAM regenerates older reports")
    return None


class AwsConnector(Connector[AwsConfig]):
    """Evidence from AWS accounts: IAM, S3, EBS, RDS, KMS, CloudTrail, Config, GuardDuty."""

    name: ClassVar[str] = "aws"
    title: ClassVar[str] = "Amazon Web Services"

    def __init__(self, instance: str, config: AwsConfig, *,
                 factory: SessionFactory | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(instance, config, factory=factory or default_factory)
        self.cfg = self.config
        self._sleep = sleep
        self._client_lock = threading.Lock()

    @classmethod
    def permission_document(cls) -> str:
        """The minimal read-only IAM policy (JSON) every snapshot together needs."""
        return policy_document(cls.permissions())

    def _run(self, ctx: SnapshotContext) -> Run:
        return Run(self.cfg, self.factory, ctx, self._client_lock)

    def check(self) -> CheckResult:
        """STS GetCallerIdentity in every account: reachable and authenticated."""
        rec = Recorder(Provenance(), self.cfg, self._client_lock)
        try:
            reached, failed = resolve_accounts(self.cfg, self.factory, rec)
        except ConnectorError as e:
            return CheckResult(False, detail=str(e))
        principal = ", ".join(sorted({a.principal for a in reached})) or None
        source = ", ".join(sorted(a.account_id for a in reached)) or None
        if failed:
            detail = "; ".join(f"{f.label}: {f.error}" for f in failed)
            return CheckResult(False, principal, source, detail)
        return CheckResult(True, principal, source, f"{len(reached)} account(s) reachable")

    # --- IAM ---------------------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.2", "CC6.3"], max_age=DAY,
              permissions=["iam:GenerateCredentialReport", "iam:GetCredentialReport",
                           "iam:GetAccountSummary"],
              assess=A.assess_credential_report, example=X.CREDENTIAL_REPORT)
    def iam_credential_report(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every IAM user's console password, MFA and access keys from AWS's own credential
        report (one report, not calls per user): proves MFA coverage and key hygiene."""
        run = self._run(ctx)

        def one(a: Account) -> dict[str, Any]:
            iam = run.client(a, "iam")
            deadline = time.monotonic() + self.cfg.credential_report_wait_seconds
            delay = 0.25
            with iam.recorder.polling():
                while True:
                    state = iam.need("GenerateCredentialReport").get("State")
                    last = f"GenerateCredentialReport answered {state}"
                    if state == "COMPLETE":
                        rep, code = iam.answer("GetCredentialReport", absent=(
                            "ReportInProgress", "ReportNotPresent", "ReportExpired"))
                        if rep is not None:
                            break
                        last = f"GenerateCredentialReport answered COMPLETE, then " \
                               f"GetCredentialReport answered {code}"
                    if time.monotonic() + delay > deadline:
                        waited = self.cfg.credential_report_wait_seconds
                        raise TransientError(
                            f"credential report for {a.account_id} not readable after "
                            f"{waited:g}s ({last})",
                            hint="AWS is still generating it; collect again later")
                    self._sleep(delay)
                    delay = min(delay * 2, 5.0)
            summary = iam.need("GetAccountSummary")["SummaryMap"]
            ctx.ipe.api_total(f"{a.account_id}:iam.users", int(summary.get("Users", 0)))
            raw = rep["Content"]
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            rows = list(csv.DictReader(io.StringIO(text)))
            root = next((r for r in rows if r.get("user") == "<root_account>"), None)
            users = sorted((r for r in rows if r.get("user") != "<root_account>"),
                           key=lambda r: r.get("arn", ""))
            generated = _iso(rep["GeneratedTime"])
            out = {"account_id": a.account_id, "generated_time": generated, "root": root,
                   "users": users, "report_problem": None}
            problem = report_age_problem(A.parse_time(generated), ctx.started_at,
                                         datetime.now(UTC))
            if problem:
                out["report_problem"] = problem
                ctx.ipe.error(f"{a.account_id}: credential report {problem}")
            return out

        accts = [r for _, r in run.each_account(one)]
        accts.sort(key=lambda x: x["account_id"])
        times = [A.parse_time(x["generated_time"]) for x in accts]
        effective = min((t for t in times if t is not None), default=None)
        content = {"accounts": accts, "unreadable": run.sorted_unreadable()}
        return SnapshotResult(content, sum(len(x["users"]) for x in accts), effective)

    @snapshot(controls=["CC6.1"], max_age=DAY, permissions=["iam:GetAccountSummary"],
              assess=A.assess_root_account, example=X.ROOT_ACCOUNT)
    def root_account(self, ctx: SnapshotContext) -> SnapshotResult:
        """Whether each account's root user has MFA and no access keys (IAM account summary):
        proves the most powerful credential is protected."""
        run = self._run(ctx)

        def one(a: Account) -> dict[str, Any]:
            s = run.client(a, "iam").need("GetAccountSummary")["SummaryMap"]
            return {"account_id": a.account_id,
                    "mfa_enabled": bool(s.get("AccountMFAEnabled")),
                    "access_keys_present": bool(s.get("AccountAccessKeysPresent")),
                    "signing_certificates_present": bool(
                        s.get("AccountSigningCertificatesPresent"))}

        accts = sorted((r for _, r in run.each_account(one)), key=lambda x: x["account_id"])
        return SnapshotResult({"accounts": accts, "unreadable": run.sorted_unreadable()},
                              len(accts))

    @snapshot(controls=["CC6.1"], max_age=DAY, permissions=["iam:GetAccountPasswordPolicy"],
              assess=A.assess_password_policy, example=X.PASSWORD_POLICY,
              vendor=["policy"])
    def password_policy(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each account's IAM password policy, or the fact that none is set: proves password
        strength requirements for console users."""
        run = self._run(ctx)

        def one(a: Account) -> dict[str, Any]:
            r = run.client(a, "iam").call("GetAccountPasswordPolicy", absent=("NoSuchEntity",))
            return {"account_id": a.account_id, "policy": r["PasswordPolicy"] if r else None}

        accts = sorted((r for _, r in run.each_account(one)), key=lambda x: x["account_id"])
        return SnapshotResult({"accounts": accts, "unreadable": run.sorted_unreadable()},
                              len(accts))

    @snapshot(controls=["CC6.1", "CC6.3"], max_age=DAY,
              permissions=["iam:GetAccountAuthorizationDetails", "iam:GetAccountSummary"],
              assess=A.assess_privileged_access, example=X.PRIVILEGED_ACCESS,
              vendor=["trust_policy"])
    def privileged_access(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every user, group and role holding administrator rights (AdministratorAccess, or a
        customer or inline policy allowing `*` on `*`, or on every resource an IAM action
        that attaches or writes a policy, such as `iam:*`), with how they got them and who may
        assume each role, and every customer-managed admin policy with its attachment count:
        the population for a privileged-access review."""
        run = self._run(ctx)

        def one(a: Account) -> dict[str, Any]:
            iam = run.client(a, "iam")
            # cut short: an entity read may hold administrator policies on pages not read
            pages, not_read = iam.listing("GetAccountAuthorizationDetails",
                                          Filter=["User", "Group", "Role", "LocalManagedPolicy"])
            users = [u for p in pages for u in p.get("UserDetailList", [])]
            groups = [g for p in pages for g in p.get("GroupDetailList", [])]
            roles = [r for p in pages for r in p.get("RoleDetailList", [])]
            local = [x for p in pages for x in p.get("Policies", [])]
            summary = iam.need("GetAccountSummary")["SummaryMap"]
            for what in ("Users", "Groups", "Roles"):
                ctx.ipe.api_total(f"{a.account_id}:iam.{what.lower()}", int(summary.get(what, 0)))
            admin = set(A.ADMIN_MANAGED_POLICIES)
            customer_admin = []
            for pol in local:
                for v in pol.get("PolicyVersionList", []):
                    if v.get("IsDefaultVersion") and A.document_is_admin(_doc(v.get("Document"))):
                        admin.add(pol["Arn"])
                        customer_admin.append({"arn": pol["Arn"], "name": pol.get("PolicyName"),
                                               "attachments": int(pol.get("AttachmentCount")
                                                                  or 0)})

            def via(attached: list[dict[str, Any]], inline: list[dict[str, Any]]) -> list[str]:
                for p in attached:  # AdministratorAccess of the account's own partition
                    if A.is_aws_admin_policy(str(p["PolicyArn"])):
                        admin.add(str(p["PolicyArn"]))
                out = [f"managed:{p['PolicyArn']}" for p in attached if p["PolicyArn"] in admin]
                out += [f"inline:{p['PolicyName']}" for p in inline
                        if A.document_is_admin(_doc(p.get("PolicyDocument")))]
                return sorted(out)

            # each customer-managed policy's default version (None: no default version read)
            local_docs = {str(pol["Arn"]): next((_doc(v.get("Document")) for v in
                                                 pol.get("PolicyVersionList", [])
                                                 if v.get("IsDefaultVersion")), None)
                          for pol in local}

            def bounded(entry: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
                """`entry` with the permissions boundary of a user or role, if it has one
                (IAM User Guide, "Permissions boundaries for IAM entities": its effective
                permissions are only those both its policies and the boundary allow). Whether
                the boundary itself grants admin, or lets its holder remove or replace it:
                known for AdministratorAccess and customer-managed policies, unknown (None)
                for other AWS managed ones."""
                b = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if not b:
                    return entry
                doc = local_docs.get(str(b))
                grants = True if b in admin or A.is_aws_admin_policy(str(b)) else \
                    None if doc is None else A.boundary_grants_admin(doc)
                return {**entry, "permissions_boundary": {"arn": b, "grants_admin": grants}}

            admin_groups: dict[str, dict[str, Any]] = {}
            for g in groups:
                v = via(g.get("AttachedManagedPolicies", []), g.get("GroupPolicyList", []))
                if v:
                    admin_groups[g["GroupName"]] = {"name": g["GroupName"], "arn": g["Arn"],
                                                    "via": v, "members": []}
            admin_users = []
            for u in users:
                v = via(u.get("AttachedManagedPolicies", []), u.get("UserPolicyList", []))
                for gname in u.get("GroupList", []):
                    if gname in admin_groups:
                        v.append(f"group:{gname}")
                        admin_groups[gname]["members"].append(u["UserName"])
                if v:
                    admin_users.append(bounded({"name": u["UserName"], "arn": u["Arn"],
                                                "via": sorted(v)}, u))
            admin_roles = []
            for r in roles:
                v = via(r.get("AttachedManagedPolicies", []), r.get("RolePolicyList", []))
                if v:
                    admin_roles.append(bounded({
                        "name": r["RoleName"], "arn": r["Arn"], "via": v,
                        "trust_policy": _doc(r.get("AssumeRolePolicyDocument"))}, r))
            for g in admin_groups.values():
                g["members"].sort()
            return {"account_id": a.account_id, "not_read_to_the_end": not_read,
                    "admin_policies": sorted(admin),
                    "customer_admin_policies": sorted(customer_admin, key=lambda p: p["arn"]),
                    "examined": {"users": len(users), "groups": len(groups), "roles": len(roles),
                                 "local_policies": len(local)},
                    "users": sorted(admin_users, key=lambda x: x["arn"]),
                    "groups": sorted(admin_groups.values(), key=lambda x: x["arn"]),
                    "roles": sorted(admin_roles, key=lambda x: x["arn"])}

        accts = sorted((r for _, r in run.each_account(one)), key=lambda x: x["account_id"])
        n = sum(len(x["users"]) + len(x["groups"]) + len(x["roles"]) for x in accts)
        return SnapshotResult({"accounts": accts, "unreadable": run.sorted_unreadable()}, n)

    # --- S3 ----------------------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.6", "CC6.7", "C1.1"], max_age=DAY,
              permissions=["s3:ListAllMyBuckets", "s3:GetBucketLocation",
                           "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock",
                           "s3:GetAccountPublicAccessBlock", "s3:GetBucketPolicy",
                           "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
                           "s3:GetBucketLogging"],
              assess=A.assess_s3_buckets, example=X.S3_BUCKETS,
              vendor=["account_public_access_block", "public_access_block", "encryption",
                      "policy", "versioning", "object_lock", "logging"])
    def s3_buckets(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every bucket's default encryption (and key), public access block (bucket and
        account), TLS-only policy, versioning, Object Lock and access logging: proves data at
        rest is encrypted and not exposed."""
        run = self._run(ctx)

        def one(a: Account) -> dict[str, Any]:
            account_pab: dict[str, Any] = {"account_public_access_block": None,
                                           "account_public_access_block_unreadable": None}

            def read_account_pab() -> None:
                try:
                    r = run.client(a, "s3control").call(
                        "GetPublicAccessBlock", AccountId=a.account_id,
                        absent=("NoSuchPublicAccessBlockConfiguration",))
                    account_pab["account_public_access_block"] = \
                        r["PublicAccessBlockConfiguration"] if r else None
                except ConnectorError as e:
                    run.fail(a.account_id, a.label, None, e)
                    account_pab["account_public_access_block_unreadable"] = e.message

            s3 = run.client(a, "s3")
            # A paginated ListBuckets (MaxBuckets set) gives each bucket's BucketRegion; a
            # bucket listed without one (an older endpoint, an S3-compatible store) is
            # located with GetBucketLocation.
            listed: dict[str, str | None] = {}
            for p in s3.pages("ListBuckets", PaginationConfig={"PageSize": LIST_BUCKETS_PAGE}):
                for b in p.get("Buckets", []):
                    listed[str(b["Name"])] = str(b["BucketRegion"]) if b.get("BucketRegion") \
                        else None
            names = sorted(listed)
            clients = {self.cfg.home_region: s3}
            lock = threading.Lock()

            def regional(region: str) -> Any:
                with lock:
                    if region not in clients:
                        clients[region] = run.client(a, "s3", region)
                    return clients[region]

            def bucket(name: str) -> dict[str, Any] | None:
                region = listed[name]
                source = "ListBuckets"
                if region is None:
                    loc, _code = s3.answer("GetBucketLocation", Bucket=name,
                                           absent=("NoSuchBucket",))
                    if loc is None:
                        return None  # deleted since we listed
                    region = _bucket_region(loc.get("LocationConstraint"))
                    source = "GetBucketLocation"
                c = regional(region)
                out: dict[str, Any] = {"name": name, "region": region, "region_source": source,
                                       "unreadable": []}

                def get(field: str, op: str, pick: Callable[[dict[str, Any]], Any],
                        absent: tuple[str, ...] = ()) -> bool:
                    """Read one setting into `out`; False when the bucket no longer exists."""
                    try:
                        r, code = c.answer(op, Bucket=name, absent=(*absent, "NoSuchBucket"))
                        if code == "NoSuchBucket":
                            return False
                        out[field] = pick(r) if r is not None else None
                    except ConnectorError as e:
                        out[field] = None
                        out["unreadable"].append({"operation": f"s3.{op}", "error": e.message})
                        run.ctx.ipe.error(f"{a.account_id}/{region}: bucket {name}: {e}")
                    return True

                ok = get("encryption", "GetBucketEncryption",
                         lambda r: r["ServerSideEncryptionConfiguration"].get("Rules", []),
                         ("ServerSideEncryptionConfigurationNotFoundError",)) \
                    and get("public_access_block", "GetPublicAccessBlock",
                            lambda r: r["PublicAccessBlockConfiguration"],
                            ("NoSuchPublicAccessBlockConfiguration",)) \
                    and get("policy", "GetBucketPolicy", lambda r: _doc(r.get("Policy")),
                            ("NoSuchBucketPolicy",)) \
                    and get("versioning", "GetBucketVersioning",
                            lambda r: {k: r[k] for k in ("Status", "MFADelete") if k in r} or None)
                if not ok:
                    return None  # deleted while we read it
                out["object_lock_not_read"] = _object_lock_impossible(out)
                if out["object_lock_not_read"] is not None:
                    out["object_lock"] = None
                elif not get("object_lock", "GetObjectLockConfiguration",
                             lambda r: r.get("ObjectLockConfiguration"),
                             ("ObjectLockConfigurationNotFoundError",)):
                    return None
                if not get("logging", "GetBucketLogging", lambda r: r.get("LoggingEnabled")):
                    return None
                return out

            def task(name: str | None) -> dict[str, Any] | None:
                if name is None:
                    read_account_pab()
                    return None
                return bucket(name)

            # The account-level setting is read on the same pool as the buckets, beside
            # them, not before the listing: it does not decide which buckets are read.
            buckets = [b for b in run.map(task, [None, *names]) if b is not None]
            return {"account_id": a.account_id, **account_pab, "buckets": buckets}

        accts = sorted((r for _, r in run.each_account(one)), key=lambda x: x["account_id"])
        return SnapshotResult({"accounts": accts, "unreadable": run.sorted_unreadable()},
                              sum(len(x["buckets"]) for x in accts))

    # --- regional posture --------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "C1.1"], max_age=DAY,
              permissions=["ec2:GetEbsEncryptionByDefault", "ec2:DescribeRegions"],
              assess=A.assess_ebs_default_encryption, example=X.EBS)
    def ebs_default_encryption(self, ctx: SnapshotContext) -> SnapshotResult:
        """Whether each region encrypts new EBS volumes by default: proves block storage is
        encrypted at rest without relying on each team remembering to."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> dict[str, Any]:
            r = run.client(a, "ec2", region).need("GetEbsEncryptionByDefault")
            return {"account_id": a.account_id, "region": region,
                    "encryption_by_default": bool(r.get("EbsEncryptionByDefault"))}

        res = run.each_region(one)
        rows = sorted((r for _, _, r in res), key=lambda x: (x["account_id"], x["region"]))
        return SnapshotResult({"regions": rows, "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(rows))

    @snapshot(controls=["CC6.1", "C1.1"], max_age=DAY,
              permissions=["rds:DescribeDBInstances", "rds:DescribeDBClusters",
                           "ec2:DescribeRegions"],
              assess=A.assess_rds_encryption, example=X.RDS)
    def rds_encryption(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every RDS instance and cluster with whether its storage is encrypted and by which
        key: proves databases are encrypted at rest."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> dict[str, list[dict[str, Any]]]:
            rds = run.client(a, "rds", region)
            inst = [{"account_id": a.account_id, "region": region,
                     "id": d["DBInstanceIdentifier"], "arn": d.get("DBInstanceArn"),
                     "engine": d.get("Engine"),
                     "storage_encrypted": bool(d.get("StorageEncrypted")),
                     "kms_key_id": d.get("KmsKeyId")}
                    for p in rds.pages("DescribeDBInstances") for d in p.get("DBInstances", [])]
            clus = [{"account_id": a.account_id, "region": region,
                     "id": d["DBClusterIdentifier"], "arn": d.get("DBClusterArn"),
                     "engine": d.get("Engine"),
                     "storage_encrypted": bool(d.get("StorageEncrypted")),
                     "kms_key_id": d.get("KmsKeyId")}
                    for p in rds.pages("DescribeDBClusters") for d in p.get("DBClusters", [])]
            return {"instances": inst, "clusters": clus}

        res = run.each_region(one)
        inst = sorted((i for _, _, r in res for i in r["instances"]), key=lambda x: str(x["arn"]))
        clus = sorted((c for _, _, r in res for c in r["clusters"]), key=lambda x: str(x["arn"]))
        return SnapshotResult({"instances": inst, "clusters": clus, "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(inst) + len(clus))

    @snapshot(controls=["CC6.1"], max_age=DAY,
              permissions=["kms:ListKeys", "kms:ListAliases", "kms:DescribeKey",
                           "kms:GetKeyRotationStatus", "ec2:DescribeRegions"],
              assess=A.assess_kms_key_rotation, example=X.KMS)
    def kms_key_rotation(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every KMS key with its manager, type, state and automatic rotation: proves customer
        keys are rotated."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> list[dict[str, Any]]:
            kms = run.client(a, "kms", region)
            # Aliases first: looking up an alias/aws/* name can create that AWS-managed key.
            aliases: dict[str, list[str]] = {}
            for p in kms.pages("ListAliases"):
                for al in p.get("Aliases", []):
                    if al.get("TargetKeyId"):
                        aliases.setdefault(str(al["TargetKeyId"]), []).append(al["AliasName"])
            ids = [str(k["KeyId"]) for p in kms.pages("ListKeys") for k in p.get("Keys", [])]
            keys = []
            for kid in ids:
                m = kms.need("DescribeKey", KeyId=kid)["KeyMetadata"]
                key = {"account_id": a.account_id, "region": region, "key_id": kid,
                       "arn": m.get("Arn"), "manager": m.get("KeyManager"),
                       "spec": m.get("KeySpec") or m.get("CustomerMasterKeySpec"),
                       "usage": m.get("KeyUsage"), "state": m.get("KeyState"),
                       "origin": m.get("Origin"), "rotation_enabled": None,
                       "rotation_unreadable": None, "aliases": sorted(aliases.get(kid, []))}
                if key["manager"] == "CUSTOMER" and key["state"] == "Enabled" and \
                        key["spec"] == "SYMMETRIC_DEFAULT":
                    try:
                        rot = kms.need("GetKeyRotationStatus", KeyId=kid)
                        key["rotation_enabled"] = bool(rot.get("KeyRotationEnabled"))
                    except ConnectorError as e:
                        key["rotation_unreadable"] = e.message
                        run.ctx.ipe.error(f"{a.account_id}/{region}: key {kid}: {e}")
                keys.append(key)
            return keys

        res = run.each_region(one)
        keys = sorted((k for _, _, r in res for k in r), key=lambda x: str(x["arn"]))
        return SnapshotResult({"keys": keys, "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(keys))

    # --- logging and monitoring --------------------------------------------------------------

    @snapshot(controls=["CC7.2", "CC7.3"], max_age=DAY,
              permissions=["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus",
                           "cloudtrail:GetEventSelectors", "ec2:DescribeRegions"],
              assess=A.assess_cloudtrail, example=X.CLOUDTRAIL,
              vendor=["event_selectors", "advanced_event_selectors"])
    def cloudtrail(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every CloudTrail trail with its coverage (multi-region, and the regions where
        DescribeTrails lists it), logging status, log file validation, encryption, CloudWatch
        integration and event selectors: proves account activity in every enabled region is
        recorded and tamper-evident."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> list[dict[str, Any]]:
            ct = run.client(a, "cloudtrail", region)
            return list(ct.need("DescribeTrails", includeShadowTrails=True).get("trailList", []))

        res = run.each_region(one)
        unique: dict[tuple[str, str], tuple[Account, dict[str, Any]]] = {}
        listed_in: dict[tuple[str, str], set[str]] = {}
        for a, region, trails in res:
            for t in trails:
                key = (a.account_id, str(t["TrailARN"]))
                unique.setdefault(key, (a, t))
                listed_in.setdefault(key, set()).add(region)

        def detail(item: tuple[Account, dict[str, Any]]) -> dict[str, Any]:
            a, t = item
            home = str(t.get("HomeRegion") or self.cfg.home_region)
            out: dict[str, Any] = {
                "account_id": a.account_id, "arn": t["TrailARN"], "name": t.get("Name"),
                "home_region": home, "multi_region": bool(t.get("IsMultiRegionTrail")),
                "organization_trail": bool(t.get("IsOrganizationTrail")),
                "log_file_validation": bool(t.get("LogFileValidationEnabled")),
                "include_global_service_events": t.get("IncludeGlobalServiceEvents"),
                "kms_key_id": t.get("KmsKeyId"),
                "cloudwatch_log_group_arn": t.get("CloudWatchLogsLogGroupArn"),
                "s3_bucket": t.get("S3BucketName"),
                "regions": sorted(listed_in[(a.account_id, str(t["TrailARN"]))]),
                "is_logging": None,
                "latest_delivery_error": None, "event_selectors": None,
                "advanced_event_selectors": None, "status_unreadable": None}
            ct = run.client(a, "cloudtrail", home)
            try:
                st = ct.need("GetTrailStatus", Name=t["TrailARN"])
                out["is_logging"] = bool(st.get("IsLogging"))
                out["latest_delivery_error"] = st.get("LatestDeliveryError") or None
                sel = ct.need("GetEventSelectors", TrailName=t["TrailARN"])
                out["event_selectors"] = sel.get("EventSelectors")
                out["advanced_event_selectors"] = sel.get("AdvancedEventSelectors")
            except ConnectorError as e:
                out["status_unreadable"] = e.message
                run.ctx.ipe.error(f"{a.account_id}/{home}: trail {t['TrailARN']}: {e}")
            return out

        trails = sorted(run.map(detail, list(unique.values())),
                        key=lambda x: (x["account_id"], str(x["arn"])))
        return SnapshotResult({"trails": trails, "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(trails))

    @snapshot(controls=["CC7.1", "CC7.2"], max_age=DAY,
              permissions=["config:DescribeConfigurationRecorders",
                           "config:DescribeConfigurationRecorderStatus",
                           "config:DescribeDeliveryChannels",
                           "config:DescribeDeliveryChannelStatus", "ec2:DescribeRegions"],
              assess=A.assess_config_recorders, example=X.CONFIG, vendor=["recording_group"])
    def config_recorders(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each region's AWS Config recorders (what they record, whether they are recording)
        and delivery channels (where they deliver, whether delivery succeeds): proves
        configuration changes are tracked and kept."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> dict[str, list[dict[str, Any]]]:
            cfg = run.client(a, "config", region)
            recs = cfg.need("DescribeConfigurationRecorders").get("ConfigurationRecorders", [])
            stats = {s["name"]: s for s in cfg.need("DescribeConfigurationRecorderStatus")
                     .get("ConfigurationRecordersStatus", [])}
            chans = cfg.need("DescribeDeliveryChannels").get("DeliveryChannels", [])
            chan_stats = {s["name"]: s for s in cfg.need("DescribeDeliveryChannelStatus")
                          .get("DeliveryChannelsStatus", [])} if chans else {}
            where = {"account_id": a.account_id, "region": region}
            recorders = [{**where, "name": r["name"], "role_arn": r.get("roleARN"),
                          "recording_group": r.get("recordingGroup"),
                          "recording": bool(stats.get(r["name"], {}).get("recording")),
                          "last_status": stats.get(r["name"], {}).get("lastStatus"),
                          "last_error_code": stats.get(r["name"], {}).get("lastErrorCode")}
                         for r in recs]
            channels = []
            for c in chans:
                st = chan_stats.get(c["name"], {})
                hist = st.get("configHistoryDeliveryInfo") or {}
                snap = st.get("configSnapshotDeliveryInfo") or {}
                channels.append({**where, "name": c["name"], "s3_bucket": c.get("s3BucketName"),
                                 "sns_topic_arn": c.get("snsTopicARN"),
                                 "history_status": hist.get("lastStatus"),
                                 "snapshot_status": snap.get("lastStatus"),
                                 "last_error_code": hist.get("lastErrorCode")
                                 or snap.get("lastErrorCode")})
            return {"recorders": recorders, "channels": channels}

        res = run.each_region(one)

        def flat(field: str) -> list[dict[str, Any]]:
            return sorted((x for _, _, r in res for x in r[field]),
                          key=lambda x: (x["account_id"], x["region"], x["name"]))

        recs = flat("recorders")
        return SnapshotResult({"recorders": recs, "delivery_channels": flat("channels"),
                               "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(recs))

    @snapshot(controls=["CC7.1", "CC7.2"], max_age=DAY,
              permissions=["guardduty:ListDetectors", "guardduty:GetDetector",
                           "ec2:DescribeRegions"],
              assess=A.assess_guardduty_detectors, example=X.GUARDDUTY)
    def guardduty_detectors(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each region's GuardDuty detectors and their status (present but disabled is told
        apart from absent): proves threat detection is on."""
        run = self._run(ctx)

        def one(a: Account, region: str) -> list[dict[str, Any]]:
            gd = run.client(a, "guardduty", region)
            ids = [d for p in gd.pages("ListDetectors") for d in p.get("DetectorIds", [])]
            out = []
            for did in sorted(ids):
                d = gd.need("GetDetector", DetectorId=did)
                out.append({"account_id": a.account_id, "region": region, "name": did,
                            "status": d.get("Status"),
                            "finding_publishing_frequency": d.get("FindingPublishingFrequency"),
                            "features": sorted(({"Name": f.get("Name"), "Status": f.get("Status")}
                                                for f in d.get("Features", [])),
                                               key=lambda f: str(f["Name"]))})
            return out

        res = run.each_region(one)
        dets = sorted((x for _, _, r in res for x in r),
                      key=lambda x: (x["account_id"], x["region"], x["name"]))
        return SnapshotResult({"detectors": dets, "scope": run.scope(res),
                               "unreadable": run.sorted_unreadable()}, len(dets))

    # --- populations -------------------------------------------------------------------------

    @snapshot(controls=["CC6.2", "CC6.3", "CC8.1"], max_age=DAY, kind="population",
              permissions=["cloudtrail:LookupEvents"], assess=A.assess_iam_change_events,
              example=X.IAM_CHANGES, lookback=timedelta(days=89), max_window=timedelta(days=7),
              items=A.iam_change_items, vendor=["request_parameters"],
              settle=CLOUDTRAIL_DELIVERY)
    def iam_change_events(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every IAM write (create, delete, attach, detach, put, update...) recorded by
        CloudTrail in [period_start, period_end): the population of access changes to sample
        and trace to approvals."""
        if ctx.period_start is None or ctx.period_end is None:
            raise ConfigError("iam_change_events is a population: it needs period_start and "
                              "period_end")
        start = ctx.period_start.astimezone(UTC)
        end = ctx.period_end.astimezone(UTC)
        now = datetime.now(UTC)
        if start < now - EVENT_HISTORY + timedelta(minutes=1):
            # LookupEvents lists only the past 90 days: the older part of the window would
            # come back empty, never as an error. No retry brings it back: the runner records
            # the span once as a permanent gap and asks again from a few minutes inside.
            floor = now - EVENT_HISTORY + timedelta(minutes=5)
            raise DataUnavailable(
                f"CloudTrail event history (LookupEvents) covers the past 90 days: IAM changes "
                f"from {start.isoformat()} to {min(floor, end).isoformat()} can no longer be "
                "listed", available_from=floor,
                hint="collect iam_change_events on a schedule (at least every 80 days), or "
                     "read older changes from the trail's S3 log files")
        run = self._run(ctx)
        home = self.cfg.home_region  # IAM is global: its events land in us-east-1's history

        def one(a: Account) -> dict[str, Any]:
            ct = run.client(a, "cloudtrail", home)
            pages = ct.pages("LookupEvents", StartTime=start, EndTime=end,
                             LookupAttributes=[{"AttributeKey": "EventSource",
                                                "AttributeValue": "iam.amazonaws.com"}],
                             PaginationConfig={"PageSize": 50})
            events = []
            for p in pages:
                for e in p.get("Events", []):
                    t = e.get("EventTime")
                    if isinstance(t, datetime) and not (start <= t.astimezone(UTC) < end):
                        continue  # LookupEvents' EndTime is inclusive; windows are half-open
                    if str(e.get("ReadOnly", "")).lower() == "true" or \
                            str(e.get("EventName", "")).startswith(_IAM_READ_PREFIXES):
                        continue
                    events.append(_event(e))
            events.sort(key=lambda x: (x["event_time"], x["event_id"]))
            return {"account_id": a.account_id, "region": home, "events": events}

        accts = sorted((r for _, r in run.each_account(one)), key=lambda x: x["account_id"])
        content = {"period_start": start.isoformat(), "period_end": end.isoformat(),
                   "accounts": accts, "unreadable": run.sorted_unreadable()}
        return SnapshotResult(content, sum(len(x["events"]) for x in accts))


def _event(e: dict[str, Any]) -> dict[str, Any]:
    """One LookupEvents event as evidence: who did what to which resource, and when."""
    raw = _doc(e.get("CloudTrailEvent")) or {}
    if not isinstance(raw, dict):
        raw = {}
    ident = raw.get("userIdentity") or {}
    return {
        "event_id": e.get("EventId"),
        "event_time": _iso(e.get("EventTime")),
        "event_name": e.get("EventName"),
        "event_source": e.get("EventSource"),
        "username": e.get("Username"),
        "user_identity": {"type": ident.get("type"), "arn": ident.get("arn"),
                          "account_id": ident.get("accountId")},
        "source_ip": raw.get("sourceIPAddress"),
        "error_code": raw.get("errorCode"),
        "resources": sorted(({"type": r.get("ResourceType"), "name": r.get("ResourceName")}
                             for r in e.get("Resources", []) or []),
                            key=lambda r: (str(r["type"]), str(r["name"]))),
        "request_parameters": raw.get("requestParameters"),
    }
