"""Verdicts on Okta policies (`policies` snapshot), from Okta's documented policy semantics.

How Okta picks what applies (Policy API, "Policy evaluation"): the policies of one type are
evaluated in priority order (1 first) and the first ACTIVE policy whose conditions match
the user applies; inside it the first ACTIVE rule, in priority order, whose conditions match
the request decides. INACTIVE policies and rules are skipped. Each type has a default policy
(`system: true`) that applies to everyone (the Everyone group) at the lowest priority, and
policies end with a default rule. So a policy or rule placed after one that matches
everyone with no exclusion is never reached: it gets no finding. Whether a narrower
condition matches cannot be decided from the policies alone (group members, networks), so
every other reachable rule is assessed as if it could apply: a weaker rule for one group is
a finding even when a stronger one covers everyone else. That errs toward `fail`, never
toward a wrong `pass`.

Checks, each its own finding (CC6.1):
- PASSWORD, per reachable active policy: minimum length (>= 14), complexity (at least one
  lower, upper, number and symbol), history (>= 24 remembered), maximum age (1 to 90 days;
  Okta's 0 means never expires), lockout (1 to 10 attempts; 0 means never locks). A setting
  the policy does not carry is inconclusive. A policy for users whose passwords another
  directory manages (`authProvider` ACTIVE_DIRECTORY / LDAP) is inconclusive: Okta does not
  enforce these settings for them.
- MFA_ENROLL, per reachable active policy: at least one authenticator (Identity Engine
  `settings.authenticators`) or factor (Classic `settings.factors`) with `enroll.self`
  REQUIRED, other than the password and the security question (knowledge factors), and no
  reachable active rule whose `actions.enroll.self` is NEVER (users it matches are never
  asked to enroll). Email alone REQUIRED is inconclusive: Identity Engine enrolls the
  primary email automatically. Then one finding for everyone: pass only when every reachable policy
  passes and one of them applies to everyone.
- OKTA_SIGN_ON (global session) and ACCESS_POLICY (authentication policies), per reachable
  active rule: DENY passes; ALLOW passes only with MFA (`signon.requireFactor: true`;
  `appSignOn.verificationMethod` ASSURANCE with `factorMode: 2FA`); ALLOW without it fails,
  naming who and from where; anything else (an authentication method chain, a shape this
  code does not know) is inconclusive. Authentication policies each serve their own apps,
  so none shadows another. In Identity Engine (ACCESS_POLICY readable) the two layers
  combine: every app has an authentication policy and reaching it needs a session too, so
  a failing rule of one layer passes, saying why, when every reachable rule of the other
  layer requires MFA or denies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import Finding, FindingStatus

MIN_LENGTH = 14
MIN_HISTORY = 24
MAX_AGE_DAYS = 90
MAX_LOCKOUT_ATTEMPTS = 10
CLASSES = (("minLowerCase", "lower-case letter"), ("minUpperCase", "upper-case letter"),
           ("minNumber", "number"), ("minSymbol", "symbol"))
EVERYONE = "EVERYONE"
# Knowledge factors: REQUIRED enrollment in them is not a second factor.
KNOWLEDGE = frozenset({"okta_password", "password", "security_question", "question"})
# Email: Identity Engine enrolls every user's primary email automatically, so requiring it
# alone shows no enrollment.
EMAIL = frozenset({"okta_email", "email"})
# Conditions that narrow nothing, by key: anything else, or another value, may narrow.
_BROAD = {("network", "connection"): "ANYWHERE", ("authContext", "authType"): "ANY",
          ("riskScore", "level"): "ANY"}


def _groups(cond: dict[str, Any] | None) -> tuple[list[Any], list[Any], list[Any]]:
    people = (cond or {}).get("people") or {}
    groups = people.get("groups") or {}
    users = people.get("users") or {}
    return (list(groups.get("include") or []), list(groups.get("exclude") or []),
            list(users.get("exclude") or []) + list(users.get("include") or []))


def applies_to_everyone(obj: dict[str, Any]) -> bool:
    """A policy or rule that matches every user: the default (`system`), or one including
    the Everyone group with nobody excluded and no other narrowing condition."""
    cond = obj.get("conditions") or {}
    inc, exc, users = _groups(cond)
    if exc or users:
        return False
    if not obj.get("system") and inc and EVERYONE not in inc:
        return False
    for key, value in cond.items():
        if key == "people" or not value:
            continue
        if not isinstance(value, dict):
            return False
        for sub, v in value.items():
            broad = _BROAD.get((key, sub), "\0")
            if v in (None, [], {}) or v == broad:
                continue
            return False
    return True


def _active(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    act = [o for o in objs if o.get("status") == "ACTIVE"]
    return sorted(act, key=lambda o: (o.get("priority") or 0, str(o.get("id"))))


def reachable(objs: list[dict[str, Any]], *, shadow: bool = True) -> Iterator[dict[str, Any]]:
    """The active ones in priority order, up to and including the first that matches
    everyone (with `shadow`): those after it can never apply."""
    for o in _active(objs):
        yield o
        if shadow and applies_to_everyone(o):
            return


def _who(obj: dict[str, Any]) -> str:
    cond = obj.get("conditions") or {}
    inc, exc, users = _groups(cond)
    parts = []
    if obj.get("system") and not inc:
        parts.append("everyone")
    elif inc:
        parts.append("groups " + ", ".join(map(str, inc)))
    if exc:
        parts.append("except groups " + ", ".join(map(str, exc)))
    if users:
        parts.append("with user conditions")
    net = ((cond.get("network") or {}).get("connection"))
    if net and net != "ANYWHERE":
        parts.append(f"network {net}")
    return "; ".join(parts) or "everyone the policy applies to"


def _label(p: dict[str, Any], r: dict[str, Any] | None = None) -> str:
    out = f"{p.get('type')} policy '{p.get('name')}' ({p.get('id')})"
    if r is not None:
        out += f" rule '{r.get('name')}' ({r.get('id')})"
    return out


def _f(resource: str, status: FindingStatus, reason: str) -> Finding:
    return Finding(resource, status, reason)


# --- PASSWORD -----------------------------------------------------------------------------

def password_findings(p: dict[str, Any]) -> list[Finding]:
    """The five password-setting findings of one active password policy."""
    base = f"okta:policy:{p.get('id')}"
    name = _label(p)
    pw = ((p.get("settings") or {}).get("password")) or {}
    cx, age, lock = pw.get("complexity") or {}, pw.get("age") or {}, pw.get("lockout") or {}
    provider = (((p.get("conditions") or {}).get("authProvider") or {}).get("provider"))
    checks = ("min_length", "complexity", "history", "max_age", "lockout")
    if provider not in (None, "OKTA"):
        return [_f(f"{base}:{c}", "inconclusive",
                   f"{name}: passwords of its users are managed by {provider}, which Okta's "
                   "password settings do not govern") for c in checks]

    def num(d: dict[str, Any], k: str) -> int | None:
        v = d.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def bounded(check: str, what: str, value: int | None, lo: int, hi: int | None,
                zero: str, unit: str = "") -> Finding:
        # Okta documents 0 as "no limit" for age and lockout: a fail, said in its words.
        ok = value is not None and lo <= value and (hi is None or value <= hi)
        need = f"at least {lo}" if hi is None else f"{lo} to {hi}"
        text = "not in the policy" if value is None else zero if value == 0 and zero else \
            f"{value}{unit} (needs {need})"
        return _f(f"{base}:{check}", "inconclusive" if value is None else
                  "pass" if ok else "fail", f"{name}: {what} {text}")

    out = [bounded("min_length", "minimum length", num(cx, "minLength"), MIN_LENGTH, None, "")]
    vals = {k: num(cx, k) for k, _ in CLASSES}
    missing = [label for k, label in CLASSES if (v := vals[k]) is not None and v < 1]
    unknown = [k for k, _ in CLASSES if vals[k] is None]
    out.append(_f(f"{base}:complexity", "fail" if missing else
                  "inconclusive" if unknown else "pass",
                  f"{name}: " + (f"does not require a {', a '.join(missing)}" if missing else
                                 f"{', '.join(unknown)} not in the policy" if unknown else
                                 "requires lower, upper, number and symbol")))
    out.append(bounded("history", "password history", num(age, "historyCount"), MIN_HISTORY,
                       None, ""))
    out.append(bounded("max_age", "maximum password age", num(age, "maxAgeDays"), 1,
                       MAX_AGE_DAYS, "0 (passwords never expire)", " days"))
    out.append(bounded("lockout", "lockout after failed attempts:", num(lock, "maxAttempts"),
                       1, MAX_LOCKOUT_ATTEMPTS, "0 (accounts never lock)"))
    return out


# --- MFA_ENROLL ---------------------------------------------------------------------------

def required_factors(p: dict[str, Any]) -> list[str] | None:
    """Second factors this enrollment policy requires; None when its settings have neither
    documented shape."""
    s = p.get("settings") or {}
    if isinstance(s.get("authenticators"), list):
        items = [(str(a.get("key")), (a.get("enroll") or {}).get("self"))
                 for a in s["authenticators"] if isinstance(a, dict)]
    elif isinstance(s.get("factors"), dict):
        items = [(str(k), (v.get("enroll") or {}).get("self"))
                 for k, v in s["factors"].items() if isinstance(v, dict)]
    else:
        return None
    return sorted(k for k, mode in items if mode == "REQUIRED" and k not in KNOWLEDGE)


def enrollment_finding(p: dict[str, Any]) -> Finding:
    """One active MFA enrollment policy: does it make its users enroll a second factor?"""
    name = _label(p)
    res = f"okta:policy:{p.get('id')}:mfa_enrollment"
    req = required_factors(p)
    if req is None:
        return _f(res, "inconclusive", f"{name}: its authenticator settings have no shape "
                                       "this check knows")
    if not req:
        return _f(res, "fail", f"{name}: no second factor is REQUIRED for enrollment")
    for r in reachable(p.get("rules") or []):
        mode = ((r.get("actions") or {}).get("enroll") or {}).get("self")
        if mode == "NEVER":
            return _f(res, "fail", f"{_label(p, r)}: never asks {_who(r)} to enroll")
        if mode not in ("CHALLENGE", "LOGIN"):
            return _f(res, "inconclusive", f"{_label(p, r)}: enroll action {mode!r}")
    if set(req) <= EMAIL:
        return _f(res, "inconclusive", f"{name}: only email is REQUIRED, which Identity "
                                       "Engine enrolls automatically with the primary email: "
                                       "no second factor is shown to be enrolled")
    return _f(res, "pass", f"{name}: requires enrolling {', '.join(req)}")


# --- sign-on / authentication policies ------------------------------------------------------

def signin_finding(p: dict[str, Any], r: dict[str, Any]) -> Finding:
    """One reachable active rule: may it let someone sign in without MFA?"""
    name = _label(p, r)
    res = f"okta:policy:{p.get('id')}:rule:{r.get('id')}:mfa"
    actions = r.get("actions") or {}
    if p.get("type") == "OKTA_SIGN_ON":
        so = actions.get("signon") or {}
        access, mfa = so.get("access"), so.get("requireFactor") is True
        how = "requires MFA" if mfa else "does not require MFA"
    else:
        so = actions.get("appSignOn") or {}
        access = so.get("access")
        vm = so.get("verificationMethod") or {}
        if access == "ALLOW" and vm.get("type") != "ASSURANCE":
            return _f(res, "inconclusive", f"{name}: verification method "
                                           f"{vm.get('type')!r} is not an assurance level")
        mode = vm.get("factorMode")
        if access == "ALLOW" and mode not in ("1FA", "2FA"):
            return _f(res, "inconclusive", f"{name}: factor mode {mode!r}")
        mfa = mode == "2FA"
        how = f"factor mode {mode}"
    if access == "DENY":
        return _f(res, "pass", f"{name}: denies sign-in for {_who(r)}")
    if access != "ALLOW":
        return _f(res, "inconclusive", f"{name}: access {access!r}")
    if mfa:
        return _f(res, "pass", f"{name}: allows sign-in for {_who(r)} and {how}")
    return _f(res, "fail", f"{name}: allows sign-in without MFA for {_who(r)} ({how})")


def _identity_engine(layers: dict[str, list[Finding]], sessions_read: bool
                     ) -> dict[str, list[Finding]]:
    """Identity Engine: every app has an authentication policy, and reaching an app needs
    a session (global session policy) and the app's rule. A sign-in without MFA needs both
    layers to allow it, so a failing rule of one layer passes when every reachable rule of
    the other requires MFA or denies."""
    def covered(fs: list[Finding]) -> bool:
        return bool(fs) and all(f.status == "pass" for f in fs)
    gsp, app = layers["OKTA_SIGN_ON"], layers["ACCESS_POLICY"]
    if covered(app):
        gsp = [f if f.status != "fail" else _f(
            f.resource, "pass", f"{f.reason}; but every authentication policy rule (each app "
            "has one) requires MFA or denies, so no app is reached without MFA") for f in gsp]
    if sessions_read and covered(layers["OKTA_SIGN_ON"]):
        app = [f if f.status != "fail" else _f(
            f.resource, "pass", f"{f.reason}; but every global session policy rule requires "
            "MFA or denies, so every session has passed MFA") for f in app]
    return {"OKTA_SIGN_ON": gsp, "ACCESS_POLICY": app}


def assess_policies(content: dict[str, Any]) -> list[Finding]:
    """Every check above, for every policy and rule that can apply."""
    out: list[Finding] = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for p in content.get("policies") or []:
        by_type.setdefault(str(p.get("type")), []).append(p)
    for p in reachable(by_type.get("PASSWORD", [])):
        out.extend(password_findings(p))
    enroll = list(reachable(by_type.get("MFA_ENROLL", [])))
    per = [enrollment_finding(p) for p in enroll]
    out.extend(per)
    states = {f.status for f in per}
    everyone = any(applies_to_everyone(p) for p in enroll)
    status: FindingStatus = "fail" if "fail" in states or not enroll else \
        "inconclusive" if "inconclusive" in states or not everyone else "pass"
    out.append(_f("okta:mfa_enrollment:everyone", status,
                  "every user is made to enroll a second factor" if status == "pass" else
                  "no active MFA enrollment policy" if not enroll else
                  "some users are not made to enroll a second factor: " + "; ".join(
                      f.reason for f in per if f.status != "pass")[:600]
                  if status == "fail" else
                  "whether every user must enroll a second factor is not shown: " + "; ".join(
                      f.reason for f in per if f.status != "pass")[:600] if per and
                  any(f.status != "pass" for f in per) else
                  "no active MFA enrollment policy applies to everyone"))
    layers: dict[str, list[Finding]] = {}
    for ptype in ("OKTA_SIGN_ON", "ACCESS_POLICY"):
        layers[ptype] = [signin_finding(p, r)
                         for p in reachable(by_type.get(ptype, []), shadow=ptype == "OKTA_SIGN_ON")
                         for r in reachable(p.get("rules") or [])]
    unavailable = content.get("unavailable_types") or {}
    if layers["ACCESS_POLICY"] and "ACCESS_POLICY" not in unavailable:
        layers = _identity_engine(layers, "OKTA_SIGN_ON" not in unavailable)
    out.extend(layers["OKTA_SIGN_ON"] + layers["ACCESS_POLICY"])
    for ptype, why in sorted((content.get("unavailable_types") or {}).items()):
        if ptype in ("PASSWORD", "MFA_ENROLL", "OKTA_SIGN_ON"):
            out.append(_f(f"okta:policies:{ptype}", "inconclusive",
                          f"{ptype} policies could not be read: {why}"[:600]))
    return out
