"""Pure verdicts on Okta snapshots, from Okta's documented semantics.

Which users count as active. Okta's lifecycle: STAGED and PROVISIONED users were never
activated, SUSPENDED and DEPROVISIONED users cannot sign in; ACTIVE users can, and users in
PASSWORD_EXPIRED, LOCKED_OUT and RECOVERY are activated accounts that regain access by
resetting or unlocking. All four are assessed: leaving the last three out would quietly
drop accounts from the MFA population.

What counts as an MFA factor. Okta's factor types are possession factors (push, sms, call,
email, token*, u2f, webauthn, web, signed_nonce) except `question`, which Okta classes as
a knowledge factor like the password, so it is not a second factor. Only factors with
status ACTIVE count (PENDING_ACTIVATION was never completed). An ACTIVE `email` factor
alone is inconclusive: Identity Engine enrolls the primary email of every user an admin
creates (or who verified it) automatically, so it shows no enrollment by the user. A
factor type this code does not know makes the verdict inconclusive, never a pass.

What counts as phishing-resistant. Okta's documentation ("Phishing-resistant
authentication") names two phishing-resistant authenticators: WebAuthn (FIDO2) and Okta
FastPass. An ACTIVE `webauthn` factor therefore passes. FastPass appears in the Factors API
as `signed_nonce`, but Okta documents that it is phishing resistant only on supported
platforms and browsers (e.g. Safari on macOS needs an SSO extension, some WebView apps
cannot do it) and only where an authentication policy requires phishing resistance; the
enrollment alone cannot prove it, so it is inconclusive. `u2f` (FIDO U2F, Classic Engine)
is origin-bound but Okta does not list it as phishing-resistant: inconclusive. Anything
else (push, OTP, SMS, voice, email, question) is not phishing-resistant: fail. Smart-card
(PIV) IdP authenticators do not appear in the Factors API; the fail reason says so.
"""

from __future__ import annotations

from typing import Any

from connectors.base import Finding, FindingStatus

ACTIVE_STATES = frozenset({"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"})
MFA_TYPES = frozenset({"push", "sms", "call", "email", "token", "token:software:totp",
                       "token:hardware", "token:hotp", "u2f", "webauthn", "web",
                       "signed_nonce"})
KNOWLEDGE_TYPES = frozenset({"question", "password"})
PHISHING_RESISTANT = frozenset({"webauthn"})
MAYBE_PHISHING_RESISTANT = {
    "signed_nonce": "Okta FastPass is phishing-resistant only on supported platforms and "
                    "where a policy requires it; the enrollment alone does not prove it",
    "u2f": "FIDO U2F is origin-bound, but Okta's documentation does not list it as a "
           "phishing-resistant authenticator",
}


def _who(u: dict[str, Any]) -> str:
    return f"{u.get('login') or '?'} ({u.get('id')})"


def _listing(factors: list[dict[str, Any]]) -> str:
    return ", ".join(f"{f.get('type')} {f.get('status')}" for f in factors) or "none"


def _active(factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in factors if f.get("status") == "ACTIVE"]


Verdict = tuple[FindingStatus, str]


def mfa_verdict(user: dict[str, Any]) -> Verdict | None:
    """(status, reason) for one user's MFA, or None when the user is not active."""
    if user.get("status") not in ACTIVE_STATES:
        return None
    if user.get("factors_error"):
        return "inconclusive", f"factors could not be read: {user['factors_error']}"
    factors = user.get("factors")
    if not isinstance(factors, list):
        return "inconclusive", "factors were not collected"
    active = _active(factors)
    mfa = [f for f in active if f.get("type") in MFA_TYPES]
    if any(f.get("type") != "email" for f in mfa):
        return "pass", "active MFA factor: " + ", ".join(
            sorted({f"{f['type']} ({f.get('provider')})" for f in mfa}))
    if mfa:
        return "inconclusive", ("only the email factor is active: Identity Engine enrolls "
                                "every user's primary email automatically, so it does not "
                                "show the user enrolled a second factor")
    unknown = [f for f in active if f.get("type") not in MFA_TYPES | KNOWLEDGE_TYPES]
    if unknown:
        return "inconclusive", "only factor types this check does not know are active: " + \
            ", ".join(sorted({str(f.get("type")) for f in unknown}))
    return "fail", f"{user['status']} user without an active MFA factor (factors: " \
                   f"{_listing(factors)})"


def assess_users(content: Any) -> list[Finding]:
    """Each active user: pass with an active MFA factor, fail without one."""
    out = []
    for u in content.get("users", []):
        v = mfa_verdict(u)
        if v is not None:
            out.append(Finding(f"user {_who(u)}", v[0], v[1]))
    return out


def phishing_verdict(admin: dict[str, Any]) -> Verdict | None:
    """(status, reason) for one admin's phishing-resistant MFA, or None if not active."""
    if admin.get("status") not in ACTIVE_STATES:
        return None
    roles = ", ".join(admin.get("roles") or []) or "admin role"
    if admin.get("factors_error"):
        return "inconclusive", f"{roles}: factors could not be read: {admin['factors_error']}"
    factors = admin.get("factors")
    if not isinstance(factors, list):
        return "inconclusive", f"{roles}: factors were not collected"
    active = _active(factors)
    strong = sorted({f"{f['type']} ({f.get('provider')})" for f in active
                     if f.get("type") in PHISHING_RESISTANT})
    if strong:
        return "pass", f"{roles}: phishing-resistant factor active: " + ", ".join(strong)
    maybe = sorted({str(f["type"]) for f in active if f.get("type") in MAYBE_PHISHING_RESISTANT})
    if maybe:
        return "inconclusive", f"{roles}: " + "; ".join(
            f"{t}: {MAYBE_PHISHING_RESISTANT[t]}" for t in maybe)
    unknown = sorted({str(f.get("type")) for f in active
                      if f.get("type") not in MFA_TYPES | KNOWLEDGE_TYPES})
    if unknown:
        return "inconclusive", f"{roles}: factor types this check does not know: " + \
            ", ".join(unknown)
    return "fail", (f"{roles}: no phishing-resistant factor (WebAuthn/FIDO2) active; "
                    f"factors: {_listing(factors)} (smart-card IdP authenticators are not "
                    "visible in the Factors API)")


def assess_admins(content: Any) -> list[Finding]:
    """Each active admin (direct or through a group): pass only with WebAuthn active."""
    out = []
    for a in content.get("admins", []):
        v = phishing_verdict(a)
        if v is not None:
            out.append(Finding(f"admin {_who(a)}", v[0], v[1]))
    for g in content.get("groups", []):
        if not g.get("members_complete", False):
            out.append(Finding(f"group {g.get('name')} ({g.get('id')})", "inconclusive",
                               "holds admin roles but its members could not all be read: "
                               f"{g.get('error') or 'incomplete'}"))
    for e in content.get("unreadable", []):
        out.append(Finding(f"role assignments {e.get('what')}", "inconclusive",
                           f"could not be read: {e.get('error')}"))
    return out
