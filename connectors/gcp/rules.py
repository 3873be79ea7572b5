"""Google Cloud's documented semantics, as pure functions the verdicts are built on.

- IAM allow policies are inherited: a project's effective policy is the union of its own
  bindings and those of every folder and the organization above it (there is no way to
  subtract an inherited grant in an allow policy). A binding with a condition grants its
  role whenever the condition holds; we cannot evaluate CEL, so a conditional grant counts
  as a grant and is reported with its condition. A version-1 answer hides conditions behind
  a `ROLE_withcond_<hash>` role: that is the role, under an unknown condition.
- Audit configs are inherited the same way: the log types enabled for a service are the
  union of those configured for it and for `allServices`, at every level, and every
  `exemptedMembers` entry anywhere exempts that member.
- Basic roles are roles/owner, roles/editor (and roles/viewer); owner and editor carry
  thousands of permissions and are what a review must see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

BASIC_ROLES = frozenset({"roles/owner", "roles/editor"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
LOG_TYPES = ("ADMIN_READ", "DATA_READ", "DATA_WRITE")
# Service agents and default service accounts are created and managed by Google.
_GOOGLE_SA_DOMAINS = ("cloudservices.gserviceaccount.com", "developer.gserviceaccount.com",
                      "appspot.gserviceaccount.com", "cloudbuild.gserviceaccount.com",
                      "container-engine-robot.iam.gserviceaccount.com")


def base_role(role: str) -> tuple[str, bool]:
    """The role a binding grants, and whether a version-1 answer hid its condition."""
    if "_withcond_" in role:
        return role.split("_withcond_", 1)[0], True
    return role, False


def member_kind(member: str) -> str:
    """The member's type prefix (user, group, serviceAccount, domain, allUsers, ...)."""
    if member in PUBLIC_MEMBERS:
        return member
    for prefix in ("principalSet://", "principal://"):
        if member.startswith(prefix):
            return prefix[:-3]
    return member.split(":", 1)[0] if ":" in member else "unknown"


def _email_domain(member: str) -> str:
    rest = member.split(":", 1)[1] if ":" in member else member
    rest = rest.split("?", 1)[0]
    return rest.rsplit("@", 1)[1].lower() if "@" in rest else ""


def classify_member(member: str, allowed_domains: frozenset[str] | set[str],
                    allowed_members: tuple[str, ...] | frozenset[str],
                    known_projects: frozenset[str] | set[str]) -> str:
    """`public`, `internal`, `external`, `google` (Google-managed service agent) or
    `deleted` for one IAM member string."""
    if member in PUBLIC_MEMBERS:
        return "public"
    for a in allowed_members:
        if member == a or (a.endswith("*") and member.startswith(a[:-1])):
            return "internal"
    kind = member_kind(member)
    if kind == "deleted":
        return "deleted"
    if kind in ("projectOwner", "projectEditor", "projectViewer"):
        return "internal"  # Cloud Storage convenience values: a project's own role holders
    if kind == "domain":
        return "internal" if member.split(":", 1)[1].lower() in allowed_domains else "external"
    if kind in ("user", "group"):
        return "internal" if _email_domain(member) in allowed_domains else "external"
    if kind == "serviceAccount":
        dom = _email_domain(member)
        if dom in allowed_domains:
            return "internal"
        if dom.endswith(".iam.gserviceaccount.com"):
            owner = dom.removesuffix(".iam.gserviceaccount.com")
            if owner.startswith("gcp-sa-"):
                return "google"
            return "internal" if owner in known_projects else "external"
        if dom in _GOOGLE_SA_DOMAINS:
            local = member.split(":", 1)[1].split("@", 1)[0]
            number = local.split("-", 1)[0]
            return "internal" if (number in known_projects or local in known_projects) \
                else "external"
        if dom.endswith(".gserviceaccount.com"):
            return "google"
        return "external"
    return "external"  # principal://, principalSet:// and anything unknown: not ours


def effective_bindings(project: dict[str, Any], nodes: dict[str, dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    """A project's effective grants (one per role and member, with where each comes from:
    `from` is None for the project itself, else the ancestor's name) and the resources whose
    policy could not be read (so the list may be incomplete)."""
    out: list[dict[str, Any]] = []
    missing: list[str] = []
    sources: list[tuple[str | None, dict[str, Any] | None]] = [(None, project.get("policy"))]
    if project.get("policy") is None:
        missing.append(project["name"])
    for anc in project.get("ancestors", []):
        node = nodes.get(anc)
        pol = node.get("policy") if node else None
        if pol is None:
            missing.append(anc)
        sources.append((anc, pol))
    if project.get("ancestry_incomplete"):
        missing.append(f"{project['name']}: ancestors beyond {project.get('ancestors')}")
    for where, pol in sources:
        if pol is None:
            continue
        for b in pol.get("bindings", []):
            role, hidden = base_role(str(b.get("role", "")))
            cond = b.get("condition")
            if hidden:
                cond = {"title": "(condition hidden by a version-1 policy)"}
            for m in b.get("members", []):
                out.append({"role": role, "member": m, "from": where, "condition": cond})
    return out, missing


def describe_grant(g: dict[str, Any]) -> str:
    """`role member (direct|inherited from X)[ if <condition>]` for a finding's reason."""
    where = "direct" if g["from"] is None else f"inherited from {g['from']}"
    cond = g.get("condition")
    if cond:
        title = cond.get("title") or cond.get("expression") or "condition"
        return f"{g['role']} {g['member']} ({where}, if {title!r})"
    return f"{g['role']} {g['member']} ({where})"


def effective_audit(configs_by_level: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The allServices log types enabled, and every exempted member, from the audit configs of
    a project and its ancestors (union, as Google documents)."""
    enabled: set[str] = set()
    exempted: set[str] = set()
    for configs in configs_by_level:
        for ac in configs:
            for lc in ac.get("auditLogConfigs", []):
                lt = str(lc.get("logType", ""))
                if ac.get("service") == "allServices":
                    enabled.add(lt)
                for m in lc.get("exemptedMembers", []):
                    exempted.add(f"{ac.get('service')}/{lt}: {m}")
    return {"all_services": sorted(enabled & set(LOG_TYPES)), "exempted": sorted(exempted)}


def parse_time(v: Any) -> datetime | None:
    """An RFC 3339 timestamp (Z or offset, optional fraction) as aware UTC, else None."""
    if not isinstance(v, str) or not v:
        return None
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def end_of_day(d: str) -> datetime:
    """The instant a record's `evaluated_on` day ends: ages are measured there, so a verdict
    is never a day late (it may be a day early, which errs towards failing)."""
    return datetime.combine(date.fromisoformat(d), datetime.min.time(), tzinfo=UTC) + \
        timedelta(days=1)


def key_too_old(valid_after: datetime, evaluated_on: str, max_days: int) -> bool:
    """A user-managed key is too old when it was created more than `max_days` before the end
    of the evaluation day."""
    return valid_after < end_of_day(evaluated_on) - timedelta(days=max_days)


def duration_seconds(v: Any) -> int | None:
    """A protobuf Duration in JSON (`"7776000s"`, `"1.5s"`) as whole seconds."""
    if isinstance(v, int | float):
        return int(v)
    if isinstance(v, str) and v.endswith("s"):
        try:
            return int(float(v[:-1]))
        except ValueError:
            return None
    return None
