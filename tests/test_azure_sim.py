"""The Azure simulator answers as Microsoft documents: tokens, errors, paging, throttling."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from simulators.azure import AzureSimulator, Fault, b64url, sign_jwt
from simulators.azure_data import generate_tenant

ARM = "https://management.azure.com/.default"
GRAPH = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSimulator]:
    with AzureSimulator(generate_tenant(5), page_size=2, graph_page_size=4) as s:
        yield s


def _token(sim: AzureSimulator, scope: str = ARM, **form: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": sim.client_id, "scope": scope,
            **form}
    if "client_assertion" not in form and "client_secret" not in form:
        body["client_secret"] = sim.client_secret
    return requests.post(f"{sim.url}/{sim.tenant_id}/oauth2/v2.0/token", data=body,
                         verify=sim.cert_path, timeout=10)


def _get(sim: AzureSimulator, path: str, token: str | None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{sim.url}{path}", params=params, headers=headers,
                        verify=sim.cert_path, timeout=10)


def _claims(token: str) -> dict[str, Any]:
    p = token.split(".")[1]
    return dict(json.loads(__import__("base64").urlsafe_b64decode(p + "=" * (-len(p) % 4))))


def test_tls_only_with_generated_certificate(sim: AzureSimulator) -> None:
    """The simulator speaks HTTPS with the certificate it generated; plain clients refuse it."""
    assert sim.url.startswith("https://")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sim.url}/subscriptions", timeout=10)


def test_token_errors_follow_entra_format(sim: AzureSimulator) -> None:
    """A wrong secret, an unknown app and a scope without /.default get Entra's AADSTS
    error bodies with their documented codes."""
    r = _token(sim, client_secret="wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.json()["error_codes"] == [7000215]
    assert r.json()["error_description"].startswith("AADSTS7000215:")
    r = _token(sim, client_id="00000000-0000-0000-0000-000000000000")
    assert r.status_code == 400 and r.json()["error_codes"] == [700016]
    r = _token(sim, scope="https://management.azure.com/user_impersonation")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_access_token_claims_name_app_and_audience(sim: AzureSimulator) -> None:
    """Tokens carry the tenant, app id and object id, the resource's audience and, for
    Graph, the app's granted application permissions."""
    arm = _claims(_token(sim).json()["access_token"])
    graph = _claims(_token(sim, GRAPH).json()["access_token"])
    assert arm["aud"] == "https://management.azure.com/" and arm["tid"] == sim.tenant_id
    assert arm["appid"] == sim.client_id and "roles" not in arm
    assert graph["aud"] == "https://graph.microsoft.com" and "Policy.Read.All" in graph["roles"]


def test_certificate_assertion_signature_is_checked(sim: AzureSimulator) -> None:
    """A client assertion signed by a key other than the registered certificate's is
    refused (AADSTS700027), even with the right thumbprint in its header."""
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    der = sim.client_cert.public_bytes(serialization.Encoding.DER)
    endpoint = f"{sim.url}/{sim.tenant_id}/oauth2/v2.0/token"
    now = int(time.time())
    claims = {"aud": endpoint, "iss": sim.client_id, "sub": sim.client_id, "jti": "x",
              "iat": now, "nbf": now, "exp": now + 300}
    # MSAL pads x5t with '='; the simulator must accept it either way.
    x5t = b64url(hashlib.sha1(der).digest()) + "="
    good = sign_jwt(claims, sim.client_key, headers={"x5t": x5t})
    assert _token(sim, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:"
                  "jwt-bearer", client_assertion=good).status_code == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = sign_jwt(claims, other, headers={"x5t": x5t})
    r = _token(sim, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:"
               "jwt-bearer", client_assertion=bad)
    assert r.status_code == 401 and r.json()["error_codes"] == [700027]
    wrong_aud = sign_jwt({**claims, "aud": "https://elsewhere/token"}, sim.client_key,
                         headers={"x5t": x5t})
    r = _token(sim, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:"
               "jwt-bearer", client_assertion=wrong_aud)
    assert r.status_code == 401


def test_federated_assertion_needs_matching_credential(sim: AzureSimulator) -> None:
    """A workload-identity token is exchanged only when issuer, subject and audience match a
    federated credential on the app (AADSTS70021 otherwise)."""
    kind = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ok = _token(sim, client_assertion_type=kind, client_assertion=sim.federated_token())
    assert ok.status_code == 200
    r = _token(sim, client_assertion_type=kind,
               client_assertion=sim.federated_token(subject="system:serviceaccount:x:y"))
    assert r.status_code == 400 and r.json()["error_codes"] == [70021]
    r = _token(sim, client_assertion_type=kind,
               client_assertion=sim.federated_token(lifetime=-10))
    assert r.json()["error_codes"] == [700024]


def test_arm_requires_bearer_api_version_and_audience(sim: AzureSimulator) -> None:
    """ARM answers 401 with WWW-Authenticate without a token, 401 for a Graph token, and 400
    without or with an unsupported api-version, in ARM's {error:{code,message}} shape."""
    r = _get(sim, "/subscriptions", None, **{"api-version": "2022-12-01"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert r.json()["error"]["code"] == "AuthenticationFailed"
    graph = _token(sim, GRAPH).json()["access_token"]
    r = _get(sim, "/subscriptions", graph, **{"api-version": "2022-12-01"})
    assert r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    arm = _token(sim).json()["access_token"]
    r = _get(sim, "/subscriptions", arm)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    r = _get(sim, "/subscriptions", arm, **{"api-version": "1999-01-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidApiVersionParameter"


def test_arm_and_graph_paging_link_names(sim: AzureSimulator) -> None:
    """Subscriptions page with `nextLink`, management groups with `@nextLink`, Graph with
    `@odata.nextLink`; following them yields every item once, the api-version kept."""
    arm = _token(sim).json()["access_token"]
    seen: list[str] = []
    url: str | None = f"{sim.url}/subscriptions?api-version=2022-12-01"
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {arm}"},
                            verify=sim.cert_path, timeout=10).json()
        seen += [s["subscriptionId"] for s in body["value"]]
        url = body.get("nextLink")
        if url:
            assert "api-version=2022-12-01" in url and urllib.parse.urlsplit(url).scheme
    assert len(seen) == len(set(seen)) == 5 == body["count"]["value"]
    mg = _get(sim, "/providers/Microsoft.Management/managementGroups", arm,
              **{"api-version": "2023-04-01"}).json()
    assert "@nextLink" in mg and "nextLink" not in mg
    graph = _token(sim, GRAPH).json()["access_token"]
    g = _get(sim, "/v1.0/reports/authenticationMethods/userRegistrationDetails", graph).json()
    assert len(g["value"]) == 4 and "@odata.nextLink" in g


def test_graph_permissions_and_premium(sim: AzureSimulator) -> None:
    """A Graph call without the documented application permission gets 403
    Authorization_RequestDenied; the registration report needs a premium tenant."""
    app = sim.tenant.apps[sim.client_id]
    saved = app.graph_roles
    try:
        app.graph_roles = ("User.Read.All",)
        tok = _token(sim, GRAPH).json()["access_token"]
        r = _get(sim, "/v1.0/identity/conditionalAccess/policies", tok)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "Authorization_RequestDenied"
    finally:
        app.graph_roles = saved
    sim.tenant.premium = False
    try:
        tok = _token(sim, GRAPH).json()["access_token"]
        r = _get(sim, "/v1.0/reports/authenticationMethods/userRegistrationDetails", tok)
        assert r.json()["error"]["code"] == \
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    finally:
        sim.tenant.premium = True


def test_faults_over_http_with_retry_after(sim: AzureSimulator) -> None:
    """A fault posted to /_sim/faults answers 429 with Retry-After on the chosen page only,
    once, then the API answers normally."""
    requests.post(f"{sim.url}/_sim/faults", json={"path": "/subscriptions", "status": 429,
                                                  "retry_after": 2, "page": 2},
                  verify=sim.cert_path, timeout=10).raise_for_status()
    arm = _token(sim).json()["access_token"]
    first = _get(sim, "/subscriptions", arm, **{"api-version": "2022-12-01"})
    assert first.status_code == 200
    r = requests.get(first.json()["nextLink"], headers={"Authorization": f"Bearer {arm}"},
                     verify=sim.cert_path, timeout=10)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["error"]["code"] == "TooManyRequests"
    again = requests.get(first.json()["nextLink"], headers={"Authorization": f"Bearer {arm}"},
                         verify=sim.cert_path, timeout=10)
    assert again.status_code == 200
    sim.inject(Fault("/diagnosticSettings", 500, times=None))
    sub = sim.tenant.subscriptions[0]["subscriptionId"]
    for _ in range(2):
        r = _get(sim, f"/subscriptions/{sub}/providers/microsoft.insights/diagnosticSettings",
                 arm, **{"api-version": "2021-05-01-preview"})
        assert r.status_code == 500
    requests.delete(f"{sim.url}/_sim/faults", verify=sim.cert_path, timeout=10)
    assert sim.faults == []


def test_role_assignments_include_inherited_and_filter_at_scope(sim: AzureSimulator) -> None:
    """A subscription's assignment list includes those inherited from its management groups
    and those below it; `$filter=atScope()` leaves out the ones below."""
    arm = _token(sim).json()["access_token"]
    sub = sim.tenant.subscriptions[0]["subscriptionId"]
    path = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments"
    every: list[dict[str, Any]] = []
    url: str | None = f"{sim.url}{path}?api-version=2022-04-01"
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {arm}"},
                            verify=sim.cert_path, timeout=10).json()
        every += body["value"]
        url = body.get("nextLink")
    scopes = {a["properties"]["scope"] for a in every}
    assert sim.tenant.root_group in scopes
    assert any("/resourceGroups/" in s for s in scopes)
    at = _get(sim, path, arm, **{"api-version": "2022-04-01", "$filter": "atScope()",
                                 "$top": "100"}).json()
    assert not any("/resourceGroups/" in a["properties"]["scope"] for a in at["value"])


def test_generator_is_deterministic_and_scales() -> None:
    """The same size and seed give identical data; 50 subscriptions are generated."""
    a, b = generate_tenant(50, seed=7), generate_tenant(50, seed=7)
    assert len(a.subscriptions) == 50
    assert json.dumps(a.role_assignments) == json.dumps(b.role_assignments)
    assert json.dumps(a.storage_accounts) == json.dumps(b.storage_accounts)
    assert generate_tenant(3, seed=1).tenant_id != generate_tenant(3, seed=2).tenant_id
