"""Azure verdicts against oracles written from Microsoft's documentation (Hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.azure import assess as A

# --- storage: documented meaning of unset properties -------------------------------------
# Microsoft's REST reference / guides: minimumTlsVersion unset = TLS 1.0; supportsHttpsTraffic
# Only defaults to true since API 2019-04-01; allowSharedKeyAccess null "is equivalent to
# true"; allowBlobPublicAccess null permits anonymous access (anonymous-access remediation
# guide); encryption keySource Microsoft.Keyvault means a customer-managed key.
DOC_UNSET = {"minimumTlsVersion": "TLS1_0", "supportsHttpsTrafficOnly": True,
             "allowSharedKeyAccess": True, "allowBlobPublicAccess": True}


def storage_oracle(props: dict[str, Any], require_cmk: bool) -> bool:
    def eff(k: str) -> Any:
        return DOC_UNSET[k] if props.get(k) is None else props[k]

    tls_ok = eff("minimumTlsVersion") in ("TLS1_2", "TLS1_3")
    cmk = (props.get("encryption") or {}).get("keySource") == "Microsoft.Keyvault"
    return (tls_ok and eff("supportsHttpsTrafficOnly") is True
            and eff("allowSharedKeyAccess") is False and eff("allowBlobPublicAccess") is False
            and (cmk or not require_cmk))


maybe_bool = st.sampled_from([None, True, False])
storage_props = st.fixed_dictionaries({
    "minimumTlsVersion": st.sampled_from([None, "TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"]),
    "supportsHttpsTrafficOnly": maybe_bool, "allowSharedKeyAccess": maybe_bool,
    "allowBlobPublicAccess": maybe_bool,
    "encryption": st.sampled_from([None, {"keySource": "Microsoft.Storage"},
                                   {"keySource": "Microsoft.Keyvault"}, {}]),
})


@settings(max_examples=200, deadline=None)
@given(props=storage_props, require_cmk=st.booleans())
def test_storage_verdict_matches_documented_defaults(props: dict[str, Any],
                                                     require_cmk: bool) -> None:
    """A storage account passes exactly when its effective settings (documented defaults for
    null properties) meet TLS 1.2, HTTPS only, no anonymous or shared-key access (and CMK)."""
    content = {"require_cmk": require_cmk, "subscriptions": [
        {"subscription_id": "s", "accounts": [{"id": "acct", "properties": props}]}]}
    before = copy.deepcopy(content)
    [finding] = A.assess_storage_accounts(content)
    assert content == before
    assert (finding.status == "pass") == storage_oracle(props, require_cmk)
    if any(props.get(k) is None for k in DOC_UNSET):
        assert "documented default applied" in finding.reason


def test_storage_unset_account_fails_on_each_default() -> None:
    """An account with every optional property unset fails on TLS, anonymous and shared key,
    but not on HTTPS (its documented default is HTTPS only)."""
    e = A.storage_effective({})
    assert e == {"minimum_tls": "TLS1_0", "https_only": True, "shared_key": True,
                 "public_blob_access": True, "key_source": "Microsoft.Storage", "cmk": False,
                 "defaulted": ["minimumTlsVersion", "supportsHttpsTrafficOnly",
                               "allowSharedKeyAccess", "allowBlobPublicAccess"]}
    why = A.storage_problems({})
    assert len(why) == 3 and not any("HTTP (not only" in w for w in why)


# --- Conditional Access: is MFA enforced for a user? -------------------------------------
# From Microsoft's Conditional Access documentation: only policies in state "enabled" are
# enforced ("enabledForReportingButNotEnforced" is report-only); exclusions win over
# inclusions; a grant with operator OR ("require one of the selected controls") is satisfied
# by any one control, with AND by all of them; an authentication strength requires MFA when
# every allowed combination is multifactor; a policy scoped to some apps, locations, client
# apps or risk levels does not enforce MFA on every sign-in.

USERS = [f"u{i}" for i in range(5)]
GROUPS = ["g0", "g1", "g2"]
ROLES = ["r0", "r1"]
SINGLE = ["password", "sms", "federatedSingleFactor", "email", "voice"]
MULTI = ["fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor", "password,sms",
         "password,microsoftAuthenticatorPush", "federatedMultiFactor"]


def _sub(xs: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(xs), unique=True, max_size=len(xs))


strengths = st.one_of(
    st.none(),
    st.just({"id": "00000000-0000-0000-0000-000000000002", "allowedCombinations": []}),
    st.builds(lambda c: {"id": "custom", "allowedCombinations": c},
              st.lists(st.sampled_from(SINGLE + MULTI), min_size=1, max_size=3, unique=True)),
)
grants = st.one_of(st.none(), st.fixed_dictionaries({
    "operator": st.sampled_from(["OR", "AND"]),
    "builtInControls": st.one_of(st.just(["mfa"]), _sub(["mfa", "compliantDevice", "block",
                                                         "domainJoinedDevice"])),
    "authenticationStrength": strengths,
    "termsOfUse": st.sampled_from([[], ["tou1"]]),
}))
policies = st.fixed_dictionaries({
    "displayName": st.sampled_from(["P1", "P2", "P3"]),
    "state": st.sampled_from(["enabled", "disabled", "enabledForReportingButNotEnforced"]),
    "grantControls": grants,
    "conditions": st.fixed_dictionaries({
        "users": st.fixed_dictionaries({
            "includeUsers": st.one_of(st.just(["All"]), _sub(USERS)),
            "excludeUsers": _sub(USERS), "includeGroups": _sub(GROUPS),
            "excludeGroups": _sub(GROUPS), "includeRoles": _sub(ROLES),
            "excludeRoles": _sub(ROLES)}),
        "applications": st.sampled_from([{"includeApplications": ["All"]}] * 4 + [
                                          {"includeApplications": ["app-1"]},
                                          {"includeApplications": ["All"],
                                           "excludeApplications": ["app-2"]}]),
        "locations": st.sampled_from([None] * 4 + [{"includeLocations": ["All"],
                                                    "excludeLocations": ["AllTrusted"]}]),
        "clientAppTypes": st.sampled_from([["all"]] * 3 + [
            ["exchangeActiveSync", "other"], ["browser", "mobileAppsAndDesktopClients"]]),
        "signInRiskLevels": st.sampled_from([[]] * 4 + [["high"]]),
    }),
})


def oracle_requires_mfa(grant: dict[str, Any] | None) -> bool:
    if not grant:
        return False
    alts: list[bool] = []
    for c in grant["builtInControls"]:
        alts.append(c == "mfa")
    s = grant["authenticationStrength"]
    if s is not None:
        combos = s["allowedCombinations"]
        if combos:
            alts.append(all("," in c or c in {"fido2", "windowsHelloForBusiness",
                                              "x509CertificateMultiFactor",
                                              "federatedMultiFactor"} for c in combos))
        else:
            alts.append(True)  # the built-in "Multifactor authentication" strength
    alts += [False] * len(grant["termsOfUse"])
    if not alts:
        return False
    return any(alts) if grant["operator"] == "AND" else all(alts)


def oracle_everywhere(p: dict[str, Any]) -> bool:
    c = p["conditions"]
    apps = c["applications"]
    return (apps["includeApplications"] == ["All"] and not apps.get("excludeApplications")
            and c["locations"] is None and c["signInRiskLevels"] == []
            and ("all" in c["clientAppTypes"]
                 or {"browser", "mobileAppsAndDesktopClients"} <= set(c["clientAppTypes"])))


def oracle_enforced(pols: list[dict[str, Any]], uid: str, groups: set[str],
                    roles: set[str]) -> bool:
    for p in pols:
        if p["state"] != "enabled" or not oracle_requires_mfa(p["grantControls"]):
            continue
        if not oracle_everywhere(p):
            continue
        u = p["conditions"]["users"]
        excluded = uid in u["excludeUsers"] or bool(groups & set(u["excludeGroups"])) \
            or bool(roles & set(u["excludeRoles"]))
        included = "All" in u["includeUsers"] or uid in u["includeUsers"] \
            or bool(groups & set(u["includeGroups"])) or bool(roles & set(u["includeRoles"]))
        if included and not excluded:
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(pols=st.lists(policies, max_size=4),
       membership=st.dictionaries(st.sampled_from(USERS), _sub(GROUPS)),
       roles=st.dictionaries(st.sampled_from(USERS), _sub(ROLES)),
       break_glass=_sub(USERS))
def test_mfa_enforcement_matches_oracle(pols: list[dict[str, Any]],
                                        membership: dict[str, list[str]],
                                        roles: dict[str, list[str]],
                                        break_glass: list[str]) -> None:
    """Each admin passes exactly when an enabled policy for all apps, satisfiable only by
    MFA, includes them and no exclusion drops them; a declared break-glass account left out
    is inconclusive (never a pass), anyone else left out fails."""
    content = {"security_defaults": {"isEnabled": False}, "policies": pols,
               "admins": [{"id": u, "userPrincipalName": u, "roles": ["r"]} for u in USERS],
               "user_groups": membership, "user_roles": roles, "guests": [],
               "names": {}, "break_glass": break_glass}
    before = copy.deepcopy(content)
    findings = {f.resource: f for f in A.assess_conditional_access(content)}
    assert content == before
    for u in USERS:
        want = oracle_enforced(pols, u, set(membership.get(u, [])), set(roles.get(u, [])))
        got = findings[f"admin {u}"].status
        if want:
            assert got == "pass", findings[f"admin {u}"].reason
        else:
            assert got == ("inconclusive" if u in break_glass else "fail")
    # The tenant: some policy enforces MFA for "All" users, and everyone an all-users policy
    # excludes (by user, through an excluded group or role) is either enforced by another
    # policy or a declared break-glass account (exclusions win over inclusions).
    all_users = [p for p in pols if oracle_enforced([p], "__nobody__", set(), set())
                 and "All" in p["conditions"]["users"]["includeUsers"]]
    excluded: set[str] = set()
    for p in all_users:
        u = p["conditions"]["users"]
        excluded |= set(u["excludeUsers"])
        excluded |= {x for x in USERS if set(membership.get(x, [])) & set(u["excludeGroups"])}
        excluded |= {x for x in USERS if set(roles.get(x, [])) & set(u["excludeRoles"])}
    uncovered = {x for x in excluded if x not in break_glass and not oracle_enforced(
        pols, x, set(membership.get(x, [])), set(roles.get(x, [])))}
    tenant_ok = bool(all_users) and not uncovered
    assert (findings["tenant"].status == "pass") == tenant_ok, findings["tenant"].reason
    for x in uncovered:
        assert x in findings["tenant"].reason


def test_security_defaults_cover_only_their_admin_roles() -> None:
    """With security defaults on, a Global Administrator passes but a holder of a role the
    defaults do not name fails, and the tenant as a whole is inconclusive, not a pass."""
    content = {"security_defaults": {"isEnabled": True}, "policies": [],
               "admins": [{"id": "ga", "roles": ["Global Administrator"]},
                          {"id": "rr", "roles": ["Reports Reader"]}],
               "user_roles": {"ga": ["62e90394-69f5-4237-9190-012177145e10"],
                              "rr": ["4a5d8f65-41da-4de4-8968-e035b65339cf"]}}
    f = {x.resource: x.status for x in A.assess_conditional_access(content)}
    assert f == {"tenant": "inconclusive", "admin ga": "pass", "admin rr": "fail"}


@settings(max_examples=200, deadline=None)
@given(grant=grants)
def test_grant_requires_mfa_matches_oracle(grant: dict[str, Any] | None) -> None:
    """Grant controls require MFA exactly as the OR / AND semantics and authentication
    strength combinations say."""
    assert A.grant_requires_mfa(grant) == oracle_requires_mfa(grant)


# --- other rules --------------------------------------------------------------------------

def test_custom_role_privilege_respects_not_actions() -> None:
    """A custom role with `*` is privileged, `*` minus authorization writes still is (full
    control of resources), and `*/read` is not; roleAssignments/write alone is."""
    assert A.custom_role_privilege([{"actions": ["*"], "notActions": []}])
    assert A.custom_role_privilege([{"actions": ["*"],
                                     "notActions": ["Microsoft.Authorization/*/Write"]}])
    assert A.custom_role_privilege([{"actions": ["*/read"], "notActions": []}]) is None
    assert A.custom_role_privilege([{"actions": ["Microsoft.Authorization/roleAssignments/*"],
                                     "notActions": []}]) == "can create role assignments"
    assert A.custom_role_privilege([{"actions": ["Microsoft.Authorization/*"],
                                     "notActions": ["Microsoft.Authorization/*/write"]}]) \
        is None


def test_owner_count_and_unreadable_subscription() -> None:
    """Too many owners fail and an unreadable subscription is inconclusive."""
    content = {"max_owners": 2, "subscriptions": [
        {"subscription_id": "b", "assignments": [_owner("1"), _owner("2"), _owner("3")]}],
        "unreadable": [{"subscription_id": "c", "error": "denied"}]}
    f = {x.resource: x.status for x in A.assess_role_assignments(content)}
    assert f == {"subscription:b": "fail", "subscription:c": "inconclusive"}


def _owner(p: str, cond: str | None = None) -> dict[str, Any]:
    return {"id": f"/x/{p}", "principal_id": p, "principal_type": "User", "scope": "/s",
            "scope_level": "subscription", "condition": cond,
            "role_definition_id": "/providers/Microsoft.Authorization/roleDefinitions/"
                                  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}


# A delegation condition as Microsoft's "Delegate Azure access management to others" shows it:
# it constrains only the role-assignment write and delete actions.
_DELEGATION = ("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
               "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
               "ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b}))")


def test_conditional_owner_still_counts_as_owner() -> None:
    """A role assignment condition filters only the actions it names: Azure ABAC
    ("What is Azure attribute-based access control", learn.microsoft.com/azure/
    role-based-access-control/conditions-overview: "You can also add conditions to specific
    actions"; the condition format `(!(ActionMatches{...})) OR (...)` is true for every other
    action), and Owner, having no data actions, can only carry conditions on
    Microsoft.Authorization/roleAssignments write/delete ("Delegate Azure access management to
    others", delegate-role-assignments-overview). So an Owner with a condition still has full
    control of every resource in the subscription: it counts toward the owner limit. Three
    owners, one conditional, with a limit of two passed before; it fails, naming the
    conditional one; a lone conditional Owner is an owner (it said none applied)."""
    content = {"max_owners": 2, "subscriptions": [
        {"subscription_id": "a", "assignments": [_owner("1"), _owner("2"),
                                                 _owner("3", _DELEGATION)]},
        {"subscription_id": "d", "assignments": [_owner("9", _DELEGATION)]}]}
    f = {x.resource: x for x in A.assess_role_assignments(content)}
    assert f["subscription:a"].status == "fail"
    assert "3 principals hold Owner" in f["subscription:a"].reason
    assert "1 of them with a condition" in f["subscription:a"].reason
    assert f["subscription:d"].status == "pass"
    assert "1 principal(s) hold Owner" in f["subscription:d"].reason
    assert "with a condition" in f["subscription:d"].reason


def test_vault_defaults_and_key_rotation() -> None:
    """Unset purge protection fails (its documented default is off), unset soft delete is
    on; a key whose policy only notifies does not rotate; a disabled key is skipped."""
    vault = {"id": "v", "properties": {"enableSoftDelete": None}, "keys": [
        {"id": "k1", "properties": {"attributes": {"enabled": True}, "rotationPolicy": {
            "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"},
                                 "action": {"type": "Notify"}}]}}},
        {"id": "k2", "properties": {"attributes": {"enabled": True}, "rotationPolicy": {
            "lifetimeActions": [{"trigger": {"timeAfterCreate": "P1Y"},
                                 "action": {"type": "Rotate"}}]}}},
        {"id": "k3", "properties": {"attributes": {"enabled": False}}}]}
    f = {x.resource: (x.status, x.reason) for x in A.assess_key_vaults(
        {"subscriptions": [{"subscription_id": "s", "vaults": [vault]}]})}
    assert f["v"][0] == "fail" and "purge protection off" in f["v"][1]
    assert "soft delete off" not in f["v"][1]
    assert f["k1"][0] == "fail" and f["k2"] == ("pass", "rotates automatically (P1Y)")
    assert "k3" not in f


def test_activity_log_retention_rules() -> None:
    """Retention passes on a long enough Log Analytics table, fails when short, and is
    inconclusive when only a storage destination (lifecycle unread) might keep it."""
    def sub(sid: str, dests: list[dict[str, Any]]) -> dict[str, Any]:
        return {"subscription_id": sid, "destinations": dests, "log_profiles": []}
    content = {"min_retention_days": 365, "subscriptions": [
        sub("a", [{"kind": "log_analytics", "id": "w", "retention_days": 730}]),
        sub("b", [{"kind": "log_analytics", "id": "w", "retention_days": 90}]),
        sub("c", [{"kind": "storage_account", "id": "st", "retention_days": None}]),
        sub("d", [])]}
    f = {x.resource: x.status for x in A.assess_activity_log(content)}
    assert f == {"subscription:a": "pass", "subscription:b": "fail",
                 "subscription:c": "inconclusive", "subscription:d": "fail"}


def test_diagnostic_settings_category_groups() -> None:
    """The allLogs category group covers every required category; a setting with no
    destination exports nothing; Administrative alone is not enough."""
    ok = {"properties": {"workspaceId": "w", "logs": [{"categoryGroup": "allLogs",
                                                       "enabled": True}]}}
    nodest = {"properties": {"logs": [{"categoryGroup": "allLogs", "enabled": True}]}}
    admin = {"properties": {"storageAccountId": "s", "logs": [
        {"category": "Administrative", "enabled": True}]}}
    f = {x.resource: x.status for x in A.assess_diagnostic_settings({"subscriptions": [
        {"subscription_id": "a", "settings": [ok]},
        {"subscription_id": "b", "settings": [nodest]},
        {"subscription_id": "c", "settings": [admin]}]})}
    assert f == {"subscription:a": "pass", "subscription:b": "fail", "subscription:c": "fail"}


def test_rotate_before_expiry_needs_expiry_times() -> None:
    """Key Vault's "Configure key auto-rotation" (learn.microsoft.com/azure/key-vault/keys/
    how-to-configure-key-rotation): rotating "at a given time before expiry ... requires
    'Expiry Time' set on rotation policy and 'Expiration Date' set on the key". A Rotate
    action triggered P30D before expiry on a key with neither passed as rotating
    automatically; without the policy's expiryTime or the key's `exp` it never fires: fail,
    naming what is missing. With both it passes; an empty timeBeforeExpiry beside a
    timeAfterCreate (as Microsoft's ARM example writes it) is the timeAfterCreate rotation."""
    def key(kid: str, trigger: dict[str, Any], policy_expiry: str | None,
            exp: int | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {"enabled": True, "created": 1_700_000_000}
        if exp is not None:
            attrs["exp"] = exp
        pol: dict[str, Any] = {"lifetimeActions": [{"trigger": trigger,
                                                    "action": {"type": "Rotate"}}],
                               "attributes": {"created": 1_700_000_000}}
        if policy_expiry:
            pol["attributes"]["expiryTime"] = policy_expiry
        return {"id": kid, "name": kid, "properties": {"attributes": attrs, "kty": "RSA",
                                                        "keySize": 2048, "rotationPolicy": pol}}
    before = {"timeBeforeExpiry": "P30D"}
    vault = {"id": "v", "properties": {"enablePurgeProtection": True}, "keys": [
        key("k-none", before, None, None),
        key("k-no-policy-expiry", before, None, 1_800_000_000),
        key("k-no-key-exp", before, "P1Y", None),
        key("k-both", before, "P1Y", 1_800_000_000),
        key("k-arm", {"timeAfterCreate": "P18M", "timeBeforeExpiry": ""}, "P2Y", None)]}
    f = {x.resource: x for x in A.assess_key_vaults(
        {"subscriptions": [{"subscription_id": "s", "vaults": [vault]}]})}
    assert f["k-none"].status == "fail"
    assert "expiryTime" in f["k-none"].reason and "expiration date" in f["k-none"].reason
    assert f["k-no-policy-expiry"].status == "fail"
    assert "expiryTime" in f["k-no-policy-expiry"].reason
    assert "expiration date" not in f["k-no-policy-expiry"].reason
    assert f["k-no-key-exp"].status == "fail"
    assert "expiration date" in f["k-no-key-exp"].reason
    assert f["k-both"].status == "pass"
    assert f["k-arm"].status == "pass" and "P18M" in f["k-arm"].reason


def test_all_users_policy_excluding_a_group_does_not_cover_the_tenant() -> None:
    """Conditional Access ("Users, groups, and workload identities", learn.microsoft.com/
    entra/identity/conditional-access/concept-conditional-access-users-groups): "The exclude
    action overrides the include action in policy", and a group exclusion "is applied to
    nested users and groups". An enabled all-users, all-apps MFA policy that excludes the group
    'Contractors' (two members no other policy covers) passed as "MFA enforced for all
    users"; it fails naming them. A declared break-glass account excluded alone still
    passes, an excluded member another enforcing policy includes is covered, and a nested
    group among the transitive members is no user to name."""
    mfa = {"operator": "OR", "builtInControls": ["mfa"]}

    def pol(name: str, users: dict[str, Any]) -> dict[str, Any]:
        return {"displayName": name, "state": "enabled", "grantControls": mfa,
                "conditions": {"users": users,
                               "applications": {"includeApplications": ["All"]},
                               "clientAppTypes": ["all"]}}
    base = {"security_defaults": {"isEnabled": False}, "admins": [],
            "groups": {"g-contractors": ["c1", "c2", "g-nested"], "g-bg": ["bg"]},
            "user_groups": {"c1": ["g-contractors"], "c2": ["g-contractors"], "bg": ["g-bg"]},
            "user_roles": {}, "guests": [],
            "names": {"g-contractors": "group Contractors", "c1": "c1@x.com",
                      "c2": "c2@x.com", "bg": "bg@x.com",
                      "g-nested": "g-nested (not a user)"}, "break_glass": ["bg@x.com"]}
    wide = pol("All users MFA", {"includeUsers": ["All"], "excludeGroups": ["g-contractors"]})
    f = {x.resource: x for x in A.assess_conditional_access({**base, "policies": [wide]})}
    assert f["tenant"].status == "fail"
    assert "c1@x.com" in f["tenant"].reason and "c2@x.com" in f["tenant"].reason
    assert "g-nested" not in f["tenant"].reason  # a nested group is no user signing in
    glass = pol("All users MFA", {"includeUsers": ["All"], "excludeGroups": ["g-bg"]})
    f = {x.resource: x for x in A.assess_conditional_access({**base, "policies": [glass]})}
    assert f["tenant"].status == "pass"
    c1 = pol("Contractor c1", {"includeUsers": ["c1", "c2"]})
    f = {x.resource: x for x in A.assess_conditional_access({**base,
                                                             "policies": [wide, c1]})}
    assert f["tenant"].status == "pass"


def _ra(p: str, guid: str, cond: str | None = None) -> dict[str, Any]:
    return {**_owner(p, cond), "id": f"/x/{p}-{guid[:4]}",
            "role_definition_id": f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"}


def test_principals_who_can_make_themselves_owner_count_as_owners() -> None:
    """Microsoft ("Delegate Azure access management to others"): a holder of User Access
    Administrator (or Role Based Access Control Administrator without a condition) "can
    assign any role to any user within their scope, including themselves", Owner included.
    Two Owners and two unconditional User Access Administrators, with at most three owners
    allowed, passed as "2 principal(s) hold Owner"; they are four owner-equivalent
    principals: fail, naming the roles. A Role Based Access Control Administrator whose
    condition constrains what it may assign is not counted (it is named)."""
    content = {"max_owners": 3, "subscriptions": [
        {"subscription_id": "a", "assignments": [
            _ra("o1", A.OWNER), _ra("o2", A.OWNER), _ra("u1", A.USER_ACCESS_ADMIN),
            _ra("u2", A.USER_ACCESS_ADMIN)]},
        {"subscription_id": "b", "assignments": [
            _ra("o1", A.OWNER), _ra("o2", A.OWNER), _ra("r1", A.RBAC_ADMIN, _DELEGATION),
            _ra("o1", A.USER_ACCESS_ADMIN)]}]}
    f = {x.resource: x for x in A.assess_role_assignments(content)}
    assert f["subscription:a"].status == "fail"
    assert "4 principals" in f["subscription:a"].reason
    assert "User Access Administrator" in f["subscription:a"].reason
    assert f["subscription:b"].status == "pass", f["subscription:b"].reason
    assert "Role Based Access Control Administrator" in f["subscription:b"].reason
