"""The kit's conformance suite run against the `github` connector and its simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from collector.conformance import Conformance, FaultKind, Target
from connectors.github.permissions import permission_for
from simulators.github import Fault, GitHubSimulator
from simulators.github_seed import seed_org

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def github_sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(prefix="/api/v3") as sim:
        sim.add_token("ghp_conformance_token", login="auditor")
        seed_org(sim, "acme", repos=3, merged_prs=30, days=20, end=datetime(2026, 10, 25,
                                                                             tzinfo=UTC))
        yield sim


class TestGitHubConformance(Conformance):
    @pytest.fixture
    def target(self, github_sim: GitHubSimulator, monkeypatch: pytest.MonkeyPatch) -> Target:
        monkeypatch.setenv("GH_CONFORMANCE_TOKEN", "ghp_conformance_token")
        sim = github_sim

        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            path = operation.split(" ", 1)[1].removeprefix("/api/v3")  # the simulator's prefix
            if kind == "denied":
                sim.inject(Fault(status=403, path=path, times=None,
                                 message="Resource not accessible by personal access token"))
            elif kind == "throttled":
                sim.inject(Fault(status=429, path=path, times=1, retry_after=1,
                                 message="You have exceeded a secondary rate limit."))
            else:
                sim.inject(Fault(status=500, path=path, page=2, times=None))

        return Target(type="github",
                      config={"base_url": sim.url, "organizations": ["acme"],
                              "token": {"env": "GH_CONFORMANCE_TOKEN"}, "per_page": 2,
                              "seconds_between_requests": 0, "max_retries": 1},
                      inject=inject, clear=sim.clear_faults, permission=permission_for,
                      now=NOW, paged=("org_settings",))
