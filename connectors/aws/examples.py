"""Small, realistic sample content for each `aws` snapshot (docs, conformance tests)."""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"

CREDENTIAL_REPORT: dict[str, Any] = {
    "accounts": [{
        "account_id": ACCOUNT,
        "generated_time": "2026-03-15T08:00:00+00:00",
        "root": None,
        "users": [
            {"user": "alice", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
             "user_creation_time": "2025-01-10T09:00:00+00:00", "password_enabled": "true",
             "password_last_used": "2026-03-14T17:00:00+00:00",
             "password_last_changed": "2026-01-02T10:00:00+00:00",
             "password_next_rotation": "N/A", "mfa_active": "true",
             "access_key_1_active": "true",
             "access_key_1_last_rotated": "2026-02-01T10:00:00+00:00",
             "access_key_1_last_used_date": "2026-03-14T11:00:00+00:00",
             "access_key_1_last_used_region": "us-east-1",
             "access_key_1_last_used_service": "s3", "access_key_2_active": "false",
             "access_key_2_last_rotated": "N/A", "access_key_2_last_used_date": "N/A",
             "access_key_2_last_used_region": "N/A", "access_key_2_last_used_service": "N/A",
             "cert_1_active": "false", "cert_1_last_rotated": "N/A", "cert_2_active": "false",
             "cert_2_last_rotated": "N/A"},
            {"user": "bob", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
             "user_creation_time": "2025-06-01T09:00:00+00:00", "password_enabled": "true",
             "password_last_used": "2026-03-01T09:00:00+00:00",
             "password_last_changed": "2025-06-01T09:00:00+00:00",
             "password_next_rotation": "N/A", "mfa_active": "false",
             "access_key_1_active": "false", "access_key_1_last_rotated": "N/A",
             "access_key_1_last_used_date": "N/A", "access_key_1_last_used_region": "N/A",
             "access_key_1_last_used_service": "N/A", "access_key_2_active": "false",
             "access_key_2_last_rotated": "N/A", "access_key_2_last_used_date": "N/A",
             "access_key_2_last_used_region": "N/A", "access_key_2_last_used_service": "N/A",
             "cert_1_active": "false", "cert_1_last_rotated": "N/A", "cert_2_active": "false",
             "cert_2_last_rotated": "N/A"},
        ],
        "report_problem": None,
    }],
    "unreadable": [],
}

ROOT_ACCOUNT: dict[str, Any] = {
    "accounts": [{"account_id": ACCOUNT, "mfa_enabled": True, "access_keys_present": False,
                  "signing_certificates_present": False}],
    "unreadable": [],
}

PASSWORD_POLICY: dict[str, Any] = {
    "accounts": [{"account_id": ACCOUNT, "policy": {
        "MinimumPasswordLength": 14, "RequireSymbols": True, "RequireNumbers": True,
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True, "ExpirePasswords": False,
        "PasswordReusePrevention": 24}}],
    "unreadable": [],
}

PRIVILEGED_ACCESS: dict[str, Any] = {
    "accounts": [{
        "account_id": ACCOUNT, "not_read_to_the_end": None,
        "admin_policies": ["arn:aws:iam::aws:policy/AdministratorAccess",
                           f"arn:aws:iam::{ACCOUNT}:policy/LegacyFullAccess"],
        "customer_admin_policies": [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/LegacyFullAccess",
                                     "name": "LegacyFullAccess", "attachments": 0}],
        "examined": {"users": 42, "groups": 6, "roles": 31, "local_policies": 12},
        "users": [{"name": "alice", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                   "via": ["group:admins"]}],
        "groups": [{"name": "admins", "arn": f"arn:aws:iam::{ACCOUNT}:group/admins",
                    "via": ["managed:arn:aws:iam::aws:policy/AdministratorAccess"],
                    "members": ["alice"]}],
        "roles": [{"name": "break-glass", "arn": f"arn:aws:iam::{ACCOUNT}:role/break-glass",
                   "via": ["managed:arn:aws:iam::aws:policy/AdministratorAccess"],
                   "trust_policy": {"Version": "2012-10-17", "Statement": [{
                       "Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                       "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}}],
    }],
    "unreadable": [],
}

S3_BUCKETS: dict[str, Any] = {
    "accounts": [{
        "account_id": ACCOUNT,
        "account_public_access_block": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                        "BlockPublicPolicy": True,
                                        "RestrictPublicBuckets": True},
        "account_public_access_block_unreadable": None,
        "buckets": [{
            "name": "acme-prod-data", "region": "us-east-1",
            "encryption": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/prod-data"},
                "BucketKeyEnabled": True}],
            "public_access_block": None,
            "policy": {"Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": ["arn:aws:s3:::acme-prod-data",
                                               "arn:aws:s3:::acme-prod-data/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
            "versioning": {"Status": "Enabled", "MFADelete": "Disabled"},
            "object_lock": {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
                "Mode": "COMPLIANCE", "Days": 365}}},
            "object_lock_not_read": None,
            "logging": {"TargetBucket": "acme-access-logs", "TargetPrefix": "acme-prod-data/"},
            "region_source": "ListBuckets",
            "unreadable": [],
        }, {
            "name": "acme-scratch", "region": "eu-west-1",
            "encryption": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                            "BucketKeyEnabled": False}],
            "public_access_block": None,
            "policy": None,
            "versioning": None,
            "object_lock": None,
            "object_lock_not_read": "versioning is not enabled (never set); Object Lock "
                                    "requires versioning Enabled and cannot be on while "
                                    "versioning is not, so GetObjectLockConfiguration was "
                                    "not called",
            "logging": None,
            "region_source": "ListBuckets",
            "unreadable": [],
        }],
    }],
    "unreadable": [],
}

EBS: dict[str, Any] = {
    "regions": [{"account_id": ACCOUNT, "region": "us-east-1", "encryption_by_default": True},
                {"account_id": ACCOUNT, "region": "eu-west-1", "encryption_by_default": False}],
    "scope": [{"account_id": ACCOUNT, "region": "eu-west-1"},
              {"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

RDS: dict[str, Any] = {
    "instances": [{"account_id": ACCOUNT, "region": "us-east-1", "id": "orders-db",
                   "arn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db", "engine": "postgres",
                   "storage_encrypted": True,
                   "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222"}],
    "clusters": [{"account_id": ACCOUNT, "region": "us-east-1", "id": "events-aurora",
                  "arn": f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:events-aurora",
                  "engine": "aurora-postgresql", "storage_encrypted": False,
                  "kms_key_id": None}],
    "scope": [{"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

KMS: dict[str, Any] = {
    "keys": [{"account_id": ACCOUNT, "region": "us-east-1", "key_id": "1111-2222",
              "arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222", "manager": "CUSTOMER",
              "spec": "SYMMETRIC_DEFAULT", "usage": "ENCRYPT_DECRYPT", "state": "Enabled",
              "origin": "AWS_KMS", "rotation_enabled": True,
              "rotation_unreadable": None, "aliases": ["alias/prod-data"]}],
    "scope": [{"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

CLOUDTRAIL: dict[str, Any] = {
    "trails": [{"account_id": ACCOUNT, "arn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org",
                "name": "org", "home_region": "us-east-1", "multi_region": True,
                "organization_trail": False, "log_file_validation": True,
                "include_global_service_events": True,
                "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/3333-4444",
                "cloudwatch_log_group_arn": None, "s3_bucket": "acme-cloudtrail",
                "regions": ["us-east-1"],
                "is_logging": True, "latest_delivery_error": None,
                "event_selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                     "DataResources": [], "ExcludeManagementEventSources": []}],
                "advanced_event_selectors": None, "status_unreadable": None}],
    "scope": [{"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

CONFIG: dict[str, Any] = {
    "recorders": [{"account_id": ACCOUNT, "region": "us-east-1", "name": "default",
                   "role_arn": f"arn:aws:iam::{ACCOUNT}:role/aws-config",
                   "recording_group": {"allSupported": True,
                                       "includeGlobalResourceTypes": True},
                   "recording": True, "last_status": "SUCCESS", "last_error_code": None}],
    "delivery_channels": [{"account_id": ACCOUNT, "region": "us-east-1", "name": "default",
                           "s3_bucket": "acme-config", "sns_topic_arn": None,
                           "history_status": "Success", "snapshot_status": "Success",
                           "last_error_code": None}],
    "scope": [{"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

GUARDDUTY: dict[str, Any] = {
    "detectors": [{"account_id": ACCOUNT, "region": "us-east-1",
                   "name": "12abc34d567e8fa901bc2d34e56789f0",
                   "status": "ENABLED", "finding_publishing_frequency": "SIX_HOURS",
                   "features": [{"Name": "CLOUD_TRAIL", "Status": "ENABLED"}]}],
    "scope": [{"account_id": ACCOUNT, "region": "us-east-1"}],
    "unreadable": [],
}

IAM_CHANGES: dict[str, Any] = {
    "period_start": "2026-03-14T00:00:00+00:00",
    "period_end": "2026-03-15T00:00:00+00:00",
    "accounts": [{"account_id": ACCOUNT, "region": "us-east-1", "events": [{
        "event_id": "6f1e7c2a-1111-4a7d-9c55-0123456789ab",
        "event_time": "2026-03-14T10:22:31+00:00", "event_name": "AttachUserPolicy",
        "event_source": "iam.amazonaws.com", "username": "alice",
        "user_identity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                          "account_id": ACCOUNT},
        "source_ip": "203.0.113.10", "error_code": None,
        "resources": [{"type": "AWS::IAM::User", "name": "bob"}],
        "request_parameters": {"userName": "bob",
                               "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}]}],
    "unreadable": [],
}
