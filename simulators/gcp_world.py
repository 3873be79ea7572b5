"""The state a GCP simulator serves: an organization's hierarchy and what each resource holds.

Plain data in Google's REST (JSON) shapes, so the server only filters, pages and encodes it.
`generate_world(projects=N)` builds a deterministic organization of any size: folders two
levels deep, projects spread over them, IAM bindings at every level (basic roles, external
members, conditional bindings), audit configs, service accounts with old and new keys, log
sinks and buckets, KMS keys, Cloud Storage buckets and organization policies.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ORG_ID = "100000000001"
DOMAIN = "example.com"
DEFAULT_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def rfc3339(t: datetime) -> str:
    """A timestamp as Google writes it (UTC, `Z`)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag(obj: Any) -> str:
    """A stable etag for a policy (base64 in Google's answers; hex is as opaque)."""
    return "B" + hashlib.sha256(repr(obj).encode()).hexdigest()[:14] + "="


@dataclass
class World:
    """Everything the simulator serves, keyed by Google's resource names."""

    organization: dict[str, Any] | None = None
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)   # folders/N -> folder
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # projects/N -> project
    # IAM allow policies by resource name (organizations/N, folders/N, projects/N, b/<bucket>)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # projectId
    sa_keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # email -> keys
    sinks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # parent -> sinks
    log_buckets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # projects/ID
    kms_locations: dict[str, list[str]] = field(default_factory=dict)  # projectId -> locations
    key_rings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # .../locations/L
    crypto_keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # ring name
    buckets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # projectId -> list
    # Organization policies as set on each resource: resource name -> constraint -> spec
    org_policies: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Resources whose every read is refused (403 PERMISSION_DENIED), like a project the
    # collecting principal was never granted.
    denied: set[str] = field(default_factory=set)

    def project_by_id(self, ref: str) -> dict[str, Any] | None:
        """A project by `projects/<number>` or `projects/<projectId>`."""
        if ref in self.projects:
            return self.projects[ref]
        pid = ref.removeprefix("projects/")
        return next((p for p in self.projects.values() if p["projectId"] == pid), None)

    def container(self, name: str) -> dict[str, Any] | None:
        """An organization, folder or project by resource name."""
        if self.organization and name == self.organization["name"]:
            return self.organization
        return self.folders.get(name) or self.project_by_id(name)

    def ancestors(self, name: str) -> list[str]:
        """`name` and its ancestors, nearest first, as resource names."""
        out = []
        node = self.container(name)
        while node is not None:
            out.append(node["name"])
            parent = node.get("parent")
            node = self.container(parent) if parent else None
        return out

    def add_project(self, project_id: str, number: str, parent: str, *,
                    display: str | None = None) -> dict[str, Any]:
        """Add an ACTIVE project under `parent`, with an empty IAM policy."""
        p = {"name": f"projects/{number}", "projectId": project_id, "parent": parent,
             "state": "ACTIVE", "displayName": display or project_id,
             "createTime": rfc3339(DEFAULT_NOW - timedelta(days=400)), "etag": etag(number)}
        self.projects[p["name"]] = p
        self.policies.setdefault(p["name"], {"version": 1, "bindings": []})
        return p


def binding(role: str, *members: str, condition: dict[str, str] | None = None
            ) -> dict[str, Any]:
    """One IAM binding (optionally conditional)."""
    b: dict[str, Any] = {"role": role, "members": sorted(members)}
    if condition:
        b["condition"] = condition
    return b


def sa_key(email: str, n: int, created: datetime, *, user_managed: bool = True,
           disabled: bool = False) -> dict[str, Any]:
    """A service-account key resource as `keys.list` returns it."""
    project = email.split("@")[1].split(".")[0]
    kid = hashlib.sha1(f"{email}/{n}".encode()).hexdigest()
    out: dict[str, Any] = {
           "name": f"projects/{project}/serviceAccounts/{email}/keys/{kid}",
           "validAfterTime": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "validBeforeTime": ("9999-12-31T23:59:59Z" if user_managed else
                               (created + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")),
           "keyAlgorithm": "KEY_ALG_RSA_2048",
           "keyOrigin": "GOOGLE_PROVIDED",
           "keyType": "USER_MANAGED" if user_managed else "SYSTEM_MANAGED"}
    if disabled:
        out["disabled"] = True
    return out


def generate_world(projects: int = 12, *, seed: int = 7, now: datetime = DEFAULT_NOW,
                   folders_per_level: int = 3) -> World:
    """A deterministic organization with `projects` projects (folders two levels deep)."""
    rnd = random.Random(seed)
    w = World()
    org = f"organizations/{ORG_ID}"
    w.organization = {"name": org, "displayName": DOMAIN, "directoryCustomerId": "C0abc123",
                      "state": "ACTIVE", "createTime": rfc3339(now - timedelta(days=2000)),
                      "etag": etag(org)}
    w.policies[org] = {
        "version": 3,
        "bindings": [
            binding("roles/resourcemanager.organizationAdmin", "group:gcp-admins@example.com"),
            binding("roles/owner", "user:founder@example.com"),
            binding("roles/viewer", "domain:example.com"),
            binding("roles/iam.securityReviewer", "user:auditor@audit-firm.test"),
            binding("roles/browser", "user:temp-contractor@example.com",
                    condition={"title": "expires-2026",
                               "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}),
        ],
        "auditConfigs": [{"service": "allServices", "auditLogConfigs": [
            {"logType": "ADMIN_READ"}, {"logType": "DATA_WRITE"},
            {"logType": "DATA_READ", "exemptedMembers": ["serviceAccount:etl@data-0.iam."
                                                         "gserviceaccount.com"]}]}],
    }
    w.sinks[org] = [{"name": "org-audit-to-archive", "destination":
                     "storage.googleapis.com/example-org-audit-archive",
                     "filter": 'logName:"cloudaudit.googleapis.com"', "includeChildren": True,
                     "writerIdentity": "serviceAccount:o-sink@gcp-sa-logging.iam."
                                       "gserviceaccount.com"}]
    w.org_policies[org] = {
        "iam.allowedPolicyMemberDomains": {"rules": [{"values": {
            "allowedValues": ["C0abc123"]}}]},
        "storage.uniformBucketLevelAccess": {"rules": [{"enforce": True}]},
        "iam.disableServiceAccountKeyCreation": {"rules": [{"enforce": True}]},
    }
    top_names = ["production", "staging", "shared", "sandbox", "data", "ml"]
    containers: list[str] = []
    fnum = 200000000000
    for i in range(folders_per_level):
        fnum += 1
        top = f"folders/{fnum}"
        w.folders[top] = {"name": top, "parent": org, "displayName": top_names[i % 6],
                          "state": "ACTIVE", "createTime": rfc3339(now - timedelta(days=900)),
                          "etag": etag(top)}
        w.policies[top] = {"version": 1, "bindings": [
            binding("roles/editor", f"group:{top_names[i % 6]}-eng@example.com")]}
        containers.append(top)
        for j in range(2):
            fnum += 1
            sub = f"folders/{fnum}"
            w.folders[sub] = {"name": sub, "parent": top,
                              "displayName": f"{top_names[i % 6]}-team{j}", "state": "ACTIVE",
                              "createTime": rfc3339(now - timedelta(days=600)), "etag": etag(sub)}
            w.policies[sub] = {"version": 1, "bindings": []}
            containers.append(sub)
    sandbox = containers[-1]
    w.policies[sandbox]["bindings"].append(
        binding("roles/owner", "user:freelancer@gmail.com"))
    w.org_policies[containers[0]] = {"storage.publicAccessPrevention": {"rules": [
        {"enforce": True}]}}
    w.org_policies[sandbox] = {"iam.disableServiceAccountKeyCreation": {"rules": [
        {"enforce": False}]}}
    locations = ["us-central1", "europe-west1", "global"]
    for n in range(projects):
        pid = f"proj-{n:04d}"
        number = str(300000000000 + n)
        parent = containers[n % len(containers)] if n % 7 else org
        p = w.add_project(pid, number, parent)
        name = p["name"]
        compute_sa = f"{number}-compute@developer.gserviceaccount.com"
        bindings = [binding("roles/owner", f"user:owner{n % 5}@example.com"),
                    binding("roles/editor", f"serviceAccount:{compute_sa}"),
                    binding("roles/viewer", f"group:readers{n % 3}@example.com")]
        if n % 5 == 2:
            bindings.append(binding("roles/storage.objectViewer", "user:partner@vendor.test"))
        if n % 6 == 3:
            bindings.append(binding("roles/editor", "user:oncall@example.com", condition={
                "title": "business-hours", "description": "weekday access only",
                "expression": "request.time.getDayOfWeek() < 5"}))
        if n % 11 == 4:
            bindings.append(binding("roles/run.invoker", "allUsers"))
        w.policies[name] = {"version": 3 if n % 6 == 3 else 1, "bindings": bindings}
        if n % 4 == 0:
            w.policies[name]["auditConfigs"] = [{"service": "storage.googleapis.com",
                                                 "auditLogConfigs": [{"logType": "DATA_READ"}]}]
        app = f"app@{pid}.iam.gserviceaccount.com"
        ci = f"ci-deployer@{pid}.iam.gserviceaccount.com"
        w.service_accounts[pid] = [
            {"name": f"projects/{pid}/serviceAccounts/{e}", "projectId": pid,
             "uniqueId": str(int(hashlib.sha1(e.encode()).hexdigest()[:15], 16)), "email": e,
             "displayName": e.split("@")[0], "oauth2ClientId": "1", "disabled": False}
            for e in (app, ci)]
        w.sa_keys[app] = [sa_key(app, 0, now - timedelta(days=3), user_managed=False)]
        ci_age = rnd.choice([10, 45, 120, 400])
        w.sa_keys[ci] = [sa_key(ci, 0, now - timedelta(days=ci_age)),
                         sa_key(ci, 1, now - timedelta(days=2), user_managed=False)]
        if n % 9 == 1:
            w.sa_keys[ci].append(sa_key(ci, 2, now - timedelta(days=700), disabled=True))
        w.log_buckets[f"projects/{pid}"] = [
            {"name": f"projects/{pid}/locations/global/buckets/_Required",
             "retentionDays": 400, "locked": True, "lifecycleState": "ACTIVE",
             "description": "Audit bucket"},
            {"name": f"projects/{pid}/locations/global/buckets/_Default",
             "retentionDays": 365 if n % 3 == 0 else 30, "lifecycleState": "ACTIVE"}]
        w.sinks[name] = [
            {"name": "_Required", "destination": f"logging.googleapis.com/projects/{pid}/"
                                                 "locations/global/buckets/_Required",
             "filter": 'LOG_ID("cloudaudit.googleapis.com/activity")'},
            {"name": "_Default", "destination": f"logging.googleapis.com/projects/{pid}/"
                                                "locations/global/buckets/_Default",
             "filter": 'NOT LOG_ID("cloudaudit.googleapis.com/activity")'}]
        if n % 5 == 0:
            w.sinks[name].append({"name": "all-to-bq", "filter": "",
                                  "destination": f"bigquery.googleapis.com/projects/{pid}/"
                                                 "datasets/logs",
                                  "disabled": n % 10 == 0})
        w.kms_locations[pid] = list(locations)
        loc = locations[n % 2]
        ring_parent = f"projects/{pid}/locations/{loc}"
        ring = f"{ring_parent}/keyRings/app"
        w.key_rings[ring_parent] = [{"name": ring, "createTime": rfc3339(now - timedelta(
            days=300))}]
        period_days = [30, 90, 365, 0][n % 4]
        key: dict[str, Any] = {
            "name": f"{ring}/cryptoKeys/data", "purpose": "ENCRYPT_DECRYPT",
            "createTime": rfc3339(now - timedelta(days=300)),
            "primary": {"name": f"{ring}/cryptoKeys/data/cryptoKeyVersions/1",
                        "state": "ENABLED", "protectionLevel": "SOFTWARE",
                        "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
            "versionTemplate": {"protectionLevel": "SOFTWARE",
                                "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"}}
        if period_days:
            key["rotationPeriod"] = f"{period_days * 86400}s"
            key["nextRotationTime"] = rfc3339(now + timedelta(days=period_days // 2))
        signing = {"name": f"{ring}/cryptoKeys/signing", "purpose": "ASYMMETRIC_SIGN",
                   "createTime": rfc3339(now - timedelta(days=100)),
                   "versionTemplate": {"protectionLevel": "HSM",
                                       "algorithm": "EC_SIGN_P256_SHA256"}}
        w.crypto_keys[ring] = [key, signing]
        buckets: list[dict[str, Any]] = [
            {"name": f"{pid}-data", "location": "US", "storageClass": "STANDARD",
             "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True},
                                  "publicAccessPrevention": "enforced"},
             "encryption": {"defaultKmsKeyName": key["name"]} if n % 2 == 0 else None,
             "versioning": {"enabled": n % 3 != 1},
             "retentionPolicy": {"retentionPeriod": "31536000",
                                 "effectiveTime": rfc3339(now - timedelta(days=90)),
                                 "isLocked": n % 4 == 0} if n % 2 == 0 else None,
             "logging": {"logBucket": f"{pid}-logs", "logObjectPrefix": "data"}},
            {"name": f"{pid}-web", "location": "EU", "storageClass": "STANDARD",
             "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": n % 3 == 0},
                                  "publicAccessPrevention": "inherited"},
             "versioning": {"enabled": False}},
        ]
        for b in buckets:
            b.update({"kind": "storage#bucket", "id": b["name"],
                      "selfLink": f"https://www.googleapis.com/storage/v1/b/{b['name']}",
                      "projectNumber": number, "metageneration": "1",
                      "timeCreated": rfc3339(now - timedelta(days=200)),
                      "updated": rfc3339(now - timedelta(days=20)), "etag": "CAE="})
            for k in [k for k, v in b.items() if v is None]:
                del b[k]
            members = ["projectOwner:" + pid, "projectEditor:" + pid]
            pol_bindings = [binding("roles/storage.legacyBucketOwner", *members)]
            if b["name"].endswith("-web") and n % 4 == 1:
                pol_bindings.append(binding("roles/storage.objectViewer", "allUsers"))
            w.policies[f"b/{b['name']}"] = {"version": 1, "bindings": pol_bindings}
        w.buckets[pid] = buckets
    return w
