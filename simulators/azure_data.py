"""Deterministic Azure tenant data for the Azure simulator, in the documented REST shapes.

`generate_tenant(subscriptions=N, seed=S)` builds a tenant whose every document (ARM
resources, Microsoft Graph objects) is what the documented REST APIs return, so the
simulator only stores and pages them. The same (N, S) always gives the same bytes.

What a generated tenant holds, so tests and the demo can name what they expect:
- management groups: the tenant root group > `platform` and `landing-zones`; subscriptions
  alternate between them. An Owner assignment to the `platform-admins` group at the root
  group is inherited by every subscription; a User Access Administrator at `platform`.
- per subscription: an Owner (user), a Contributor (service principal), a Reader, a
  Contributor at resource-group scope, and on every third one a custom role allowing `*`;
  storage accounts (one hardened with a customer-managed key, one with properties left
  unset, one weak), key vaults with keys with and without a rotation policy, and the
  subscription activity-log diagnostic settings (missing on every seventh subscription).
- Entra ID: users with registration details (some admins lack MFA), directory roles and
  their members, a break-glass group, Conditional Access policies (one enabled for all
  users with break-glass exclusions, one report-only for admins, one legacy-auth block)
  and security defaults off.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ROOT_NS = uuid.UUID("6f1c2d4e-0000-4000-8000-00000000a2e0")

# Built-in Azure role definition IDs (the same GUID in every tenant, per Microsoft's docs).
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
STORAGE_BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

BUILTIN_ROLES: dict[str, tuple[str, list[str]]] = {
    OWNER: ("Owner", ["*"]),
    CONTRIBUTOR: ("Contributor", ["*"]),
    READER: ("Reader", ["*/read"]),
    USER_ACCESS_ADMIN: ("User Access Administrator", ["*/read", "Microsoft.Authorization/*"]),
    RBAC_ADMIN: ("Role Based Access Control Administrator",
                 ["Microsoft.Authorization/roleAssignments/write",
                  "Microsoft.Authorization/roleAssignments/delete", "*/read"]),
    STORAGE_BLOB_READER: ("Storage Blob Data Reader", []),
}
_NOT_ACTIONS: dict[str, list[str]] = {
    CONTRIBUTOR: ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                  "Microsoft.Authorization/elevateAccess/Action"],
}

# Entra built-in directory role template IDs.
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
DIRECTORY_ROLES = {GLOBAL_ADMIN: "Global Administrator",
                   PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator",
                   SECURITY_ADMIN: "Security Administrator",
                   USER_ADMIN: "User Administrator"}

AZURE_MANAGEMENT_APP = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
EPOCH = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _id(*parts: object) -> str:
    return str(uuid.uuid5(ROOT_NS, "/".join(str(p) for p in parts)))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class FederatedCredential:
    """A federated identity credential on an app registration (workload identity)."""

    issuer: str
    subject: str
    audience: str = "api://AzureADTokenExchange"


@dataclass
class App:
    """An app registration and its service principal, with the credentials it accepts."""

    client_id: str
    object_id: str
    display_name: str
    secret: str | None = None
    certificates_pem: list[bytes] = field(default_factory=list)
    federated: list[FederatedCredential] = field(default_factory=list)
    graph_roles: tuple[str, ...] = ()


@dataclass
class TenantData:
    """Everything the simulator serves for one tenant, as REST documents."""

    tenant_id: str
    domain: str
    apps: dict[str, App] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    management_groups: list[dict[str, Any]] = field(default_factory=list)
    # child id (MG or subscription resource id) -> parent MG resource id
    parents: dict[str, str] = field(default_factory=dict)
    role_definitions: list[dict[str, Any]] = field(default_factory=list)
    role_assignments: list[dict[str, Any]] = field(default_factory=list)
    storage_accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    vaults: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # vault id (lower)
    diagnostic_settings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log_profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # id (lower)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # table id (lower)
    registration_details: list[dict[str, Any]] = field(default_factory=list)
    directory_roles: list[dict[str, Any]] = field(default_factory=list)
    role_members: dict[str, list[str]] = field(default_factory=dict)  # role id -> object ids
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_members: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    ca_policies: list[dict[str, Any]] = field(default_factory=list)
    security_defaults: dict[str, Any] = field(default_factory=dict)
    premium: bool = True  # the registration report needs Entra ID P1/P2
    # subscriptions whose every ARM read is refused (e.g. a deny assignment)
    denied_subscriptions: set[str] = field(default_factory=set)

    @property
    def root_group(self) -> str:
        """The tenant root management group's resource id (named after the tenant)."""
        return f"/providers/Microsoft.Management/managementGroups/{self.tenant_id}"

    def ancestors(self, resource_id: str) -> list[str]:
        """Management-group ids above a subscription or group, nearest first."""
        out: list[str] = []
        cur = resource_id
        while cur in self.parents:
            cur = self.parents[cur]
            out.append(cur)
        return out

    def user_object(self, oid: str) -> dict[str, Any] | None:
        """A directory object (user, group or service principal) by id, Graph-shaped."""
        if oid in self.users:
            return self.users[oid]
        if oid in self.groups:
            return self.groups[oid]
        for app in self.apps.values():
            if app.object_id == oid:
                return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": oid,
                        "appId": app.client_id, "displayName": app.display_name}
        return None


def role_definition_doc(scope: str, guid: str, name: str, actions: list[str], *,
                        custom: bool = False, assignable: list[str] | None = None,
                        not_actions: list[str] | None = None) -> dict[str, Any]:
    """A role definition as `GET {scope}/providers/Microsoft.Authorization/roleDefinitions`
    returns it."""
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "type": "Microsoft.Authorization/roleDefinitions", "name": guid,
        "properties": {
            "roleName": name, "type": "CustomRole" if custom else "BuiltInRole",
            "description": name,
            "assignableScopes": assignable or ["/"],
            "permissions": [{"actions": actions, "notActions": not_actions or [],
                             "dataActions": [], "notDataActions": []}],
            "createdOn": _iso(EPOCH), "updatedOn": _iso(EPOCH),
        },
    }


def _assignment(scope: str, role: str, principal: str, ptype: str, n: int) -> dict[str, Any]:
    guid = _id("ra", scope, role, principal, n)
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}",
        "type": "Microsoft.Authorization/roleAssignments", "name": guid,
        "properties": {
            "scope": scope, "principalId": principal, "principalType": ptype,
            # ARM shows inherited and local assignments with a definition id under the
            # subscription being listed; the definition GUID is what identifies the role.
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "condition": None, "conditionVersion": None,
            "createdOn": _iso(EPOCH + timedelta(days=n)),
            "updatedOn": _iso(EPOCH + timedelta(days=n)), "createdBy": None,
            "updatedBy": None, "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def _user(tenant: TenantData, name: str, *, display: str, admin: bool, mfa: bool,
          capable: bool | None = None, methods: list[str] | None = None,
          guest: bool = False) -> str:
    oid = _id("user", name)
    upn = f"{name}@{tenant.domain}" if not guest else f"{name}_ext#EXT#@{tenant.domain}"
    tenant.users[oid] = {"@odata.type": "#microsoft.graph.user", "id": oid,
                         "userPrincipalName": upn, "displayName": display,
                         "userType": "Guest" if guest else "Member"}
    ms = methods if methods is not None else (
        ["microsoftAuthenticatorPush", "softwareOneTimePasscode"] if mfa else [])
    tenant.registration_details.append({
        "id": oid, "userPrincipalName": upn, "userDisplayName": display,
        "userType": "guest" if guest else "member", "isAdmin": admin,
        "isSsprRegistered": mfa, "isSsprEnabled": True, "isSsprCapable": mfa,
        "isMfaRegistered": mfa, "isMfaCapable": mfa if capable is None else capable,
        "isPasswordlessCapable": False, "methodsRegistered": ms,
        "isSystemPreferredAuthenticationMethodEnabled": True,
        "systemPreferredAuthenticationMethods": ["push"] if mfa else [],
        "userPreferredMethodForSecondaryAuthentication": "push" if mfa else "none",
        "lastUpdatedDateTime": _iso(EPOCH + timedelta(hours=3)),
    })
    return oid


def _entra(tenant: TenantData, rng: random.Random, n_users: int) -> None:
    alice = _user(tenant, "alice", display="Alice Admin", admin=True, mfa=True)
    bob = _user(tenant, "bob", display="Bob Ops", admin=True, mfa=False)
    carol = _user(tenant, "carol", display="Carol Security", admin=True, mfa=True,
                  capable=False, methods=["sms"])
    dave = _user(tenant, "dave", display="Dave Users", admin=True, mfa=True)
    bg1 = _user(tenant, "breakglass1", display="Emergency Access 1", admin=True, mfa=False,
                methods=[])
    bg2 = _user(tenant, "breakglass2", display="Emergency Access 2", admin=True, mfa=True,
                methods=["fido2"])
    for i in range(n_users):
        _user(tenant, f"user{i:04d}", display=f"User {i}", admin=False,
              mfa=rng.random() > 0.1)
    _user(tenant, "partner", display="Partner Guest", admin=False, mfa=False, guest=True)
    members = {GLOBAL_ADMIN: [alice, bg1, bg2], PRIVILEGED_ROLE_ADMIN: [bob],
               SECURITY_ADMIN: [carol], USER_ADMIN: [dave]}
    for template, name in DIRECTORY_ROLES.items():
        rid = _id("directoryRole", template)
        tenant.directory_roles.append({"id": rid, "roleTemplateId": template,
                                       "displayName": name, "description": name,
                                       "deletedDateTime": None})
        tenant.role_members[rid] = members[template]
    bg_group = _id("group", "break-glass")
    tenant.groups[bg_group] = {"@odata.type": "#microsoft.graph.group", "id": bg_group,
                               "displayName": "Emergency access accounts"}
    tenant.group_members[bg_group] = [bg1]
    admins_group = _id("group", "platform-admins")
    tenant.groups[admins_group] = {"@odata.type": "#microsoft.graph.group", "id": admins_group,
                                   "displayName": "platform-admins"}
    tenant.group_members[admins_group] = [alice, bob]
    when = _iso(EPOCH)

    def policy(name: str, state: str, users: dict[str, Any], grant: dict[str, Any] | None,
               apps: list[str] | None = None) -> dict[str, Any]:
        return {
            "id": _id("ca", name), "displayName": name, "state": state,
            "createdDateTime": when, "modifiedDateTime": when, "templateId": None,
            "conditions": {
                "users": {"includeUsers": [], "excludeUsers": [], "includeGroups": [],
                          "excludeGroups": [], "includeRoles": [], "excludeRoles": [],
                          "includeGuestsOrExternalUsers": None,
                          "excludeGuestsOrExternalUsers": None, **users},
                "applications": {"includeApplications": apps or ["All"],
                                 "excludeApplications": [], "includeUserActions": [],
                                 "includeAuthenticationContextClassReferences": []},
                "clientAppTypes": ["all"], "platforms": None, "locations": None,
                "signInRiskLevels": [], "userRiskLevels": [], "servicePrincipalRiskLevels": [],
                "devices": None, "clientApplications": None,
            },
            "grantControls": grant, "sessionControls": None,
        }

    mfa = {"operator": "OR", "builtInControls": ["mfa"], "customAuthenticationFactors": [],
           "termsOfUse": [], "authenticationStrength": None}
    tenant.ca_policies = [
        policy("Require MFA for all users", "enabled",
               {"includeUsers": ["All"], "excludeGroups": [bg_group], "excludeUsers": [bg2]},
               mfa),
        policy("Require MFA for administrators", "enabledForReportingButNotEnforced",
               {"includeRoles": list(DIRECTORY_ROLES)}, mfa),
        policy("Block legacy authentication", "enabled", {"includeUsers": ["All"]},
               {"operator": "OR", "builtInControls": ["block"],
                "customAuthenticationFactors": [], "termsOfUse": [],
                "authenticationStrength": None}),
    ]
    tenant.ca_policies[2]["conditions"]["clientAppTypes"] = ["exchangeActiveSync", "other"]
    tenant.security_defaults = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/"
                          "identitySecurityDefaultsEnforcementPolicy/$entity",
        "id": "00000000-0000-0000-0000-000000000005",
        "displayName": "Security Defaults",
        "description": "Security defaults is a set of basic identity security mechanisms "
                       "recommended by Microsoft.",
        "isEnabled": False,
    }


def _storage(sub: str, rg: str, i: int, kind: int) -> dict[str, Any]:
    name = f"st{sub[:8]}{i:02d}".replace("-", "")
    props: dict[str, Any] = {
        "provisioningState": "Succeeded", "creationTime": _iso(EPOCH - timedelta(days=400)),
        "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
        "encryption": {"services": {"blob": {"enabled": True, "keyType": "Account",
                                             "lastEnabledTime": _iso(EPOCH)},
                                    "file": {"enabled": True, "keyType": "Account",
                                             "lastEnabledTime": _iso(EPOCH)}},
                       "keySource": "Microsoft.Storage",
                       "requireInfrastructureEncryption": False},
        "accessTier": "Hot", "publicNetworkAccess": "Enabled",
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow",
                        "virtualNetworkRules": [], "ipRules": []},
    }
    if kind == 0:  # hardened, customer-managed key
        props["encryption"]["keySource"] = "Microsoft.Keyvault"
        props["encryption"]["keyvaultproperties"] = {
            "keyname": "storage-cmk", "keyversion": "",
            "keyvaulturi": f"https://kv-{sub[:8]}-0.vault.azure.net/"}
        props.update(minimumTlsVersion="TLS1_2", supportsHttpsTrafficOnly=True,
                     allowBlobPublicAccess=False, allowSharedKeyAccess=False,
                     publicNetworkAccess="Disabled")
    elif kind == 1:  # created long ago: the optional properties were never set
        pass
    else:  # weak
        props.update(minimumTlsVersion="TLS1_0", supportsHttpsTrafficOnly=False,
                     allowBlobPublicAccess=True, allowSharedKeyAccess=True)
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/"
                  f"storageAccounts/{name}",
            "name": name, "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
            "kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "tags": {}, "properties": props}


def _vault(tenant: TenantData, sub: str, rg: str, i: int, hardened: bool) -> None:
    name = f"kv-{sub[:8]}-{i}"
    vid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    props: dict[str, Any] = {
        "tenantId": tenant.tenant_id, "sku": {"family": "A", "name": "standard"},
        "accessPolicies": [], "vaultUri": f"https://{name}.vault.azure.net/",
        "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled",
        "enabledForDeployment": False, "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
    }
    if hardened:
        props.update(enableSoftDelete=True, softDeleteRetentionInDays=90,
                     enablePurgeProtection=True, enableRbacAuthorization=True)
    else:
        props.update(enableSoftDelete=True, softDeleteRetentionInDays=7,
                     enableRbacAuthorization=False)
        props["accessPolicies"] = [{"tenantId": tenant.tenant_id,
                                    "objectId": _id("user", "alice"),
                                    "permissions": {"keys": ["all"], "secrets": ["all"],
                                                    "certificates": [], "storage": []}}]
    tenant.vaults.setdefault(sub, []).append({
        "id": vid, "name": name, "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
        "tags": {}, "systemData": {"createdAt": _iso(EPOCH - timedelta(days=200))},
        "properties": props})
    keys = []
    for k, rotated in ((0, True), (1, not hardened and False), (2, hardened)):
        kname = ["storage-cmk", "signing", "backup"][k]
        created = int((EPOCH - timedelta(days=100 + 30 * k)).timestamp())
        kprops: dict[str, Any] = {
            "attributes": {"enabled": k != 2 or hardened, "created": created,
                           "updated": created, "recoveryLevel": "Recoverable+Purgeable",
                           "exportable": False},
            "kty": "RSA", "keyOps": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            "keySize": 2048,
            "keyUri": f"https://{name}.vault.azure.net/keys/{kname}",
            "keyUriWithVersion": f"https://{name}.vault.azure.net/keys/{kname}/{_id(kname)[:8]}",
        }
        if rotated:
            kprops["rotationPolicy"] = {
                "attributes": {"created": created, "updated": created, "expiryTime": "P1Y"},
                "lifetimeActions": [
                    {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}},
                    {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}}]}
        elif k == 1:
            kprops["rotationPolicy"] = {
                "attributes": {"created": created, "updated": created, "expiryTime": "P2Y"},
                "lifetimeActions": [
                    {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}}]}
        keys.append({"id": f"{vid}/keys/{kname}", "name": kname,
                     "type": "Microsoft.KeyVault/vaults/keys", "location": "westeurope",
                     "tags": {}, "properties": kprops})
    tenant.keys[vid.lower()] = keys


def _logging(tenant: TenantData, sub: str, j: int) -> None:
    ws_rg = f"/subscriptions/{sub}/resourceGroups/rg-logging"
    if j % 7 == 3:
        tenant.diagnostic_settings[sub] = []
        if j % 2:
            tenant.log_profiles[sub] = [{
                "id": f"/subscriptions/{sub}/providers/microsoft.insights/logprofiles/default",
                "name": "default", "type": None, "location": None, "tags": None,
                "properties": {"storageAccountId": f"{ws_rg}/providers/Microsoft.Storage/"
                                                   f"storageAccounts/stlegacy{sub[:6]}",
                               "serviceBusRuleId": None, "locations": ["global", "westeurope"],
                               "categories": ["Write", "Delete", "Action"],
                               "retentionPolicy": {"enabled": True, "days": 90}}}]
        return
    retention = [90, 365, 730][j % 3]
    ws = f"{ws_rg}/providers/Microsoft.OperationalInsights/workspaces/law-{sub[:8]}"
    tenant.workspaces[ws.lower()] = {
        "id": ws, "name": f"law-{sub[:8]}", "type": "Microsoft.OperationalInsights/workspaces",
        "location": "westeurope",
        "properties": {"customerId": _id("ws", sub), "provisioningState": "Succeeded",
                       "sku": {"name": "PerGB2018"}, "retentionInDays": retention,
                       "features": {"enableLogAccessUsingOnlyResourcePermissions": True}}}
    table_total = retention if j % 5 else 2555
    tenant.tables[f"{ws}/tables/AzureActivity".lower()] = {
        "id": f"{ws}/tables/AzureActivity", "name": "AzureActivity",
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "properties": {"retentionInDays": retention, "totalRetentionInDays": table_total,
                       "archiveRetentionInDays": table_total - retention,
                       "retentionInDaysAsDefault": True,
                       "totalRetentionInDaysAsDefault": table_total == retention,
                       "plan": "Analytics", "provisioningState": "Succeeded"}}
    if j % 4 == 1:
        logs = [{"category": "Administrative", "categoryGroup": None, "enabled": True}]
    else:
        logs = [{"category": c, "categoryGroup": None, "enabled": True}
                for c in ("Administrative", "Security", "ServiceHealth", "Alert",
                          "Recommendation", "Policy", "Autoscale", "ResourceHealth")]
    tenant.diagnostic_settings[sub] = [{
        "id": f"/subscriptions/{sub}/providers/microsoft.insights/diagnosticSettings/"
              "activity-to-law",
        "name": "activity-to-law", "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {"workspaceId": ws, "storageAccountId": None,
                       "eventHubAuthorizationRuleId": None, "eventHubName": None,
                       "serviceBusRuleId": None, "marketplacePartnerId": None,
                       "logAnalyticsDestinationType": None, "logs": logs}}]


def generate_tenant(subscriptions: int = 3, *, seed: int = 0, users: int = 20,
                    page_hint: int = 0) -> TenantData:
    """A deterministic tenant with `subscriptions` subscriptions and `users` plain users."""
    del page_hint
    rng = random.Random(seed)
    tid = _id("tenant", seed)
    tenant = TenantData(tenant_id=tid, domain="contoso.example")
    root = tenant.root_group
    mgs = {"platform": "Platform", "landing-zones": "Landing zones"}
    tenant.management_groups.append({
        "id": root, "type": "Microsoft.Management/managementGroups", "name": tid,
        "properties": {"tenantId": tid, "displayName": "Tenant Root Group"}})
    for name, display in mgs.items():
        mid = f"/providers/Microsoft.Management/managementGroups/{name}"
        tenant.management_groups.append({
            "id": mid, "type": "Microsoft.Management/managementGroups", "name": name,
            "properties": {"tenantId": tid, "displayName": display}})
        tenant.parents[mid] = root
    for guid, (rname, actions) in BUILTIN_ROLES.items():
        tenant.role_definitions.append(role_definition_doc(
            "", guid, rname, actions, not_actions=_NOT_ACTIONS.get(guid)))
    custom = _id("role", "ops-superuser")
    tenant.role_definitions.append(role_definition_doc(
        "", custom, "Ops Superuser", ["*"], custom=True, assignable=[root]))
    _entra(tenant, rng, users)
    admins_group = _id("group", "platform-admins")
    n = 0
    tenant.role_assignments.append(_assignment(root, OWNER, admins_group, "Group", n))
    platform = "/providers/Microsoft.Management/managementGroups/platform"
    tenant.role_assignments.append(_assignment(platform, USER_ACCESS_ADMIN,
                                               _id("user", "dave"), "User", 1))
    for j in range(subscriptions):
        sub = _id("subscription", seed, j)
        sid = f"/subscriptions/{sub}"
        parent = platform if j % 2 == 0 else \
            "/providers/Microsoft.Management/managementGroups/landing-zones"
        tenant.parents[sid] = parent
        tenant.subscriptions.append({
            "id": sid, "subscriptionId": sub, "tenantId": tid,
            "displayName": f"contoso-{'prod' if j % 3 == 0 else 'dev'}-{j:03d}",
            "state": "Enabled", "authorizationSource": "RoleBased",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "EnterpriseAgreement_2014-09-01",
                                     "spendingLimit": "Off"},
            "managedByTenants": [], "tags": {}})
        owner = _id("user", f"user{j % max(users, 1):04d}")
        sp = _id("sp", "deployer", j)
        rg = f"{sid}/resourceGroups/rg-app-{j:03d}"
        tenant.role_assignments += [
            _assignment(sid, OWNER, owner, "User", 10 + j),
            _assignment(sid, CONTRIBUTOR, sp, "ServicePrincipal", 10 + j),
            _assignment(sid, READER, _id("group", "auditors"), "Group", 10 + j),
            _assignment(rg, CONTRIBUTOR, _id("user", "bob"), "User", 10 + j),
            _assignment(rg, STORAGE_BLOB_READER, sp, "ServicePrincipal", 10 + j),
        ]
        if j % 3 == 2:
            tenant.role_assignments.append(
                _assignment(sid, custom, _id("user", "carol"), "User", 10 + j))
        rgname = f"rg-app-{j:03d}"
        tenant.storage_accounts[sub] = [_storage(sub, rgname, i, i % 3) for i in range(3)]
        for i in range(2):
            _vault(tenant, sub, rgname, i, hardened=(i == 0))
        _logging(tenant, sub, j)
    return tenant
