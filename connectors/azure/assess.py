"""Pure verdicts for the `azure` connector's snapshots, following Microsoft's documentation.

Each `assess_*` takes a snapshot's content (JSON) and returns findings; nothing here does I/O.
Where a REST property is absent or null, the documented default applies (the SDKs return
`None`, not the default): see `storage_effective` and `vault_effective`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import Finding, FindingStatus

# --- role assignments ---------------------------------------------------------------------

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
# Microsoft's "privileged administrator roles" (Azure RBAC documentation).
PRIVILEGED_BUILTIN = {OWNER: "Owner", CONTRIBUTOR: "Contributor",
                      USER_ACCESS_ADMIN: "User Access Administrator",
                      RBAC_ADMIN: "Role Based Access Control Administrator"}


def role_guid(role_definition_id: str) -> str:
    """The GUID at the end of a role definition id (the same at every scope)."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _action_matches(pattern: str, action: str) -> bool:
    rx = "^" + re.escape(pattern.lower()).replace(r"\*", ".*") + "$"
    return re.match(rx, action.lower()) is not None


def custom_role_privilege(permissions: Iterable[Mapping[str, Any]]) -> str | None:
    """Why a role's permissions are privileged (full control, or can grant access), or None.

    An action counts when some `actions` pattern matches it and no `notActions` pattern does
    (Azure RBAC's documented evaluation of a role's permission blocks)."""
    def allowed(action: str) -> bool:
        for p in permissions:
            if any(_action_matches(a, action) for a in p.get("actions") or []) and \
                    not any(_action_matches(n, action) for n in p.get("notActions") or []):
                return True
        return False

    if allowed("Microsoft.Compute/virtualMachines/write") and \
            allowed("Microsoft.Storage/storageAccounts/write") and \
            allowed("Microsoft.Resources/subscriptions/resourceGroups/write"):
        return "allows every action ('*')"
    if allowed("Microsoft.Authorization/roleAssignments/write"):
        return "can create role assignments"
    return None


def assess_role_assignments(content: Mapping[str, Any]) -> list[Finding]:
    """Per subscription: owners (and holders of User Access Administrator or RBAC
    Administrator without a condition, who can make themselves Owner) within bounds, and no
    custom role equivalent to Owner; unreadable subscriptions are inconclusive."""
    out: list[Finding] = []
    limit = int(content.get("max_owners", 3))
    for sub in content.get("subscriptions", []):
        res = f"subscription:{sub['subscription_id']}"
        # A condition on an Owner assignment constrains only the role-assignment write and
        # delete actions it names (Azure ABAC "delegate role assignment management"): the
        # principal keeps full control of every resource, so it is an owner all the same.
        owner_ras = [a for a in sub.get("assignments", [])
                     if role_guid(a["role_definition_id"]) == OWNER]
        conditional = sorted({a["principal_id"] for a in owner_ras if a.get("condition")}
                             - {a["principal_id"] for a in owner_ras if not a.get("condition")})
        # User Access Administrator and RBAC Administrator "can assign any role to any user
        # within their scope, including themselves" (Owner too) unless a condition limits
        # what they may assign: without one they are owners in all but name.
        grant_ras = [a for a in sub.get("assignments", [])
                     if role_guid(a["role_definition_id"]) in (USER_ACCESS_ADMIN, RBAC_ADMIN)]
        owners = sorted({a["principal_id"] for a in owner_ras})
        grantors = sorted({a["principal_id"] for a in grant_ras if not a.get("condition")}
                          - set(owners))
        constrained = sorted({PRIVILEGED_BUILTIN[role_guid(a["role_definition_id"])]
                              for a in grant_ras if a.get("condition")})
        where = ", ".join(sorted({a["scope_level"] for a in owner_ras}))
        if conditional:
            where += (f"; {len(conditional)} of them with a condition, which constrains only "
                      "the role assignments they may write")
        if grantors:
            roles = sorted({PRIVILEGED_BUILTIN[role_guid(a["role_definition_id"])]
                            for a in grant_ras if a["principal_id"] in grantors})
            where += (f"; {len(grantors)} more can make themselves Owner as "
                      f"{' or '.join(roles)} without a condition")
        if constrained:
            where += f"; not counted: {', '.join(constrained)} limited by a condition"
        owners = sorted(set(owners) | set(grantors))
        cut = "; ".join(sub.get("incomplete") or [])
        if len(owners) > limit:
            out.append(Finding(res, "fail", f"{len(owners)} principals hold Owner or can "
                                            f"grant it (at {where}); at most {limit} allowed"))
        elif cut:
            out.append(Finding(res, "inconclusive", f"assignments not read in full ({cut}); "
                                                    f"{len(owners)} Owner principal(s) seen"))
        elif not owner_ras:
            out.append(Finding(res, "fail", "no Owner assignment applies (Microsoft advises "
                                            "more than one owner)"))
        else:
            out.append(Finding(res, "pass", f"{len(owners)} principal(s) hold Owner "
                                            f"(at {where})"))
        for a in sub.get("assignments", []):
            if a.get("role_type") == "CustomRole" and a.get("privileged"):
                out.append(Finding(
                    f"{res}/assignment:{a['id'].rsplit('/', 1)[-1]}", "fail",
                    f"custom role '{a.get('role_name')}' {a.get('privileged_reason')} for "
                    f"{a['principal_type']} {a['principal_id']} at {a['scope']}"))
    for u in content.get("unreadable", []):
        out.append(Finding(f"subscription:{u['subscription_id']}", "inconclusive",
                           f"not readable: {u['error']}"))
    return out


# --- Entra MFA registration ---------------------------------------------------------------

def assess_mfa_registration(content: Mapping[str, Any]) -> list[Finding]:
    """Each user must be MFA capable (a strong method registered AND allowed by the
    authentication methods policy: `isMfaCapable`); admins are named as such."""
    admins = {a["id"] for a in content.get("admins", [])}
    out = []
    for u in content.get("users", []):
        admin = bool(u.get("isAdmin")) or u["id"] in admins
        who = ("admin " if admin else "") + str(u.get("userPrincipalName") or u["id"])
        methods = ", ".join(u.get("methodsRegistered") or []) or "none"
        if u.get("isMfaCapable") is True:
            out.append(Finding(who, "pass", f"MFA capable (methods: {methods})"))
        elif u.get("isMfaRegistered") is True:
            out.append(Finding(who, "fail", f"MFA registered but not capable: the registered "
                                            f"methods ({methods}) are not allowed by policy"))
        else:
            out.append(Finding(who, "fail", f"no MFA method registered (methods: {methods})"))
    return out


# --- Conditional Access -------------------------------------------------------------------

# Authentication method modes that are multifactor on their own (Microsoft Graph
# authenticationMethodModes); a combination of two factors ("password,sms") is multifactor.
MULTIFACTOR_MODES = frozenset({
    "windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush",
    "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "federatedMultiFactor",
})

BUILTIN_MFA_STRENGTHS = frozenset({
    "00000000-0000-0000-0000-000000000002",  # Multifactor authentication
    "00000000-0000-0000-0000-000000000003",  # Passwordless MFA
    "00000000-0000-0000-0000-000000000004",  # Phishing-resistant MFA
})


def combination_is_mfa(combination: str) -> bool:
    """Whether one allowed combination of an authentication strength is multifactor."""
    parts = [p.strip() for p in combination.split(",") if p.strip()]
    return len(parts) >= 2 or (len(parts) == 1 and parts[0] in MULTIFACTOR_MODES)


def strength_is_mfa(strength: Mapping[str, Any] | None) -> bool:
    """An authentication strength requires MFA only if every allowed combination does."""
    if not strength:
        return False
    combos = strength.get("allowedCombinations")
    if not combos:
        # The built-in strengths are all multifactor; a custom one must list its combinations.
        return str(strength.get("id", "")) in BUILTIN_MFA_STRENGTHS
    return all(combination_is_mfa(c) for c in combos)


def grant_requires_mfa(grant: Mapping[str, Any] | None) -> bool:
    """Whether a policy's grant controls can only be satisfied with MFA.

    With operator AND every control is required, so one MFA control suffices; with OR any
    one control satisfies the policy, so every alternative must be MFA."""
    if not grant:
        return False
    builtins = [str(c) for c in grant.get("builtInControls") or []]
    strength = grant.get("authenticationStrength")
    alternatives: list[bool] = [c == "mfa" for c in builtins]
    if strength:
        alternatives.append(strength_is_mfa(strength))
    alternatives += [False for _ in grant.get("customAuthenticationFactors") or []]
    alternatives += [False for _ in grant.get("termsOfUse") or []]
    if not alternatives:
        return False
    if str(grant.get("operator", "OR")).upper() == "AND":
        return any(alternatives)
    return all(alternatives)


def policy_narrowing(policy: Mapping[str, Any]) -> list[str]:
    """Conditions that make a policy apply to less than every sign-in to every app."""
    c = policy.get("conditions") or {}
    why = []
    apps = c.get("applications") or {}
    if "All" not in (apps.get("includeApplications") or []):
        why.append("not all cloud apps")
    if apps.get("excludeApplications"):
        why.append(f"excludes apps {sorted(apps['excludeApplications'])}")
    if apps.get("includeUserActions") or apps.get("includeAuthenticationContextClassReferences"):
        why.append("user actions / authentication contexts only")
    types = c.get("clientAppTypes") or ["all"]
    if "all" not in types and not {"browser", "mobileAppsAndDesktopClients"} <= set(types):
        why.append(f"client apps {sorted(types)} only")
    plat = c.get("platforms")
    if plat and ("all" not in (plat.get("includePlatforms") or ["all"])
                 or plat.get("excludePlatforms")):
        why.append("limited platforms")
    loc = c.get("locations")
    if loc and ("All" not in (loc.get("includeLocations") or ["All"])
                or loc.get("excludeLocations")):
        why.append("limited locations (e.g. trusted networks excluded)")
    if c.get("signInRiskLevels") or c.get("userRiskLevels") or \
            c.get("servicePrincipalRiskLevels"):
        why.append("only at some risk levels")
    if c.get("devices"):
        why.append("device filter")
    return why


def user_in_scope(users: Mapping[str, Any], uid: str, *, groups: set[str], roles: set[str],
                  guest: bool) -> tuple[bool, str | None]:
    """Whether a policy's user conditions include this user, and the exclusion that drops
    them (exclusions win over inclusions, as Conditional Access documents)."""
    if uid in set(users.get("excludeUsers") or []):
        return False, "excluded by user"
    if g := groups & set(users.get("excludeGroups") or []):
        return False, f"excluded by group {sorted(g)[0]}"
    if r := roles & set(users.get("excludeRoles") or []):
        return False, f"excluded by role {sorted(r)[0]}"
    if guest and users.get("excludeGuestsOrExternalUsers"):
        return False, "excluded as guest"
    inc = set(users.get("includeUsers") or [])
    if "All" in inc or uid in inc:
        return True, None
    if "GuestsOrExternalUsers" in inc and guest:
        return True, None
    if guest and users.get("includeGuestsOrExternalUsers"):
        return True, None
    if groups & set(users.get("includeGroups") or []):
        return True, None
    if roles & set(users.get("includeRoles") or []):
        return True, None
    return False, None


def enforcing_policies(policies: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Policies that enforce MFA on every sign-in of the users they cover: state `enabled`
    (not report-only), grant controls satisfiable only with MFA, every app, no narrowing."""
    return [p for p in policies if p.get("state") == "enabled"
            and grant_requires_mfa(p.get("grantControls")) and not policy_narrowing(p)]


# Directory roles (template ids) whose holders security defaults make do MFA at every
# sign-in (Microsoft Entra security defaults documentation); other users only "when
# necessary".
SECURITY_DEFAULTS_ROLES = frozenset({
    "62e90394-69f5-4237-9190-012177145e10",  # Global Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",  # Application Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f",  # Authentication Administrator
    "b0f54661-2d74-4c50-afa3-1ec803f12efe",  # Billing Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7",  # Cloud Application Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",  # Conditional Access Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de",  # Exchange Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",  # Helpdesk Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",  # Privileged Authentication Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814",  # Privileged Role Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d",  # Security Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",  # SharePoint Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1",  # User Administrator
    "0526716b-113d-4c15-b2c8-68e3c22b9f80",  # Authentication Policy Administrator
    "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e",  # Identity Governance Administrator
})


def mfa_coverage(content: Mapping[str, Any], uid: str) -> tuple[bool, list[str]]:
    """Whether MFA is enforced at every sign-in of user `uid`, and the exclusions that left
    them out. Security defaults count only for the administrator roles they name."""
    sd = content.get("security_defaults") or {}
    groups = set(content.get("user_groups", {}).get(uid, []))
    roles = set(content.get("user_roles", {}).get(uid, []))
    if sd.get("isEnabled") is True:
        if roles & SECURITY_DEFAULTS_ROLES:
            return True, []
        return False, ["security defaults require MFA of this user only when necessary"]
    guest = uid in set(content.get("guests", []))
    exclusions = []
    for p in enforcing_policies(content.get("policies", [])):
        inside, why = user_in_scope((p.get("conditions") or {}).get("users") or {}, uid,
                                    groups=groups, roles=roles, guest=guest)
        if inside:
            return True, []
        if why:
            exclusions.append(f"{p.get('displayName')}: {why}")
    return False, exclusions


def _left_out(content: Mapping[str, Any], all_users: list[Mapping[str, Any]]) -> list[str]:
    """Who an all-users policy excludes (by user, through an excluded group's transitive
    members, an excluded role's holders, or guests) that no enforcing policy covers and who
    is no declared break-glass account: the exclude overrides the include."""
    names = content.get("names", {})
    break_glass = set(content.get("break_glass", []))
    user_groups = content.get("user_groups", {})
    user_roles = content.get("user_roles", {})
    group_members = content.get("groups", {})
    excluded: set[str] = set()
    guests_out = bool(all_users)
    for p in all_users:
        u = (p.get("conditions") or {}).get("users") or {}
        excluded |= set(u.get("excludeUsers") or [])
        for gid in u.get("excludeGroups") or []:
            excluded |= set(group_members.get(gid) or [])
            excluded |= {uid for uid, gs in user_groups.items() if gid in gs}
        for rid in u.get("excludeRoles") or []:
            excluded |= {uid for uid, rs in user_roles.items() if rid in rs}
        guests_out &= bool(u.get("excludeGuestsOrExternalUsers"))
    out = []
    for uid in sorted(excluded):
        if uid in break_glass or names.get(uid) in break_glass:
            continue
        if str(names.get(uid, "")).endswith("(not a user)"):
            continue  # a nested group, device or service principal: no user sign-in
        if not mfa_coverage(content, uid)[0]:
            out.append(str(names.get(uid, uid)))
    if guests_out and not any(
            "GuestsOrExternalUsers" in (((p.get("conditions") or {}).get("users") or {})
                                        .get("includeUsers") or [])
            for p in enforcing_policies(content.get("policies", []))):
        out.append("guests and external users")
    return out


def assess_conditional_access(content: Mapping[str, Any]) -> list[Finding]:
    """Whether MFA is enforced (security defaults, or enabled Conditional Access policies
    requiring MFA for all apps), for all users and for each administrator; declared
    break-glass accounts left out are inconclusive, never a pass."""
    out: list[Finding] = []
    sd = content.get("security_defaults") or {}
    policies = content.get("policies", [])
    names = content.get("names", {})
    break_glass = set(content.get("break_glass", []))
    if sd.get("isEnabled") is True:
        out.append(Finding("tenant", "inconclusive",
                           "security defaults are enabled: MFA at every sign-in for the "
                           "administrator roles they name, for other users only when "
                           "Microsoft deems it necessary"))
    else:
        enforcing = enforcing_policies(policies)
        all_users = [p for p in enforcing if "All" in (
            ((p.get("conditions") or {}).get("users") or {}).get("includeUsers") or [])]
        uncovered = _left_out(content, all_users)
        if all_users and uncovered:
            out.append(Finding("tenant", "fail",
                               f"MFA enforced for all users by "
                               f"{', '.join(str(p.get('displayName')) for p in all_users)}, "
                               f"but excluded there and enforced by no other policy: "
                               f"{', '.join(uncovered[:20])}"
                               + (f" (+{len(uncovered) - 20} more)" if len(uncovered) > 20
                                  else "")))
        elif all_users:
            ex = sorted({names.get(x, x) for p in all_users
                         for k in ("excludeUsers", "excludeGroups", "excludeRoles")
                         for x in p["conditions"]["users"].get(k) or []})
            out.append(Finding("tenant", "pass",
                               f"MFA enforced for all users by "
                               f"{', '.join(str(p.get('displayName')) for p in all_users)}"
                               + (f"; excluded: {', '.join(ex)}" if ex else "")))
        else:
            weaker = [f"{p.get('displayName')} ({p.get('state')})" for p in policies
                      if grant_requires_mfa(p.get("grantControls")) and p not in enforcing]
            out.append(Finding("tenant", "fail",
                               "no enabled policy enforces MFA for all users on all apps and "
                               "security defaults are off"
                               + (f"; MFA policies not enforcing: {', '.join(weaker)}"
                                  if weaker else "")))
    for a in content.get("admins", []):
        uid = a["id"]
        label = f"admin {a.get('userPrincipalName') or uid}"
        ok, exclusions = mfa_coverage(content, uid)
        roles = ", ".join(a.get("roles", []))
        if ok:
            out.append(Finding(label, "pass", f"MFA enforced ({roles})"))
        elif uid in break_glass or a.get("userPrincipalName") in break_glass:
            out.append(Finding(label, "inconclusive",
                               f"declared break-glass account, not covered by MFA enforcement "
                               f"({'; '.join(exclusions) or 'not included'}): confirm it is "
                               "monitored and its use reviewed"))
        else:
            out.append(Finding(label, "fail",
                               f"MFA not enforced ({roles}): "
                               f"{'; '.join(exclusions) or 'no enforcing policy includes it'}"))
    return out


# --- storage accounts ---------------------------------------------------------------------

TLS_ORDER = {"TLS1_0": 0, "TLS1_1": 1, "TLS1_2": 2, "TLS1_3": 3}


def storage_effective(props: Mapping[str, Any]) -> dict[str, Any]:
    """A storage account's effective settings, with Microsoft's documented meaning of an
    unset property: minimumTlsVersion -> TLS1_0; supportsHttpsTrafficOnly -> true (default
    since API 2019-04-01); allowSharedKeyAccess -> true ("null is equivalent to true");
    allowBlobPublicAccess -> true (the anonymous-access guide: an account permits anonymous
    access when the property is null or true; the newer REST text reading null as false
    would be a pass we cannot prove); keySource -> Microsoft.Storage."""
    enc = props.get("encryption") or {}

    def val(key: str, default: Any) -> tuple[Any, bool]:
        v = props.get(key)
        return (default, True) if v is None else (v, False)

    tls, tls_d = val("minimumTlsVersion", "TLS1_0")
    https, https_d = val("supportsHttpsTrafficOnly", True)
    shared, shared_d = val("allowSharedKeyAccess", True)
    public, public_d = val("allowBlobPublicAccess", True)
    source = enc.get("keySource") or "Microsoft.Storage"
    defaulted = [k for k, d in (("minimumTlsVersion", tls_d),
                                ("supportsHttpsTrafficOnly", https_d),
                                ("allowSharedKeyAccess", shared_d),
                                ("allowBlobPublicAccess", public_d)) if d]
    return {"minimum_tls": str(tls), "https_only": bool(https), "shared_key": bool(shared),
            "public_blob_access": bool(public), "key_source": str(source),
            "cmk": str(source).lower() == "microsoft.keyvault", "defaulted": defaulted}


def storage_problems(props: Mapping[str, Any], *, require_cmk: bool = False,
                     minimum_tls: str = "TLS1_2") -> list[str]:
    """What fails on one account's effective settings."""
    e = storage_effective(props)
    why = []
    if TLS_ORDER.get(e["minimum_tls"], -1) < TLS_ORDER[minimum_tls]:
        why.append(f"minimum TLS {e['minimum_tls']} below {minimum_tls}")
    if not e["https_only"]:
        why.append("HTTP (not only HTTPS) allowed")
    if e["public_blob_access"]:
        why.append("anonymous blob access allowed")
    if e["shared_key"]:
        why.append("shared key (account key) access allowed")
    if require_cmk and not e["cmk"]:
        why.append("encrypted with Microsoft-managed keys, customer-managed key required")
    return why


def incomplete_findings(content: Mapping[str, Any]) -> list[Finding]:
    """An inconclusive finding for each subscription whose lists were cut short."""
    return [Finding(f"subscription:{sub['subscription_id']}", "inconclusive",
                    "not read in full: " + "; ".join(sub["incomplete"]))
            for sub in content.get("subscriptions", []) if sub.get("incomplete")]


def assess_storage_accounts(content: Mapping[str, Any]) -> list[Finding]:
    """Each account: TLS >= the minimum, HTTPS only, no anonymous blob access, no shared-key
    access, customer-managed key when required; unset properties take documented defaults."""
    out = []
    require_cmk = bool(content.get("require_cmk", False))
    minimum = str(content.get("minimum_tls", "TLS1_2"))
    for sub in content.get("subscriptions", []):
        for a in sub.get("accounts", []):
            props = a.get("properties") or {}
            why = storage_problems(props, require_cmk=require_cmk, minimum_tls=minimum)
            e = storage_effective(props)
            note = f" (unset, documented default applied: {', '.join(e['defaulted'])})" \
                if e["defaulted"] else ""
            enc = "customer-managed key" if e["cmk"] else "Microsoft-managed keys"
            if why:
                out.append(Finding(a["id"], "fail", "; ".join(why) + note))
            else:
                out.append(Finding(a["id"], "pass", f"encrypted with {enc}, "
                                                    f"{e['minimum_tls']}, HTTPS only, no "
                                                    f"anonymous or shared-key access{note}"))
    out += incomplete_findings(content)
    for u in content.get("unreadable", []):
        out.append(Finding(f"subscription:{u['subscription_id']}", "inconclusive",
                           f"not readable: {u['error']}"))
    return out


# --- key vaults ---------------------------------------------------------------------------

def vault_effective(props: Mapping[str, Any]) -> dict[str, Any]:
    """A vault's effective protection: enableSoftDelete unset -> true (set by default and
    irreversible); enablePurgeProtection unset -> false; enableRbacAuthorization unset ->
    false (access policies) per the REST reference."""
    sd = props.get("enableSoftDelete")
    pp = props.get("enablePurgeProtection")
    rbac = props.get("enableRbacAuthorization")
    return {"soft_delete": True if sd is None else bool(sd),
            "purge_protection": bool(pp) if pp is not None else False,
            "rbac": bool(rbac) if rbac is not None else False,
            "retention_days": props.get("softDeleteRetentionInDays") or 90}


def key_rotation(key: Mapping[str, Any]) -> tuple[str | None, str]:
    """(the trigger of the key's automatic rotation or None, why it does not rotate).

    Key Vault rotates "at a given time after creation", or "at a given time before expiry",
    which "requires 'Expiry Time' set on rotation policy and 'Expiration Date' set on the
    key" (Configure key auto-rotation): a before-expiry trigger without both never fires."""
    props = key.get("properties") or {}
    policy = props.get("rotationPolicy") or {}
    why = "no automatic rotation in its rotation policy"
    for la in policy.get("lifetimeActions") or []:
        if str((la.get("action") or {}).get("type", "")).lower() != "rotate":
            continue
        trig = la.get("trigger") or {}
        if trig.get("timeAfterCreate"):
            return str(trig["timeAfterCreate"]), ""
        if trig.get("timeBeforeExpiry"):
            missing: list[str] = []
            if not (policy.get("attributes") or {}).get("expiryTime"):
                missing.append("the rotation policy sets no expiryTime")
            if not (props.get("attributes") or {}).get("exp"):
                missing.append("the key has no expiration date")
            if not missing:
                return f"{trig['timeBeforeExpiry']} before expiry", ""
            why = (f"its Rotate action fires {trig['timeBeforeExpiry']} before expiry, but "
                   f"{' and '.join(missing)}, so it never fires")
    return None, why


def assess_key_vaults(content: Mapping[str, Any]) -> list[Finding]:
    """Each vault: soft delete and purge protection on (mode recorded); each enabled key:
    a rotation policy with an automatic `rotate` action."""
    out = []
    for sub in content.get("subscriptions", []):
        for v in sub.get("vaults", []):
            e = vault_effective(v.get("properties") or {})
            mode = "RBAC" if e["rbac"] else "access policies"
            why = []
            if not e["soft_delete"]:
                why.append("soft delete off")
            if not e["purge_protection"]:
                why.append("purge protection off")
            status: FindingStatus = "fail" if why else "pass"
            reason = "; ".join(why) if why else \
                f"soft delete ({e['retention_days']} days) and purge protection on"
            out.append(Finding(v["id"], status, f"{reason}; authorization: {mode}"))
            if v.get("keys_error"):
                out.append(Finding(f"{v['id']}/keys", "inconclusive",
                                   f"keys not readable: {v['keys_error']}"))
            for k in v.get("keys", []):
                attrs = (k.get("properties") or {}).get("attributes") or {}
                if attrs.get("enabled") is False:
                    continue
                rot, why_not = key_rotation(k)
                out.append(Finding(k["id"], "pass" if rot else "fail",
                                   f"rotates automatically ({rot})" if rot else why_not))
    out += incomplete_findings(content)
    for u in content.get("unreadable", []):
        out.append(Finding(f"subscription:{u['subscription_id']}", "inconclusive",
                           f"not readable: {u['error']}"))
    return out


# --- activity log -------------------------------------------------------------------------

REQUIRED_CATEGORIES = ("Administrative", "Security", "Policy", "Alert")


def exported_categories(setting: Mapping[str, Any]) -> set[str]:
    """Activity-log categories a diagnostic setting exports (a category group `allLogs` or
    `audit` covers them all) when it has a destination."""
    props = setting.get("properties") or {}
    if not any(props.get(k) for k in ("workspaceId", "storageAccountId",
                                      "eventHubAuthorizationRuleId", "marketplacePartnerId")):
        return set()
    out: set[str] = set()
    for log in props.get("logs") or []:
        if not log.get("enabled"):
            continue
        if log.get("categoryGroup") in ("allLogs", "audit"):
            out |= set(REQUIRED_CATEGORIES)
        elif log.get("category"):
            out.add(str(log["category"]))
    return out


def assess_diagnostic_settings(content: Mapping[str, Any]) -> list[Finding]:
    """Each subscription exports the Administrative, Security, Policy and Alert activity-log
    categories to a destination through its diagnostic settings."""
    out = []
    for sub in content.get("subscriptions", []):
        res = f"subscription:{sub['subscription_id']}"
        got: set[str] = set()
        for s in sub.get("settings", []):
            got |= exported_categories(s)
        missing = [c for c in REQUIRED_CATEGORIES if c not in got]
        if not sub.get("settings"):
            out.append(Finding(res, "fail", "no diagnostic setting exports the activity log"))
        elif missing:
            out.append(Finding(res, "fail", f"activity-log categories not exported: "
                                            f"{', '.join(missing)}"))
        else:
            out.append(Finding(res, "pass", "activity log exported ("
                                            + ", ".join(REQUIRED_CATEGORIES) + ")"))
    for u in content.get("unreadable", []):
        out.append(Finding(f"subscription:{u['subscription_id']}", "inconclusive",
                           f"not readable: {u['error']}"))
    return out


def assess_activity_log(content: Mapping[str, Any]) -> list[Finding]:
    """Each subscription keeps its activity log at least `min_retention_days`: a Log
    Analytics destination's AzureActivity table retention (total, archive included) or a
    legacy log profile's retention (0 days = forever); storage destinations are recorded
    but their lifecycle is not read, so alone they are inconclusive."""
    need = int(content.get("min_retention_days", 365))
    out = []
    for sub in content.get("subscriptions", []):
        res = f"subscription:{sub['subscription_id']}"
        best = 0
        where = ""
        unknown = []
        for d in sub.get("destinations", []):
            days = d.get("retention_days")
            if days is None:
                unknown.append(f"{d['kind']} {d['id']}" + (
                    f" ({d['error']})" if d.get("error") else ""))
            elif int(days) > best:
                best, where = int(days), f"{d['kind']} {d['id']}"
        for p in sub.get("log_profiles", []):
            if not (p.get("properties") or {}).get("storageAccountId"):
                continue  # an Event Hub only: nothing is retained
            rp = (p.get("properties") or {}).get("retentionPolicy") or {}
            days = 0 if not rp.get("enabled") else int(rp.get("days") or 0)
            eff = 10 ** 6 if days == 0 else days
            if eff > best:
                best, where = eff, f"log profile {p.get('name')}"
        if best >= need:
            kept = "indefinitely" if best >= 10 ** 6 else f"{best} days"
            out.append(Finding(res, "pass", f"activity log kept {kept} in {where}"))
        elif unknown:
            out.append(Finding(res, "inconclusive",
                               f"retention not readable for {', '.join(unknown)}"
                               + (f"; best known {best} days in {where}" if best else "")))
        elif best:
            out.append(Finding(res, "fail", f"activity log kept {best} days in {where}; "
                                            f"{need} required"))
        else:
            out.append(Finding(res, "fail", "activity log not exported: Azure keeps it 90 "
                                            f"days; {need} required"))
    for u in content.get("unreadable", []):
        out.append(Finding(f"subscription:{u['subscription_id']}", "inconclusive",
                           f"not readable: {u['error']}"))
    return out
