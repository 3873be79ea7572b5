"""The GCP simulator answers Google's real clients over real sockets as Google documents."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import kms_v1, orgpolicy_v2
from google.cloud import resourcemanager_v3 as rm
from google.oauth2 import service_account

from simulators.gcp import Fault, GcpSimulator
from simulators.gcp_world import ORG_ID, binding, generate_world

os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
ORG = f"organizations/{ORG_ID}"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture(scope="module")
def sim() -> Iterator[GcpSimulator]:
    with GcpSimulator(generate_world(12)) as s:
        yield s


@pytest.fixture(scope="module")
def creds(sim: GcpSimulator) -> Any:
    info = sim.service_account_key_file("collector@ops.iam.gserviceaccount.com")
    return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)


def _rm(cls: Any, sim: GcpSimulator, creds: Any) -> Any:
    return cls(credentials=creds, transport="rest",
               client_options=ClientOptions(api_endpoint=sim.url))


def test_key_file_jwt_grant_gets_a_token(sim: GcpSimulator, creds: Any) -> None:
    """A service-account key file's RS256 JWT-bearer grant is verified and yields a token."""
    s = AuthorizedSession(creds)
    r = s.get(f"{sim.url}/v1/projects/proj-0001/serviceAccounts")
    assert r.status_code == 200
    assert {a["email"] for a in r.json()["accounts"]} == {
        "app@proj-0001.iam.gserviceaccount.com", "ci-deployer@proj-0001.iam.gserviceaccount.com"}
    assert sim.stats["auth.token"] >= 1


def test_forged_key_is_refused(sim: GcpSimulator) -> None:
    """A key file whose private key the server never issued cannot get a token."""
    info = sim.service_account_key_file("collector@ops.iam.gserviceaccount.com")
    other = sim.service_account_key_file("collector@ops.iam.gserviceaccount.com")
    info["private_key"] = other["private_key"]  # right key id, wrong key
    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    with pytest.raises(auth_exc.RefreshError, match="invalid_grant"):
        AuthorizedSession(creds).get(f"{sim.url}/v1/projects/proj-0001/serviceAccounts")


def test_no_token_is_401_in_googles_error_shape(sim: GcpSimulator) -> None:
    """Without a bearer token the answer is 401 UNAUTHENTICATED in Google's error body."""
    r = requests.get(f"{sim.url}/v3/projects?parent={ORG}", timeout=5)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == 401 and err["status"] == "UNAUTHENTICATED" and err["details"]
    c = _rm(rm.ProjectsClient, sim, AnonymousCredentials())
    with pytest.raises(auth_exc.InvalidOperation):  # google-auth tries to refresh a 401
        list(c.list_projects(parent=ORG))


def test_workload_identity_federation_end_to_end(sim: GcpSimulator, tmp_path: Path) -> None:
    """An external-account config exchanges an OIDC token at STS, then impersonates."""
    from connectors.gcp.auth import external_account_credentials

    token_file = tmp_path / "oidc.jwt"
    token_file.write_text(sim.oidc_token("repo:acme/infra:ref:refs/heads/main"))
    info = sim.external_account_file(str(token_file), "collector@ops.iam.gserviceaccount.com")
    creds = external_account_credentials(info)
    c = _rm(rm.ProjectsClient, sim, creds)
    assert len(list(c.list_projects(parent=ORG))) == 2
    assert sim.stats["auth.sts"] >= 1 and sim.stats["auth.generateAccessToken"] >= 1
    token_file.write_text(sim.oidc_token("x", audience="//iam.googleapis.com/other"))
    creds2 = external_account_credentials(info)
    with pytest.raises(auth_exc.OAuthError, match="invalid_grant"):
        list(_rm(rm.ProjectsClient, sim, creds2).list_projects(parent=ORG))


def test_application_default_credentials(sim: GcpSimulator, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """ADC found through GOOGLE_APPLICATION_CREDENTIALS (a key file) authenticates.

    (ADC user credentials from `gcloud auth application-default login` always refresh at
    Google's own token endpoint, whatever the file says, so they cannot be simulated.)"""
    import google.auth

    path = tmp_path / "adc.json"
    path.write_text(json.dumps(sim.service_account_key_file("adc@ops.iam.gserviceaccount.com")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    creds, _ = google.auth.default(scopes=SCOPES)
    orgs = list(_rm(rm.OrganizationsClient, sim, creds).search_organizations(query=""))
    assert [o.display_name for o in orgs] == ["example.com"]


def test_policy_version_1_hides_conditions(sim: GcpSimulator, creds: Any) -> None:
    """Below version 3, conditional bindings come back as ROLE_withcond_<hash>, conditionless."""
    c = _rm(rm.ProjectsClient, sim, creds)
    v1 = c.get_iam_policy(request={"resource": "projects/proj-0003"})
    v3 = c.get_iam_policy(request={"resource": "projects/proj-0003",
                                   "options": {"requested_policy_version": 3}})
    assert v1.version == 1 and v3.version == 3
    assert any("_withcond_" in b.role and not b.condition.expression for b in v1.bindings)
    cond = [b for b in v3.bindings if b.condition.expression]
    assert [b.role for b in cond] == ["roles/editor"]
    assert cond[0].condition.title == "business-hours"


def test_enums_as_numbers_when_asked(sim: GcpSimulator, creds: Any) -> None:
    """GAPIC's enum-encoding=int gets numbers; a plain REST caller gets names."""
    r = AuthorizedSession(creds).get(
        f"{sim.url}/v1/projects/proj-0001/locations/europe-west1/keyRings/app/cryptoKeys",
        params={"$alt": "json;enum-encoding=int"})
    assert r.json()["cryptoKeys"][0]["purpose"] == 1
    plain = AuthorizedSession(creds).get(
        f"{sim.url}/v1/projects/proj-0001/locations/europe-west1/keyRings/app/cryptoKeys")
    assert plain.json()["cryptoKeys"][0]["purpose"] == "ENCRYPT_DECRYPT"
    k = _rm(kms_v1.KeyManagementServiceClient, sim, creds)
    keys = list(k.list_crypto_keys(parent="projects/proj-0001/locations/europe-west1/"
                                          "keyRings/app"))
    assert keys[0].purpose == kms_v1.CryptoKey.CryptoKeyPurpose.ENCRYPT_DECRYPT
    assert keys[0].rotation_period.total_seconds() == 90 * 86400


def test_pages_follow_next_page_token() -> None:
    """Small pages: every item arrives once over several pages; a foreign token is refused."""
    with GcpSimulator(generate_world(30), page_size_cap=2) as s:
        creds = service_account.Credentials.from_service_account_info(
            s.service_account_key_file("c@ops.iam.gserviceaccount.com"), scopes=SCOPES)
        c = _rm(rm.ProjectsClient, s, creds)
        pager = c.list_projects(parent=ORG)
        ids = [p.project_id for p in pager]
        assert len(ids) == len(set(ids)) == 5  # every 7th project sits under the org
        assert s.stats["rm.projects.list"] == 3
        k = AuthorizedSession(creds)
        first = k.get(f"{s.url}/v3/folders", params={"parent": ORG}).json()
        bad = k.get(f"{s.url}/v3/projects", params={"parent": ORG,
                                                      "pageToken": first["nextPageToken"]})
        assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_faults_answer_429_with_retry_after(sim: GcpSimulator, creds: Any) -> None:
    """An injected 429 arrives as TooManyRequests with Retry-After; a 503 as ServiceUnavailable."""
    sim.inject(Fault(path=r"/v3/folders$", status=429, retry_after=2))
    try:
        r = AuthorizedSession(creds).get(f"{sim.url}/v3/folders", params={"parent": ORG})
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        sim.inject(Fault(path=r":search$", status=503))
        with pytest.raises(gexc.ServiceUnavailable):
            list(_rm(rm.FoldersClient, sim, creds).search_folders(query=""))
    finally:
        sim.clear_faults()


def test_faults_can_be_driven_over_http(sim: GcpSimulator, creds: Any) -> None:
    """POST /_sim/faults injects a fault (a conformance suite needs no Python handle)."""
    requests.post(f"{sim.url}/_sim/faults", json={"path": "/storage/v1/b$", "status": 500,
                                                 "times": 1}, timeout=5)
    try:
        r = AuthorizedSession(creds).get(f"{sim.url}/storage/v1/b",
                                         params={"project": "proj-0001"})
        assert r.status_code == 500 and r.json()["error"]["errors"][0]["reason"]
    finally:
        requests.delete(f"{sim.url}/_sim/faults", timeout=5)


def test_storage_client_reads_bucket_settings(sim: GcpSimulator, creds: Any) -> None:
    """google-cloud-storage lists buckets with encryption, UBLA, PAP, retention and IAM."""
    from google.cloud import storage  # type: ignore[attr-defined]

    c = storage.Client(project="proj-0000", credentials=creds,
                       client_options={"api_endpoint": sim.url})
    bs = {b.name: b for b in c.list_buckets(project="proj-0000")}
    data = bs["proj-0000-data"]
    assert data.default_kms_key_name.endswith("/cryptoKeys/data")
    assert data.iam_configuration.public_access_prevention == "enforced"
    assert data.retention_policy_locked is True and data.versioning_enabled
    assert bs["proj-0000-web"].get_iam_policy(requested_policy_version=3).bindings


def test_effective_org_policy_is_merged_down_the_tree(sim: GcpSimulator, creds: Any) -> None:
    """A folder's override wins over the organization's; list values inherit when asked."""
    w = sim.world
    c = _rm(orgpolicy_v2.OrgPolicyClient, sim, creds)
    org_rule = c.get_effective_policy(name=f"{ORG}/policies/"
                                           "iam.disableServiceAccountKeyCreation")
    assert org_rule.spec.rules[0].enforce is True
    last = list(w.folders)[-1]
    under = next(p for p in w.projects.values() if p["parent"] == last)
    eff = c.get_effective_policy(name=f"{under['name']}/policies/"
                                      "iam.disableServiceAccountKeyCreation")
    assert eff.spec.rules[0].enforce is False
    w.org_policies[under["name"]] = {"iam.allowedPolicyMemberDomains": {
        "inheritFromParent": True, "rules": [{"values": {"allowedValues": ["C0other"]}}]}}
    try:
        merged = c.get_effective_policy(name=f"{under['name']}/policies/"
                                             "iam.allowedPolicyMemberDomains")
        assert set(merged.spec.rules[0].values.allowed_values) == {"C0abc123", "C0other"}
    finally:
        del w.org_policies[under["name"]]


def test_denied_project_is_403(sim: GcpSimulator, creds: Any) -> None:
    """A project the caller may not read answers 403 PERMISSION_DENIED to every API."""
    sim.deny("projects/proj-0002")
    try:
        with pytest.raises(gexc.Forbidden):
            _rm(rm.ProjectsClient, sim, creds).get_iam_policy(
                request={"resource": "projects/proj-0002"})
        r = AuthorizedSession(creds).get(f"{sim.url}/v2/projects/proj-0002/locations/-/buckets")
        assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    finally:
        sim.world.denied.clear()


def test_world_scales_deterministically() -> None:
    """The generator gives the same 200-project organization every time."""
    a, b = generate_world(200), generate_world(200)
    assert len(a.projects) == 200 and a.policies == b.policies and a.sa_keys == b.sa_keys
    assert binding("roles/x", "user:b", "user:a")["members"] == ["user:a", "user:b"]
