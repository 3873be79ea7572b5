"""The `gcp` connector: IAM, audit logging, KMS, Cloud Storage and organization policies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from google.cloud import kms_v1, orgpolicy_v2
from google.protobuf import json_format

from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import AuthError, ConnectorError, PermissionDenied
from connectors.gcp import assess as A
from connectors.gcp import examples as X
from connectors.gcp.auth import CredentialFactory, default_credentials
from connectors.gcp.calls import PERMISSION, Api
from connectors.gcp.config import GcpConfig
from connectors.gcp.hierarchy import (
    Project,
    Tree,
    discover,
    fan_out,
    get_iam_policy,
    unreadable_entry,
)
from connectors.gcp.permissions import permission_document
from connectors.gcp.rules import classify_member, describe_grant, duration_seconds

DAY = timedelta(days=1)
_VERSION_STATE = {0: "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED", 1: "ENABLED", 2: "DISABLED",
                  3: "DESTROYED", 4: "DESTROY_SCHEDULED", 5: "PENDING_GENERATION"}

HIERARCHY = ["resourcemanager.organizations.get", "resourcemanager.folders.list",
             "resourcemanager.folders.get", "resourcemanager.projects.list",
             "resourcemanager.projects.get"]
POLICIES = ["resourcemanager.organizations.getIamPolicy",
            "resourcemanager.folders.getIamPolicy", "resourcemanager.projects.getIamPolicy"]


# With a list of projects, the organization and folders above them are read where the
# principal may (their policies still decide whether a project can pass).
_BEST_EFFORT = frozenset({"cloudresourcemanager.organizations.get",
                          "cloudresourcemanager.folders.get",
                          "cloudresourcemanager.organizations.getIamPolicy",
                          "cloudresourcemanager.folders.getIamPolicy"})


class _Run:
    """One snapshot's clients, scope and the parts it could not read."""

    def __init__(self, connector: GcpConnector, ctx: SnapshotContext,
                 optional: frozenset[str] = frozenset()) -> None:
        self.ctx = ctx
        self.cfg = connector.cfg
        self.api = connector.api()
        self.ipe = ctx.ipe
        self.ipe.principal = connector.principal
        self.tree: Tree = discover(self.api, self.ipe)
        self.ipe.source = self.cfg.organization or ", ".join(
            f"projects/{p}" for p in self.cfg.projects)
        self.unreadable: list[dict[str, str]] = list(self.tree.unreadable)
        self._lock = threading.Lock()
        self.optional = optional | (_BEST_EFFORT if not self.cfg.organization else frozenset())
        self.done()

    def done(self) -> None:
        """Fail the snapshot when an operation was refused on every resource it was called
        for (a permission missing everywhere, not one unreadable project), or when no project
        at all could be read; otherwise what could not be read stays recorded as such."""
        calls = list(self.ipe.calls)
        worked = {c.operation for c in calls if c.ok}
        refused = sorted({(c.operation, str(c.error)) for c in calls
                          if not c.ok and c.error in ("PermissionDenied", "AuthError")
                          and c.operation not in worked and c.operation not in self.optional})
        if refused:
            op, kind = refused[0]
            cls = AuthError if kind == "AuthError" else PermissionDenied
            raise cls(f"{op} was refused on every resource it was called for",
                      hint=f"grant {PERMISSION.get(op, op)} to the collecting principal")
        if not self.tree.projects and self.unreadable:
            first = self.unreadable[0]
            raise ConnectorError(f"no project could be read: {first['resource']}: "
                                 f"{first['detail']}",
                                 hint="grant resourcemanager.projects.get / .list on the scope")

    def fail(self, resource: str, e: ConnectorError) -> str:
        """Record an unreadable part (IPE error + content entry); returns the message."""
        self.ipe.error(f"{resource}: {e}")
        self.ctx.log.warning("gcp %s: %s could not be read: %s", self.ctx.snapshot, resource, e)
        with self._lock:
            self.unreadable.append(unreadable_entry(resource, e))
        return e.message

    def sorted_unreadable(self) -> list[dict[str, str]]:
        return sorted(self.unreadable, key=lambda u: (u["resource"], u["detail"]))

    def each_project(self, fn: Callable[[Project], dict[str, Any]]) -> list[dict[str, Any]]:
        return fan_out(self.cfg.workers, fn, self.tree.projects)

    def policies(self, names: list[str]) -> dict[str, dict[str, Any] | str]:
        """Allow policies by resource name; an unreadable one maps to its error message."""
        def one(name: str) -> tuple[str, dict[str, Any] | str]:
            try:
                return name, get_iam_policy(self.api, self.ipe, name)
            except ConnectorError as e:
                return name, self.fail(name, e)
        return dict(fan_out(self.cfg.workers, one, names))

    def nodes_json(self, pols: dict[str, dict[str, Any] | str],
                   shape: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        out = []
        for n in sorted(self.tree.nodes.values(), key=lambda n: n.name):
            pol = pols.get(n.name)
            out.append({"name": n.name, "kind": n.kind, "display_name": n.display_name,
                        "parent": n.parent,
                        "policy": shape(pol) if isinstance(pol, dict) else None,
                        "unreadable": n.unreadable or (pol if isinstance(pol, str) else None)})
        return out

    def scope(self) -> dict[str, Any]:
        return {"organization": self.cfg.organization, "projects": list(self.cfg.projects),
                "domain": self.tree.domain()}


def _condition(c: Any) -> dict[str, Any] | None:
    if not c:
        return None
    return {"title": c.get("title"), "description": c.get("description"),
            "expression": c.get("expression")}


def _bindings(pol: dict[str, Any]) -> dict[str, Any]:
    bs = [{"role": b.get("role"), "members": sorted(b.get("members", [])),
           "condition": _condition(b.get("condition"))}
          for b in pol.get("bindings", [])]
    return {"version": pol.get("version", 1),
            "bindings": sorted(bs, key=lambda b: (str(b["role"]), str(b["members"]),
                                                  str(b.get("condition"))))}


def _audit(pol: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"service": a.get("service"), "auditLogConfigs": sorted(
        ({"logType": lc.get("logType"), "exemptedMembers": sorted(lc.get("exemptedMembers", []))}
         for lc in a.get("auditLogConfigs", [])), key=lambda lc: str(lc["logType"]))}
        for a in pol.get("auditConfigs", [])]
    return sorted(out, key=lambda a: str(a["service"]))


class GcpConnector(Connector[GcpConfig]):
    """Evidence from Google Cloud: IAM (inherited), audit logs, KMS, Cloud Storage, org policy."""

    name: ClassVar[str] = "gcp"
    title: ClassVar[str] = "Google Cloud"

    def __init__(self, instance: str, config: GcpConfig, *,
                 factory: CredentialFactory | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(instance, config, factory=factory or default_credentials)
        self.cfg = self.config
        self._sleep = sleep
        self._clock = clock
        self._api: Api | None = None
        self.principal: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def permission_document(cls) -> str:
        """Predefined read-only roles, and a custom role with exactly the permissions used."""
        return permission_document(cls.permissions())

    def api(self) -> Api:
        """The connector's API layer (credentials built once, on first use)."""
        with self._lock:
            if self._api is None:
                creds, self.principal = self.factory(self.cfg)
                self._api = Api(self.cfg, creds, sleep=self._sleep)
            return self._api

    def _evaluated_on(self) -> str:
        return self._clock().astimezone(UTC).date().isoformat()

    def check(self) -> CheckResult:
        """The organization (or each project) can be read with the configured credentials."""
        try:
            api = self.api()
            tree = discover(api, Provenance())
        except ConnectorError as e:
            return CheckResult(False, self.principal, None, str(e))
        source = self.cfg.organization or ", ".join(self.cfg.projects)
        if tree.unreadable:
            return CheckResult(False, self.principal, source, "; ".join(
                f"{u['resource']}: {u['detail']}" for u in tree.unreadable))
        return CheckResult(True, self.principal, source,
                           f"{len(tree.projects)} project(s) readable")

    # --- IAM ---------------------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.3"], max_age=DAY,
              permissions=[*HIERARCHY, *POLICIES, "iam.serviceAccounts.list",
                           "iam.serviceAccountKeys.list"],
              assess=A.assess_iam_policies, example=X.IAM_POLICIES)
    def iam_policies(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every IAM binding on the organization, its folders and each project (version-3
        policies, conditions kept), each project's effective grants of the basic roles and to
        members outside the allowed domains with where each is inherited from, and every
        service account's keys with their creation time: proves who can administer what."""
        run = _Run(self, ctx)
        tree = run.tree
        names = sorted(tree.nodes) + [p.name for p in tree.projects]
        names = [n for n in names if tree.nodes.get(n) is None or
                 tree.nodes[n].unreadable is None]
        pols = run.policies(names)
        domains = set(self.cfg.allowed_domains)
        if tree.domain():
            domains.add(str(tree.domain()).lower())
        known = tree.known_projects()
        nodes = run.nodes_json(pols, _bindings)
        node_map = {n["name"]: n for n in nodes}

        def one(p: Project) -> dict[str, Any]:
            pol = pols.get(p.name)
            out: dict[str, Any] = {
                "name": p.name, "project_id": p.project_id, "parent": p.parent,
                "ancestors": p.ancestors, "ancestry_incomplete": p.ancestry_incomplete,
                "policy": _bindings(pol) if isinstance(pol, dict) else None,
                "unreadable": pol if isinstance(pol, str) else None}
            grants, _missing = A.effective_bindings(out, node_map)
            out["basic_role_grants"] = sorted(describe_grant(g) for g in grants
                                              if g["role"] in A.BASIC_ROLES)
            out["external_grants"] = sorted(
                describe_grant(g) for g in grants
                if classify_member(g["member"], domains, self.cfg.allowed_members, known)
                in ("external", "public"))
            out["service_accounts"], out["service_accounts_unreadable"] = \
                self._service_accounts(run, p)
            return out

        projects = run.each_project(one)
        content = {"evaluated_on": self._evaluated_on(), "scope": run.scope(),
                   "settings": {"allowed_domains": sorted(domains),
                                "allowed_members": sorted(self.cfg.allowed_members),
                                "basic_role_members": sorted(self.cfg.basic_role_members),
                                "max_key_age_days": self.cfg.max_key_age_days},
                   "known_projects": sorted(known), "nodes": nodes, "projects": projects,
                   "unreadable": run.sorted_unreadable()}
        n = sum(len((x["policy"] or {}).get("bindings", [])) for x in [*nodes, *projects])
        run.done()
        return SnapshotResult(content, n)

    def _service_accounts(self, run: _Run, p: Project
                          ) -> tuple[list[dict[str, Any]] | None, str | None]:
        pid = p.project_id
        try:
            accts = run.api.rest_list(run.ipe, "iam", "iam.projects.serviceAccounts.list",
                                      p.ref, f"/v1/projects/{pid}/serviceAccounts", "accounts",
                                      {"pageSize": 100})
        except ConnectorError as e:
            return None, run.fail(f"{p.ref}/serviceAccounts", e)
        out = []
        for a in sorted(accts, key=lambda a: str(a.get("email"))):
            email = str(a.get("email"))
            entry: dict[str, Any] = {"email": email, "disabled": bool(a.get("disabled")),
                                     "keys": None, "keys_unreadable": None}
            try:
                data = run.api.rest_get(run.ipe, "iam", "iam.projects.serviceAccounts.keys.list",
                                        p.ref, f"/v1/projects/{pid}/serviceAccounts/{email}/keys")
                entry["keys"] = sorted(
                    ({"id": str(k.get("name", "")).rsplit("/", 1)[-1],
                      "key_type": k.get("keyType"), "valid_after": k.get("validAfterTime"),
                      "valid_before": k.get("validBeforeTime"),
                      "disabled": bool(k.get("disabled")), "origin": k.get("keyOrigin")}
                     for k in data.get("keys", [])), key=lambda k: str(k["id"]))
            except ConnectorError as e:
                entry["keys_unreadable"] = run.fail(f"{p.ref}/serviceAccounts/{email}", e)
            out.append(entry)
        return out, None

    # --- audit logging -----------------------------------------------------------------------

    @snapshot(controls=["CC7.2"], max_age=DAY,
              permissions=[*HIERARCHY, *POLICIES, "logging.sinks.list", "logging.buckets.list"],
              assess=A.assess_audit_logging, example=X.AUDIT_LOGGING)
    def audit_logging(self, ctx: SnapshotContext) -> SnapshotResult:
        """Data Access / Admin Activity audit configs at every level (inherited as a union), the
        log sinks of the organization, folders and projects with their destinations and
        filters, and each project's log buckets with retention and lock: proves security
        events are recorded and kept."""
        run = _Run(self, ctx)
        tree = run.tree
        names = sorted(n for n, v in tree.nodes.items() if v.unreadable is None)
        pols = run.policies(names + [p.name for p in tree.projects])

        def sinks(parent: str) -> tuple[list[dict[str, Any]] | None, str | None]:
            try:
                got = run.api.rest_list(run.ipe, "logging", "logging.sinks.list", parent,
                                        f"/v2/{parent}/sinks", "sinks", {"pageSize": 200})
            except ConnectorError as e:
                return None, run.fail(f"{parent}/sinks", e)
            return sorted(({"name": s.get("name"), "destination": s.get("destination"),
                            "filter": s.get("filter", ""),
                            "disabled": bool(s.get("disabled")),
                            "include_children": bool(s.get("includeChildren")),
                            "exclusions": [{"name": x.get("name"), "filter": x.get("filter")}
                                           for x in s.get("exclusions", [])
                                           if not x.get("disabled")]}
                           for s in got), key=lambda s: str(s["name"])), None

        node_sinks = dict(zip(names, fan_out(self.cfg.workers, sinks, names), strict=True))
        nodes = run.nodes_json(pols, _audit)
        for n in nodes:
            n["audit_configs"] = n.pop("policy")
            n["sinks"], n["sinks_unreadable"] = node_sinks.get(n["name"], (None, None))

        def one(p: Project) -> dict[str, Any]:
            pol = pols.get(p.name)
            out: dict[str, Any] = {
                "name": p.name, "project_id": p.project_id, "parent": p.parent,
                "ancestors": p.ancestors, "ancestry_incomplete": p.ancestry_incomplete,
                "audit_configs": _audit(pol) if isinstance(pol, dict) else None,
                "unreadable": pol if isinstance(pol, str) else None}
            out["sinks"], out["sinks_unreadable"] = sinks(p.ref)
            try:
                bs = run.api.rest_list(run.ipe, "logging", "logging.buckets.list", p.ref,
                                       f"/v2/projects/{p.project_id}/locations/-/buckets",
                                       "buckets", {"pageSize": 200})
                out["log_buckets"] = sorted(
                    ({"name": b.get("name"), "retention_days": b.get("retentionDays"),
                      "locked": bool(b.get("locked")), "state": b.get("lifecycleState")}
                     for b in bs), key=lambda b: str(b["name"]))
                out["log_buckets_unreadable"] = None
            except ConnectorError as e:
                out["log_buckets"] = None
                out["log_buckets_unreadable"] = run.fail(f"{p.ref}/logBuckets", e)
            return out

        projects = run.each_project(one)
        content = {"scope": run.scope(),
                   "settings": {"min_retention_days": self.cfg.min_log_retention_days},
                   "nodes": nodes, "projects": projects, "unreadable": run.sorted_unreadable()}
        run.done()
        return SnapshotResult(content, len(projects))

    # --- KMS ---------------------------------------------------------------------------------

    @snapshot(controls=["CC6.1"], max_age=DAY,
              permissions=[*HIERARCHY, "cloudkms.locations.list", "cloudkms.keyRings.list",
                           "cloudkms.cryptoKeys.list"],
              assess=A.assess_kms_keys, example=X.KMS_KEYS)
    def kms_keys(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every Cloud KMS key ring and key in every location of each project, with purpose,
        rotation period, next rotation time and primary version state: proves encryption
        keys are rotated."""
        run = _Run(self, ctx)
        timeout = self.cfg.timeout_seconds

        def one(p: Project) -> dict[str, Any]:
            out: dict[str, Any] = {"name": p.name, "project_id": p.project_id, "keys": [],
                                   "locations_unreadable": [], "unreadable": None}
            c = run.api.gapic("cloudkms", kms_v1.KeyManagementServiceClient)
            target = p.ref
            try:
                # list_locations is not a pager: follow next_page_token by hand.
                locs = run.api.paged(run.ipe, "cloudkms", "cloudkms.locations.list", target,
                                     {"name": f"projects/{p.project_id}"}, lambda t: _locs(
                                         c.list_locations(request={
                                             "name": f"projects/{p.project_id}",
                                             "page_token": t}, retry=None, timeout=timeout)))
            except ConnectorError as e:
                out["unreadable"] = run.fail(f"{p.ref}/kms", e)
                return out
            keys: list[dict[str, Any]] = []
            for loc in sorted(locs):
                parent = f"projects/{p.project_id}/locations/{loc}"
                try:
                    rings = run.api.paged(
                        run.ipe, "cloudkms", "cloudkms.keyRings.list", parent,
                        {"parent": parent}, lambda t, pa=parent: _page(  # type: ignore[misc]
                            c.list_key_rings(request={"parent": pa, "page_token": t,
                                                      "page_size": 1000},
                                             retry=None, timeout=timeout), "key_rings"))
                    for ring in rings:
                        ks = run.api.paged(
                            run.ipe, "cloudkms", "cloudkms.cryptoKeys.list", ring.name,
                            {"parent": ring.name}, lambda t, r=ring.name: _page(  # type: ignore[misc]
                                c.list_crypto_keys(request={"parent": r, "page_token": t,
                                                            "page_size": 1000},
                                                   retry=None, timeout=timeout),
                                "crypto_keys"))
                        keys.extend(_key(k) for k in ks)
                except ConnectorError as e:
                    run.fail(f"{parent}", e)
                    out["locations_unreadable"].append(loc)
            out["keys"] = sorted(keys, key=lambda k: str(k["name"]))
            return out

        projects = run.each_project(one)
        content = {"evaluated_on": self._evaluated_on(), "scope": run.scope(),
                   "settings": {"max_rotation_days": self.cfg.max_rotation_days},
                   "projects": projects, "unreadable": run.sorted_unreadable()}
        run.done()
        return SnapshotResult(content, sum(len(p["keys"]) for p in projects))

    # --- Cloud Storage -----------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.6", "C1.1"], max_age=DAY,
              permissions=[*HIERARCHY, "storage.buckets.list", "storage.buckets.getIamPolicy",
                           "orgpolicy.policies.get"],
              assess=A.assess_storage_buckets, example=X.STORAGE_BUCKETS)
    def storage_buckets(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every Cloud Storage bucket's default KMS key, uniform bucket-level access, public
        access prevention (the bucket's and the effective organization policy), public IAM
        members, retention policy and lock, versioning and access logging: proves stored data
        is encrypted, not public, and kept."""
        run = _Run(self, ctx, optional=frozenset({"orgpolicy.policies.getEffectivePolicy"}))

        def one(p: Project) -> dict[str, Any]:
            out: dict[str, Any] = {"name": p.name, "project_id": p.project_id,
                                   "public_access_prevention_policy": None, "buckets": [],
                                   "unreadable": None}
            # Read where readable: the bucket's own evidence stands without it.
            pol = self._effective_policy(run, p.ref, "storage.publicAccessPrevention",
                                         required=False)
            out["public_access_prevention_policy"] = None if pol is None else \
                A.boolean_enforced(A.normalize_rules(pol.get("spec") or {}))[0]
            client = run.api.storage()
            try:
                raw = run.api.paged(run.ipe, "storage", "storage.buckets.list", p.ref,
                                    {"project": p.project_id, "projection": "noAcl"},
                                    lambda t: _bucket_page(client, p.project_id, t,
                                                           self.cfg.timeout_seconds))
            except ConnectorError as e:
                out["unreadable"] = run.fail(f"{p.ref}/buckets", e)
                return out
            out["buckets"] = [self._bucket(run, client, b) for b in
                              sorted(raw, key=lambda b: str(b.name))]
            return out

        projects = run.each_project(one)
        content = {"scope": run.scope(), "settings": {"require_cmek": self.cfg.require_cmek},
                   "projects": projects, "unreadable": run.sorted_unreadable()}
        run.done()
        return SnapshotResult(content, sum(len(p["buckets"]) for p in projects))

    def _bucket(self, run: _Run, client: Any, b: Any) -> dict[str, Any]:
        iam = b.iam_configuration
        period = b.retention_period
        out: dict[str, Any] = {
            "name": b.name, "location": b.location,
            "default_kms_key": b.default_kms_key_name,
            "uniform_bucket_level_access": bool(iam.uniform_bucket_level_access_enabled),
            "public_access_prevention": iam.public_access_prevention or "inherited",
            "retention_policy": None if period is None else {
                "retention_period_seconds": int(period),
                "locked": bool(b.retention_policy_locked)},
            "versioning": bool(b.versioning_enabled),
            "logging": None, "public_members": None, "iam_unreadable": None}
        log = b.get_logging()
        if log:
            out["logging"] = {"log_bucket": log.get("logBucket"),
                              "prefix": log.get("logObjectPrefix")}
        try:
            pol = run.api.call(run.ipe, "storage", "storage.buckets.getIamPolicy", b.name,
                               {"bucket": b.name, "optionsRequestedPolicyVersion": 3},
                               lambda: b.get_iam_policy(requested_policy_version=3, retry=None,
                                                        timeout=self.cfg.timeout_seconds))
            out["public_members"] = sorted({
                f"{bd['role']} {m}" for bd in pol.bindings for m in bd.get("members", [])
                if m in ("allUsers", "allAuthenticatedUsers")})
        except ConnectorError as e:
            out["iam_unreadable"] = run.fail(f"b/{b.name}/iam", e)
        return out

    def _effective_policy(self, run: _Run, resource: str, constraint: str, *,
                          required: bool = True) -> dict[str, Any] | None:
        c = run.api.gapic("orgpolicy", orgpolicy_v2.OrgPolicyClient)
        name = f"{resource}/policies/{constraint}"
        try:
            pol = run.api.call(run.ipe, "orgpolicy", "orgpolicy.policies.getEffectivePolicy",
                               resource, {"name": name}, lambda: c.get_effective_policy(
                                   name=name, retry=None, timeout=self.cfg.timeout_seconds))
        except ConnectorError as e:
            if required:
                run.fail(name, e)
            return None
        out: dict[str, Any] = json_format.MessageToDict(type(pol).pb(pol))
        return out

    # --- organization policies ---------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.6"], max_age=DAY,
              permissions=[*HIERARCHY, "orgpolicy.policies.get"],
              assess=A.assess_org_policies, example=X.ORG_POLICIES)
    def org_policies(self, ctx: SnapshotContext) -> SnapshotResult:
        """The effective organization policy (merged down the hierarchy by Google) of each
        configured constraint on the organization and on every project, where readable:
        proves guardrails such as no service-account keys, domain-restricted sharing and
        public access prevention are enforced."""
        run = _Run(self, ctx)
        resources = ([run.tree.organization.name] if run.tree.organization
                     and run.tree.organization.unreadable is None else []) + \
            [p.ref for p in run.tree.projects]

        def one(resource: str) -> dict[str, Any]:
            out: dict[str, Any] = {"name": resource, "policies": []}
            for constraint in self.cfg.constraints:
                pol = self._effective_policy(run, resource, constraint)
                out["policies"].append({"constraint": constraint, "rules": None if pol is None
                                        else A.normalize_rules(pol.get("spec") or {})})
            return out

        found = fan_out(self.cfg.workers, one, resources)
        content = {"scope": run.scope(), "constraints": list(self.cfg.constraints),
                   "resources": found, "unreadable": run.sorted_unreadable()}
        run.done()
        return SnapshotResult(content, len(found) * len(self.cfg.constraints))


def _locs(resp: Any) -> tuple[list[str], str]:
    return [str(loc.location_id) for loc in resp.locations], str(resp.next_page_token or "")


def _page(pager: Any, attr: str) -> tuple[list[Any], str]:
    return list(getattr(pager, attr)), str(pager.next_page_token or "")


def _bucket_page(client: Any, project: str, token: str, timeout: float
                 ) -> tuple[list[Any], str]:
    it = client.list_buckets(project=project, page_token=token or None, retry=None,
                             timeout=timeout)
    page = next(it.pages, None)
    items = list(page) if page is not None else []
    return items, str(it.next_page_token or "")


def _key(k: Any) -> dict[str, Any]:
    d: dict[str, Any] = json_format.MessageToDict(type(k).pb(k))
    primary = d.get("primary") or {}
    state = primary.get("state")
    if isinstance(state, int):
        state = _VERSION_STATE.get(state, str(state))
    return {"name": d.get("name"), "purpose": d.get("purpose"),
            "rotation_period_seconds": duration_seconds(d.get("rotationPeriod")),
            "next_rotation_time": d.get("nextRotationTime"),
            "primary_state": state,
            "protection_level": (d.get("versionTemplate") or {}).get("protectionLevel"),
            "create_time": d.get("createTime")}
