"""The Okta simulator follows Okta's documented API (checked with a plain HTTP client)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from simulators.okta import ASSERTION_TYPE, OktaSimulator, ServiceApp
from simulators.okta_seed import generate_org
from tests.okta_support import CLIENT_ID, TOKEN, keypair

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[OktaSimulator]:
    org = generate_org(450, now=NOW)
    _, pub = keypair()
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]},
                       apps=[ServiceApp(CLIENT_ID, pub, ("okta.users.read",))]) as s:
        yield s


def get(sim: OktaSimulator, path: str, auth: str | None = f"SSWS {TOKEN}"
        ) -> tuple[int, Any, Any]:
    req = urllib.request.Request(sim.url + path)
    if auth is not None:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def next_link(headers: Any) -> str | None:
    for v in headers.get_all("Link") or []:
        if 'rel="next"' in v:
            return str(v.split(";")[0].strip("<> "))
    return None


def test_documented_ssws_form_only(sim: OktaSimulator) -> None:
    """`SSWS <token>` works; the SDK's `SSWS<token>` and a missing header get E0000011."""
    assert get(sim, "/api/v1/users?limit=1")[0] == 200
    for auth in (f"SSWS{TOKEN}", None, "SSWS wrong"):
        status, body, _ = get(sim, "/api/v1/users?limit=1", auth)
        assert status == 401
        assert body["errorCode"] == "E0000011" and body["errorId"] and "errorCauses" in body


def test_rate_limit_headers_on_every_answer(sim: OktaSimulator) -> None:
    """x-rate-limit-limit/remaining/reset accompany answers; reset is an epoch in the future."""
    _, _, h = get(sim, "/api/v1/users?limit=1")
    assert int(h["x-rate-limit-limit"]) == 600
    assert 0 <= int(h["x-rate-limit-remaining"]) < 600
    assert int(h["x-rate-limit-reset"]) >= int(time.time())


def test_429_when_bucket_spent() -> None:
    """A spent bucket answers 429 E0000047 with the rate-limit headers and a Date."""
    org = generate_org(5, now=NOW)
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}, limits={"users": 2},
                       window_seconds=30) as s:
        assert get(s, "/api/v1/users")[0] == 200
        assert get(s, "/api/v1/users")[0] == 200
        status, body, h = get(s, "/api/v1/users")
        assert status == 429 and body["errorCode"] == "E0000047"
        assert h["x-rate-limit-remaining"] == "0" and h["Date"]
        assert get(s, "/api/v1/users/me")[0] == 200  # another bucket is unaffected


def test_link_pagination_and_deprovisioned(sim: OktaSimulator) -> None:
    """Pages follow `after` cursors in next links; without a filter DEPROVISIONED users are
    left out, and `filter=status eq "DEPROVISIONED"` lists exactly them."""
    ids: list[str] = []
    path: str | None = "/api/v1/users?limit=200"
    pages = 0
    while path:
        status, body, h = get(sim, path)
        assert status == 200 and len(body) <= 200
        ids += [u["id"] for u in body]
        pages += 1
        nxt = next_link(h)
        path = nxt[len(sim.url):] if nxt else None
    org = sim.org
    assert len(ids) == len(set(ids)) == sum(u["status"] != "DEPROVISIONED" for u in org.users)
    assert pages == -(-len(ids) // 200)
    q = urllib.parse.quote('status eq "DEPROVISIONED"')
    _, body, _ = get(sim, f"/api/v1/users?filter={q}&limit=200")
    assert {u["id"] for u in body} == {u["id"] for u in org.users
                                       if u["status"] == "DEPROVISIONED"}


def test_system_log_retention_and_links(sim: OktaSimulator) -> None:
    """`since` past 90 days is refused (E0000001); a bounded query ends without a next link;
    a polling query (no until) always has one."""
    old = urllib.parse.quote((NOW - timedelta(days=91)).isoformat())
    status, body, _ = get(sim, f"/api/v1/logs?since={old}")
    assert status == 400 and body["errorCode"] == "E0000001"
    assert "90 days" in body["errorCauses"][0]["errorSummary"]
    since = urllib.parse.quote((NOW - timedelta(days=60)).isoformat())
    until = urllib.parse.quote(NOW.isoformat())
    path: str | None = f"/api/v1/logs?since={since}&until={until}&limit=25"
    seen = []
    while path:
        _, body, h = get(sim, path)
        seen += body
        nxt = next_link(h)
        path = nxt[len(sim.url):] if nxt else None
    assert seen and seen == sorted(seen, key=lambda e: e["published"])
    lo = (NOW - timedelta(days=60))
    expected = [e for e in sim.org.events
                if lo <= datetime.fromisoformat(e["published"].replace("Z", "+00:00")) < NOW]
    assert [e["uuid"] for e in seen] == [e["uuid"] for e in expected]
    _, body, h = get(sim, f"/api/v1/logs?since={until}")
    assert body == [] and next_link(h) is not None


def _assertion(url: str, key: str, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": f"{url}/oauth2/v1/token",
            "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    base.update(claims)
    return jwt.encode(base, key, algorithm="RS256")


def _token(sim: OktaSimulator, assertion: str, scope: str) -> tuple[int, Any]:
    data = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope,
                                   "client_assertion_type": ASSERTION_TYPE,
                                   "client_assertion": assertion}).encode()
    req = urllib.request.Request(sim.url + "/oauth2/v1/token", data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_token_endpoint_checks_the_signature(sim: OktaSimulator) -> None:
    """A client assertion signed by another key, or for another audience, is invalid_client;
    the registered key gets a Bearer token limited to the granted scopes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    priv, _ = keypair()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    status, body = _token(sim, _assertion(sim.url, other), "okta.users.read")
    assert status == 401 and body["error"] == "invalid_client" and "signature" in \
        body["error_description"]
    status, body = _token(sim, _assertion(sim.url, priv, aud="https://elsewhere/oauth2/v1/token"),
                          "okta.users.read")
    assert status == 401 and "audience" in body["error_description"]
    status, body = _token(sim, _assertion(sim.url, priv), "okta.users.read okta.logs.read")
    assert status == 400 and body["error"] == "invalid_scope" and "okta.logs.read" in \
        body["error_description"]
    once = _assertion(sim.url, priv)
    status, body = _token(sim, once, "okta.users.read")
    assert status == 200 and body["token_type"] == "Bearer"
    assert _token(sim, once, "okta.users.read")[0] == 401  # a jti is single-use
    bearer = f"Bearer {body['access_token']}"
    assert get(sim, "/api/v1/users?limit=1", bearer)[0] == 200
    status, body, h = get(sim, "/api/v1/logs", bearer)
    assert status == 403 and body["errorCode"] == "E0000006"
    assert "insufficient_scope" in h["WWW-Authenticate"]


def test_fault_injection_over_http(sim: OktaSimulator) -> None:
    """POST /__sim/faults makes the next matching request fail with Okta's error body."""
    req = urllib.request.Request(sim.url + "/__sim/faults", method="POST", data=json.dumps(
        {"path": "/api/v1/groups", "status": 500, "times": 1}).encode())
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
    status, body, _ = get(sim, "/api/v1/groups")
    assert status == 500 and body["errorCode"] == "E0000009"
    assert get(sim, "/api/v1/groups")[0] == 200


def test_generator_is_deterministic_and_scales() -> None:
    """The same arguments give the same org; a large org comes with factors and admins
    (bench/okta_bench.py builds the 20,000-user org)."""
    a, b = generate_org(300, now=NOW), generate_org(300, now=NOW)
    assert a.users == b.users and a.factors == b.factors and a.events == b.events
    big = generate_org(3_000, now=NOW)
    assert len(big.users) == 3_000 == len({u["id"] for u in big.users})
    assert sum(len(f) for f in big.factors.values()) > 3_000
    assert big.user_roles and big.group_roles
