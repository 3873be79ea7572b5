"""Seed a moto server with a realistic AWS account (demo) or a large one (benchmark).

    seed_demo_account("http://127.0.0.1:5000")   # a small account with a mix of good and bad
    seed_bench("http://127.0.0.1:5000", users=2000, buckets=200, keys=20)

Both use dummy credentials and talk only to `endpoint_url`; they return what they created so
a test or a benchmark can compare verdicts against the truth.
"""

from __future__ import annotations

import json
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
_ADMIN_DOC = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
    "Action": "sts:AssumeRole"}]}
_TRUST_ANYONE = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
# GitHub Actions' OIDC issuer with the audience alone: any workflow on github.com may assume
_TRUST_GITHUB_ANY_REPO = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/"
                               "token.actions.githubusercontent.com"},
    "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud":
                                   "sts.amazonaws.com"}}}]}
# Cognito identity pools: with the pool named (aud) only that pool's users; with the amr
# claim alone users of any identity pool may assume (Amazon Cognito Developer Guide)
_COGNITO = {"Federated": "cognito-identity.amazonaws.com"}
_AMR = {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
_TRUST_COGNITO_OWN_POOL = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": _COGNITO,
    "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud":
                                   "us-east-1:12345678-dead-beef-1234-567890abcdef"}, **_AMR}}]}
_TRUST_COGNITO_ANY_POOL = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": _COGNITO,
    "Condition": _AMR}]}
_PAB_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
           "RestrictPublicBuckets": True}


@dataclass
class Seeded:
    """What a seed created, with the verdicts a correct collector must reach."""

    account_id: str = ACCOUNT_ID
    console_without_mfa: set[str] = field(default_factory=set)
    console_with_mfa: set[str] = field(default_factory=set)
    no_console: set[str] = field(default_factory=set)
    encrypted_buckets: set[str] = field(default_factory=set)
    unencrypted_buckets: set[str] = field(default_factory=set)
    public_access_blocked: set[str] = field(default_factory=set)
    rotating_keys: set[str] = field(default_factory=set)
    non_rotating_keys: set[str] = field(default_factory=set)
    admin_users: set[str] = field(default_factory=set)
    # what moto cannot produce (sign-ins, time passing), for the front's credential report
    report_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    unused_credentials: set[str] = field(default_factory=set)
    never_used_passwords: set[str] = field(default_factory=set)
    unattached_admin_policies: set[str] = field(default_factory=set)
    delivery_failures: list[tuple[str, str, str]] = field(default_factory=list)


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name=REGION)


def _clients(endpoint_url: str, workers: int = 8) -> dict[str, Any]:
    s = _session()
    cfg = Config(retries={"mode": "standard", "max_attempts": 3},
                 max_pool_connections=workers + 2)
    return {n: s.client(n, endpoint_url=endpoint_url, config=cfg)
            for n in ("iam", "s3", "kms", "cloudtrail", "ec2", "rds", "config", "guardduty")}


def _user(iam: Any, name: str, *, console: bool, mfa: bool, key: bool,
          seeded: Seeded) -> None:
    iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "engineering"}])
    if console:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-Battery-9!")
    if mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"][
            "SerialNumber"]
        iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1="123456",
                              AuthenticationCode2="654321")
    if key:
        iam.create_access_key(UserName=name)  # the secret is discarded: it is moto's dummy
    arn = f"arn:aws:iam::{seeded.account_id}:user/{name}"
    if not console:
        seeded.no_console.add(arn)
    elif mfa:
        seeded.console_with_mfa.add(arn)
    else:
        seeded.console_without_mfa.add(arn)


def _admin_policy(iam: Any) -> str:
    # AWS managed policies exist in moto only with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
    try:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        return "arn:aws:iam::aws:policy/AdministratorAccess"
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_policy(PolicyName="FullAdmin",
                                     PolicyDocument=json.dumps(_ADMIN_DOC))["Policy"]["Arn"])


def _bucket(s3: Any, name: str, *, encrypt: str | None, block: bool, versioning: bool,
            tls: bool, logging_to: str | None, seeded: Seeded, lock: bool = False,
            kms_key: str | None = None, log_target: bool = False) -> None:
    if lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=name)
    if encrypt:
        rule: dict[str, Any] = {"SSEAlgorithm": encrypt}
        if kms_key:
            rule["KMSMasterKeyID"] = kms_key
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule,
                       "BucketKeyEnabled": encrypt == "aws:kms"}]})
        seeded.encrypted_buckets.add(name)
    else:
        seeded.unencrypted_buckets.add(name)
    if block:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=_PAB_ON)
        seeded.public_access_blocked.add(name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    statements: list[dict[str, Any]] = []
    if tls:
        # {"AWS": "*"} rather than "*": moto's logging check cannot read the string form.
        statements.append({
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
            "Action": "s3:*", "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    if log_target:
        statements.append({
            "Sid": "S3ServerAccessLogs", "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{name}/*"})
    if statements:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17",
                                                             "Statement": statements}))
    if logging_to:
        s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": {
            "TargetBucket": logging_to, "TargetPrefix": f"{name}/"}})


def _key(kms: Any, alias: str, *, rotate: bool, seeded: Seeded) -> str:
    meta = kms.create_key(Description=alias, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=meta["KeyId"])
    if rotate:
        kms.enable_key_rotation(KeyId=meta["KeyId"])
        seeded.rotating_keys.add(meta["Arn"])
    else:
        seeded.non_rotating_keys.add(meta["Arn"])
    return str(meta["Arn"])


def _trail(c: dict[str, Any], bucket: str) -> None:
    c["cloudtrail"].create_trail(Name="org-trail", S3BucketName=bucket, IsMultiRegionTrail=True,
                                 EnableLogFileValidation=True, IncludeGlobalServiceEvents=True)
    c["cloudtrail"].start_logging(Name="org-trail")


def seed_demo_account(endpoint_url: str) -> Seeded:
    """A small account with a realistic mix of compliant and non-compliant settings."""
    c = _clients(endpoint_url)
    seeded = Seeded()
    iam, s3, kms = c["iam"], c["s3"], c["kms"]
    iam.update_account_password_policy(MinimumPasswordLength=8, RequireNumbers=True,
                                       RequireSymbols=False, AllowUsersToChangePassword=True)
    _user(iam, "alice", console=True, mfa=True, key=True, seeded=seeded)
    _user(iam, "bob", console=True, mfa=False, key=False, seeded=seeded)
    _user(iam, "ci-deployer", console=False, mfa=False, key=True, seeded=seeded)
    _user(iam, "dana", console=True, mfa=True, key=False, seeded=seeded)
    _user(iam, "eve", console=True, mfa=False, key=True, seeded=seeded)
    admin = _admin_policy(iam)
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=admin)
    iam.create_group(GroupName="developers")
    iam.attach_group_policy(GroupName="developers", PolicyArn=str(iam.create_policy(
        PolicyName="DeveloperRead", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}]}))
        ["Policy"]["Arn"]))
    iam.add_user_to_group(GroupName="admins", UserName="dana")
    iam.add_user_to_group(GroupName="developers", UserName="alice")
    iam.put_user_policy(UserName="eve", PolicyName="everything",
                        PolicyDocument=json.dumps(_ADMIN_DOC))
    legacy = iam.create_policy(PolicyName="LegacyFullAccess",
                               PolicyDocument=json.dumps(_ADMIN_DOC))["Policy"]["Arn"]
    seeded.unattached_admin_policies.add(str(legacy))
    iam.create_role(RoleName="break-glass", AssumeRolePolicyDocument=json.dumps(_TRUST_ACCOUNT))
    iam.attach_role_policy(RoleName="break-glass", PolicyArn=admin)
    iam.create_role(RoleName="legacy-vendor", AssumeRolePolicyDocument=json.dumps(_TRUST_ANYONE))
    iam.attach_role_policy(RoleName="legacy-vendor", PolicyArn=admin)
    iam.create_role(RoleName="ci-deploy",
                    AssumeRolePolicyDocument=json.dumps(_TRUST_GITHUB_ANY_REPO))
    iam.attach_role_policy(RoleName="ci-deploy", PolicyArn=admin)
    for role, trust in (("mobile-support", _TRUST_COGNITO_OWN_POOL),
                        ("mobile-any-pool", _TRUST_COGNITO_ANY_POOL)):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName=role, PolicyArn=admin)
    seeded.admin_users |= {f"arn:aws:iam::{ACCOUNT_ID}:user/{u}" for u in ("dana", "eve")}
    _history(seeded)

    data_key = _key(kms, "prod-data", rotate=True, seeded=seeded)
    _key(kms, "legacy-exports", rotate=False, seeded=seeded)
    _bucket(s3, "acme-access-logs", encrypt="AES256", block=True, versioning=False, tls=True,
            logging_to=None, seeded=seeded, log_target=True)
    _bucket(s3, "acme-prod-data", encrypt="aws:kms", kms_key=data_key, block=True,
            versioning=True, tls=True, logging_to="acme-access-logs", seeded=seeded)
    _bucket(s3, "acme-public-assets", encrypt=None, block=False, versioning=False, tls=False,
            logging_to=None, seeded=seeded)
    _bucket(s3, "acme-legacy-exports", encrypt=None, block=True, versioning=False, tls=False,
            logging_to="acme-access-logs", seeded=seeded)
    _bucket(s3, "acme-audit-evidence", encrypt="AES256", block=True, versioning=True, tls=True,
            logging_to="acme-access-logs", seeded=seeded, lock=True)
    _bucket(s3, "acme-cloudtrail", encrypt="AES256", block=True, versioning=True, tls=True,
            logging_to="acme-access-logs", seeded=seeded)
    s3.put_object_lock_configuration(Bucket="acme-audit-evidence", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}})
    _trail(c, "acme-cloudtrail")
    c["cloudtrail"].create_trail(Name="dev-us-only", S3BucketName="acme-cloudtrail")
    c["ec2"].enable_ebs_encryption_by_default()
    rds = c["rds"]
    rds.create_db_instance(DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro",
                           Engine="postgres", AllocatedStorage=20, MasterUsername="app",
                           MasterUserPassword="not-a-real-password-1", StorageEncrypted=True,
                           KmsKeyId=data_key)
    rds.create_db_instance(DBInstanceIdentifier="legacy-reports", DBInstanceClass="db.t3.micro",
                           Engine="mysql", AllocatedStorage=20, MasterUsername="app",
                           MasterUserPassword="not-a-real-password-2", StorageEncrypted=False)
    cfg = c["config"]
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-cloudtrail"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    c["guardduty"].create_detector(Enable=True, FindingPublishingFrequency="SIX_HOURS")
    # eu-west-1: a recorder that records but whose delivery fails (see AwsFront)
    eu = _session().client("config", region_name="eu-west-1", endpoint_url=endpoint_url)
    eu.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": False}})
    eu.put_delivery_channel(DeliveryChannel={"name": "default",
                                             "s3BucketName": "acme-config-deleted"})
    eu.start_configuration_recorder(ConfigurationRecorderName="default")
    seeded.delivery_failures.append(("eu-west-1", "default", "NoSuchBucket"))
    return seeded


def _history(seeded: Seeded) -> None:
    """Sign-ins and key use over time (moto records neither) for the demo's users."""
    now = datetime.now(UTC).replace(microsecond=0)

    def ago(days: int) -> str:
        return (now - timedelta(days=days)).isoformat()

    def arn(user: str) -> str:
        return f"arn:aws:iam::{seeded.account_id}:user/{user}"

    seeded.report_fields.update({
        arn("alice"): {"password_last_used": ago(2), "access_key_1_last_used_date": ago(1)},
        arn("bob"): {"password_last_used": ago(60)},
        arn("ci-deployer"): {"access_key_1_last_rotated": ago(120),
                             "access_key_1_last_used_date": ago(50)},
        arn("eve"): {"password_last_used": ago(1)},
    })
    seeded.unused_credentials |= {arn("bob"), arn("ci-deployer")}
    seeded.never_used_passwords.add(arn("dana"))


MEMBER_ID = "210987654321"


def seed_demo_member_account(endpoint_url: str, account_id: str = MEMBER_ID) -> Seeded:
    """A second, better-kept account reached by assuming a role: a strong password policy,
    an attached customer admin policy, Block Public Access split across account and bucket,
    a trail in eu-west-1 only, a stopped Config recorder and a disabled GuardDuty detector."""
    base = _session().client("sts", endpoint_url=endpoint_url)
    cr = base.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/seed",
                          RoleSessionName="seed")["Credentials"]
    sess = boto3.Session(aws_access_key_id=cr["AccessKeyId"],
                         aws_secret_access_key=cr["SecretAccessKey"],
                         aws_session_token=cr["SessionToken"], region_name=REGION)
    seeded = Seeded(account_id=account_id)

    def client(name: str, region: str = REGION) -> Any:
        return sess.client(name, region_name=region, endpoint_url=endpoint_url)

    iam = client("iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=16, RequireNumbers=True, RequireSymbols=True,
        RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True, MaxPasswordAge=90, PasswordReusePrevention=24)
    _user(iam, "frank", console=True, mfa=True, key=False, seeded=seeded)
    ops = iam.create_policy(PolicyName="OpsAdmin", PolicyDocument=json.dumps(_ADMIN_DOC))
    iam.create_role(RoleName="ops-admin", AssumeRolePolicyDocument=json.dumps(_TRUST_ACCOUNT))
    iam.attach_role_policy(RoleName="ops-admin", PolicyArn=ops["Policy"]["Arn"])
    seeded.report_fields[f"arn:aws:iam::{account_id}:user/frank"] = {
        "password_last_used": (datetime.now(UTC) - timedelta(days=3)).replace(
            microsecond=0).isoformat()}
    s3c = client("s3control")
    s3c.meta.events.register("before-sign.s3-control", strip_account_prefix)
    s3c.put_public_access_block(AccountId=account_id, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3 = client("s3")
    _bucket(s3, "member-reports", encrypt="AES256", block=False, versioning=True, tls=True,
            logging_to=None, seeded=seeded)
    s3.put_public_access_block(Bucket="member-reports", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    seeded.public_access_blocked.add("member-reports")
    eu_s3 = client("s3", "eu-west-1")
    eu_s3.create_bucket(Bucket="member-trail-eu", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    ct = client("cloudtrail", "eu-west-1")
    ct.create_trail(Name="eu-only", S3BucketName="member-trail-eu",
                    EnableLogFileValidation=True)
    ct.start_logging(Name="eu-only")
    cfg = client("config")
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{account_id}:role/aws-config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    client("guardduty").create_detector(Enable=False)
    return seeded


def strip_account_prefix(request: Any, **_: Any) -> None:
    """S3 Control puts the account ID in front of the host; 127.0.0.1 cannot take it."""
    parts = urllib.parse.urlsplit(request.url)
    host, _sep, rest = parts.netloc.partition(".")
    if host.isdigit() and len(host) == 12 and rest:
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=rest))


def seed_bench(endpoint_url: str, users: int = 2000, buckets: int = 200, keys: int = 20,
               workers: int = 16) -> Seeded:
    """A large account: `users` IAM users (a third console users without MFA), `buckets`
    buckets (half encrypted, two thirds with a public access block), `keys` KMS keys (half
    rotating), a password policy and one multi-region trail."""
    c = _clients(endpoint_url, workers)
    seeded = Seeded()
    iam, s3, kms = c["iam"], c["s3"], c["kms"]
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireNumbers=True,
                                       RequireSymbols=True, RequireUppercaseCharacters=True,
                                       RequireLowercaseCharacters=True)

    def user(i: int) -> None:
        kind = i % 3  # 0: console without MFA, 1: console with MFA, 2: API only
        _user(iam, f"user-{i:05d}", console=kind != 2, mfa=kind == 1, key=kind == 2,
              seeded=seeded)

    def bucket(i: int) -> None:
        _bucket(s3, f"bench-bucket-{i:04d}", encrypt="AES256" if i % 2 == 0 else None,
                block=i % 3 != 0, versioning=i % 4 == 0, tls=i % 5 == 0, logging_to=None,
                seeded=seeded)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(user, range(users)))
        list(pool.map(bucket, range(buckets)))
    for i in range(keys):
        _key(kms, f"bench-key-{i:03d}", rotate=i % 2 == 0, seeded=seeded)
    s3.create_bucket(Bucket="bench-cloudtrail")
    _trail(c, "bench-cloudtrail")
    return seeded
