"""A deterministic Okta org for the simulator: users with factors, admins, policies, System Log.

`generate_org(users=20_000, seed=7, now=...)` gives the same org for the same arguments, in
Okta's documented object shapes (users, factors, role assignments, groups, policies and rules,
System Log events). It scales linearly: 20,000 users with factors build in about a second.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Okta user statuses; users in the last four can sign in again (or are signed in).
STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY", "STAGED", "PROVISIONED",
            "SUSPENDED", "DEPROVISIONED")
# (factorType, provider, vendorName) as the Factors API lists them.
FACTOR_KINDS = (
    ("push", "OKTA", "OKTA"),
    ("token:software:totp", "OKTA", "OKTA"),
    ("token:software:totp", "GOOGLE", "GOOGLE"),
    ("sms", "OKTA", "OKTA"),
    ("call", "OKTA", "OKTA"),
    ("email", "OKTA", "OKTA"),
    ("question", "OKTA", "OKTA"),
    ("webauthn", "FIDO", "FIDO"),
    ("u2f", "FIDO", "FIDO"),
    ("signed_nonce", "OKTA", "OKTA"),
    ("token:hardware", "YUBICO", "YUBICO"),
)
LIFECYCLE_EVENTS = ("user.lifecycle.create", "user.lifecycle.activate",
                    "user.lifecycle.deactivate", "user.lifecycle.suspend",
                    "user.lifecycle.unsuspend", "user.lifecycle.delete.initiated")


def okta_id(prefix: str, n: int) -> str:
    """An Okta-style 20-character ID (`00u...`, `mfa...`) derived from `n`."""
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_B62[r])
    return prefix + "".join(reversed(digits)).rjust(17, "0")


def ts(t: datetime) -> str:
    """Okta's timestamp form: UTC with milliseconds and a Z."""
    if t.tzinfo is not UTC:
        t = t.astimezone(UTC)
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass
class OktaOrg:
    """The state the simulator serves (plain JSON-able dicts in Okta's shapes)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    factors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    group_members: dict[str, list[str]] = field(default_factory=dict)
    user_roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    group_roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def user(self, uid: str) -> dict[str, Any] | None:
        idx = getattr(self, "_index", None)
        if idx is None or len(idx) != len(self.users):
            idx = {u["id"]: u for u in self.users}
            self._index = idx
        return idx.get(uid)

    def add_user(self, login: str, *, status: str = "ACTIVE", created: datetime,
                 last_login: datetime | None = None,
                 factors: list[tuple[str, str, str]] | tuple[()] = (),
                 factor_status: str = "ACTIVE") -> dict[str, Any]:
        """Add a user (and its factors); returns the user object."""
        n = len(self.users) + 1
        uid = okta_id("00u", n * 7919)
        activated = None if status in ("STAGED", "PROVISIONED") else created + timedelta(hours=2)
        first = login.partition("@")[0]
        u: dict[str, Any] = {
            "id": uid, "status": status, "created": ts(created),
            "activated": ts(activated) if activated else None,
            "statusChanged": ts(activated or created),
            "lastLogin": ts(last_login) if last_login else None,
            "lastUpdated": ts(activated or created),
            "passwordChanged": ts(activated) if activated else None,
            "type": {"id": "oty1defaultusertype0"},
            "profile": {"firstName": first.split(".")[0].title(),
                        "lastName": [*first.split("."), "user"][1].title(),
                        "email": login, "login": login},
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        }
        self.users.append(u)
        fl = []
        for j, (ftype, provider, vendor) in enumerate(factors):
            fid = okta_id({"push": "opf", "webauthn": "fwf", "u2f": "fuf",
                           "signed_nonce": "aen"}.get(ftype, "mfa"), n * 31 + j)
            fl.append({"id": fid, "factorType": ftype, "provider": provider,
                       "vendorName": vendor, "status": factor_status,
                       "created": ts(created + timedelta(days=1)),
                       "lastUpdated": ts(created + timedelta(days=1)),
                       "profile": _factor_profile(ftype, login, j)})
        self.factors[uid] = fl
        return u

    def assign_user_role(self, uid: str, role_type: str, label: str, when: datetime) -> None:
        roles = self.user_roles.setdefault(uid, [])
        roles.append(_role(len(roles) + hash(uid) % 1000, role_type, label, "USER", when))

    def assign_group_role(self, gid: str, role_type: str, label: str, when: datetime) -> None:
        roles = self.group_roles.setdefault(gid, [])
        roles.append(_role(len(roles) + 5000 + hash(gid) % 1000, role_type, label, "GROUP",
                           when))

    def add_group(self, name: str, members: list[str], when: datetime) -> str:
        gid = okta_id("00g", (len(self.groups) + 1) * 104729)
        self.groups.append({"id": gid, "created": ts(when), "lastUpdated": ts(when),
                            "lastMembershipUpdated": ts(when), "objectClass": ["okta:user_group"],
                            "type": "OKTA_GROUP",
                            "profile": {"name": name, "description": name}})
        self.group_members[gid] = list(members)
        return gid


def _factor_profile(ftype: str, login: str, j: int) -> dict[str, Any]:
    if ftype in ("sms", "call"):
        return {"phoneNumber": f"+1-555-01{j:02d}"}
    if ftype == "email":
        return {"email": login}
    if ftype == "question":
        return {"question": "favorite_art_piece", "questionText": "What is your favorite piece "
                "of art?"}
    if ftype in ("webauthn", "u2f"):
        return {"authenticatorName": "Security Key", "credentialId": f"cred-{j}"}
    if ftype in ("push", "signed_nonce"):
        return {"name": "Phone", "platform": "IOS", "deviceType": "SmartPhone_IPhone"}
    return {"credentialId": login}


def _role(n: int, role_type: str, label: str, assignment: str, when: datetime
          ) -> dict[str, Any]:
    r: dict[str, Any] = {"id": okta_id("ra1", n * 613 + 17), "label": label, "type": role_type,
                         "status": "ACTIVE", "created": ts(when), "lastUpdated": ts(when),
                         "assignmentType": assignment}
    if role_type == "CUSTOM":
        r["role"] = "cr0customrole000001"
        r["resource-set"] = "iam0resourceset0001"
    return r


def _event(rng: random.Random, event_type: str, when: datetime, target: dict[str, Any],
           actor: dict[str, Any] | None) -> dict[str, Any]:
    a = actor or {"id": "0oa1systemactor00001", "type": "PublicClientApp",
                  "alternateId": "system", "displayName": "Okta System"}
    return {
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "published": ts(when), "eventType": event_type, "version": "0", "severity": "INFO",
        "displayMessage": event_type.replace("user.lifecycle.", "").replace(".", " ").title()
        + " Okta user",
        "legacyEventType": None,
        "actor": {"id": a["id"], "type": "User" if actor else a["type"],
                  "alternateId": a.get("alternateId") or a["profile"]["login"],
                  "displayName": a.get("displayName") or a["profile"]["firstName"]},
        "target": [{"id": target["id"], "type": "User",
                    "alternateId": target["profile"]["login"],
                    "displayName": f"{target['profile']['firstName']} "
                                   f"{target['profile']['lastName']}"}],
        "outcome": {"result": "SUCCESS", "reason": None},
        "client": {"ipAddress": "198.51.100.7", "zone": "null",
                   "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X",
                                 "browser": "CHROME"}},
        "transaction": {"type": "WEB", "id": f"tx{rng.getrandbits(48):012x}"},
    }


def add_policy(org: OktaOrg, n: int, ptype: str, name: str, settings: dict[str, Any] | None,
               rules: list[dict[str, Any]], when: datetime, *, priority: int = 1,
               groups: list[str] | None = None, system: bool = False,
               status: str = "ACTIVE") -> str:
    """One policy with its rules (priorities 1..n, the last a system default when the
    policy is one), in the Policy API's shapes; returns its id."""
    pid = okta_id("00p", n * 977)
    p: dict[str, Any] = {"id": pid, "status": status, "name": name, "description": name,
                         "priority": priority, "system": system, "type": ptype,
                         "conditions": {"people": {"groups": {
                             "include": groups or ["EVERYONE"]}}},
                         "created": ts(when), "lastUpdated": ts(when)}
    if ptype == "ACCESS_POLICY":
        p["conditions"] = None  # authentication policies are bound to apps, not groups
    if settings is not None:
        p["settings"] = settings
    org.policies.setdefault(ptype, []).append(p)
    for i, r in enumerate(rules):
        r.setdefault("status", "ACTIVE")
        r.update({"id": okta_id("0pr", n * 977 + i + 1), "priority": i + 1,
                  "system": bool(r.pop("_system", False)), "type": r.get("type", ptype),
                  "created": ts(when), "lastUpdated": ts(when)})
    org.rules[pid] = rules
    return pid


def password_settings(min_length: int, symbol: int, history: int, max_age: int,
                      attempts: int) -> dict[str, Any]:
    """A password policy's `settings` (Policy API: password complexity, age, lockout)."""
    return {"password": {"complexity": {"minLength": min_length, "minLowerCase": 1,
                                        "minUpperCase": 1, "minNumber": 1,
                                        "minSymbol": symbol, "excludeUsername": True},
                         "age": {"maxAgeDays": max_age, "expireWarnDays": 0,
                                 "minAgeMinutes": 0, "historyCount": history},
                         "lockout": {"maxAttempts": attempts, "autoUnlockMinutes": 0}},
            "recovery": {"factors": {"okta_email": {"status": "ACTIVE"}}},
            "delegation": {"options": {"skipUnlock": False}}}


def default_policies(org: OktaOrg, when: datetime, *, weak: bool = False,
                     priority: int = 1) -> None:
    """Password, MFA enrollment, global sign-on and an access policy, each with rules:
    Okta's default (system) policies, strong or (`weak`) failing every policy check."""
    pw = password_settings(8, 0, 4, 0, 0) if weak else password_settings(14, 1, 4, 0, 10)
    add_policy(org, 1, "PASSWORD", "Default Policy", pw,
               [{"name": "Default Rule", "type": "PASSWORD", "_system": True,
                 "actions": {"passwordChange": {"access": "ALLOW"},
                             "selfServicePasswordReset": {"access": "ALLOW"},
                             "selfServiceUnlock": {"access": "DENY"}}}],
               when, priority=priority, system=True)
    add_policy(org, 2, "MFA_ENROLL", "Default Policy", {
        "type": "AUTHENTICATORS",
        "authenticators": [{"key": "okta_password", "enroll": {"self": "REQUIRED"}},
                           {"key": "okta_verify",
                            "enroll": {"self": "OPTIONAL" if weak else "REQUIRED"}},
                           {"key": "webauthn", "enroll": {"self": "OPTIONAL"}},
                           {"key": "phone_number",
                            "enroll": {"self": "OPTIONAL" if weak else "NOT_ALLOWED"}}]},
        [{"name": "Default Rule", "type": "MFA_ENROLL", "_system": True,
          "actions": {"enroll": {"self": "CHALLENGE"}}}], when, priority=priority, system=True)
    add_policy(org, 3, "OKTA_SIGN_ON", "Default Policy", None,
               [{"name": "Default Rule", "type": "SIGN_ON", "_system": True,
                 "conditions": {"network": {"connection": "ANYWHERE"}},
                 "actions": {"signon": {"access": "ALLOW", "requireFactor": not weak,
                                        "factorPromptMode": "SESSION",
                                        "session": {"maxSessionIdleMinutes": 120,
                                                    "maxSessionLifetimeMinutes": 720,
                                                    "usePersistentCookie": False}}}}],
               when, priority=priority, system=True)
    add_policy(org, 4, "ACCESS_POLICY", "Admin Console", None,
               [{"name": "Admins: phishing-resistant", "type": "ACCESS_POLICY",
                 "actions": {"appSignOn": {"access": "ALLOW", "verificationMethod": {
                     "type": "ASSURANCE", "factorMode": "2FA", "reauthenticateIn": "PT2H",
                     "constraints": [{"possession": {"phishingResistant": "REQUIRED"}}]}}}},
                {"name": "Catch-all Rule", "type": "ACCESS_POLICY", "_system": True,
                 "actions": {"appSignOn": {"access": "DENY"}}}], when)


def demo_policies(org: OktaOrg, when: datetime, admins: str) -> None:
    """The demo's policies: strong ones for the `admins` group ahead of weak defaults, and a
    password-only intranet app, so each policy check shows a pass and a fail."""
    default_policies(org, when, weak=True, priority=2)
    add_policy(org, 11, "PASSWORD", "Admins", password_settings(16, 1, 24, 90, 5),
               [{"name": "Admins rule", "type": "PASSWORD",
                 "actions": {"passwordChange": {"access": "ALLOW"},
                             "selfServicePasswordReset": {"access": "DENY"},
                             "selfServiceUnlock": {"access": "DENY"}}}],
               when, groups=[admins])
    add_policy(org, 12, "MFA_ENROLL", "Admins", {
        "type": "AUTHENTICATORS",
        "authenticators": [{"key": "okta_password", "enroll": {"self": "REQUIRED"}},
                           {"key": "webauthn", "enroll": {"self": "REQUIRED"}}]},
        [{"name": "Admins enroll", "type": "MFA_ENROLL",
          "actions": {"enroll": {"self": "LOGIN"}}}], when, groups=[admins])
    add_policy(org, 13, "OKTA_SIGN_ON", "Admins", None,
               [{"name": "Admins: MFA every session", "type": "SIGN_ON",
                 "actions": {"signon": {"access": "ALLOW", "requireFactor": True,
                                        "factorPromptMode": "ALWAYS"}}}],
               when, groups=[admins])
    add_policy(org, 14, "ACCESS_POLICY", "Intranet", None,
               [{"name": "Password only", "type": "ACCESS_POLICY",
                 "actions": {"appSignOn": {"access": "ALLOW", "verificationMethod": {
                     "type": "ASSURANCE", "factorMode": "1FA", "reauthenticateIn": "PT12H",
                     "constraints": [{"knowledge": {"types": ["password"]}}]}}}}], when)


def generate_org(users: int = 200, *, seed: int = 7, now: datetime | None = None,
                 log_days: int = 120) -> OktaOrg:
    """A deterministic org of `users` users (about 1% admins), factors, policies and a
    System Log of lifecycle events spread over the last `log_days` days."""
    now = now or datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    rng = random.Random(seed)
    org = OktaOrg()
    weights = (80, 3, 2, 2, 3, 2, 3, 5)
    for i in range(users):
        status = rng.choices(STATUSES, weights)[0]
        created = now - timedelta(days=rng.randint(1, 1200), seconds=rng.randint(0, 86399))
        last = None if status in ("STAGED", "PROVISIONED") else \
            now - timedelta(hours=rng.randint(1, 24 * 60))
        k = rng.choices((0, 1, 2, 3), (6, 55, 30, 9))[0]
        kinds = rng.sample(FACTOR_KINDS, k)
        fstatus = "PENDING_ACTIVATION" if k and rng.random() < 0.03 else "ACTIVE"
        u = org.add_user(f"user{i:05d}.{_B62[i % 62].lower()}@example.com", status=status,
                         created=created, last_login=last, factors=kinds,
                         factor_status=fstatus)
        if status == "DEPROVISIONED":
            gone = created + timedelta(days=rng.randint(2, 300))
            u["statusChanged"] = u["lastUpdated"] = ts(min(gone, now))
    # admins: a few direct assignments, and an admin group
    active = [u for u in org.users if u["status"] == "ACTIVE"]
    n_admin = max(2, len(active) // 100)
    admins = rng.sample(active, min(n_admin, len(active)))
    role_kinds = [("SUPER_ADMIN", "Super Administrator"),
                  ("ORG_ADMIN", "Organization Administrator"),
             ("READ_ONLY_ADMIN", "Read Only Administrator"),
             ("HELP_DESK_ADMIN", "Help Desk Administrator"), ("CUSTOM", "Custom Role")]
    half = len(admins) // 2
    for j, a in enumerate(admins[:half] or admins[:1]):
        t, label = role_kinds[j % len(role_kinds)]
        org.assign_user_role(a["id"], t, label, now - timedelta(days=30 + j))
    gid = org.add_group("IT Admins", [a["id"] for a in admins[half:]], now - timedelta(days=400))
    org.assign_group_role(gid, "USER_ADMIN", "User Administrator", now - timedelta(days=400))
    for g in range(max(1, users // 500)):
        org.add_group(f"Department {g}", [u["id"] for u in rng.sample(org.users, min(
            20, len(org.users)))], now - timedelta(days=500))
    default_policies(org, now - timedelta(days=700))
    # System Log: lifecycle events (and noise) over the last log_days
    start = now - timedelta(days=log_days)
    evs = []
    actor = admins[0] if admins else None
    for u in rng.sample(org.users, min(len(org.users), max(10, users // 5))):
        when = start + timedelta(seconds=rng.randint(0, int((now - start).total_seconds()) - 1))
        et = rng.choice(LIFECYCLE_EVENTS)
        evs.append(_event(rng, et, when, u, actor))
        evs.append(_event(rng, "user.session.start",
                          when + timedelta(seconds=rng.randint(1, 3600)), u, u))
    evs.sort(key=lambda e: (e["published"], e["uuid"]))
    org.events = [e for e in evs if e["published"] < ts(now)]
    return org


def demo_org(now: datetime) -> OktaOrg:
    """A small, readable org for `evidence demo`: one admin without phishing-resistant MFA,
    one active user with no MFA at all, lifecycle events in the last two weeks."""
    org = OktaOrg()
    day = timedelta(days=1)
    ada = org.add_user("ada.admin@example.com", created=now - 400 * day,
                       last_login=now - day, factors=[("webauthn", "FIDO", "FIDO"),
                                                      ("push", "OKTA", "OKTA")])
    sam = org.add_user("sam.ops@example.com", created=now - 300 * day, last_login=now - 2 * day,
                       factors=[("push", "OKTA", "OKTA"), ("sms", "OKTA", "OKTA")])
    fay = org.add_user("fay.fastpass@example.com", created=now - 200 * day,
                       last_login=now - day, factors=[("signed_nonce", "OKTA", "OKTA")])
    org.add_user("bo.nomfa@example.com", created=now - 100 * day, last_login=now - 3 * day)
    org.add_user("cy.totp@example.com", created=now - 90 * day, last_login=now - day,
                 factors=[("token:software:totp", "GOOGLE", "GOOGLE")])
    gone = org.add_user("dee.left@example.com", status="DEPROVISIONED", created=now - 500 * day,
                        last_login=now - 40 * day, factors=[("push", "OKTA", "OKTA")])
    gone["statusChanged"] = ts(now - 10 * day)
    new = org.add_user("eve.new@example.com", status="PROVISIONED", created=now - 5 * day)
    org.assign_user_role(ada["id"], "SUPER_ADMIN", "Super Administrator", now - 300 * day)
    gid = org.add_group("IT Admins", [sam["id"], fay["id"]], now - 250 * day)
    org.assign_group_role(gid, "ORG_ADMIN", "Organization Administrator", now - 250 * day)
    demo_policies(org, now - 500 * day, gid)
    rng = random.Random(1)
    org.events = sorted([
        _event(rng, "user.lifecycle.deactivate", now - 10 * day, gone, ada),
        _event(rng, "user.lifecycle.create", now - 5 * day, new, ada),
        _event(rng, "user.session.start", now - 2 * day, sam, sam),
        _event(rng, "user.lifecycle.suspend", now - 1 * day, sam, ada),
        _event(rng, "user.lifecycle.unsuspend", now - timedelta(hours=20), sam, ada),
    ], key=lambda e: (e["published"], e["uuid"]))
    return org
