"""The okta connector drives the real okta SDK over real sockets against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.errors import ConnectorError, PermissionDenied
from connectors.errors import DataUnavailable
from connectors.okta import OktaConnector
from connectors.okta.assess import assess_admins, assess_users
from connectors.okta.client import make_client
from simulators.okta import OktaSimulator, ServiceApp
from simulators.okta_seed import OktaOrg, demo_org, generate_org
from tests.okta_support import CLIENT_ID, TOKEN, ctx, keypair, oauth_config, token_config, window

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("okta") / "service-app.pem"
    p.write_text(keypair()[0])
    return p


def start(org: OktaOrg, **kw: Any) -> OktaSimulator:
    kw.setdefault("apps", [ServiceApp(CLIENT_ID, keypair()[1])])
    return OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}, **kw).start()


@pytest.fixture(scope="module")
def sim() -> Iterator[OktaSimulator]:
    s = start(generate_org(620, now=NOW))
    yield s
    s.stop()


def test_sdk_default_header_is_refused_and_ours_is_documented(sim: OktaSimulator) -> None:
    """The SDK's typed call sends `SSWS<token>` and gets 401; our client sends `SSWS <token>`."""
    cfg = token_config(sim.url)

    async def go() -> tuple[Any, Any]:
        client = make_client(cfg, "api_token", None)
        async with client:
            _, _, err = await client.list_users(limit=1)
            req, _ = await client.get_request_executor().create_request(
                "GET", "/api/v1/users?limit=1", None, {})
            return err, req["headers"]["Authorization"]

    err, header = asyncio.run(go())
    assert err is not None and "E0000011" in str(err)
    assert header == f"SSWS {TOKEN}"


def test_users_every_user_with_factors(sim: OktaSimulator) -> None:
    """`users` lists every user, DEPROVISIONED too, with each one's factors as the API has them."""
    c = ctx("users")
    res = OktaConnector("t", token_config(sim.url, page_limit=100)).run("users", c)
    users = res.content["users"]
    org = sim.org
    assert res.record_count == len(users) == len(org.users)
    by_id = {u["id"]: u for u in users}
    for u in org.users:
        row = by_id[u["id"]]
        assert row["status"] == u["status"] and row["last_login"] == u["lastLogin"]
        assert [f["type"] for f in row["factors"]] == \
            [f["factorType"] for f in org.factors[u["id"]]]
        assert row["deactivated"] == (u["statusChanged"] if u["status"] == "DEPROVISIONED"
                                      else None)
    ipe = c.ipe.to_json()
    assert ipe["pagination_exhausted"] and not ipe["errors"]
    assert ipe["principal"].startswith("API token of user00000")
    # The kit records each request: the two list calls with their pages folded, and one
    # call per user's factors with its status and item count.
    listed = [x for x in ipe["calls"] if x["operation"] == "GET /api/v1/users"]
    assert len(listed) == 2 and sum(x["items"] for x in listed) == len(users)
    assert sum(x["pages"] for x in listed) >= len(users) // 100
    assert {x["params"].get("filter") for x in listed} == {None, 'status eq "DEPROVISIONED"'}
    factors = {x["operation"]: x for x in ipe["calls"] if x["operation"].endswith("/factors")}
    assert len(factors) == len(users)
    for u in org.users:
        call = factors[f"GET /api/v1/users/{u['id']}/factors"]
        assert (call["status"], call["items"], call["ok"]) == (200, len(org.factors[u["id"]]),
                                                               True)


def test_oauth_service_app_collects_with_its_scopes(sim: OktaSimulator, key_file: Path) -> None:
    """The private-key JWT service app authenticates through the SDK and collects policies."""
    c = ctx("policies")
    res = OktaConnector("t", oauth_config(sim.url, key_file)).run("policies", c)
    types = {p["type"] for p in res.content["policies"]}
    assert types == {"PASSWORD", "MFA_ENROLL", "OKTA_SIGN_ON", "ACCESS_POLICY"}
    assert all(p["rules"] for p in res.content["policies"])
    assert c.ipe.principal and CLIENT_ID in c.ipe.principal


def test_check_names_the_missing_scope(key_file: Path) -> None:
    """`check` says the API token works and which scope the service app lacks."""
    org = generate_org(20, now=NOW)
    s = start(org, apps=[ServiceApp(CLIENT_ID, keypair()[1],
                                    ("okta.users.read", "okta.groups.read", "okta.roles.read",
                                     "okta.policies.read"))])
    try:
        both = OktaConnector("t", oauth_config(s.url, key_file, api_token={
            "env": "OKTA_TEST_TOKEN"})).check()
        assert both.ok  # the API token works
        assert "api_token: works" in both.detail
        assert "oauth:" in both.detail and "okta.logs.read" in both.detail
        only_oauth = OktaConnector("t", oauth_config(s.url, key_file)).check()
        assert not only_oauth.ok and "grant scope: okta.logs.read" in only_oauth.detail
        with pytest.raises(PermissionDenied, match=r"okta\.logs\.read"):
            OktaConnector("t", oauth_config(s.url, key_file)).run(
                "user_lifecycle_events", ctx("user_lifecycle_events", *window(1)))
    finally:
        s.stop()


def test_admin_roles_direct_and_through_groups() -> None:
    """Direct and group role assignments are listed, group members become admins, and the
    verdicts follow their factors (WebAuthn pass, FastPass inconclusive, push/SMS fail)."""
    s = start(demo_org(NOW))
    try:
        res = OktaConnector("t", token_config(s.url)).run("admin_roles", ctx("admin_roles"))
    finally:
        s.stop()
    kinds = {(a["principal_type"], a["role_type"]) for a in res.content["assignments"]}
    assert kinds == {("USER", "SUPER_ADMIN"), ("GROUP", "ORG_ADMIN")}
    verdicts = {f.resource.split()[1]: f.status for f in assess_admins(res.content)}
    assert verdicts == {"ada.admin@example.com": "pass", "sam.ops@example.com": "fail",
                        "fay.fastpass@example.com": "inconclusive"}


def test_lifecycle_window_follows_next_to_the_end(sim: OktaSimulator) -> None:
    """The window's events are all fetched (several pages) and only lifecycle event types."""
    start_, end = NOW - timedelta(days=80), NOW - timedelta(days=1)
    c = ctx("user_lifecycle_events", start_, end)
    res = OktaConnector("t", token_config(sim.url, log_page_limit=10)).run(
        "user_lifecycle_events", c)
    got = [e["uuid"] for e in res.content["events"]]
    lo, hi = start_.isoformat()[:23], end.isoformat()[:23]
    want = [e["uuid"] for e in sim.org.events if e["eventType"].startswith("user.lifecycle.")
            and lo <= e["published"][:23] < hi]
    assert got == want and len(got) > 20
    assert c.ipe.to_json()["pages"] >= len(got) // 10 and c.ipe.pagination_exhausted


def test_window_beyond_retention_is_data_unavailable(sim: OktaSimulator) -> None:
    """A window starting past Okta's 90 days is refused before any call, naming where the
    kept log begins (so the runner can record the lost span once and go on from there)."""
    sim.reset_calls()
    c = ctx("user_lifecycle_events", NOW - timedelta(days=100), NOW - timedelta(days=85))
    with pytest.raises(DataUnavailable) as e:
        OktaConnector("t", token_config(sim.url)).run("user_lifecycle_events", c)
    floor = datetime.now(UTC) - timedelta(days=90)
    assert floor < e.value.available_from < floor + timedelta(minutes=10)
    assert "no longer available at the source" in str(e.value) and "90 days" in str(e.value)
    assert not [x for x in sim.calls if "/api/v1/logs" in x[1]]
    inside = ctx("user_lifecycle_events", NOW - timedelta(days=89), NOW - timedelta(days=85))
    OktaConnector("t", token_config(sim.url)).run("user_lifecycle_events", inside)
    assert inside.ipe.pagination_exhausted and not inside.ipe.errors


def test_rate_limit_is_waited_out_within_budget() -> None:
    """A spent bucket pauses until x-rate-limit-reset and the collection completes."""
    org = generate_org(60, now=NOW)
    s = start(org, limits={"user": 25}, window_seconds=1.0)
    try:
        c = ctx("users")
        res = OktaConnector("t", token_config(s.url, rate_limit_wait_seconds=30,
                                              concurrency=4)).run("users", c)
    finally:
        s.stop()
    assert all(u["factors"] is not None for u in res.content["users"])
    assert c.ipe.pagination_exhausted
    assert not [x for x in s.calls if x[2] == 429] or c.ipe.retries > 0


def test_rate_limit_budget_spent_records_incomplete() -> None:
    """Past the waiting budget the snapshot stops and says so; users left unread are
    inconclusive, never passed."""
    org = generate_org(60, now=NOW)
    s = start(org, limits={"user": 10}, window_seconds=60.0)
    try:
        c = ctx("users")
        res = OktaConnector("t", token_config(s.url, rate_limit_wait_seconds=0.5)).run("users", c)
    finally:
        s.stop()
    assert not c.ipe.pagination_exhausted and "rate-limit budget" in c.ipe.errors[0]
    unread = [u for u in res.content["users"] if u["factors"] is None]
    assert unread and all(u["factors_error"] for u in unread)
    statuses = {f.resource: f.status for f in assess_users(res.content)}
    for u in unread:
        key = next((k for k in statuses if u["id"] in k), None)
        assert key is None or statuses[key] == "inconclusive"


def test_server_error_on_a_page_is_retried(sim: OktaSimulator) -> None:
    """A 500 on page 2 is retried and the list still completes; a 403 names the scope."""
    sim.inject(r"/api/v1/users\?.*after=", 500, times=1)
    c = ctx("users")
    res = OktaConnector("t", token_config(sim.url, page_limit=200)).run("users", c)
    assert res.record_count == len(sim.org.users) and c.ipe.retries >= 1
    sim.inject(r"/api/v1/policies", 403, times=1)
    with pytest.raises(PermissionDenied, match=r"okta\.policies\.read"):
        OktaConnector("t", token_config(sim.url)).run("policies", ctx("policies"))


def test_bad_token_is_an_auth_error(sim: OktaSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong API token fails with a one-line error that does not contain the token."""
    monkeypatch.setenv("OKTA_TEST_TOKEN", "not-the-token-0123456789")
    with pytest.raises(ConnectorError) as e:
        OktaConnector("t", token_config(sim.url)).run("users", ctx("users"))
    assert "E0000011" in str(e.value) and "not-the-token" not in str(e.value)
    assert "\n" not in str(e.value)


def test_policies_follow_next_links_past_the_first_page() -> None:
    """Okta's Policy API lists policies a page at a time: `limit` ("Defines the number of
    policies returned, see Pagination") and `after` ("End page cursor for pagination") on
    GET /api/v1/policies, the next page named by the `Link: <...>; rel="next"` header
    (developer.okta.com/docs/api/#pagination). An org with 30 authentication policies whose
    last one lets everyone in with a password alone: only the first page was read, so that
    rule was never judged and no finding failed; now every page is read and it fails."""
    from connectors.okta.policies import assess_policies
    from simulators.okta_seed import add_policy

    org = generate_org(20, now=NOW)
    for gsp in org.policies["OKTA_SIGN_ON"]:  # sessions without MFA: the app rule decides
        for r in org.rules[gsp["id"]]:
            r["actions"]["signon"]["requireFactor"] = False
    when = NOW - timedelta(days=30)
    strong = {"appSignOn": {"access": "ALLOW", "verificationMethod": {
        "type": "ASSURANCE", "factorMode": "2FA", "reauthenticateIn": "PT2H"}}}
    for i in range(29):
        add_policy(org, 100 + i, "ACCESS_POLICY", f"App {i:02d}", None,
                   [{"name": "MFA", "type": "ACCESS_POLICY", "actions": strong}], when,
                   priority=2 + i)
    add_policy(org, 200, "ACCESS_POLICY", "Legacy payroll", None,
               [{"name": "Password only", "type": "ACCESS_POLICY", "actions": {
                   "appSignOn": {"access": "ALLOW", "verificationMethod": {
                       "type": "ASSURANCE", "factorMode": "1FA",
                       "reauthenticateIn": "PT12H"}}}}], when, priority=40)
    s = start(org)
    try:
        c = ctx("policies")
        res = OktaConnector("t", token_config(s.url)).run("policies", c)
    finally:
        s.stop()
    names = {p["name"] for p in res.content["policies"] if p["type"] == "ACCESS_POLICY"}
    assert len(names) == 31 and "Legacy payroll" in names
    bad = [f for f in assess_policies(res.content)
           if f.status == "fail" and "Legacy payroll" in f.reason]
    assert len(bad) == 1 and "without MFA" in bad[0].reason
