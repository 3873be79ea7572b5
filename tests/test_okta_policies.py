"""Okta policy verdicts against oracles written from Okta's Policy API documentation.

The oracles do not reuse the connector's code: they simulate Okta's documented evaluation
(the first ACTIVE policy in priority order whose groups match the user, then the first
ACTIVE rule in priority order whose people and network conditions match the request)
for every kind of user and network the generated policies can tell apart, and read the
documented meaning of each setting (0 = never expires / never locks).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.okta import OktaConnector
from connectors.okta.policies import assess_policies
from simulators.okta import OktaSimulator
from simulators.okta_seed import demo_org, generate_org
from tests.okta_support import TOKEN, ctx, token_config

GROUPS = ("g1", "g2")
NETWORKS = ("ON_NETWORK", "OFF_NETWORK")


# --- oracles ----------------------------------------------------------------------------------

def situations() -> Iterator[tuple[frozenset[str], str]]:
    """Every user (which of g1, g2 they belong to; everyone is in EVERYONE) and network."""
    for n in range(len(GROUPS) + 1):
        for gs in itertools.combinations(GROUPS, n):
            for net in NETWORKS:
                yield frozenset(gs), net


def people_match(cond: dict[str, Any] | None, groups: frozenset[str], *,
                 default_all: bool) -> bool:
    people = (cond or {}).get("people") or {}
    g = people.get("groups") or {}
    inc, exc = set(g.get("include") or []), set(g.get("exclude") or [])
    if groups & exc:
        return False
    if not inc:
        return default_all
    return "EVERYONE" in inc or bool(groups & inc)


def network_match(cond: dict[str, Any] | None, net: str) -> bool:
    conn = ((cond or {}).get("network") or {}).get("connection")
    return conn in (None, "ANYWHERE") or conn == net


def effective(policies: list[dict[str, Any]], groups: frozenset[str], net: str
              ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """Okta's documented choice for one sign-in: (policy, rule) or None."""
    for p in sorted((p for p in policies if p["status"] == "ACTIVE"),
                    key=lambda p: p["priority"]):
        if p.get("system") or people_match(p.get("conditions"), groups, default_all=False):
            for r in sorted((r for r in p["rules"] if r["status"] == "ACTIVE"),
                            key=lambda r: r["priority"]):
                if people_match(r.get("conditions"), groups, default_all=True) and \
                        network_match(r.get("conditions"), net):
                    return p, r
            return p, None
    return None


def signon_without_mfa(rule: dict[str, Any]) -> bool:
    so = rule["actions"]["signon"]
    return so["access"] == "ALLOW" and so.get("requireFactor") is not True


# --- strategies -------------------------------------------------------------------------------

def people(include: list[str], exclude: list[str]) -> dict[str, Any]:
    g: dict[str, Any] = {}
    if include:
        g["include"] = include
    if exclude:
        g["exclude"] = exclude
    return {"people": {"groups": g}} if g else {}


@st.composite
def rule(draw: st.DrawFn, kind: str, rid: str, prio: int) -> dict[str, Any]:
    cond: dict[str, Any] = people(draw(st.lists(st.sampled_from(GROUPS), unique=True,
                                                max_size=2)),
                                  draw(st.lists(st.sampled_from(GROUPS), unique=True,
                                                max_size=1)))
    net = draw(st.sampled_from([None, "ANYWHERE", *NETWORKS]))
    if net is not None:
        cond["network"] = {"connection": net}
    if kind == "OKTA_SIGN_ON":
        so: dict[str, Any] = {"access": draw(st.sampled_from(["ALLOW", "DENY"]))}
        rf = draw(st.sampled_from([True, False, None]))
        if rf is not None:
            so["requireFactor"] = rf
        actions: dict[str, Any] = {"signon": so}
    else:
        actions = {"enroll": {"self": draw(st.sampled_from(["CHALLENGE", "LOGIN", "NEVER"]))}}
    return {"id": rid, "name": rid, "priority": prio, "system": False,
            "status": draw(st.sampled_from(["ACTIVE", "ACTIVE", "INACTIVE"])),
            "conditions": cond or None, "actions": actions}


@st.composite
def policy_set(draw: st.DrawFn, kind: str) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 3))
    out = []
    for i in range(n):
        last = i == n - 1
        rules = [draw(rule(kind, f"r{i}{j}", j + 1)) for j in range(draw(st.integers(1, 3)))]
        if last and draw(st.booleans()):  # Okta's default rule: everyone, anywhere
            rules.append({"id": f"r{i}d", "name": "Default Rule", "priority": 99,
                          "system": True, "status": "ACTIVE", "conditions": None,
                          "actions": draw(rule(kind, "x", 1))["actions"]})
        p: dict[str, Any] = {
            "id": f"p{i}", "name": f"p{i}", "type": kind, "priority": i + 1, "system": last,
            "status": "ACTIVE" if last else draw(st.sampled_from(["ACTIVE", "INACTIVE"])),
            "conditions": people(["EVERYONE"], []) if last else people(
                draw(st.lists(st.sampled_from(["EVERYONE", *GROUPS]), unique=True,
                              min_size=1, max_size=2)),
                draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=1))),
            "rules": rules}
        if kind == "MFA_ENROLL":
            p["settings"] = {"type": "AUTHENTICATORS", "authenticators": [
                {"key": k, "enroll": {"self": draw(st.sampled_from(
                    ["REQUIRED", "OPTIONAL", "NOT_ALLOWED"]))}}
                for k in draw(st.lists(st.sampled_from(
                    ["okta_password", "security_question", "okta_verify", "webauthn",
                     "okta_email"]),
                    unique=True, max_size=3))]}
        out.append(p)
    return out


def by_resource(findings: list[Any]) -> dict[str, str]:
    return {f.resource: f.status for f in findings}


# --- properties -------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(policy_set("OKTA_SIGN_ON"))
def test_signon_rule_allowing_sign_in_without_mfa_is_never_passed(
        policies: list[dict[str, Any]]) -> None:
    """Every rule Okta would apply to some user and network that lets them in without MFA
    fails; every pass is a rule that denies or requires MFA, every fail one that allows
    without it; inactive policies and rules, and rules nobody can reach, get no finding."""
    got = by_resource(assess_policies({"policies": policies}))
    for groups, net in situations():
        hit = effective(policies, groups, net)
        if hit is None:
            continue
        p, r = hit
        if r is None:
            continue
        key = f"okta:policy:{p['id']}:rule:{r['id']}:mfa"
        assert key in got, (groups, net, key)
        assert (got[key] == "fail") == signon_without_mfa(r), (groups, net, key, got[key])
    rules = {f"okta:policy:{p['id']}:rule:{r['id']}:mfa": (p, r)
             for p in policies for r in p["rules"]}
    for key, status in got.items():
        if ":rule:" not in key:
            continue  # the enrollment finding (no MFA_ENROLL policies here: fail)
        p, r = rules[key]
        assert p["status"] == r["status"] == "ACTIVE"
        assert status == ("fail" if signon_without_mfa(r) else "pass")


def enrolls(p: dict[str, Any], r: dict[str, Any] | None) -> bool | None:
    """Okta makes the user enroll a second factor: a non-knowledge authenticator REQUIRED,
    and the matching rule does not say NEVER. None when email is the only one REQUIRED:
    Identity Engine enrolls the primary email automatically ("Email as an optional
    authenticator", help.okta.com/oie), so that requirement shows no enrollment."""
    required = {a["key"] for a in p["settings"]["authenticators"]
                if a["enroll"]["self"] == "REQUIRED"} - {"okta_password", "security_question"}
    if not required or (r is not None and r["actions"]["enroll"]["self"] == "NEVER"):
        return False
    return None if required == {"okta_email"} else True


@settings(max_examples=300, deadline=None)
@given(policy_set("MFA_ENROLL"))
def test_mfa_enrollment_for_everyone_is_never_passed_wrongly(
        policies: list[dict[str, Any]]) -> None:
    """If some user would not be made to enroll a second factor, the policy Okta applies to
    them fails and so does the everyone finding; the everyone finding passes only when every
    kind of user is made to enroll."""
    got = by_resource(assess_policies({"policies": policies}))
    everyone_enrolls = True
    for groups, net in situations():
        hit = effective(policies, groups, net)
        assert hit is not None  # the default policy matches everyone
        p, r = hit
        verdict = enrolls(p, r)
        if verdict is None:  # never a pass; a fail when another of its rules says NEVER
            everyone_enrolls = False
            assert got[f"okta:policy:{p['id']}:mfa_enrollment"] in ("inconclusive", "fail")
        elif not verdict:
            everyone_enrolls = False
            assert got[f"okta:policy:{p['id']}:mfa_enrollment"] == "fail", (groups, net)
    assert (got["okta:mfa_enrollment:everyone"] == "pass") <= everyone_enrolls
    if any(enrolls(*h) is False for h in
           (effective(policies, g, n) for g, n in situations()) if h is not None):
        assert got["okta:mfa_enrollment:everyone"] == "fail"


SETTINGS = ("minLength", "minLowerCase", "minUpperCase", "minNumber", "minSymbol",
            "historyCount", "maxAgeDays", "maxAttempts")


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(SETTINGS), st.integers(0, 40)),
       st.sampled_from([None, "OKTA", "ACTIVE_DIRECTORY"]))
def test_password_settings_follow_the_documented_meaning(
        values: dict[str, int], provider: str | None) -> None:
    """Each password setting is its own finding; 0 means never expires / never locks (fail),
    an absent setting is inconclusive, and a directory-managed policy is inconclusive."""
    cx = {k: v for k, v in values.items() if k.startswith("min")}
    pol: dict[str, Any] = {
        "id": "p1", "name": "pw", "type": "PASSWORD", "status": "ACTIVE", "priority": 1,
        "system": True, "rules": [],
        "settings": {"password": {"complexity": cx,
                                  "age": {k: values[k] for k in ("historyCount", "maxAgeDays")
                                          if k in values},
                                  "lockout": {k: values[k] for k in ("maxAttempts",)
                                              if k in values}}}}
    if provider:
        pol["conditions"] = {"authProvider": {"provider": provider}}
    got = {k.rsplit(":", 1)[1]: v for k, v in
           by_resource(assess_policies({"policies": [pol]})).items() if ":p1:" in k}

    def want(key: str, ok: bool | None) -> str:
        if provider == "ACTIVE_DIRECTORY" or ok is None:
            return "inconclusive"
        return "pass" if ok else "fail"

    v = values.get
    classes = [v(k) for k in ("minLowerCase", "minUpperCase", "minNumber", "minSymbol")]
    complexity = False if any(c == 0 for c in classes) else \
        None if any(c is None for c in classes) else True
    age, attempts = v("maxAgeDays"), v("maxAttempts")
    assert got == {
        "min_length": want("", None if v("minLength") is None else v("minLength", 0) >= 14),
        "complexity": want("", complexity),
        "history": want("", None if v("historyCount") is None else
                        v("historyCount", 0) >= 24),
        "max_age": want("", None if age is None else age != 0 and age <= 90),
        "lockout": want("", None if attempts is None else attempts != 0 and attempts <= 10)}


# --- seeded simulator cases -------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo() -> Iterator[OktaSimulator]:
    org = demo_org(datetime.now(UTC))
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}) as s:
        yield s


def test_demo_org_shows_a_pass_and_a_fail_for_every_policy_check(
        demo: OktaSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the SDK and the simulator: strong admin policies pass, the weak defaults and a
    password-only app fail, for each check."""
    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)
    c = ctx("policies")
    res = OktaConnector("t", token_config(demo.url)).run("policies", c)
    found: dict[str, set[str]] = {}
    for f in assess_policies(res.content):
        parts = f.resource.split(":")
        check = parts[-1] if parts[-1] != "mfa" else \
            next(p["type"] for p in res.content["policies"] if p["id"] == parts[2])
        found.setdefault(check, set()).add(f.status)
    for check in ("min_length", "complexity", "history", "max_age", "lockout",
                  "mfa_enrollment", "OKTA_SIGN_ON", "ACCESS_POLICY"):
        assert {"pass", "fail"} <= found[check], (check, found.get(check))
    assert found["everyone"] == {"fail"}


def test_generated_org_policies_pass_sign_in_and_enrollment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The strong default policies of a generated org: MFA required to sign in and enroll."""
    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)
    org = generate_org(20, now=datetime.now(UTC))
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}) as s:
        res = OktaConnector("t", token_config(s.url)).run("policies", ctx("policies"))
    got = by_resource(assess_policies(res.content))
    assert got["okta:mfa_enrollment:everyone"] == "pass"
    assert all(v == "pass" for k, v in got.items() if k.endswith(":mfa"))
    assert [k for k, v in got.items() if v == "fail"] and all(
        k.endswith((":history", ":max_age")) for k, v in got.items() if v == "fail")


def _gsp(require: bool) -> dict[str, Any]:
    return {"id": "00pGSP", "type": "OKTA_SIGN_ON", "name": "Default Policy", "status": "ACTIVE",
            "priority": 1, "system": True,
            "conditions": {"people": {"groups": {"include": ["EVERYONE"]}}},
            "rules": [{"id": "0prGSP", "name": "Default Rule", "status": "ACTIVE",
                       "priority": 1, "system": True,
                       "conditions": {"network": {"connection": "ANYWHERE"}},
                       "actions": {"signon": {"access": "ALLOW", "requireFactor": require,
                                              "primaryFactor": "PASSWORD_IDP_ANY_FACTOR"}}}]}


def _app(pid: str, mode: str) -> dict[str, Any]:
    return {"id": pid, "type": "ACCESS_POLICY", "name": f"App {pid}", "status": "ACTIVE",
            "priority": 1, "system": False, "conditions": None,
            "rules": [{"id": f"0pr{pid}", "name": "Catch-all Rule", "status": "ACTIVE",
                       "priority": 1, "system": True, "actions": {"appSignOn": {
                           "access": "ALLOW", "verificationMethod": {
                               "type": "ASSURANCE", "factorMode": mode,
                               "reauthenticateIn": "PT2H"}}}}]}


def test_identity_engine_layers_global_session_and_authentication_policies() -> None:
    """Okta Identity Engine (help.okta.com/oie: "Authentication policies": "Every app in your
    org has an authentication policy ... it enforces factor requirements"; "Global Session
    Policies": the default "allows access with a password, IDP, or any factor allowed by the
    authentication policies"; the upgrade notes: the MFA setting "Any factor used to meet the
    Authentication Policy requirements"). So access to any app without MFA needs both layers
    to allow it: a session rule without MFA is no gap when every authentication policy rule
    requires 2FA or denies (it failed), and a 1FA app rule is no gap when every session
    needs MFA (it failed). Where both layers allow a password alone, both still fail, and in
    a Classic Engine org (no ACCESS_POLICY) the session rule alone decides."""
    def verdicts(pols: list[dict[str, Any]], **extra: Any) -> dict[str, str]:
        return {f.resource.split(":")[2]: f.status
                for f in assess_policies({"policies": pols, **extra})
                if f.resource.endswith(":mfa")}
    assert verdicts([_gsp(False), _app("A1", "2FA"), _app("A2", "2FA")]) == {
        "00pGSP": "pass", "A1": "pass", "A2": "pass"}
    assert verdicts([_gsp(True), _app("A1", "1FA"), _app("A2", "2FA")]) == {
        "00pGSP": "pass", "A1": "pass", "A2": "pass"}
    assert verdicts([_gsp(False), _app("A1", "1FA"), _app("A2", "2FA")]) == {
        "00pGSP": "fail", "A1": "fail", "A2": "pass"}
    assert verdicts([_gsp(False)], unavailable_types={"ACCESS_POLICY": "HTTP 400"}) == {
        "00pGSP": "fail"}
    found = {f.resource: f for f in assess_policies(
        {"policies": [_gsp(False), _app("A1", "2FA")]})}
    assert "every authentication policy rule" in \
        found["okta:policy:00pGSP:rule:0prGSP:mfa"].reason
