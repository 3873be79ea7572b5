"""The `azure` connector: RBAC, Entra MFA, storage, Key Vault and activity-log evidence."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, ClassVar

from azure.core.credentials import TokenCredential

from connectors.azure import assess as A
from connectors.azure import examples as X
from connectors.azure.clients import CredentialFactory, Session, build_credential
from connectors.azure.config import AzureConfig
from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import ConnectorError

DAY = timedelta(days=1)
API = {"authorization": "2022-04-01", "diagnosticSettings": "2021-05-01-preview",
       "logprofiles": "2016-03-01", "operationalinsights": "2023-09-01"}
READER = "Reader (built-in role) on each subscription or a management group above them"


def _dump(model: Any) -> dict[str, Any]:
    """An SDK model as its REST JSON (camelCase keys, as the documented API returns them)."""
    if hasattr(model, "serialize") and not hasattr(model, "_data"):
        out: dict[str, Any] = model.serialize(keep_readonly=True)
        return out
    return dict(model.as_dict())


def scope_level(scope: str) -> str:
    """Where an assignment's scope sits in the ARM hierarchy."""
    s = scope.rstrip("/").lower()
    if s == "":
        return "root"
    if s.startswith("/providers/microsoft.management/managementgroups/"):
        return "management_group"
    parts = s.split("/")
    if len(parts) == 3:
        return "subscription"
    if len(parts) == 5 and parts[3] == "resourcegroups":
        return "resource_group"
    return "resource"


class _Run:
    """One snapshot's run: its session and the subscription fan-out."""

    def __init__(self, conn: AzureConnector, ctx: SnapshotContext) -> None:
        self.cfg = conn.cfg
        self.s = Session(conn.cfg, conn.credential(), ctx.ipe)
        self.ipe = ctx.ipe
        self.unreadable: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.s.principal()

    def subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions to collect: every one the principal sees, or the configured
        list (a configured one that is not visible is attempted, and recorded if it fails)."""
        client = self.s.mgmt("subscriptions")
        # A list cut short keeps the subscriptions it read: the provenance says so and the
        # record is partial (the runner adds an inconclusive finding for the rest).
        cut: list[str] = []
        listed = self.s.pages("subscriptions.list", f"tenant {self.cfg.tenant_id}",
                              {"api-version": "2022-12-01"}, client.subscriptions.list(),
                              incomplete=cut)
        seen = {s.subscription_id.lower(): {"subscription_id": s.subscription_id.lower(),
                                            "display_name": s.display_name,
                                            "state": str(s.state) if s.state else None}
                for s in listed}
        if self.cfg.subscriptions == "all":
            chosen = list(seen.values())
        else:
            chosen = [seen.get(sid, {"subscription_id": sid, "display_name": None,
                                     "state": None}) for sid in self.cfg.subscriptions]
        excluded = set(self.cfg.exclude_subscriptions)
        return sorted((c for c in chosen if c["subscription_id"] not in excluded),
                      key=lambda c: c["subscription_id"])

    def each(self, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
        """Run `fn` on every subscription with bounded concurrency; a subscription that fails
        is recorded as unreadable and the rest go on; if none could be read, it raises."""
        subs = self.subscriptions()
        results: list[dict[str, Any]] = []
        first: ConnectorError | None = None

        def one(sub: dict[str, Any]) -> None:
            nonlocal first
            try:
                r = fn(sub)
            except ConnectorError as e:
                with self._lock:
                    first = first or e
                    self.unreadable.append({"subscription_id": sub["subscription_id"],
                                            "error": e.message})
                self.ipe.error(f"subscription {sub['subscription_id']}: {e.message}")
                return
            with self._lock:
                results.append(r)

        with ThreadPoolExecutor(max_workers=self.cfg.workers,
                                thread_name_prefix="azure") as pool:
            list(pool.map(one, subs))
        if first is not None and not results:
            raise first
        results.sort(key=lambda r: r["subscription_id"])
        self.unreadable.sort(key=lambda u: u["subscription_id"])
        return results

    def content(self, subs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"tenant_id": self.cfg.tenant_id, **extra, "subscriptions": subs,
                "unreadable": self.unreadable}


class AzureConnector(Connector[AzureConfig]):
    """Evidence from an Azure tenant: RBAC, Entra ID MFA and Conditional Access, storage
    accounts, Key Vault and the subscription activity log."""

    name: ClassVar[str] = "azure"
    title: ClassVar[str] = "Microsoft Azure and Entra ID"

    def __init__(self, instance: str, config: AzureConfig, *,
                 factory: CredentialFactory | None = None) -> None:
        super().__init__(instance, config, factory=factory or build_credential)
        self.cfg = self.config
        self._cred: TokenCredential | None = None
        self._cred_lock = threading.Lock()

    @classmethod
    def permission_document(cls) -> str:
        """The read-only Azure roles and Microsoft Graph application permissions needed."""
        arm = sorted(p for p in cls.permissions() if not p.startswith("graph:"))
        graph = sorted(p.removeprefix("graph:") for p in cls.permissions()
                       if p.startswith("graph:"))
        lines = ["# Azure RBAC: assign the built-in role Reader (acdd72a7-3385-48ef-bd42-"
                 "f606fba81ae7)",
                 "# at the tenant root management group (or each subscription). It covers "
                 "these actions:"]
        lines += [f"  {p}" for p in arm]
        lines += ["# Microsoft Graph application permissions (admin consent required; the "
                  "registration", "# report also needs Microsoft Entra ID P1 or P2):"]
        lines += [f"  {p}" for p in graph]
        return "\n".join(lines)

    def credential(self) -> TokenCredential:
        """The azure-identity credential, made once and shared (it caches tokens)."""
        with self._cred_lock:
            if self._cred is None:
                self._cred = self.factory(self.cfg)
            return self._cred

    def close(self) -> None:
        with self._cred_lock:
            cred, self._cred = self._cred, None
        closer = getattr(cred, "close", None)
        if callable(closer):
            closer()

    def check(self) -> CheckResult:
        """An ARM token and the subscriptions it sees: reachable, authenticated, permitted."""
        ipe = Provenance()
        try:
            s = Session(self.cfg, self.credential(), ipe)
            who = s.principal()
            subs = s.pages("subscriptions.list", f"tenant {self.cfg.tenant_id}", {},
                           s.mgmt("subscriptions").subscriptions.list())
        except ConnectorError as e:
            return CheckResult(False, detail=str(e))
        if not subs:
            return CheckResult(False, who, f"tenant {self.cfg.tenant_id}",
                               "no subscription visible: " + READER)
        return CheckResult(True, who, f"tenant {self.cfg.tenant_id}",
                           f"{len(subs)} subscription(s) visible")

    # --- RBAC -----------------------------------------------------------------------------

    @snapshot(controls=["CC6.3", "CC6.1"], max_age=DAY,
              permissions=["Microsoft.Authorization/roleAssignments/read",
                           "Microsoft.Authorization/roleDefinitions/read",
                           "Microsoft.Management/managementGroups/read",
                           "Microsoft.Management/managementGroups/descendants/read",
                           "Microsoft.Resources/subscriptions/read"],
              assess=A.assess_role_assignments, example=X.ROLE_ASSIGNMENTS,
              vendor=X.VENDOR["role_assignments"])
    def role_assignments(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every role assignment that applies to each subscription: at the subscription, its
        resource groups and resources, and inherited from management groups (recorded with
        the scope it comes from), with role names, principal types and which are privileged
        (Owner, Contributor, User Access Administrator, RBAC Administrator, or a custom role
        that amounts to one): the population for an access review."""
        run = _Run(self, ctx)
        tree = self._management_tree(run)

        def one(sub: dict[str, Any]) -> dict[str, Any]:
            sid = sub["subscription_id"]
            auth = run.s.mgmt("authorization", sid)
            target = f"subscription {sid}"
            incomplete: list[str] = []
            defs = run.s.pages("authorization.roleDefinitions.list", target,
                               {"scope": f"/subscriptions/{sid}",
                                "api-version": API["authorization"]},
                               auth.role_definitions.list(f"/subscriptions/{sid}"),
                               incomplete=incomplete)
            roles = {}
            for d in defs:
                perms = [{"actions": list(p.actions or []),
                          "notActions": list(p.not_actions or [])}
                         for p in d.permissions or []]
                roles[A.role_guid(d.id)] = {"name": d.role_name, "type": d.role_type,
                                            "permissions": perms}
            ras = run.s.pages("authorization.roleAssignments.listForSubscription", target,
                              {"api-version": API["authorization"]},
                              auth.role_assignments.list_for_subscription(),
                              incomplete=incomplete)
            out = []
            for a in ras:
                guid = A.role_guid(a.role_definition_id)
                role = roles.get(guid, {})
                level = scope_level(a.scope)
                why: str | None = None
                if guid in A.PRIVILEGED_BUILTIN:
                    why = A.PRIVILEGED_BUILTIN[guid]
                elif role.get("type") == "CustomRole":
                    why = A.custom_role_privilege(role.get("permissions", []))
                out.append({
                    "id": a.id, "scope": a.scope, "scope_level": level,
                    "inherited": level in ("root", "management_group"),
                    "inherited_from": a.scope if level in ("root", "management_group")
                    else None,
                    "role_definition_id": a.role_definition_id,
                    "role_name": role.get("name"), "role_type": role.get("type"),
                    "privileged": why is not None, "privileged_reason": why,
                    "principal_id": a.principal_id,
                    "principal_type": str(a.principal_type) if a.principal_type else None,
                    "condition": a.condition, "created_on": a.created_on.isoformat()
                    if a.created_on else None,
                })
            out.sort(key=lambda x: (x["scope"].lower(), x["id"]))
            unknown = sorted({x["role_definition_id"] for x in out if x["role_name"] is None})
            return {**sub, "ancestors": tree.get(f"/subscriptions/{sid}", []),
                    "assignments": out, "unknown_role_definitions": unknown,
                    "incomplete": incomplete}

        subs = run.each(one)
        n = sum(len(s["assignments"]) for s in subs)
        return SnapshotResult(run.content(subs, max_owners=self.cfg.max_owners,
                                          management_groups=tree.get("_groups", [])), n)

    def _management_tree(self, run: _Run) -> dict[str, Any]:
        """Subscription -> its management groups (nearest first), from the descendants of
        the configured group; an unreadable tree is recorded, not fatal (each assignment
        still carries its own scope)."""
        root = self.cfg.management_group or self.cfg.tenant_id
        mg = run.s.mgmt("managementgroups")
        try:
            ds = run.s.pages("managementGroups.getDescendants", f"management group {root}",
                             {"groupId": root, "api-version": "2023-04-01"},
                             mg.management_groups.get_descendants(root))
        except ConnectorError as e:
            run.ipe.error(f"management group tree {root}: {e.message}")
            return {}
        parent: dict[str, str | None] = {}
        groups = [{"id": f"/providers/Microsoft.Management/managementGroups/{root}",
                   "display_name": None, "parent": None}]
        for d in ds:
            p = d.properties.parent.id if d.properties and d.properties.parent else None
            parent[d.id] = p
            if d.type != "/subscriptions":
                groups.append({"id": d.id, "display_name": d.properties.display_name
                               if d.properties else None, "parent": p})
        tree: dict[str, Any] = {"_groups": sorted(groups, key=lambda g: g["id"])}
        for child in parent:
            if child.startswith("/subscriptions/"):
                chain, cur, hops = [], parent.get(child), 0
                while cur and hops < 12:
                    chain.append(cur)
                    cur, hops = parent.get(cur), hops + 1
                tree[child.lower()] = chain
        return tree

    # --- Entra ID -------------------------------------------------------------------------

    def _admins(self, run: _Run, target: str) -> list[dict[str, Any]]:
        """Members of every activated directory role, with their roles."""
        roles = list(run.s.rest_pages("graph", "graph.directoryRoles.list", target,
                                      "/v1.0/directoryRoles", {}, keep_partial=True))
        by_member: dict[str, dict[str, Any]] = {}
        for r in sorted(roles, key=lambda r: str(r.get("displayName"))):
            for m in run.s.rest_pages("graph", "graph.directoryRoles.members", target,
                                      f"/v1.0/directoryRoles/{r['id']}/members", {},
                                      keep_partial=True):
                entry = by_member.setdefault(m["id"], {
                    "id": m["id"], "type": str(m.get("@odata.type", "")).rsplit(".", 1)[-1],
                    "userPrincipalName": m.get("userPrincipalName"),
                    "displayName": m.get("displayName"), "roles": [],
                    "role_template_ids": []})
                entry["roles"].append(r.get("displayName"))
                entry["role_template_ids"].append(r.get("roleTemplateId"))
        return sorted(by_member.values(), key=lambda a: a["id"])

    @snapshot(controls=["CC6.1"], max_age=DAY,
              permissions=["graph:AuditLog.Read.All", "graph:RoleManagement.Read.Directory"],
              assess=A.assess_mfa_registration, example=X.MFA_REGISTRATION,
              vendor=X.VENDOR["entra_mfa_registration"])
    def entra_mfa_registration(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every user's MFA registration from Microsoft Graph's authentication-methods
        registration report (registered, capable, methods), with the directory-role holders
        marked: proves which users, and which administrators, can do MFA."""
        run = _Run(self, ctx)
        target = f"tenant {self.cfg.tenant_id}"
        users = list(run.s.rest_pages(
            "graph", "graph.reports.userRegistrationDetails", target,
            "/v1.0/reports/authenticationMethods/userRegistrationDetails", {"$top": "999"},
            keep_partial=True))
        admins = self._admins(run, target)
        users.sort(key=lambda u: str(u.get("id")))
        times = sorted(str(u["lastUpdatedDateTime"]) for u in users
                       if u.get("lastUpdatedDateTime"))
        content = {"tenant_id": self.cfg.tenant_id, "users": users,
                   "admins": [a for a in admins if a["type"] == "user"],
                   "report_updated": {"oldest": times[0] if times else None,
                                      "newest": times[-1] if times else None}}
        return SnapshotResult(content, len(users))

    @snapshot(controls=["CC6.1"], max_age=DAY,
              permissions=["graph:Policy.Read.All", "graph:RoleManagement.Read.Directory",
                           "graph:GroupMember.Read.All", "graph:User.Read.All"],
              assess=A.assess_conditional_access, example=X.CONDITIONAL_ACCESS,
              vendor=X.VENDOR["conditional_access"])
    def conditional_access(self, ctx: SnapshotContext) -> SnapshotResult:
        """Whether MFA is enforced, not only registered: the security-defaults policy and
        every Conditional Access policy (state, grant controls, users, groups and roles
        included and excluded), the directory-role holders, the members of every group the
        policies name, and the accounts they exclude by name."""
        run = _Run(self, ctx)
        target = f"tenant {self.cfg.tenant_id}"
        sd = run.s.rest("graph", "graph.policies.identitySecurityDefaultsEnforcementPolicy",
                        target, "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", {})
        policies = sorted(run.s.rest_pages("graph", "graph.identity.conditionalAccess.policies",
                                           target, "/v1.0/identity/conditionalAccess/policies",
                                           {}, keep_partial=True),
                          key=lambda p: str(p.get("id")))
        admins = [a for a in self._admins(run, target) if a["type"] == "user"]
        group_ids: set[str] = set()
        user_ids: set[str] = set()
        for p in policies:
            u = (p.get("conditions") or {}).get("users") or {}
            group_ids |= set(u.get("includeGroups") or []) | set(u.get("excludeGroups") or [])
            user_ids |= set(u.get("includeUsers") or []) | set(u.get("excludeUsers") or [])
        user_ids -= {"All", "None", "GuestsOrExternalUsers"}
        groups: dict[str, Any] = {}
        user_groups: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for gid in sorted(group_ids):
            g = run.s.rest("graph", "graph.groups.get", target, f"/v1.0/groups/{gid}",
                           {"$select": "id,displayName"}, absent=(404,))
            names[gid] = f"group {g.get('displayName')}" if g else f"{gid} (not found)"
            members = list(run.s.rest_pages(
                "graph", "graph.groups.transitiveMembers", target,
                f"/v1.0/groups/{gid}/transitiveMembers", {}, keep_partial=True))
            groups[gid] = sorted(m["id"] for m in members)
            for m in members:
                user_groups.setdefault(m["id"], []).append(gid)
                user_ids.add(m["id"])
        guests: list[str] = []
        for uid in sorted(user_ids | {a["id"] for a in admins}):
            u = run.s.rest("graph", "graph.users.get", target, f"/v1.0/users/{uid}",
                           {"$select": "id,userPrincipalName,displayName,userType"}, absent=(404,))
            if u is None:
                names[uid] = f"{uid} (not a user)"
                continue
            names[uid] = str(u.get("userPrincipalName") or u.get("displayName") or uid)
            if str(u.get("userType", "")).lower() == "guest":
                guests.append(uid)
        content = {
            "tenant_id": self.cfg.tenant_id, "security_defaults": sd, "policies": policies,
            "admins": admins, "groups": groups,
            "user_groups": {k: sorted(v) for k, v in sorted(user_groups.items())},
            "user_roles": {a["id"]: sorted(set(a["role_template_ids"])) for a in admins},
            "guests": sorted(guests), "names": names,
            "break_glass": sorted(self.cfg.break_glass),
        }
        return SnapshotResult(content, len(policies))

    # --- storage and keys -----------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.7", "C1.1"], max_age=DAY,
              permissions=["Microsoft.Storage/storageAccounts/read",
                           "Microsoft.Resources/subscriptions/read"],
              assess=A.assess_storage_accounts, example=X.STORAGE_ACCOUNTS,
              vendor=X.VENDOR["storage_accounts"])
    def storage_accounts(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every storage account's encryption (and customer-managed key), minimum TLS
        version, HTTPS-only, anonymous blob access and shared-key access, as ARM returns
        them (unset properties stay null; the verdict applies the documented defaults)."""
        run = _Run(self, ctx)

        def one(sub: dict[str, Any]) -> dict[str, Any]:
            sid = sub["subscription_id"]
            client = run.s.mgmt("storage", sid)
            incomplete: list[str] = []
            accts = run.s.pages("storage.storageAccounts.list", f"subscription {sid}",
                                {"api-version": client._config.api_version},
                                client.storage_accounts.list(), incomplete=incomplete)
            keep = ("encryption", "minimumTlsVersion", "supportsHttpsTrafficOnly",
                    "allowBlobPublicAccess", "allowSharedKeyAccess", "publicNetworkAccess",
                    "networkAcls", "creationTime")
            out = []
            for a in accts:
                d = _dump(a)
                props = d.get("properties") or {}
                out.append({"id": d["id"], "name": d.get("name"), "kind": d.get("kind"),
                            "location": d.get("location"),
                            "properties": {k: props.get(k) for k in keep}})
            return {**sub, "accounts": sorted(out, key=lambda a: a["id"].lower()),
                    "incomplete": incomplete}

        subs = run.each(one)
        return SnapshotResult(run.content(subs, require_cmk=self.cfg.require_cmk,
                                          minimum_tls=self.cfg.minimum_tls),
                              sum(len(s["accounts"]) for s in subs))

    @snapshot(controls=["CC6.1"], max_age=DAY,
              permissions=["Microsoft.KeyVault/vaults/read",
                           "Microsoft.KeyVault/vaults/keys/read",
                           "Microsoft.Resources/subscriptions/read"],
              assess=A.assess_key_vaults, example=X.KEY_VAULTS,
              vendor=X.VENDOR["key_vaults"])
    def key_vaults(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every key vault's soft delete, purge protection and authorization mode (RBAC or
        access policies), and each key's rotation policy (through ARM, no data-plane
        access needed): proves keys are protected from deletion and rotated."""
        run = _Run(self, ctx)

        def one(sub: dict[str, Any]) -> dict[str, Any]:
            sid = sub["subscription_id"]
            client = run.s.mgmt("keyvault", sid)
            target = f"subscription {sid}"
            params = {"api-version": client._config.api_version}
            incomplete: list[str] = []
            vaults = run.s.pages("keyvault.vaults.listBySubscription", target, params,
                                 client.vaults.list_by_subscription(), incomplete=incomplete)
            out = []
            for v in vaults:
                d = _dump(v)
                rg = d["id"].split("/")[4]
                props = d.get("properties") or {}
                entry: dict[str, Any] = {
                    "id": d["id"], "name": d.get("name"), "location": d.get("location"),
                    "properties": {k: props.get(k) for k in (
                        "enableSoftDelete", "softDeleteRetentionInDays",
                        "enablePurgeProtection", "enableRbacAuthorization",
                        "publicNetworkAccess", "vaultUri")},
                    "access_policies": len(props.get("accessPolicies") or []), "keys": [],
                    "keys_error": None}
                try:
                    keys = run.s.pages("keyvault.keys.list", f"vault {d['id']}",
                                       {**params, "resourceGroupName": rg,
                                        "vaultName": d.get("name")},
                                       client.keys.list(rg, d.get("name")))
                    entry["keys"] = sorted(
                        ({"id": k["id"], "name": k.get("name"),
                          "properties": {x: (k.get("properties") or {}).get(x) for x in (
                              "attributes", "kty", "keySize", "rotationPolicy")}}
                         for k in map(_dump, keys)), key=lambda k: k["id"].lower())
                except ConnectorError as e:
                    entry["keys_error"] = e.message
                    run.ipe.error(f"vault {d['id']}: keys: {e.message}")
                out.append(entry)
            return {**sub, "vaults": sorted(out, key=lambda v: v["id"].lower()),
                    "incomplete": incomplete}

        subs = run.each(one)
        n = sum(len(s["vaults"]) for s in subs)
        return SnapshotResult(run.content(subs), n)

    # --- activity log ---------------------------------------------------------------------

    def _diagnostic(self, run: _Run, sid: str) -> list[dict[str, Any]]:
        items = run.s.rest_pages("arm", "insights.diagnosticSettings.list",
                                 f"subscription {sid}",
                                 f"/subscriptions/{sid}/providers/microsoft.insights/"
                                 "diagnosticSettings",
                                 {"api-version": API["diagnosticSettings"]})
        return sorted(items, key=lambda s: str(s.get("id")).lower())

    @snapshot(controls=["CC7.2"], max_age=DAY,
              permissions=["Microsoft.Insights/DiagnosticSettings/Read",
                           "Microsoft.Resources/subscriptions/read"],
              assess=A.assess_diagnostic_settings, example=X.DIAGNOSTIC_SETTINGS,
              vendor=X.VENDOR["diagnostic_settings"])
    def diagnostic_settings(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each subscription's activity-log diagnostic settings: which categories go to which
        Log Analytics workspace, storage account, Event Hub or partner: proves
        administrative and security events are exported for monitoring."""
        run = _Run(self, ctx)

        def one(sub: dict[str, Any]) -> dict[str, Any]:
            return {**sub, "settings": self._diagnostic(run, sub["subscription_id"])}

        subs = run.each(one)
        return SnapshotResult(run.content(subs), sum(len(s["settings"]) for s in subs))

    @snapshot(controls=["CC7.2"], max_age=DAY,
              permissions=["Microsoft.Insights/DiagnosticSettings/Read",
                           "Microsoft.Insights/LogProfiles/Read",
                           "Microsoft.OperationalInsights/workspaces/read",
                           "Microsoft.OperationalInsights/workspaces/tables/read",
                           "Microsoft.Resources/subscriptions/read"],
              assess=A.assess_activity_log, example=X.ACTIVITY_LOG,
              vendor=X.VENDOR["activity_log"])
    def activity_log(self, ctx: SnapshotContext) -> SnapshotResult:
        """How long each subscription's activity log is kept: the retention of the
        AzureActivity table in every Log Analytics workspace it is exported to (archive
        included), legacy log profiles' retention, and the storage or Event Hub
        destinations whose retention is not visible here."""
        run = _Run(self, ctx)

        def one(sub: dict[str, Any]) -> dict[str, Any]:
            sid = sub["subscription_id"]
            dests: list[dict[str, Any]] = []
            for s in self._diagnostic(run, sid):
                p = s.get("properties") or {}
                cats = sorted(A.exported_categories(s))
                if p.get("workspaceId"):
                    dests.append(self._workspace_retention(run, p["workspaceId"], cats))
                if p.get("storageAccountId"):
                    dests.append({"kind": "storage_account", "id": p["storageAccountId"],
                                  "categories": cats, "retention_days": None, "table": None,
                                  "error": "lifecycle management not read"})
                if p.get("eventHubAuthorizationRuleId"):
                    dests.append({"kind": "event_hub", "id": p["eventHubAuthorizationRuleId"],
                                  "categories": cats, "retention_days": None, "table": None,
                                  "error": "forwarded outside Azure Monitor"})
            profiles = list(run.s.rest_pages(
                "arm", "insights.logProfiles.list", f"subscription {sid}",
                f"/subscriptions/{sid}/providers/microsoft.insights/logprofiles",
                {"api-version": API["logprofiles"]}))
            return {**sub, "destinations": sorted(dests, key=lambda d: (d["kind"], d["id"])),
                    "log_profiles": sorted(profiles, key=lambda p: str(p.get("id")))}

        subs = run.each(one)
        return SnapshotResult(run.content(subs, min_retention_days=(
            self.cfg.activity_log_retention_days)), len(subs))

    def _workspace_retention(self, run: _Run, ws: str, cats: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "log_analytics", "id": ws, "categories": cats,
                               "retention_days": None, "table": None, "error": None}
        sid = ws.split("/")[2] if ws.lower().startswith("/subscriptions/") else "?"
        try:
            table = run.s.rest("arm", "operationalinsights.tables.get", f"subscription {sid}",
                               f"{ws}/tables/AzureActivity",
                               {"api-version": API["operationalinsights"]},
                               absent=(404,))
            if table is not None:
                tp = table.get("properties") or {}
                days = tp.get("totalRetentionInDays") or tp.get("retentionInDays")
                out["retention_days"] = int(days) if days is not None else None
                out["table"] = {k: tp.get(k) for k in ("retentionInDays",
                                                       "totalRetentionInDays",
                                                       "archiveRetentionInDays")}
                return out
            w = run.s.rest("arm", "operationalinsights.workspaces.get", f"subscription {sid}",
                           ws, {"api-version": API["operationalinsights"]},
                           absent=(404,))
            if w is None:
                out["error"] = "workspace not found"
            else:
                days = (w.get("properties") or {}).get("retentionInDays")
                out["retention_days"] = int(days) if days is not None else None
        except ConnectorError as e:
            out["error"] = e.message  # a workspace in a subscription we cannot read
        return out
