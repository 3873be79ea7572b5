"""The `gcp` connector end to end: real Google clients, over sockets, against the simulator."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.errors import AuthError, ConfigError
from connectors.base import Finding, Provenance, SnapshotContext
from connectors.gcp import GcpConnector
from connectors.gcp.config import SERVICES, GcpConfig
from simulators.gcp import Fault, GcpSimulator
from simulators.gcp_world import DEFAULT_NOW, ORG_ID, generate_world

os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
ORG = f"organizations/{ORG_ID}"
FAST = {s: 10000.0 for s in SERVICES}


@pytest.fixture(scope="module")
def sim() -> Iterator[GcpSimulator]:
    with GcpSimulator(generate_world(12)) as s:
        yield s


@pytest.fixture(scope="module")
def key_file(sim: GcpSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("gcp") / "sa.json"
    p.write_text(json.dumps(sim.service_account_key_file("collector@ops.iam.gserviceaccount.com")))
    return p


def _config(sim: GcpSimulator, key_file: Path, **kw: Any) -> GcpConfig:
    base: dict[str, Any] = {"organization": ORG, "endpoint": sim.url, "rates": FAST,
                            "credentials": {"kind": "service_account_key",
                                            "key": {"file": str(key_file)}}}
    if "projects" in kw:
        base.pop("organization")
    base.update(kw)
    return GcpConfig.model_validate(base)


def _run(conn: GcpConnector, name: str) -> tuple[Any, dict[str, Any], list[Finding]]:
    ctx = SnapshotContext("t", name, datetime.now(UTC), Provenance(), logging.getLogger("t"))
    res = conn.run(name, ctx)
    spec = conn.snapshots()[name]
    assert spec.assess is not None
    return res, ctx.ipe.to_json(), spec.assess(res.content)


def _by(findings: list[Finding]) -> dict[str, Finding]:
    return {f.resource: f for f in findings}


def _connector(cfg: GcpConfig, **kw: Any) -> GcpConnector:
    return GcpConnector("t", cfg, clock=lambda: DEFAULT_NOW, **kw)


def test_iam_policies_name_inherited_and_conditional_grants(sim: GcpSimulator,
                                                            key_file: Path) -> None:
    """Org and folder bindings reach every project below, named with where they come from."""
    res, ipe, findings = _run(_connector(_config(sim, key_file)), "iam_policies")
    f = _by(findings)
    assert ipe["principal"] == "serviceAccount:collector@ops.iam.gserviceaccount.com"
    assert ipe["source"] == ORG and ipe["errors"] == [] and ipe["pagination_exhausted"]
    asks = [c for c in ipe["calls"] if c["operation"].endswith("getIamPolicy")]
    assert asks and all(c["params"]["options.requestedPolicyVersion"] == 3 for c in asks)
    assert len(res.content["projects"]) == 12
    sandbox = list(sim.world.folders)[-1]
    under = next(p["projectId"] for p in sim.world.projects.values() if p["parent"] == sandbox)
    assert f[f"{under}/basic-roles"].status == "fail"
    assert f"user:freelancer@gmail.com (inherited from {sandbox})" in \
        f[f"{under}/basic-roles"].reason
    assert f"inherited from {sandbox}" in f[f"{under}/external-members"].reason
    assert "if 'business-hours'" in f["proj-0003/basic-roles"].reason
    assert "allUsers" in f["proj-0004/external-members"].reason


def test_service_account_key_age(sim: GcpSimulator, key_file: Path) -> None:
    """User-managed keys older than max_key_age_days fail; system-managed keys are skipped."""
    res, _, findings = _run(_connector(_config(sim, key_file, max_key_age_days=100)),
                            "iam_policies")
    keys = {k: f.status for k, f in _by(findings).items() if "/keys/" in k}
    expect: dict[str, str] = {}
    for email, ks in sim.world.sa_keys.items():
        for k in ks:
            if k["keyType"] != "USER_MANAGED":
                continue
            age = (DEFAULT_NOW - datetime.fromisoformat(k["validAfterTime"])).days
            kid = k["name"].rsplit("/", 1)[1]
            expect[f"{email}/keys/{kid}"] = "pass" if k.get("disabled") or age <= 100 \
                else "fail"
    assert keys == expect and "fail" in keys.values() and "pass" in keys.values()
    sa = res.content["projects"][0]["service_accounts"]
    assert all(k["valid_after"] for a in sa for k in a["keys"])


def test_unreadable_project_is_recorded_and_the_rest_go_on(sim: GcpSimulator,
                                                           key_file: Path) -> None:
    """A project that answers 403 is recorded as unreadable; every other project is read."""
    sim.deny("projects/proj-0002")
    try:
        res, ipe, findings = _run(_connector(_config(sim, key_file)), "kms_keys")
    finally:
        sim.world.denied.clear()
    assert any("proj-0002" in e for e in ipe["errors"])
    assert [u["resource"] for u in res.content["unreadable"]] == ["projects/proj-0002/kms"]
    assert sum(1 for p in res.content["projects"] if p["keys"]) == 11
    f = _by(findings)
    assert f["projects/proj-0002/kms"].status == "inconclusive"
    assert "permission" in f["projects/proj-0002/kms"].reason.lower()


def test_unreadable_project_policy_never_passes(sim: GcpSimulator, key_file: Path) -> None:
    """With a project's own policy unreadable its verdicts are inconclusive or fail, never pass."""
    sim.deny("projects/300000000006")
    try:
        _, ipe, findings = _run(_connector(_config(sim, key_file, basic_role_members=(
            "user:founder@example.com", "group:staging-eng@example.com",
            "group:production-eng@example.com", "group:shared-eng@example.com"))),
            "iam_policies")
    finally:
        sim.world.denied.clear()
    f = _by(findings)
    assert f["proj-0006/basic-roles"].status == "inconclusive"
    assert "projects/300000000006" in f["proj-0006/basic-roles"].reason
    assert f["proj-0006/external-members"].status in ("fail", "inconclusive")
    assert ipe["errors"]


def test_rate_limit_is_retried_after_retry_after(sim: GcpSimulator, key_file: Path) -> None:
    """A 429 with Retry-After is waited out and counted; the snapshot completes."""
    waits: list[float] = []
    sim.inject(Fault(path=r"/v2/projects/proj-0001/locations/-/buckets", status=429,
                     retry_after=3, times=2))
    sim.inject(Fault(path=r"/v3/folders$", status=503, times=1))
    try:
        res, ipe, _ = _run(_connector(_config(sim, key_file), sleep=waits.append),
                           "audit_logging")
    finally:
        sim.clear_faults()
    assert waits.count(3.0) == 2 and ipe["retries"] == 3
    assert ipe["errors"] == [] and len(res.content["projects"]) == 12


def test_failure_on_page_two_is_cut_short(key_file: Path) -> None:
    """A list failing after its first page marks the evidence incomplete, never complete."""
    with GcpSimulator(generate_world(30), page_size_cap=1) as s:
        kf = key_file.parent / "sa2.json"
        kf.write_text(json.dumps(s.service_account_key_file("c@ops.iam.gserviceaccount.com")))
        s.inject(Fault(path=r"/v3/projects$", status=500, skip=2, times=None))
        res, ipe, findings = _run(_connector(_config(s, kf, max_attempts=2)), "org_policies")
    assert ipe["pagination_exhausted"] is False
    assert any("stopped after" in e for e in ipe["errors"])
    assert any(f.status == "inconclusive" for f in findings)
    assert res.content["unreadable"]


def test_project_list_scope_with_unreadable_organization(sim: GcpSimulator,
                                                         key_file: Path) -> None:
    """Projects named in config are read with their ancestry; an unreadable org policy means
    no project can pass on what the org might grant."""
    sim.deny(ORG)
    try:
        res, ipe, findings = _run(_connector(_config(
            sim, key_file, projects=("proj-0007", "proj-0009"),
            basic_role_members=("user:owner2@example.com", "user:owner4@example.com",
                                "serviceAccount:300000000007-compute@developer."
                                "gserviceaccount.com",
                                "serviceAccount:300000000009-compute@developer."
                                "gserviceaccount.com",
                                "group:production-eng@example.com",
                                "group:staging-eng@example.com",
                                "group:shared-eng@example.com"))), "iam_policies")
    finally:
        sim.world.denied.clear()
    f = _by(findings)
    assert [p["project_id"] for p in res.content["projects"]] == ["proj-0007", "proj-0009"]
    assert f["proj-0007/basic-roles"].status == "inconclusive"
    assert ORG in f["proj-0007/basic-roles"].reason
    assert ipe["source"] == "projects/proj-0007, projects/proj-0009"


def test_every_snapshot_completes_and_dedups(sim: GcpSimulator, key_file: Path) -> None:
    """Every snapshot completes with findings; the same day's content is byte-identical."""
    conn = _connector(_config(sim, key_file))
    for name in conn.snapshots():
        r1, ipe, findings = _run(conn, name)
        r2, _, _ = _run(conn, name)
        assert ipe["errors"] == [] and findings, name
        assert json.dumps(r1.content, sort_keys=True) == json.dumps(r2.content, sort_keys=True)


def test_storage_public_access_follows_pap_and_iam(sim: GcpSimulator, key_file: Path) -> None:
    """Buckets are public only without enforced prevention; the org policy counts too."""
    res, _, findings = _run(_connector(_config(sim, key_file)), "storage_buckets")
    f = _by(findings)
    assert f["proj-0000-data/public-access"].status == "pass"
    assert f["proj-0005-web/public-access"].status == "fail"
    assert "allUsers" in f["proj-0005-web/public-access"].reason
    assert f["proj-0005-web/uniform-access"].status == "fail"
    # proj-0001-web grants allUsers too, but sits under a folder enforcing prevention
    assert f["proj-0001-web/public-access"].status == "pass"
    assert "organization policy" in f["proj-0001-web/public-access"].reason
    assert [p["public_access_prevention_policy"] for p in res.content["projects"]
            if p["project_id"] in ("proj-0001", "proj-0005")] == [True, False]


def test_workload_identity_federation_config(sim: GcpSimulator, tmp_path: Path) -> None:
    """An external_account config authenticates through STS and impersonation."""
    tok = tmp_path / "oidc"
    tok.write_text(sim.oidc_token("repo:acme/infra"))
    cfg_file = tmp_path / "wif.json"
    cfg_file.write_text(json.dumps(sim.external_account_file(
        str(tok), "collector@ops.iam.gserviceaccount.com")))
    cfg = GcpConfig.model_validate({"organization": ORG, "endpoint": sim.url, "rates": FAST,
                                    "credentials": {"kind": "external_account",
                                                    "config_file": str(cfg_file)}})
    conn = _connector(cfg)
    check = conn.check()
    assert check.ok and check.principal == "serviceAccount:collector@ops.iam.gserviceaccount.com"


def test_bad_credentials_are_clear_one_line_errors(sim: GcpSimulator, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A key that is not a key file, or a revoked key, is a one-line error naming no secret."""
    monkeypatch.setenv("GCP_KEY", '{"type": "authorized_user", "secret": "hunter2"}')
    cfg = GcpConfig.model_validate({"organization": ORG, "endpoint": sim.url,
                                    "credentials": {"kind": "service_account_key",
                                                    "key": {"env": "GCP_KEY"}}})
    with pytest.raises(ConfigError) as e:
        _connector(cfg).check()
    assert "env:GCP_KEY" in str(e.value) and "hunter2" not in str(e.value)
    assert "\n" not in str(e.value)
    with GcpSimulator(generate_world(2)) as other:
        kf = tmp_path / "other.json"
        kf.write_text(json.dumps(other.service_account_key_file("x@ops.iam.gserviceaccount.com")))
    check = _connector(_config(sim, kf)).check()  # a key this server never issued
    assert not check.ok and "credentials" in check.detail
    conn = _connector(_config(sim, kf))
    with pytest.raises(AuthError):
        _run(conn, "kms_keys")


def test_config_rejects_ambiguous_scope() -> None:
    """Exactly one of organization or projects; project IDs must look like project IDs."""
    with pytest.raises(ValueError, match="exactly one"):
        GcpConfig.model_validate({"organization": "1", "projects": ["abcdef-1"]})
    with pytest.raises(ValueError, match="project ID"):
        GcpConfig.model_validate({"projects": ["Bad_ID"]})
    assert GcpConfig.model_validate({"organization": "123"}).organization == \
        "organizations/123"


def test_permissions_document_lists_read_only_permissions() -> None:
    """The permission document is a custom role of read-only permissions plus the roles."""
    doc = GcpConnector.permission_document()
    perms = [line[2:] for line in doc.splitlines() if line.startswith("- ")]
    assert "resourcemanager.projects.getIamPolicy" in perms
    assert all(p.split(".")[-1].startswith(("get", "list")) for p in perms)
    assert "roles/iam.securityReviewer" in doc


def test_cli_prints_gcp_permissions() -> None:
    """`evidence connectors permissions gcp` prints the custom role and predefined roles."""
    from click.testing import CliRunner

    from collector.cli import cli

    r = CliRunner().invoke(cli, ["connectors", "permissions", "gcp"])
    assert r.exit_code == 0
    assert "- iam.serviceAccountKeys.list" in r.output and "roles/browser" in r.output


def test_rate_limiter_bounds_requests_per_second() -> None:
    """At 10 requests/s, 25 requests need at least 1.5 s after the first second's burst."""
    from connectors.gcp.calls import RateLimiter

    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    lim = RateLimiter(10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(25):
        lim.acquire()
    assert 1.45 <= now[0] <= 1.6


def test_default_sink_exclusions_can_drop_audit_logs(key_file: Path) -> None:
    """Cloud Logging's LogExclusion (REST reference, v2 exclusions): "Specifies a set of log
    entries that are filtered out by a sink ... you cannot modify the _Required sink or
    exclude logs from it." Data Access audit logs reach the _Default bucket only through the
    _Default sink, so an enabled exclusion there drops them. proj-0000 (a 365-day _Default
    bucket) passed with an exclusion of cloudaudit.googleapis.com logs: it fails naming the
    exclusion; proj-0003 with `severity<WARNING` (audit entries are NOTICE or INFO) is
    inconclusive, the filter not being evaluated; proj-0006's disabled exclusion changes
    nothing. Read through google-api-python-client from the simulator."""
    world = generate_world(12)
    for pid, exc in (("proj-0000", {"name": "drop-data-access", "filter":
                                    'LOG_ID("cloudaudit.googleapis.com/data_access")'}),
                     ("proj-0003", {"name": "quiet", "filter": "severity<WARNING"}),
                     ("proj-0006", {"name": "off", "filter": 'logName:"cloudaudit"',
                                    "disabled": True})):
        node = next(n for n in world.sinks if n.startswith("projects/")
                    and (world.container(n) or {}).get("projectId") == pid)
        default = next(s for s in world.sinks[node] if s["name"] == "_Default")
        default["exclusions"] = [exc]
    with GcpSimulator(world) as s:
        kf = key_file.parent / "sa-excl.json"
        kf.write_text(json.dumps(s.service_account_key_file("c@ops.iam.gserviceaccount.com")))
        _, _, findings = _run(_connector(_config(s, kf)), "audit_logging")
    f = _by(findings)
    assert f["proj-0000/log-retention"].status == "fail"
    assert "drop-data-access" in f["proj-0000/log-retention"].reason
    assert f["proj-0003/log-retention"].status == "inconclusive"
    assert "quiet" in f["proj-0003/log-retention"].reason
    assert f["proj-0006/log-retention"].status == "pass"
