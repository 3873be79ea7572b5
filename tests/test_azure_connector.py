"""The `azure` connector through real azure-identity credentials and azure-mgmt clients over
HTTPS against the Azure simulator."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from collector.errors import ConfigError
from connectors.azure import AzureConfig, AzureConnector
from connectors.base import Provenance, SnapshotContext, SnapshotResult
from simulators.azure import AzureSimulator, Fault
from simulators.azure_data import generate_tenant


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSimulator]:
    tenant = generate_tenant(4, users=6)
    tenant.denied_subscriptions.add(tenant.subscriptions[3]["subscriptionId"])
    with AzureSimulator(tenant, page_size=2, graph_page_size=3) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(sim: AzureSimulator) -> Iterator[None]:
    sim.clear_faults()
    yield
    sim.clear_faults()


def config(sim: AzureSimulator, credential: dict[str, Any], **extra: Any) -> AzureConfig:
    return AzureConfig.model_validate({
        "tenant_id": sim.tenant_id, "authority": sim.url, "arm_endpoint": sim.url,
        "graph_endpoint": sim.url, "ca_bundle": sim.cert_path, "credential": credential,
        "retry_backoff_seconds": 0, "max_retries": 2,
        "break_glass": ["breakglass1@contoso.example"], **extra})


@pytest.fixture
def secret_cfg(sim: AzureSimulator, monkeypatch: pytest.MonkeyPatch) -> AzureConfig:
    monkeypatch.setenv("TEST_AZURE_SECRET", sim.client_secret)
    return config(sim, {"kind": "client_secret", "client_id": sim.client_id,
                        "secret": {"env": "TEST_AZURE_SECRET"}})


def run(conn: AzureConnector, name: str) -> tuple[SnapshotResult, Provenance]:
    ipe = Provenance()
    ctx = SnapshotContext(conn.instance, name, datetime.now(UTC), ipe,
                          logging.getLogger("test"))
    return conn.run(name, ctx), ipe


def findings(conn: AzureConnector, name: str, content: Any) -> dict[str, tuple[str, str]]:
    spec = conn.snapshots()[name]
    assert spec.assess is not None
    return {f.resource: (f.status, f.reason) for f in spec.assess(content)}


def test_check_names_the_app_from_its_token(sim: AzureSimulator,
                                            secret_cfg: AzureConfig) -> None:
    """check() gets a token with the client secret and lists subscriptions; the principal is
    the app id and service principal from the token's claims."""
    res = AzureConnector("t", secret_cfg).check()
    assert res.ok, res.detail
    assert res.principal is not None and sim.client_id in res.principal
    assert res.detail == "4 subscription(s) visible"


def test_certificate_and_workload_identity_credentials(sim: AzureSimulator,
                                                       tmp_path: Path) -> None:
    """A PEM certificate read by reference and a federated token file both get tokens through
    azure-identity, and the snapshot runs with them."""
    pem = tmp_path / "sp.pem"
    pem.write_bytes(sim.certificate_pem())
    token_file = tmp_path / "token"
    token_file.write_text(sim.federated_token())
    before = dict(sim.tokens_issued)
    for cred in ({"kind": "client_certificate", "client_id": sim.client_id,
                  "certificate": {"file": str(pem)}},
                 {"kind": "workload_identity", "client_id": sim.client_id,
                  "token_file": str(token_file)}):
        res, ipe = run(AzureConnector("t", config(sim, cred)), "diagnostic_settings")
        assert res.record_count >= 1 and ipe.principal and sim.client_id in ipe.principal
    assert sim.tokens_issued["certificate:arm"] > before.get("certificate:arm", 0)
    assert sim.tokens_issued["federated:arm"] > before.get("federated:arm", 0)


def test_role_assignments_inherited_privileged_and_unreadable(
        sim: AzureSimulator, secret_cfg: AzureConfig) -> None:
    """Assignments inherited from management groups are recorded with their scope and the
    subscription's ancestors; privileged roles are flagged; the unreadable subscription is
    recorded while the others are collected, across several pages."""
    conn = AzureConnector("t", secret_cfg)
    res, ipe = run(conn, "role_assignments")
    c = res.content
    denied = sim.tenant.subscriptions[3]["subscriptionId"]
    assert [u["subscription_id"] for u in c["unreadable"]] == [denied]
    assert "AuthorizationFailed" in c["unreadable"][0]["error"]
    assert len(c["subscriptions"]) == 3
    sub = c["subscriptions"][0]
    root = sim.tenant.root_group
    inherited = [a for a in sub["assignments"] if a["inherited"]]
    assert any(a["inherited_from"] == root and a["role_name"] == "Owner"
               and a["principal_type"] == "Group" for a in inherited)
    assert sub["ancestors"][-1] == root
    levels = {a["scope_level"] for a in sub["assignments"]}
    assert {"management_group", "subscription", "resource_group"} <= levels
    rg = [a for a in sub["assignments"] if a["scope_level"] == "resource_group"
          and a["role_name"] == "Contributor"]
    assert rg and rg[0]["privileged"] and rg[0]["principal_type"] == "User"
    assert not any(a["privileged"] for a in sub["assignments"] if a["role_name"] == "Reader")
    p = ipe.to_json()
    assert p["pages"] > p["api_calls"] and p["pagination_exhausted"] is True
    assert any(e.startswith(f"subscription {denied}") for e in p["errors"])
    f = findings(conn, "role_assignments", c)
    assert f[f"subscription:{denied}"][0] == "inconclusive"
    custom = [k for k, v in f.items() if "Ops Superuser" in v[1]]
    assert custom and all(f[k][0] == "fail" for k in custom)


def test_mfa_registration_names_admins_without_mfa(secret_cfg: AzureConfig) -> None:
    """The registration report is read in full through @odata.nextLink; admins without MFA
    (or with only a method policy disallows) fail, named as admins."""
    conn = AzureConnector("t", secret_cfg)
    res, ipe = run(conn, "entra_mfa_registration")
    assert res.record_count == 6 + 6 + 1
    f = findings(conn, "entra_mfa_registration", res.content)
    assert f["admin bob@contoso.example"][0] == "fail"
    assert "not capable" in f["admin carol@contoso.example"][1]
    assert f["admin alice@contoso.example"][0] == "pass"
    calls = {c["operation"]: c for c in ipe.to_json()["calls"]}
    assert calls["graph.reports.userRegistrationDetails"]["pages"] == 5


def test_conditional_access_enforcement_and_break_glass(secret_cfg: AzureConfig) -> None:
    """The enabled all-users MFA policy does not cover the tenant: it excludes the
    undeclared breakglass2 (no other policy enforces MFA on it; the exclude overrides the
    include), so the tenant fails naming it, not the declared breakglass1 excluded by group;
    breakglass1 is inconclusive, breakglass2 fails, and the report-only admin policy does
    not count."""
    conn = AzureConnector("t", secret_cfg)
    res, _ = run(conn, "conditional_access")
    f = findings(conn, "conditional_access", res.content)
    assert f["tenant"][0] == "fail"
    assert "breakglass2@contoso.example" in f["tenant"][1]
    assert "breakglass1@contoso.example" not in f["tenant"][1]
    assert f["admin breakglass1@contoso.example"][0] == "inconclusive"
    assert f["admin breakglass2@contoso.example"][0] == "fail"
    assert f["admin bob@contoso.example"][0] == "pass"
    states = {p["displayName"]: p["state"] for p in res.content["policies"]}
    assert states["Require MFA for administrators"] == "enabledForReportingButNotEnforced"


def test_conditional_access_report_only_is_not_enforcement(
        sim: AzureSimulator, secret_cfg: AzureConfig) -> None:
    """With the all-users policy switched to report-only, nothing enforces MFA: the tenant
    and every admin fail."""
    pol = sim.tenant.ca_policies[0]
    pol["state"] = "enabledForReportingButNotEnforced"
    try:
        conn = AzureConnector("t", secret_cfg)
        res, _ = run(conn, "conditional_access")
    finally:
        pol["state"] = "enabled"
    f = findings(conn, "conditional_access", res.content)
    assert f["tenant"][0] == "fail" and "report" in f["tenant"][1].lower()
    assert f["admin alice@contoso.example"][0] == "fail"


def test_storage_accounts_keep_nulls_and_apply_defaults(secret_cfg: AzureConfig) -> None:
    """Properties ARM leaves unset stay null in the evidence, and the verdict applies the
    documented defaults to them; the hardened CMK account passes."""
    conn = AzureConnector("t", secret_cfg)
    res, _ = run(conn, "storage_accounts")
    accts = {a["name"]: a for s in res.content["subscriptions"] for a in s["accounts"]}
    unset = next(a for n, a in accts.items() if n.endswith("01"))
    assert unset["properties"]["minimumTlsVersion"] is None
    assert unset["properties"]["allowBlobPublicAccess"] is None
    f = findings(conn, "storage_accounts", res.content)
    assert f[unset["id"]][0] == "fail" and "documented default" in f[unset["id"]][1]
    cmk = next(a for n, a in accts.items() if n.endswith("00"))
    assert f[cmk["id"]][0] == "pass" and "customer-managed" in f[cmk["id"]][1]
    assert res.record_count == 9


def test_key_vaults_and_activity_log(secret_cfg: AzureConfig) -> None:
    """Vaults come from list_by_subscription with their properties; keys without a rotate
    action fail; activity-log retention is read from the AzureActivity table."""
    conn = AzureConnector("t", secret_cfg)
    res, _ = run(conn, "key_vaults")
    vaults = [v for s in res.content["subscriptions"] for v in s["vaults"]]
    assert vaults and all(v["properties"]["enableSoftDelete"] is not None for v in vaults)
    f = findings(conn, "key_vaults", res.content)
    assert any(k.endswith("/keys/signing") and v[0] == "fail" for k, v in f.items())
    assert any(k.endswith("/keys/storage-cmk") and v[0] == "pass" for k, v in f.items())
    res, _ = run(conn, "activity_log")
    f = findings(conn, "activity_log", res.content)
    statuses = sorted(v[0] for v in f.values())
    assert "pass" in statuses and "inconclusive" in statuses
    dests = [d for s in res.content["subscriptions"] for d in s["destinations"]]
    assert any(d.get("table", {}).get("totalRetentionInDays") == 2555 for d in dests)


def test_throttling_is_retried_and_counted(sim: AzureSimulator,
                                           secret_cfg: AzureConfig) -> None:
    """A 429 with Retry-After on page 2 of the subscription list is waited out by azure-core
    and counted as a retry; the evidence is complete."""
    sim.inject(Fault("/subscriptions", 429, retry_after=0.2, page=2))
    res, ipe = run(AzureConnector("t", secret_cfg), "diagnostic_settings")
    p = ipe.to_json()
    assert p["retries"] >= 1 and p["pagination_exhausted"] is True
    assert len(res.content["subscriptions"]) == 3


def test_failure_mid_pagination_is_recorded_as_cut_short(
        sim: AzureSimulator, secret_cfg: AzureConfig) -> None:
    """A subscription whose role-assignment list fails on page 2 (even after retries) keeps
    the page it read, its owner verdict is inconclusive rather than a pass, and the
    provenance says pagination was cut short."""
    sub = sim.tenant.subscriptions[0]["subscriptionId"]
    sim.inject(Fault(f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments",
                     500, times=None, page=2))
    conn = AzureConnector("t", secret_cfg)
    res, ipe = run(conn, "role_assignments")
    entry = next(s for s in res.content["subscriptions"] if s["subscription_id"] == sub)
    assert entry["incomplete"] and len(entry["assignments"]) == 2
    p = ipe.to_json()
    assert p["pagination_exhausted"] is False and p["retries"] >= 2
    f = findings(conn, "role_assignments", res.content)
    assert f[f"subscription:{sub}"][0] == "inconclusive"
    assert "not read in full" in f[f"subscription:{sub}"][1]


def test_wrong_secret_is_an_auth_error_without_the_secret(
        sim: AzureSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused secret fails check() with Entra's AADSTS reason, never the secret."""
    monkeypatch.setenv("TEST_AZURE_BAD", "not-the-secret-value-123")
    cfg = config(sim, {"kind": "client_secret", "client_id": sim.client_id,
                       "secret": {"env": "TEST_AZURE_BAD"}})
    res = AzureConnector("t", cfg).check()
    assert not res.ok and "AADSTS7000215" in res.detail
    assert "not-the-secret-value-123" not in res.detail


def test_secret_never_reaches_content(sim: AzureSimulator, secret_cfg: AzureConfig) -> None:
    """Neither the evidence nor its provenance contains the client secret or a token."""
    res, ipe = run(AzureConnector("t", secret_cfg), "entra_mfa_registration")
    text = json.dumps(res.content) + json.dumps(ipe.to_json())
    assert sim.client_secret not in text and "eyJ" not in text


def test_managed_identity_is_configurable() -> None:
    """A managed identity config builds azure-identity's ManagedIdentityCredential (it needs
    an Azure host's identity endpoint, so it is not exercised here)."""
    from azure.identity import ManagedIdentityCredential

    from connectors.azure.clients import build_credential

    cfg = AzureConfig.model_validate({
        "tenant_id": "72f988bf-0000-4000-8000-000000000001",
        "credential": {"kind": "managed_identity",
                       "client_id": "11111111-2222-4333-8444-555555555555"}})
    assert isinstance(build_credential(cfg), ManagedIdentityCredential)


def test_config_refuses_http_and_inline_secrets() -> None:
    """An http authority and a secret written inline are refused with a clear message."""
    base = {"tenant_id": "72f988bf-0000-4000-8000-000000000001",
            "credential": {"kind": "client_secret",
                           "client_id": "11111111-2222-4333-8444-555555555555",
                           "secret": {"env": "X"}}}
    with pytest.raises(ValueError, match="azure-identity refuses anything but TLS"):
        AzureConfig.model_validate({**base, "authority": "http://127.0.0.1:1"})
    with pytest.raises(ValueError):
        AzureConfig.model_validate({**base, "credential": {**base["credential"],
                                                           "secret": "plain-text"}})
    with pytest.raises(ConfigError):
        from connectors.azure.clients import build_credential
        build_credential(AzureConfig.model_validate(
            {**base, "credential": {**base["credential"], "secret": {"env": "UNSET_X_Y"}}}))


def test_permissions_command_prints_roles_and_graph_scopes() -> None:
    """`evidence connectors permissions azure` names the Reader role, the ARM read actions
    and the Graph application permissions."""
    from collector.cli import cli

    out = CliRunner().invoke(cli, ["connectors", "permissions", "azure"])
    assert out.exit_code == 0, out.output
    assert "Reader" in out.output
    for p in ("Microsoft.Authorization/roleAssignments/read", "AuditLog.Read.All",
              "Policy.Read.All", "RoleManagement.Read.Directory"):
        assert p in out.output


def test_demo_block_loads_and_collects_through_the_runner(tmp_path: Path) -> None:
    """The demo's azure block is a valid config (secret by reference) and a collection
    through the run loop stores every azure snapshot complete, with its provenance."""
    from contextlib import ExitStack

    from collector.config import load
    from collector.demo import start_azure
    from collector.runner import Collector, Selection
    from storage.store import EvidenceStore

    with ExitStack() as stack:
        block = start_azure(stack)
        assert "secret = { env = " in block
        p = tmp_path / "evidence.toml"
        p.write_text('[store]\nindex_url = "sqlite:///index.db"\nblob_dir = "blobs"\n'
                     '[signing]\nkey_file = "signing.key"\n'
                     '[collector]\nconcurrency = 2\nbackoff_seconds = 0\n' + block)
        cfg = load(p)
        [inst] = cfg.connectors
        assert inst.key == "azure/demo"
        store = EvidenceStore.open(cfg)
        try:
            summary = Collector(cfg, store).run(Selection(), trigger="test")
            assert {o.snapshot for o in summary.outcomes} == set(AzureConnector.snapshots())
            assert all(o.status == "complete" for o in summary.outcomes), \
                [(o.snapshot, o.status, o.error) for o in summary.outcomes]
            rec = store.record(summary.outcomes[0].record_ids[-1])
            assert rec is not None and rec["principal"].startswith("app ")
        finally:
            store.close()


def test_denied_everywhere_fails_naming_the_permission(sim: AzureSimulator,
                                                      secret_cfg: AzureConfig) -> None:
    """When every subscription refuses a call (403 AuthorizationFailed) the snapshot fails,
    and its error names the RBAC action to grant."""
    from collector.errors import PermissionDenied

    sim.inject(Fault("/providers/Microsoft.Storage/storageAccounts", 403, times=None))
    with pytest.raises(PermissionDenied) as e:
        run(AzureConnector("t", secret_cfg), "storage_accounts")
    assert "Microsoft.Storage/storageAccounts/read" in str(e.value)
    assert "AuthorizationFailed" in str(e.value)


def test_graph_list_failing_mid_way_keeps_what_was_read(sim: AzureSimulator,
                                                        secret_cfg: AzureConfig) -> None:
    """A registration report whose second page fails (after retries) keeps the first page,
    and the provenance says pagination was cut short (so the record is partial)."""
    sim.inject(Fault("/reports/authenticationMethods/userRegistrationDetails", 500,
                     times=None, page=2))
    res, ipe = run(AzureConnector("t", secret_cfg), "entra_mfa_registration")
    assert res.record_count == 3
    p = ipe.to_json()
    assert p["pagination_exhausted"] is False
    assert any("stopped after 1 pages" in e for e in p["errors"])
