"""The gcp verdicts against oracles written from Google's documentation, on generated input.

Oracles (from the IAM and audit-logging docs):
- a project's effective allow policy is the union of its own bindings and every ancestor's;
  a conditional binding still grants its role when its condition holds; a version-1 answer
  writes a conditional binding's role as `ROLE_withcond_<hash>`;
- basic roles owner / editor held by anyone outside the allowed list is a finding; a level
  whose policy could not be read may hold more grants, so nothing can pass without it;
- a user-managed key is too old when more than `max` days separate its creation
  (validAfterTime) from the end of the evaluation day; system-managed keys are Google's;
- audit configs: log types enabled for allServices at any level are enabled; any
  exemptedMembers entry at any level exempts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.gcp.assess import (
    assess_audit_logging,
    assess_iam_policies,
    assess_org_policies,
    boolean_enforced,
    normalize_rules,
)
from connectors.gcp.rules import classify_member

ROLES = ["roles/owner", "roles/editor", "roles/viewer", "roles/storage.admin",
         "roles/owner_withcond_3f2a9c", "roles/editor_withcond_77aa01"]
MEMBERS = ["user:a@example.com", "user:b@EXAMPLE.com", "group:g@example.com",
           "user:x@gmail.com", "serviceAccount:ci@proj-a.iam.gserviceaccount.com",
           "serviceAccount:evil@other-proj.iam.gserviceaccount.com",
           "serviceAccount:service-1@gcp-sa-logging.iam.gserviceaccount.com",
           "domain:example.com", "domain:partner.test", "allUsers", "allAuthenticatedUsers",
           "deleted:user:old@example.com?uid=123",
           "principalSet://iam.googleapis.com/projects/1/locations/global/"
           "workloadIdentityPools/p/attribute.repository/acme/x"]
COND = st.one_of(st.none(), st.fixed_dictionaries({"title": st.sampled_from(["t1", "t2"]),
                                                   "expression": st.just("request.time < x")}))
BINDING = st.fixed_dictionaries({"role": st.sampled_from(ROLES),
                                 "members": st.lists(st.sampled_from(MEMBERS), min_size=1,
                                                     max_size=3, unique=True),
                                 "condition": COND})
# A level's policy: None when it could not be read.
POLICY = st.one_of(st.none(), st.lists(BINDING, max_size=4).map(lambda bs: {
    "version": 3, "bindings": [{k: v for k, v in b.items() if v is not None} for b in bs]}))


def _base(role: str) -> str:
    return role.split("_withcond_")[0]


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    depth = draw(st.integers(0, 3))
    names = ["organizations/1"] + [f"folders/{i}" for i in range(1, depth + 1)]
    nodes = [{"name": n, "policy": draw(POLICY)} for n in names]
    ancestors = list(reversed(names))  # nearest first
    project = {"name": "projects/9", "project_id": "proj-a", "ancestors": ancestors,
               "ancestry_incomplete": False, "policy": draw(POLICY),
               "service_accounts": []}
    return project, nodes


def _content(project: dict[str, Any], nodes: list[dict[str, Any]], *,
             allowed: list[str], basic_ok: list[str]) -> dict[str, Any]:
    return {"evaluated_on": "2026-11-30",
            "settings": {"allowed_domains": ["example.com"], "allowed_members": allowed,
                         "basic_role_members": basic_ok, "max_key_age_days": 90},
            "known_projects": ["proj-a", "9"], "nodes": nodes, "projects": [project],
            "unreadable": []}


@settings(max_examples=200, deadline=None)
@given(hierarchies(), st.lists(st.sampled_from(MEMBERS), max_size=3, unique=True))
def test_basic_roles_follow_inheritance(h: tuple[dict[str, Any], list[dict[str, Any]]],
                                        basic_ok: list[str]) -> None:
    """Basic-role verdicts match the union-of-ancestors oracle, naming each grant's source."""
    project, nodes = h
    levels = [(None, project["policy"])] + [
        (n["name"], n["policy"]) for n in reversed(nodes)]
    expected = set()
    # grants differing only in their condition are listed apart; the same condition written
    # with its members in another order is the same grant
    distinct = set()
    for where, pol in levels:
        for b in (pol or {}).get("bindings", []):
            for m in b["members"]:
                if _base(b["role"]) in ("roles/owner", "roles/editor") and \
                        m not in basic_ok and not m.startswith("deleted:"):
                    expected.add((_base(b["role"]), m, where))
                    hidden = "_withcond_" in b["role"]
                    cond = None if hidden else json.dumps(b.get("condition"), sort_keys=True)
                    distinct.add((_base(b["role"]), m, where, hidden, cond))
    unread = any(pol is None for _, pol in levels)
    f = {x.resource: x for x in assess_iam_policies(
        _content(project, nodes, allowed=[], basic_ok=basic_ok))}["proj-a/basic-roles"]
    if expected:
        assert f.status == "fail"
        assert f.reason.startswith(f"{len(distinct)} basic-role grant(s)")
        if len(distinct) <= 8:
            for role, m, where in expected:
                src = "direct" if where is None else f"inherited from {where}"
                assert f"{role} {m} ({src}" in f.reason
    else:
        assert f.status == ("inconclusive" if unread else "pass")


def _oracle_kind(m: str, domains: set[str], known: set[str]) -> str:
    if m in ("allUsers", "allAuthenticatedUsers"):
        return "public"
    if m.startswith("deleted:"):
        return "deleted"
    kind, _, rest = m.partition(":")
    if kind == "domain":
        return "internal" if rest.lower() in domains else "external"
    if kind in ("user", "group"):
        return "internal" if rest.rsplit("@", 1)[1].lower() in domains else "external"
    if kind == "serviceAccount":
        dom = rest.rsplit("@", 1)[1]
        if dom.startswith("gcp-sa-"):
            return "google"
        return "internal" if dom.split(".")[0] in known else "external"
    return "external"


@settings(max_examples=200, deadline=None)
@given(hierarchies())
def test_external_members_follow_inheritance(
        h: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """External-member verdicts match the oracle: any outside member anywhere above fails."""
    project, nodes = h
    pols = [project["policy"]] + [n["policy"] for n in nodes]
    members = {m for p in pols for b in (p or {}).get("bindings", []) for m in b["members"]}
    ext = {m for m in members
           if _oracle_kind(m, {"example.com"}, {"proj-a", "9"}) in ("external", "public")}
    f = {x.resource: x for x in assess_iam_policies(
        _content(project, nodes, allowed=[], basic_ok=[]))}["proj-a/external-members"]
    if ext:
        assert f.status == "fail"
        assert all(m in f.reason for m in ext) or f.reason.endswith("more)")
    else:
        assert f.status == ("inconclusive" if any(p is None for p in pols) else "pass")


@given(st.sampled_from(MEMBERS))
def test_member_classification_matches_oracle(m: str) -> None:
    """classify_member agrees with the documented member forms."""
    assert classify_member(m, frozenset({"example.com"}), (), frozenset({"proj-a", "9"})) == \
        _oracle_kind(m, {"example.com"}, {"proj-a", "9"})


KEY = st.fixed_dictionaries({
    "id": st.text("abcdef0123456789", min_size=8, max_size=8),
    "key_type": st.sampled_from(["USER_MANAGED", "SYSTEM_MANAGED"]),
    "created": st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1),
                            timezones=st.just(UTC)),
    "disabled": st.booleans(),
    # validBeforeTime: "The key can be used before this timestamp" (IAM API reference,
    # ServiceAccountKey). Keys without an expiry show 9999-12-31T23:59:59Z.
    "expires": st.one_of(st.just(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
                         st.datetimes(min_value=datetime(2025, 6, 1),
                                      max_value=datetime(2027, 1, 1), timezones=st.just(UTC)))})


@settings(max_examples=200, deadline=None)
@given(st.lists(KEY, max_size=5, unique_by=lambda k: k["id"]), st.integers(1, 400),
       st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)))
def test_key_age_matches_oracle(keys: list[dict[str, Any]], max_days: int,
                                day: date) -> None:
    """Enabled, unexpired user-managed keys older than max days (at the day's end) fail;
    others pass. A key counts as expired only when its validBeforeTime is no later than the
    start of the evaluation day (it could not be used at any moment of that day)."""
    sa = {"email": "ci@proj-a.iam.gserviceaccount.com", "disabled": False,
          "keys": [{"id": k["id"], "key_type": k["key_type"], "disabled": k["disabled"],
                    "valid_after": k["created"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "valid_before": k["expires"].strftime("%Y-%m-%dT%H:%M:%SZ")}
                   for k in keys], "keys_unreadable": None}
    project = {"name": "projects/9", "project_id": "proj-a", "ancestors": [],
               "policy": {"bindings": []}, "service_accounts": [sa]}
    content = _content(project, [], allowed=[], basic_ok=[])
    content["evaluated_on"] = day.isoformat()
    content["settings"]["max_key_age_days"] = max_days
    got = {f.resource.rsplit("/", 1)[1]: f.status for f in assess_iam_policies(content)
           if "/keys/" in f.resource}
    day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    day_start = day_end - timedelta(days=1)
    want = {k["id"]: ("pass" if k["disabled"] or k["expires"] <= day_start
                      or day_end - k["created"] <= timedelta(days=max_days) else "fail")
            for k in keys if k["key_type"] == "USER_MANAGED"}
    assert got == want


AUDIT = st.one_of(st.none(), st.lists(st.fixed_dictionaries({
    "service": st.sampled_from(["allServices", "storage.googleapis.com"]),
    "auditLogConfigs": st.lists(st.fixed_dictionaries(
        {"logType": st.sampled_from(["ADMIN_READ", "DATA_READ", "DATA_WRITE"])},
        optional={"exemptedMembers": st.lists(st.sampled_from(MEMBERS[:3]), min_size=1,
                                              max_size=2)}), max_size=3)}), max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.lists(AUDIT, min_size=1, max_size=4))
def test_audit_configs_are_a_union_down_the_tree(levels: list[Any]) -> None:
    """Data-access verdicts: any exemption fails; all three types for allServices pass."""
    own, *above = levels
    names = [f"folders/{i}" for i in range(len(above))]
    nodes = [{"name": n, "audit_configs": a, "sinks": []} for n, a in zip(names, above,
                                                                         strict=True)]
    project = {"name": "projects/9", "project_id": "proj-a", "ancestors": names,
               "audit_configs": own, "sinks": [], "log_buckets": []}
    f = {x.resource: x for x in assess_audit_logging(
        {"settings": {"min_retention_days": 365}, "nodes": nodes, "projects": [project],
         "unreadable": []})}["proj-a/data-access-logs"]
    seen = [lv for lv in levels if lv is not None]
    exempt = any(lc.get("exemptedMembers") for lv in seen for ac in lv
                 for lc in ac["auditLogConfigs"])
    types = {lc["logType"] for lv in seen for ac in lv if ac["service"] == "allServices"
             for lc in ac["auditLogConfigs"]}
    missing = len(seen) < len(levels)
    if exempt:
        assert f.status == "fail"
    elif missing:
        assert f.status == "inconclusive"
    else:
        assert f.status == ("pass" if types == {"ADMIN_READ", "DATA_READ", "DATA_WRITE"}
                            else "fail")


RULE = st.fixed_dictionaries({}, optional={"enforce": st.booleans(),
                                           "condition": st.just({"expression": "x"})})


@given(st.lists(RULE, max_size=3))
def test_boolean_constraint_oracle(rules: list[dict[str, Any]]) -> None:
    """A boolean constraint passes only when an unconditional rule enforces it."""
    norm = normalize_rules({"rules": rules})
    ok, _ = boolean_enforced(norm)
    if any(r.get("condition") for r in rules):
        assert ok is None
    else:
        assert ok is any(r.get("enforce") is True for r in rules)
    [f] = assess_org_policies({"resources": [{"name": "projects/p", "policies": [
        {"constraint": "iam.disableServiceAccountKeyCreation", "rules": norm}]}]})
    assert f.status == {None: "inconclusive", True: "pass", False: "fail"}[ok]


def test_a_grant_written_twice_is_one_grant() -> None:
    """Two bindings of one role and member under the same condition (its fields in another
    order) are one grant: the count does not depend on how the policy was serialized."""
    cond = {"title": "t2", "expression": "request.time < x"}
    project = {"name": "projects/9", "project_id": "proj-a", "ancestors": ["organizations/1"],
               "ancestry_incomplete": False, "service_accounts": [], "policy": {
                   "version": 3, "bindings": [
                       {"role": "roles/owner", "members": ["user:b@example.com"],
                        "condition": cond},
                       {"role": "roles/owner", "members": ["user:b@example.com"],
                        "condition": dict(reversed(list(cond.items())))}]}}
    nodes = [{"name": "organizations/1", "policy": {"bindings": []}}]
    f = {x.resource: x for x in assess_iam_policies(
        _content(project, nodes, allowed=[], basic_ok=[]))}["proj-a/basic-roles"]
    assert f.status == "fail" and f.reason.startswith("1 basic-role grant(s)"), f.reason


def test_an_expired_user_managed_key_is_not_a_usable_old_key() -> None:
    """Google's IAM API reference (ServiceAccountKey.validBeforeTime: "The key can be used
    before this timestamp"): a user-managed key created 400 days ago that expired (e.g. under
    the iam.serviceAccountKeyExpiryHours organization policy) can no longer authenticate. It
    failed as 'older than 90 days'; it passes saying it expired. One expiring later that day
    still fails (it could be used at collection)."""
    sa = {"email": "ci@proj-a.iam.gserviceaccount.com", "disabled": False, "keys": [
        {"id": "expired1", "key_type": "USER_MANAGED", "disabled": False,
         "valid_after": "2025-10-01T00:00:00Z", "valid_before": "2025-10-02T00:00:00Z",
         "origin": "GOOGLE_PROVIDED"},
        {"id": "today001", "key_type": "USER_MANAGED", "disabled": False,
         "valid_after": "2025-10-01T00:00:00Z", "valid_before": "2026-11-05T18:00:00Z",
         "origin": "GOOGLE_PROVIDED"}], "keys_unreadable": None}
    project = {"name": "projects/9", "project_id": "proj-a", "ancestors": [],
               "policy": {"bindings": []}, "service_accounts": [sa]}
    content = _content(project, [], allowed=[], basic_ok=[])
    content["evaluated_on"] = "2026-11-05"
    got = {f.resource.rsplit("/", 1)[1]: f for f in assess_iam_policies(content)
           if "/keys/" in f.resource}
    assert got["expired1"].status == "pass"
    assert "expired 2025-10-02T00:00:00Z" in got["expired1"].reason
    assert got["today001"].status == "fail"
