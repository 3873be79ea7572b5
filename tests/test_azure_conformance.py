"""The `azure` connector passes the kit's conformance suite against the Azure simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.conformance import Conformance, FaultKind, Target
from connectors.azure.clients import OPERATION_PERMISSIONS
from simulators.azure import AzureSimulator, Fault
from simulators.azure_data import generate_tenant

# The simulator's route for each operation the connector records.
ROUTES = {
    "subscriptions.list": "arm.subscriptions.list",
    "managementGroups.getDescendants": "arm.managementGroups.descendants",
    "authorization.roleDefinitions.list": "arm.roleDefinitions.list",
    "authorization.roleAssignments.listForSubscription": "arm.roleAssignments.list",
    "storage.storageAccounts.list": "arm.storageAccounts.list",
    "keyvault.vaults.listBySubscription": "arm.vaults.listBySubscription",
    "keyvault.keys.list": "arm.keys.list",
    "insights.diagnosticSettings.list": "arm.diagnosticSettings.list",
    "insights.logProfiles.list": "arm.logProfiles.list",
    "operationalinsights.workspaces.get": "arm.workspaces.get",
    "operationalinsights.tables.get": "arm.tables.get",
    "graph.reports.userRegistrationDetails": "graph.registration",
    "graph.directoryRoles.list": "graph.directory_roles",
    "graph.directoryRoles.members": "graph.directory_role_members",
    "graph.identity.conditionalAccess.policies": "graph.conditional_access",
    "graph.policies.identitySecurityDefaultsEnforcementPolicy": "graph.security_defaults",
    "graph.groups.get": "graph.groups.get",
    "graph.groups.transitiveMembers": "graph.group_members",
    "graph.users.get": "graph.users.get",
}


@pytest.fixture(scope="module")
def azure_sim() -> Iterator[AzureSimulator]:
    with AzureSimulator(generate_tenant(3, users=4), page_size=2, graph_page_size=2) as s:
        yield s


class TestAzureConformance(Conformance):
    """Every conformance check on every azure snapshot."""

    @pytest.fixture
    def target(self, azure_sim: AzureSimulator, monkeypatch: pytest.MonkeyPatch) -> Target:
        monkeypatch.setenv("CONFORMANCE_AZURE_SECRET", azure_sim.client_secret)
        sim = azure_sim

        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            route = ROUTES[operation]
            if kind == "denied":
                sim.inject(Fault("", 403, times=None, route=route))
            elif kind == "throttled":
                sim.inject(Fault("", 429, times=1, retry_after=1, route=route))
            else:
                sim.inject(Fault("", 500, times=None, page=2, route=route))

        return Target(
            type="azure",
            config={"tenant_id": sim.tenant_id, "authority": sim.url,
                    "arm_endpoint": sim.url, "graph_endpoint": sim.url,
                    "ca_bundle": sim.cert_path, "retry_backoff_seconds": 0,
                    "max_retries": 2,
                    "credential": {"kind": "client_secret", "client_id": sim.client_id,
                                   "secret": {"env": "CONFORMANCE_AZURE_SECRET"}}},
            inject=inject, clear=sim.clear_faults, permission=OPERATION_PERMISSIONS.get,
            paged=("entra_mfa_registration", "storage_accounts", "role_assignments"),
            retry_after=1.0)
