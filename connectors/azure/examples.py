"""Small, realistic sample content for each `azure` snapshot (docs, registry tests)."""

from __future__ import annotations

from typing import Any

TENANT = "72f988bf-0000-4000-8000-000000000001"
SUB = "11111111-2222-4333-8444-555555555555"
SUB2 = "66666666-7777-4888-9999-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app"
ROOT = f"/providers/Microsoft.Management/managementGroups/{TENANT}"
_DEF = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"


def _ra(n: int, scope: str, guid: str, name: str, ptype: str, principal: str, *,
        custom: bool = False, privileged: str | None = None) -> dict[str, Any]:
    level = {ROOT: "management_group", f"/subscriptions/{SUB}": "subscription"}.get(
        scope, "resource_group")
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/0000000{n}",
            "scope": scope, "scope_level": level, "inherited": level == "management_group",
            "inherited_from": scope if level == "management_group" else None,
            "role_definition_id": _DEF + guid, "role_name": name,
            "role_type": "CustomRole" if custom else "BuiltInRole",
            "privileged": privileged is not None, "privileged_reason": privileged,
            "principal_id": principal, "principal_type": ptype, "condition": None,
            "created_on": "2026-01-15T09:00:00+00:00"}


ROLE_ASSIGNMENTS: dict[str, Any] = {
    "tenant_id": TENANT, "max_owners": 3,
    "management_groups": [{"id": ROOT, "display_name": None, "parent": None}],
    "subscriptions": [{
        "subscription_id": SUB, "display_name": "contoso-prod", "state": "Enabled",
        "ancestors": [ROOT], "unknown_role_definitions": [], "incomplete": [],
        "assignments": [
            _ra(1, ROOT, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", "Group",
                "a1a1a1a1-0000-4000-8000-000000000001", privileged="Owner"),
            _ra(2, f"/subscriptions/{SUB}", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                "Contributor", "ServicePrincipal", "b2b2b2b2-0000-4000-8000-000000000002",
                privileged="Contributor"),
            _ra(3, RG, "9f1a0000-0000-4000-8000-00000000c0de", "Ops Superuser", "User",
                "c3c3c3c3-0000-4000-8000-000000000003", custom=True,
                privileged="allows every action ('*')"),
        ]}],
    "unreadable": [{"subscription_id": SUB2, "error": "authorization.roleAssignments."
                    "listForSubscription denied for subscription (AuthorizationFailed)"}],
}

MFA_REGISTRATION: dict[str, Any] = {
    "tenant_id": TENANT,
    "report_updated": {"oldest": "2026-03-15T03:00:00Z", "newest": "2026-03-15T03:00:00Z"},
    "admins": [{"id": "a1", "type": "user", "userPrincipalName": "alice@contoso.com",
                "displayName": "Alice", "roles": ["Global Administrator"],
                "role_template_ids": ["62e90394-69f5-4237-9190-012177145e10"]}],
    "users": [
        {"id": "a1", "userPrincipalName": "alice@contoso.com", "userType": "member",
         "isAdmin": True, "isMfaRegistered": True, "isMfaCapable": True,
         "methodsRegistered": ["microsoftAuthenticatorPush"],
         "lastUpdatedDateTime": "2026-03-15T03:00:00Z"},
        {"id": "b2", "userPrincipalName": "bob@contoso.com", "userType": "member",
         "isAdmin": False, "isMfaRegistered": False, "isMfaCapable": False,
         "methodsRegistered": [], "lastUpdatedDateTime": "2026-03-15T03:00:00Z"},
    ],
}

_USERS = {"includeUsers": ["All"], "excludeUsers": ["bg"], "includeGroups": [],
          "excludeGroups": [], "includeRoles": [], "excludeRoles": []}
CONDITIONAL_ACCESS: dict[str, Any] = {
    "tenant_id": TENANT,
    "security_defaults": {"id": "00000000-0000-0000-0000-000000000005", "isEnabled": False},
    "policies": [{
        "id": "p1", "displayName": "Require MFA for all users", "state": "enabled",
        "conditions": {"users": _USERS, "applications": {"includeApplications": ["All"],
                                                         "excludeApplications": []},
                       "clientAppTypes": ["all"], "platforms": None, "locations": None,
                       "signInRiskLevels": [], "userRiskLevels": []},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"],
                          "authenticationStrength": None}}],
    "admins": [{"id": "a1", "type": "user", "userPrincipalName": "alice@contoso.com",
                "displayName": "Alice", "roles": ["Global Administrator"],
                "role_template_ids": ["62e90394-69f5-4237-9190-012177145e10"]},
               {"id": "bg", "type": "user", "userPrincipalName": "breakglass@contoso.com",
                "displayName": "Break glass", "roles": ["Global Administrator"],
                "role_template_ids": ["62e90394-69f5-4237-9190-012177145e10"]}],
    "groups": {}, "user_groups": {},
    "user_roles": {"a1": ["62e90394-69f5-4237-9190-012177145e10"],
                   "bg": ["62e90394-69f5-4237-9190-012177145e10"]},
    "guests": [], "names": {"a1": "alice@contoso.com", "bg": "breakglass@contoso.com"},
    "break_glass": ["breakglass@contoso.com"],
}

STORAGE_ACCOUNTS: dict[str, Any] = {
    "tenant_id": TENANT, "require_cmk": False, "minimum_tls": "TLS1_2",
    "subscriptions": [{"subscription_id": SUB, "display_name": "contoso-prod",
                       "state": "Enabled", "incomplete": [], "accounts": [
        {"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/stcmk", "name": "stcmk",
         "kind": "StorageV2", "location": "westeurope", "properties": {
             "encryption": {"keySource": "Microsoft.Keyvault"},
             "minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": True,
             "allowBlobPublicAccess": False, "allowSharedKeyAccess": False}},
        {"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/stold", "name": "stold",
         "kind": "StorageV2", "location": "westeurope", "properties": {
             "encryption": {"keySource": "Microsoft.Storage"}, "minimumTlsVersion": None,
             "supportsHttpsTrafficOnly": None, "allowBlobPublicAccess": None,
             "allowSharedKeyAccess": None}}]}],
    "unreadable": [],
}

_VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-prod"
KEY_VAULTS: dict[str, Any] = {
    "tenant_id": TENANT,
    "subscriptions": [{"subscription_id": SUB, "display_name": "contoso-prod",
                       "state": "Enabled", "incomplete": [], "vaults": [{
        "id": _VAULT, "name": "kv-prod", "location": "westeurope", "access_policies": 0,
        "keys_error": None,
        "properties": {"enableSoftDelete": True, "softDeleteRetentionInDays": 90,
                       "enablePurgeProtection": True, "enableRbacAuthorization": True},
        "keys": [
            {"id": f"{_VAULT}/keys/cmk", "name": "cmk", "properties": {
                "attributes": {"enabled": True}, "kty": "RSA", "keySize": 2048,
                "rotationPolicy": {"lifetimeActions": [
                    {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}}]}}},
            {"id": f"{_VAULT}/keys/signing", "name": "signing", "properties": {
                "attributes": {"enabled": True}, "kty": "RSA", "keySize": 2048,
                "rotationPolicy": None}}]}]}],
    "unreadable": [],
}

_WS = f"/subscriptions/{SUB}/resourceGroups/rg-logging/providers/" \
      "Microsoft.OperationalInsights/workspaces/law-prod"
DIAGNOSTIC_SETTINGS: dict[str, Any] = {
    "tenant_id": TENANT,
    "subscriptions": [{"subscription_id": SUB, "display_name": "contoso-prod",
                       "state": "Enabled", "settings": [{
        "id": f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/to-law",
        "name": "to-law", "properties": {"workspaceId": _WS, "logs": [
            {"category": None, "categoryGroup": "allLogs", "enabled": True}]}}]}],
    "unreadable": [],
}

ACTIVITY_LOG: dict[str, Any] = {
    "tenant_id": TENANT, "min_retention_days": 365,
    "subscriptions": [{"subscription_id": SUB, "display_name": "contoso-prod",
                       "state": "Enabled", "log_profiles": [], "destinations": [
        {"kind": "log_analytics", "id": _WS, "categories": ["Administrative", "Security"],
         "retention_days": 730, "error": None,
         "table": {"retentionInDays": 90, "totalRetentionInDays": 730,
                   "archiveRetentionInDays": 640}}]}],
    "unreadable": [],
}

# Keys holding Azure's or Graph's own documents (or maps keyed by object id), accepted as the
# API returns them: inferred content schemas leave their inner keys free.
VENDOR: dict[str, tuple[str, ...]] = {
    "role_assignments": (),
    "entra_mfa_registration": ("users",),
    "conditional_access": ("security_defaults", "policies", "groups", "user_groups",
                           "user_roles", "names"),
    "storage_accounts": ("properties",),
    "key_vaults": ("properties",),
    "diagnostic_settings": ("settings",),
    "activity_log": ("log_profiles", "table"),
}
