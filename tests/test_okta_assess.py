"""Okta verdicts against an oracle written from Okta's documentation, on generated users."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.okta.assess import assess_admins, assess_users

# From Okta's docs: user lifecycle statuses; factor types (Factors API); factor statuses.
STATUSES = ["ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY", "STAGED", "PROVISIONED",
            "SUSPENDED", "DEPROVISIONED"]
TYPES = ["push", "sms", "call", "email", "token", "token:software:totp", "token:hardware",
         "token:hotp", "u2f", "webauthn", "web", "signed_nonce", "question",
         "x-some-future-type"]
FACTOR_STATUS = ["ACTIVE", "PENDING_ACTIVATION", "INACTIVE", "NOT_SETUP"]

factor = st.fixed_dictionaries({"type": st.sampled_from(TYPES),
                                "provider": st.sampled_from(["OKTA", "FIDO", "GOOGLE"]),
                                "status": st.sampled_from(FACTOR_STATUS)})
user = st.integers(0, 10**6).flatmap(lambda n: st.fixed_dictionaries({
    "id": st.just(f"00u{n:017d}"),
    "login": st.just(f"user{n}@example.com"),
    "status": st.sampled_from(STATUSES),
    "factors": st.one_of(st.lists(factor, max_size=5), st.none()),
    "factors_error": st.one_of(st.none(), st.just("500 E0000009")),
}))


def oracle_mfa(u: dict[str, Any]) -> str | None:
    """Okta: an activated account (ACTIVE, or a recoverable sub-state) needs an ACTIVE
    possession factor; a security question is a knowledge factor like the password. An
    ACTIVE email factor alone shows no enrollment: Identity Engine enrolls every user's
    primary email automatically ("the user's primary email address is automatically enrolled
    as an authenticator ... when the admin creates the user account", Okta support, and
    "Email as an optional authenticator", help.okta.com/oie): inconclusive."""
    if u["status"] not in ("ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"):
        return None
    if u["factors_error"] or u["factors"] is None:
        return "inconclusive"
    active = {f["type"] for f in u["factors"] if f["status"] == "ACTIVE"}
    second = active - {"question"}
    if second - {"x-some-future-type", "email"}:
        return "pass"
    return "inconclusive" if second else "fail"


def oracle_phishing(u: dict[str, Any]) -> str | None:
    """Okta names WebAuthn (FIDO2) and FastPass phishing-resistant; only an ACTIVE WebAuthn
    factor proves it from API data, FastPass/U2F/unknown types cannot."""
    if u["status"] not in ("ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"):
        return None
    if u["factors_error"] or u["factors"] is None:
        return "inconclusive"
    active = {f["type"] for f in u["factors"] if f["status"] == "ACTIVE"}
    if "webauthn" in active:
        return "pass"
    if active & {"signed_nonce", "u2f", "x-some-future-type"}:
        return "inconclusive"
    return "fail"


def _unique(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for u in users:
        if u["id"] not in seen:
            seen.add(u["id"])
            out.append(u)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(user, max_size=12))
def test_users_match_the_oracle(users: list[dict[str, Any]]) -> None:
    """assess_users gives the oracle's verdict for every active user and none for others."""
    users = _unique(users)
    content = {"users": users}
    before = copy.deepcopy(content)
    got = {f.resource: f.status for f in assess_users(content)}
    assert content == before
    want = {u["id"]: oracle_mfa(u) for u in users}
    assert len(got) == sum(v is not None for v in want.values())
    for res, status in got.items():
        uid = res.rsplit("(", 1)[1].rstrip(")")
        assert status == want[uid], res


@settings(max_examples=200, deadline=None)
@given(st.lists(user, max_size=8), st.booleans())
def test_admins_match_the_oracle(admins: list[dict[str, Any]], group_broken: bool) -> None:
    """assess_admins passes only an ACTIVE WebAuthn factor, and a group whose members could
    not be read is inconclusive rather than silently dropped."""
    admins = _unique([{**a, "roles": ["SUPER_ADMIN (direct)"]} for a in admins])
    content = {"admins": admins, "groups": [{"id": "00g1", "name": "IT", "members": [],
                                             "members_complete": not group_broken,
                                             "error": "429" if group_broken else None}],
               "unreadable": []}
    findings = assess_admins(content)
    want = {a["id"]: oracle_phishing(a) for a in admins}
    for f in findings:
        if f.resource.startswith("group "):
            assert group_broken and f.status == "inconclusive"
            continue
        uid = f.resource.rsplit("(", 1)[1].rstrip(")")
        assert f.status == want[uid], f
        if f.status == "pass":
            assert "webauthn" in f.reason
    assert sum(f.resource.startswith("group ") for f in findings) == int(group_broken)


def test_fastpass_only_admin_is_never_a_pass() -> None:
    """An admin with only Okta Verify FastPass (signed_nonce) is inconclusive with the reason."""
    a = {"id": "00u1", "login": "a@x", "status": "ACTIVE", "roles": ["ORG_ADMIN (direct)"],
         "factors": [{"type": "signed_nonce", "provider": "OKTA", "status": "ACTIVE"},
                     {"type": "push", "provider": "OKTA", "status": "ACTIVE"}],
         "factors_error": None}
    [f] = assess_admins({"admins": [a]})
    assert f.status == "inconclusive" and "FastPass" in f.reason


def test_security_question_is_not_mfa() -> None:
    """A locked-out user whose only active factor is a security question fails MFA."""
    u = {"id": "00u2", "login": "b@x", "status": "LOCKED_OUT", "factors_error": None,
         "factors": [{"type": "question", "provider": "OKTA", "status": "ACTIVE"}]}
    [f] = assess_users({"users": [u]})
    assert f.status == "fail" and "LOCKED_OUT" in f.reason


def test_an_email_factor_alone_is_not_shown_mfa_enrollment() -> None:
    """An ACTIVE user whose only ACTIVE factor is email (Identity Engine enrolls the primary
    email automatically) passed as "active MFA factor: email"; it is inconclusive, saying
    why; with an Okta Verify push beside it the user passes."""
    base = {"id": "00u1", "login": "e@example.com", "status": "ACTIVE", "factors_error": None}
    only = {**base, "factors": [{"type": "email", "provider": "OKTA", "status": "ACTIVE"}]}
    both = {**base, "id": "00u2", "factors": only["factors"] + [
        {"type": "push", "provider": "OKTA", "status": "ACTIVE"}]}
    got = {f.resource: f for f in assess_users({"users": [only, both]})}
    f1 = got["user e@example.com (00u1)"]
    assert f1.status == "inconclusive" and "automatically" in f1.reason
    assert got["user e@example.com (00u2)"].status == "pass"
