"""Pure verdicts over the `gcp` connector's snapshot content (no I/O, no clock).

Each works from the raw records in the content (never from the summaries the connector wrote
beside them), applies Google's documented semantics from `rules`, and fails closed: what
could not be read, or could change the answer and was not seen, is `inconclusive`, never a
pass. Ages are measured at the end of the record's `evaluated_on` day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connectors.base import Finding
from connectors.gcp.rules import (
    BASIC_ROLES,
    LOG_TYPES,
    classify_member,
    describe_grant,
    effective_audit,
    effective_bindings,
    end_of_day,
    key_too_old,
    parse_time,
)

__all__ = ["BASIC_ROLES", "assess_audit_logging", "assess_iam_policies", "assess_kms_keys",
           "assess_org_policies", "assess_storage_buckets", "boolean_enforced",
           "effective_bindings", "list_restricted", "normalize_rules"]

LIST_CONSTRAINTS = frozenset({"iam.allowedPolicyMemberDomains", "gcp.resourceLocations",
                              "iam.allowedPolicyMembers", "compute.vmExternalIpAccess"})
_SHOW = 8


def _listing(items: list[str]) -> str:
    more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
    return "; ".join(items[:_SHOW]) + more


def _unreadable(content: dict[str, Any]) -> list[Finding]:
    return [Finding(f"{u['resource']}", "inconclusive",
                    f"could not be read ({u.get('error')}): {u.get('detail')}")
            for u in content.get("unreadable", [])]


def _pid(p: dict[str, Any]) -> str:
    return str(p.get("project_id") or p["name"])


# --- IAM -------------------------------------------------------------------------------------

def assess_iam_policies(content: dict[str, Any]) -> list[Finding]:
    """Per project: no effective basic-role grant outside `basic_role_members`, no effective
    grant to members outside the allowed domains (or to allUsers / allAuthenticatedUsers),
    and every enabled, unexpired user-managed service-account key younger than
    `max_key_age_days`."""
    s = content.get("settings", {})
    domains = frozenset(s.get("allowed_domains", []))
    allowed = tuple(s.get("allowed_members", []))
    basic_ok = frozenset(s.get("basic_role_members", []))
    max_age = int(s.get("max_key_age_days", 90))
    known = frozenset(content.get("known_projects", []))
    nodes = {n["name"]: n for n in content.get("nodes", [])}
    out: list[Finding] = []
    for p in content.get("projects", []):
        pid = _pid(p)
        grants, missing = effective_bindings(p, nodes)
        unseen = f"policy not readable for {', '.join(missing)}" if missing else ""
        basic = sorted({describe_grant(g) for g in grants if g["role"] in BASIC_ROLES
                       and g["member"] not in basic_ok
                       and classify_member(g["member"], domains, allowed, known) != "deleted"})
        if basic:
            out.append(Finding(f"{pid}/basic-roles", "fail",
                               f"{len(basic)} basic-role grant(s): {_listing(basic)}"))
        elif missing:
            out.append(Finding(f"{pid}/basic-roles", "inconclusive", unseen))
        else:
            out.append(Finding(f"{pid}/basic-roles", "pass",
                               "no member outside the allowed list holds roles/owner or "
                               "roles/editor, directly or inherited"))
        ext = sorted({f"{describe_grant(g)} [{kind}]" for g in grants
                      if (kind := classify_member(g["member"], domains, allowed, known))
                      in ("external", "public")})
        if ext:
            out.append(Finding(f"{pid}/external-members", "fail",
                               f"{len(ext)} grant(s) outside the allowed domains: "
                               f"{_listing(ext)}"))
        elif not domains:
            out.append(Finding(f"{pid}/external-members", "inconclusive",
                               "no allowed domains configured and no organization domain "
                               "known: every user and group would count as external"))
        elif missing:
            out.append(Finding(f"{pid}/external-members", "inconclusive", unseen))
        else:
            out.append(Finding(f"{pid}/external-members", "pass",
                               f"every member is in {', '.join(sorted(domains))}, allowed, "
                               "or a service account of a project in scope"))
        out.extend(_key_findings(p, content.get("evaluated_on", ""), max_age))
    return out + _unreadable(content)


def _key_findings(p: dict[str, Any], evaluated_on: str, max_age: int) -> list[Finding]:
    pid = _pid(p)
    if p.get("service_accounts") is None:
        return [Finding(f"{pid}/service-account-keys", "inconclusive",
                        f"service accounts not readable: {p.get('service_accounts_unreadable')}")]
    out: list[Finding] = []
    for sa in p["service_accounts"]:
        if sa.get("keys") is None:
            out.append(Finding(f"{sa['email']}/keys", "inconclusive",
                               f"keys not readable: {sa.get('keys_unreadable')}"))
            continue
        for k in sa["keys"]:
            if k.get("key_type") != "USER_MANAGED":
                continue  # Google rotates system-managed keys itself
            res = f"{sa['email']}/keys/{k['id']}"
            if k.get("disabled"):
                out.append(Finding(res, "pass", "user-managed key is disabled"))
                continue
            # validBeforeTime: "the key can be used before this timestamp" (IAM API). Expired
            # by the start of the evaluation day, it could not authenticate at collection.
            expires = parse_time(k.get("valid_before"))
            if expires is not None and evaluated_on and \
                    expires <= end_of_day(evaluated_on) - timedelta(days=1):
                out.append(Finding(res, "pass", f"user-managed key expired "
                                   f"{k.get('valid_before')}: it can no longer be used"))
                continue
            created = parse_time(k.get("valid_after"))
            if created is None or not evaluated_on:
                out.append(Finding(res, "inconclusive", "key creation time unknown"))
            elif key_too_old(created, evaluated_on, max_age):
                out.append(Finding(res, "fail", f"user-managed key created "
                                   f"{k.get('valid_after')}, older than {max_age} days"))
            else:
                out.append(Finding(res, "pass", f"user-managed key created "
                                   f"{k.get('valid_after')}, within {max_age} days"))
    return out


# --- audit logging ---------------------------------------------------------------------------

def _is_export(sink: dict[str, Any]) -> bool:
    if sink.get("disabled") or sink.get("name") in ("_Default", "_Required"):
        return False
    f = str(sink.get("filter") or "")
    return not f.strip() or ("cloudaudit.googleapis.com" in f and "NOT " not in f.upper())


def assess_audit_logging(content: dict[str, Any]) -> list[Finding]:
    """Per project: Data Access and Admin Read audit logs on for allServices with nobody
    exempted (the union over the project and its ancestors), and audit logs kept at least
    `min_retention_days` (the _Default bucket, fed by an enabled _Default sink that excludes
    no audit logs) or exported."""
    nodes = {n["name"]: n for n in content.get("nodes", [])}
    min_days = int(content.get("settings", {}).get("min_retention_days", 365))
    out: list[Finding] = []
    for p in content.get("projects", []):
        pid = _pid(p)
        levels = [p.get("audit_configs")] + [
            (nodes.get(a) or {}).get("audit_configs") for a in p.get("ancestors", [])]
        missing = [name for name, lv in zip([p["name"], *p.get("ancestors", [])], levels,
                                            strict=True) if lv is None]
        if p.get("ancestry_incomplete"):
            missing.append("ancestors beyond " + ", ".join(p.get("ancestors", [])))
        eff = effective_audit([lv for lv in levels if lv is not None])
        lacking = [t for t in LOG_TYPES if t not in eff["all_services"]]
        res = f"{pid}/data-access-logs"
        if eff["exempted"]:
            out.append(Finding(res, "fail", f"members exempted from audit logging: "
                               f"{_listing(eff['exempted'])}"))
        elif lacking and not missing:
            out.append(Finding(res, "fail", f"allServices audit logs off for "
                               f"{', '.join(lacking)} (Admin Activity is always on)"))
        elif missing:
            out.append(Finding(res, "inconclusive", "audit configs not readable for "
                               + ", ".join(missing)))
        else:
            out.append(Finding(res, "pass", "ADMIN_READ, DATA_READ and DATA_WRITE audit logs "
                               "on for allServices, nobody exempted"))
        out.append(_retention(p, nodes, min_days))
    return out + _unreadable(content)


def _retention(p: dict[str, Any], nodes: dict[str, Any], min_days: int) -> Finding:
    res = f"{_pid(p)}/log-retention"
    exports = [s for s in (p.get("sinks") or []) if _is_export(s)]
    for a in p.get("ancestors", []):
        exports += [s for s in ((nodes.get(a) or {}).get("sinks") or [])
                    if s.get("include_children") and _is_export(s)]
    buckets = p.get("log_buckets")
    sinks = p.get("sinks")
    if buckets is None or sinks is None:
        return Finding(res, "inconclusive", "log buckets or sinks not readable")
    by_id = {str(b["name"]).rsplit("/", 1)[-1]: b for b in buckets}
    default = by_id.get("_Default")
    required = by_id.get("_Required")
    default_sink = next((s for s in sinks if s.get("name") == "_Default"), None)
    kept = (default is not None and int(default.get("retention_days") or 0) >= min_days
            and default_sink is not None and not default_sink.get("disabled")
            and (required is None or int(required.get("retention_days") or 0) >= min_days))
    if kept and default_sink is not None and default_sink.get("exclusions"):
        # An enabled exclusion on the _Default sink filters matching entries out before the
        # _Default bucket (Data Access audit logs go nowhere else; _Required admits none).
        drops: list[str] = []
        maybe: list[str] = []
        for x in default_sink["exclusions"]:
            f = str(x.get("filter") or "")
            what = f"exclusion {x.get('name')} ({f!r})"
            (drops if "cloudaudit.googleapis.com" in f and "NOT " not in f.upper()
             else maybe).append(what)
        if drops:
            return Finding(res, "fail", "the _Default sink's " + _listing(drops) +
                           " filters audit logs out of the _Default bucket")
        return Finding(res, "inconclusive", "the _Default sink's " + _listing(maybe) +
                       " may filter Data Access audit logs out of the _Default bucket "
                       "(exclusion filters are not evaluated)")
    if kept:
        return Finding(res, "pass", f"_Default bucket keeps logs "
                       f"{default.get('retention_days') if default else '?'} days "
                       f"(>= {min_days})")
    why = ("no _Default bucket" if default is None else
           "_Default sink disabled or missing" if default_sink is None or
           default_sink.get("disabled") else
           f"_Default bucket keeps {default.get('retention_days')} days" if
           int(default.get("retention_days") or 0) < min_days else
           f"_Required bucket keeps {required.get('retention_days') if required else '?'} days")
    if exports:
        dests = sorted(str(s.get("destination")) for s in exports)
        return Finding(res, "inconclusive", f"{why} (< {min_days}); audit logs exported to "
                       f"{_listing(dests)}, whose retention is not visible here")
    return Finding(res, "fail", f"{why}, below {min_days} days, and no sink exports audit logs")


# --- KMS -------------------------------------------------------------------------------------

def assess_kms_keys(content: dict[str, Any]) -> list[Finding]:
    """Per symmetric encryption key: automatic rotation at most every `max_rotation_days`, and
    the next rotation no further away than that."""
    max_days = int(content.get("settings", {}).get("max_rotation_days", 90))
    day_end = end_of_day(content["evaluated_on"]) if content.get("evaluated_on") else None
    out: list[Finding] = []
    for p in content.get("projects", []):
        for loc in p.get("locations_unreadable", []):
            out.append(Finding(f"{_pid(p)}/kms/{loc}", "inconclusive",
                               "key rings in this location not readable"))
        for k in p.get("keys", []):
            res = str(k["name"])
            purpose = k.get("purpose")
            if purpose != "ENCRYPT_DECRYPT":
                out.append(Finding(res, "inconclusive", f"{purpose} keys cannot rotate "
                                   "automatically; review manual rotation"))
                continue
            if k.get("primary_state") not in (None, "ENABLED"):
                out.append(Finding(res, "inconclusive",
                                   f"primary version is {k.get('primary_state')}"))
                continue
            period = k.get("rotation_period_seconds")
            nxt = parse_time(k.get("next_rotation_time"))
            if not period:
                out.append(Finding(res, "fail", "no automatic rotation period"))
            elif period > max_days * 86400:
                out.append(Finding(res, "fail", f"rotates every {period / 86400:g} days "
                                   f"(> {max_days})"))
            elif nxt is None:
                out.append(Finding(res, "fail", "no next rotation time scheduled"))
            elif day_end is None:
                out.append(Finding(res, "inconclusive", "evaluation day unknown"))
            elif nxt > day_end + timedelta(days=max_days):
                out.append(Finding(res, "fail", f"next rotation {k.get('next_rotation_time')} "
                                   f"is more than {max_days} days away"))
            else:
                out.append(Finding(res, "pass", f"rotates every {period / 86400:g} days, next "
                                   f"{k.get('next_rotation_time')}"))
    return out + _unreadable(content)


# --- Cloud Storage ---------------------------------------------------------------------------

def assess_storage_buckets(content: dict[str, Any]) -> list[Finding]:
    """Per bucket: not public (public access prevention enforced on the bucket or by the
    effective organization policy; else no allUsers / allAuthenticatedUsers in its IAM with
    uniform access on), uniform bucket-level access on, and encrypted (CMEK when required)."""
    require_cmek = bool(content.get("settings", {}).get("require_cmek"))
    out: list[Finding] = []
    for p in content.get("projects", []):
        org_pap = p.get("public_access_prevention_policy")
        for b in p.get("buckets", []):
            name = b["name"]
            pap = b.get("public_access_prevention")
            ubla = bool(b.get("uniform_bucket_level_access"))
            public = b.get("public_members")
            if pap == "enforced":
                out.append(Finding(f"{name}/public-access", "pass",
                                   "public access prevention enforced on the bucket"))
            elif org_pap is True:
                out.append(Finding(f"{name}/public-access", "pass", "public access prevention "
                                   "enforced by the effective organization policy"))
            elif public:
                out.append(Finding(f"{name}/public-access", "fail",
                                   f"public IAM grants: {', '.join(public)}"))
            elif public is None:
                out.append(Finding(f"{name}/public-access", "inconclusive",
                                   "bucket IAM policy not readable"))
            elif not ubla:
                out.append(Finding(f"{name}/public-access", "inconclusive",
                                   "uniform access off: object ACLs (not read) may be public"))
            else:
                out.append(Finding(f"{name}/public-access", "pass", "no public IAM member and "
                                   "uniform access on (no ACLs)"))
            out.append(Finding(f"{name}/uniform-access", "pass" if ubla else "fail",
                               "uniform bucket-level access " + ("on" if ubla else "off")))
            key = b.get("default_kms_key")
            if key:
                out.append(Finding(f"{name}/encryption", "pass", f"default CMEK key {key}"))
            elif require_cmek:
                out.append(Finding(f"{name}/encryption", "fail", "no default CMEK key"))
            else:
                out.append(Finding(f"{name}/encryption", "pass",
                                   "Google-managed encryption at rest (CMEK not required)"))
    return out + _unreadable(content)


# --- organization policies -------------------------------------------------------------------

def normalize_rules(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """An Org Policy v2 spec's rules with every field present (the JSON omits defaults)."""
    out = []
    for r in spec.get("rules", []):
        vals = r.get("values") or {}
        cond = r.get("condition")
        out.append({"enforce": r.get("enforce"), "allow_all": bool(r.get("allowAll")),
                    "deny_all": bool(r.get("denyAll")),
                    "allowed_values": list(vals.get("allowedValues", [])),
                    "denied_values": list(vals.get("deniedValues", [])),
                    "condition": (cond.get("expression") or cond.get("title") or "condition")
                    if cond else None})
    return out


def boolean_enforced(rules: list[dict[str, Any]]) -> tuple[bool | None, str]:
    """Whether an effective boolean constraint is enforced (None: depends on conditions)."""
    if not rules:
        return False, "not set: the constraint's default (not enforced) applies"
    plain = [r for r in rules if not r.get("condition")]
    conditional = [r for r in rules if r.get("condition")]
    if conditional:
        return None, f"{len(conditional)} conditional rule(s): enforcement depends on them"
    if any(r.get("enforce") is True for r in plain):
        return True, "enforced"
    return False, "enforce is false"


def list_restricted(rules: list[dict[str, Any]]) -> tuple[bool | None, str]:
    """Whether an effective list constraint restricts values (None: depends on conditions)."""
    if not rules:
        return False, "not set: every value is allowed"
    if any(r.get("condition") for r in rules):
        return None, "conditional rules: the restriction depends on them"
    if any(r.get("allow_all") for r in rules):
        return False, "allowAll: every value is allowed"
    if any(r.get("deny_all") for r in rules):
        return True, "denyAll"
    allowed = sorted({v for r in rules for v in r.get("allowed_values", [])})
    if allowed:
        return True, f"restricted to {', '.join(allowed)}"
    return False, "only denied values: everything else is allowed"


def assess_org_policies(content: dict[str, Any]) -> list[Finding]:
    """Per resource and constraint: the effective policy enforces the boolean constraint, or
    restricts the list constraint to allowed values."""
    out: list[Finding] = []
    for r in content.get("resources", []):
        for pol in r.get("policies", []):
            constraint, rules = pol["constraint"], pol["rules"]
            res = f"{r['name']}/{constraint}"
            if rules is None:
                out.append(Finding(res, "inconclusive", "effective policy not readable"))
                continue
            ok, why = (list_restricted(rules) if constraint in LIST_CONSTRAINTS
                       else boolean_enforced(rules))
            out.append(Finding(res, "inconclusive" if ok is None else
                               "pass" if ok else "fail", why))
    return out + [f for f in _unreadable(content) if "/policies/" not in f.resource]
