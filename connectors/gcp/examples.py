"""Small example contents of each `gcp` snapshot: documentation, the registry's purity checks
and, through schema inference, the shape real content must keep (so each list shows every
variant an item can take: readable and unreadable, with and without optional parts)."""

from __future__ import annotations

from typing import Any

_ORG = "organizations/100000000001"
_FOLDER = "folders/200000000001"
_LOCKED = "folders/200000000002"
_COND = {"title": "until-2027", "description": None,
         "expression": "request.time < timestamp('2027-01-01T00:00:00Z')"}
_KEY = {"id": "k1", "key_type": "USER_MANAGED", "valid_after": "2026-01-02T00:00:00Z",
        "valid_before": "9999-12-31T23:59:59Z", "disabled": False, "origin": "GOOGLE_PROVIDED"}

IAM_POLICIES: dict[str, Any] = {
    "evaluated_on": "2026-11-30",
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "settings": {"allowed_domains": ["example.com"], "allowed_members": [],
                 "basic_role_members": ["group:gcp-admins@example.com"],
                 "max_key_age_days": 90},
    "known_projects": ["300000000001", "300000000002", "app-prod", "data-prod"],
    "nodes": [
        {"name": _ORG, "kind": "organization", "display_name": "example.com", "parent": None,
         "policy": {"version": 1, "bindings": [
             {"role": "roles/owner", "members": ["group:gcp-admins@example.com"],
              "condition": None}]},
         "unreadable": None},
        {"name": _FOLDER, "kind": "folder", "display_name": "production", "parent": _ORG,
         "policy": {"version": 3, "bindings": [
             {"role": "roles/editor", "members": ["user:contractor@gmail.com"],
              "condition": _COND}]},
         "unreadable": None},
        {"name": _LOCKED, "kind": "folder", "display_name": None, "parent": _ORG,
         "policy": None, "unreadable": "The caller does not have permission"}],
    "projects": [
        {"name": "projects/300000000001", "project_id": "app-prod", "parent": _FOLDER,
         "ancestors": [_FOLDER, _ORG], "ancestry_incomplete": False,
         "policy": {"version": 1, "bindings": [
             {"role": "roles/viewer", "members": ["group:eng@example.com"],
              "condition": None}]},
         "unreadable": None, "basic_role_grants": [
             "roles/owner group:gcp-admins@example.com (inherited from organizations/"
             "100000000001)"],
         "external_grants": [
             "roles/editor user:contractor@gmail.com (inherited from folders/200000000001, "
             "if 'until-2027')"],
         "service_accounts": [
             {"email": "ci@app-prod.iam.gserviceaccount.com", "disabled": False,
              "keys": [_KEY], "keys_unreadable": None},
             {"email": "etl@app-prod.iam.gserviceaccount.com", "disabled": False,
              "keys": None, "keys_unreadable": "The caller does not have permission"}],
         "service_accounts_unreadable": None},
        {"name": "projects/300000000002", "project_id": "data-prod", "parent": _LOCKED,
         "ancestors": [_LOCKED, _ORG], "ancestry_incomplete": False, "policy": None,
         "unreadable": "The caller does not have permission", "basic_role_grants": [],
         "external_grants": [], "service_accounts": None,
         "service_accounts_unreadable": "The caller does not have permission"}],
    "unreadable": [{"resource": "projects/300000000002", "error": "PermissionDenied",
                    "detail": "The caller does not have permission"}],
}

_ALL = [{"logType": "ADMIN_READ", "exemptedMembers": []},
        {"logType": "DATA_READ", "exemptedMembers": ["user:etl@example.com"]},
        {"logType": "DATA_WRITE", "exemptedMembers": []}]
_SINK = {"name": "_Default", "destination": "logging.googleapis.com/projects/app-prod/"
                                            "locations/global/buckets/_Default",
         "filter": 'NOT LOG_ID("cloudaudit.googleapis.com/activity")', "disabled": False,
         "include_children": False, "exclusions": [{"name": "no-debug",
                                                    "filter": "severity<INFO"}]}

AUDIT_LOGGING: dict[str, Any] = {
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "settings": {"min_retention_days": 365},
    "nodes": [{"name": _ORG, "kind": "organization", "display_name": "example.com",
               "parent": None, "unreadable": None,
               "audit_configs": [{"service": "allServices", "auditLogConfigs": _ALL}],
               "sinks": [{"name": "org-archive", "destination":
                          "storage.googleapis.com/example-audit", "filter": "",
                          "disabled": False, "include_children": True, "exclusions": []}],
               "sinks_unreadable": None},
              {"name": _LOCKED, "kind": "folder", "display_name": None, "parent": _ORG,
               "unreadable": "The caller does not have permission", "audit_configs": None,
               "sinks": None, "sinks_unreadable": None}],
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod", "parent": _ORG,
                  "ancestors": [_ORG], "ancestry_incomplete": False, "audit_configs": [],
                  "unreadable": None, "sinks": [_SINK], "sinks_unreadable": None,
                  "log_buckets": [
                      {"name": "projects/app-prod/locations/global/buckets/_Default",
                       "retention_days": 30, "locked": False, "state": "ACTIVE"},
                      {"name": "projects/app-prod/locations/global/buckets/_Required",
                       "retention_days": 400, "locked": True, "state": "ACTIVE"}],
                  "log_buckets_unreadable": None},
                 {"name": "projects/300000000002", "project_id": "data-prod",
                  "parent": _LOCKED, "ancestors": [_LOCKED, _ORG],
                  "ancestry_incomplete": False, "audit_configs": None,
                  "unreadable": "The caller does not have permission", "sinks": None,
                  "sinks_unreadable": "The caller does not have permission",
                  "log_buckets": None,
                  "log_buckets_unreadable": "The caller does not have permission"}],
    "unreadable": [{"resource": "projects/data-prod/logBuckets", "error": "PermissionDenied",
                    "detail": "The caller does not have permission"}],
}

KMS_KEYS: dict[str, Any] = {
    "evaluated_on": "2026-11-30",
    "scope": {"organization": None, "projects": ["app-prod"], "domain": None},
    "settings": {"max_rotation_days": 90},
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod", "unreadable": None,
                  "locations_unreadable": ["asia-east1"],
                  "keys": [{"name": "projects/app-prod/locations/us-central1/keyRings/app/"
                                    "cryptoKeys/data",
                            "purpose": "ENCRYPT_DECRYPT", "rotation_period_seconds": 7776000,
                            "next_rotation_time": "2027-01-14T12:00:00Z",
                            "primary_state": "ENABLED", "protection_level": "SOFTWARE",
                            "create_time": "2026-02-03T12:00:00Z"},
                           {"name": "projects/app-prod/locations/us-central1/keyRings/app/"
                                    "cryptoKeys/signing",
                            "purpose": "ASYMMETRIC_SIGN", "rotation_period_seconds": None,
                            "next_rotation_time": None, "primary_state": None,
                            "protection_level": "HSM",
                            "create_time": "2026-05-03T12:00:00Z"}]}],
    "unreadable": [{"resource": "projects/app-prod/locations/asia-east1",
                    "error": "PermissionDenied",
                    "detail": "The caller does not have permission"}],
}

_BUCKET = {"name": "app-prod-web", "location": "EU", "default_kms_key": None,
           "uniform_bucket_level_access": True, "public_access_prevention": "inherited",
           "retention_policy": None, "versioning": False, "logging": None,
           "public_members": ["roles/storage.objectViewer allUsers"], "iam_unreadable": None}

STORAGE_BUCKETS: dict[str, Any] = {
    "scope": {"organization": None, "projects": ["app-prod"], "domain": None},
    "settings": {"require_cmek": False},
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod",
                  "public_access_prevention_policy": False, "unreadable": None,
                  "buckets": [_BUCKET, {
                      "name": "app-prod-data", "location": "US",
                      "default_kms_key": "projects/app-prod/locations/us/keyRings/app/"
                                         "cryptoKeys/data",
                      "uniform_bucket_level_access": True,
                      "public_access_prevention": "enforced",
                      "retention_policy": {"retention_period_seconds": 31536000,
                                           "locked": True},
                      "versioning": True,
                      "logging": {"log_bucket": "app-prod-logs", "prefix": "data"},
                      "public_members": None,
                      "iam_unreadable": "The caller does not have permission"}]}],
    "unreadable": [{"resource": "b/app-prod-data/iam", "error": "PermissionDenied",
                    "detail": "The caller does not have permission"}],
}


def _rule(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"enforce": None, "allow_all": False, "deny_all": False,
                            "allowed_values": [], "denied_values": [], "condition": None}
    base.update(kw)
    return base


ORG_POLICIES: dict[str, Any] = {
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "constraints": ["iam.disableServiceAccountKeyCreation", "iam.allowedPolicyMemberDomains",
                    "storage.publicAccessPrevention"],
    "resources": [{"name": "projects/app-prod", "policies": [
        {"constraint": "iam.disableServiceAccountKeyCreation",
         "rules": [_rule(enforce=True)]},
        {"constraint": "iam.allowedPolicyMemberDomains",
         "rules": [_rule(allowed_values=["C0abc123"])]},
        {"constraint": "storage.publicAccessPrevention", "rules": None}]}],
    "unreadable": [{"resource": "projects/app-prod/policies/storage.publicAccessPrevention",
                    "error": "PermissionDenied",
                    "detail": "The caller does not have permission"}],
}
