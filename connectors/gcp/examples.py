"""Small example contents of each `gcp` snapshot (docs, and the registry's purity checks)."""

from __future__ import annotations

from typing import Any

_ORG = "organizations/100000000001"
_FOLDER = "folders/200000000001"

IAM_POLICIES: dict[str, Any] = {
    "evaluated_on": "2026-11-30",
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "settings": {"allowed_domains": ["example.com"], "allowed_members": [],
                 "basic_role_members": ["group:gcp-admins@example.com"],
                 "max_key_age_days": 90},
    "known_projects": ["300000000001", "app-prod"],
    "nodes": [
        {"name": _ORG, "kind": "organization", "display_name": "example.com", "parent": None,
         "policy": {"version": 1, "bindings": [
             {"role": "roles/owner", "members": ["group:gcp-admins@example.com"]}]},
         "unreadable": None},
        {"name": _FOLDER, "kind": "folder", "display_name": "production", "parent": _ORG,
         "policy": {"version": 3, "bindings": [
             {"role": "roles/editor", "members": ["user:contractor@gmail.com"],
              "condition": {"title": "until-2027",
                            "expression": "request.time < timestamp('2027-01-01T00:00:00Z')"}}]},
         "unreadable": None}],
    "projects": [
        {"name": "projects/300000000001", "project_id": "app-prod", "parent": _FOLDER,
         "ancestors": [_FOLDER, _ORG], "ancestry_incomplete": False,
         "policy": {"version": 1, "bindings": [
             {"role": "roles/viewer", "members": ["group:eng@example.com"]}]},
         "unreadable": None, "basic_role_grants": [], "external_grants": [],
         "service_accounts": [
             {"email": "ci@app-prod.iam.gserviceaccount.com", "disabled": False,
              "keys": [{"id": "k1", "key_type": "USER_MANAGED",
                        "valid_after": "2026-01-02T00:00:00Z",
                        "valid_before": "9999-12-31T23:59:59Z", "disabled": False,
                        "origin": "GOOGLE_PROVIDED"}], "keys_unreadable": None}],
         "service_accounts_unreadable": None}],
    "unreadable": [],
}

AUDIT_LOGGING: dict[str, Any] = {
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "settings": {"min_retention_days": 365},
    "nodes": [{"name": _ORG, "kind": "organization", "display_name": "example.com",
               "parent": None, "unreadable": None,
               "audit_configs": [{"service": "allServices", "auditLogConfigs": [
                   {"logType": "ADMIN_READ"}, {"logType": "DATA_READ"},
                   {"logType": "DATA_WRITE"}]}],
               "sinks": [{"name": "org-archive", "destination":
                          "storage.googleapis.com/example-audit", "filter": "",
                          "disabled": False, "include_children": True, "exclusions": []}],
               "sinks_unreadable": None}],
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod", "parent": _ORG,
                  "ancestors": [_ORG], "ancestry_incomplete": False, "audit_configs": [],
                  "unreadable": None,
                  "sinks": [{"name": "_Default", "destination": "logging.googleapis.com/"
                             "projects/app-prod/locations/global/buckets/_Default",
                             "filter": 'NOT LOG_ID("cloudaudit.googleapis.com/activity")',
                             "disabled": False, "include_children": False,
                             "exclusions": []}], "sinks_unreadable": None,
                  "log_buckets": [
                      {"name": "projects/app-prod/locations/global/buckets/_Default",
                       "retention_days": 30, "locked": False, "state": "ACTIVE"},
                      {"name": "projects/app-prod/locations/global/buckets/_Required",
                       "retention_days": 400, "locked": True, "state": "ACTIVE"}],
                  "log_buckets_unreadable": None}],
    "unreadable": [],
}

KMS_KEYS: dict[str, Any] = {
    "evaluated_on": "2026-11-30",
    "scope": {"organization": None, "projects": ["app-prod"], "domain": None},
    "settings": {"max_rotation_days": 90},
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod", "unreadable": None,
                  "keys": [{"name": "projects/app-prod/locations/us-central1/keyRings/app/"
                                    "cryptoKeys/data",
                            "purpose": "ENCRYPT_DECRYPT", "rotation_period_seconds": 7776000,
                            "next_rotation_time": "2027-01-14T12:00:00Z",
                            "primary_state": "ENABLED", "protection_level": "SOFTWARE",
                            "create_time": "2026-02-03T12:00:00Z"}]}],
    "unreadable": [],
}

STORAGE_BUCKETS: dict[str, Any] = {
    "scope": {"organization": None, "projects": ["app-prod"], "domain": None},
    "settings": {"require_cmek": False},
    "projects": [{"name": "projects/300000000001", "project_id": "app-prod",
                  "public_access_prevention_policy": False, "unreadable": None,
                  "buckets": [{"name": "app-prod-web", "location": "EU", "default_kms_key": None,
                               "uniform_bucket_level_access": True,
                               "public_access_prevention": "inherited",
                               "retention_policy": {"retention_period_seconds": 31536000,
                                                    "locked": True},
                               "versioning": True, "logging": None,
                               "public_members": ["roles/storage.objectViewer allUsers"],
                               "iam_unreadable": None}]}],
    "unreadable": [],
}

ORG_POLICIES: dict[str, Any] = {
    "scope": {"organization": _ORG, "projects": [], "domain": "example.com"},
    "constraints": ["iam.disableServiceAccountKeyCreation", "iam.allowedPolicyMemberDomains"],
    "resources": [{"name": "projects/300000000001", "policies": {
        "iam.disableServiceAccountKeyCreation": {"rules": [{"enforce": True}]},
        "iam.allowedPolicyMemberDomains": {"rules": [{"values": {
            "allowedValues": ["C0abc123"]}}]}}}],
    "unreadable": [],
}
