"""The `gcp` connector passes the kit's conformance suite against the GCP simulator, with
faults injected in the simulator in front of the operation each check picks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

conformance = pytest.importorskip("collector.conformance")

from connectors.gcp.calls import PERMISSION  # noqa: E402
from connectors.gcp.config import SERVICES  # noqa: E402
from simulators.gcp import Fault, GcpSimulator  # noqa: E402
from simulators.gcp_world import ORG_ID, generate_world  # noqa: E402

# Where each recorded operation goes on the wire (Google's documented REST paths).
OP_PATHS = {
    "cloudresourcemanager.organizations.get": r"^/v3/organizations/[^/:]+$",
    "cloudresourcemanager.organizations.getIamPolicy": r"^/v3/organizations/[^/]+:getIamPolicy$",
    "cloudresourcemanager.folders.list": r"^/v3/folders$",
    "cloudresourcemanager.folders.get": r"^/v3/folders/[^/:]+$",
    "cloudresourcemanager.folders.getIamPolicy": r"^/v3/folders/[^/]+:getIamPolicy$",
    "cloudresourcemanager.projects.list": r"^/v3/projects$",
    "cloudresourcemanager.projects.get": r"^/v3/projects/[^/:]+$",
    "cloudresourcemanager.projects.getIamPolicy": r"^/v3/projects/[^/]+:getIamPolicy$",
    "iam.projects.serviceAccounts.list": r"/serviceAccounts$",
    "iam.projects.serviceAccounts.keys.list": r"/keys$",
    "logging.sinks.list": r"/sinks$",
    "logging.buckets.list": r"/buckets$",
    "cloudkms.locations.list": r"^/v1/projects/[^/]+/locations$",
    "cloudkms.keyRings.list": r"/keyRings$",
    "cloudkms.cryptoKeys.list": r"/cryptoKeys$",
    "storage.buckets.list": r"^/storage/v1/b$",
    "storage.buckets.getIamPolicy": r"/iam$",
    "orgpolicy.policies.getEffectivePolicy": r":getEffectivePolicy$",
}


@pytest.fixture(scope="module")
def gcp_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GcpSimulator, Path]]:
    with GcpSimulator(generate_world(6), page_size_cap=2) as sim:
        key = tmp_path_factory.mktemp("gcp-conf") / "sa.json"
        key.write_text(json.dumps(sim.service_account_key_file(
            "collector@ops.iam.gserviceaccount.com")))
        yield sim, key


def test_every_operation_has_a_path() -> None:
    """Each operation the connector records maps to a simulator path (for fault injection)."""
    assert set(PERMISSION) == set(OP_PATHS)


class TestGcpConformance(conformance.Conformance):  # type: ignore[misc]
    """Every conformance check on every gcp snapshot."""

    @pytest.fixture
    def target(self, gcp_sim: tuple[GcpSimulator, Path]) -> object:
        sim, key = gcp_sim

        def inject(kind: str, snapshot: str, operation: str) -> None:
            path = OP_PATHS[operation]
            if kind == "denied":
                sim.inject(Fault(path=path, status=403, times=None))
            elif kind == "throttled":
                sim.inject(Fault(path=path, status=429, retry_after=1, times=1))
            else:
                sim.inject(Fault(path=path, status=500, skip=1, times=None))

        return conformance.Target(
            type="gcp", inject=inject, clear=sim.clear_faults, permission=PERMISSION.get,
            config={"organization": f"organizations/{ORG_ID}", "endpoint": sim.url,
                    "rates": {s: 10000.0 for s in SERVICES}, "max_attempts": 2,
                    "credentials": {"kind": "service_account_key",
                                    "key": {"file": str(key)}}},
            paged=["iam_policies"])  # its folder and project lists run over several pages
