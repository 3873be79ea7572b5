"""The okta connector passes the kit's conformance suite against the Okta simulator, with
faults injected in the simulator (403, 429 with Retry-After, 500 on a middle page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from collector.conformance import Conformance, FaultKind, Target
from connectors.okta.client import operation_scope
from simulators.okta import OktaSimulator
from simulators.okta_seed import generate_org
from tests.okta_support import TOKEN

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[OktaSimulator]:
    org = generate_org(120, now=NOW)
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}) as s:
        yield s


class TestOktaConformance(Conformance):
    """Every conformance check on every okta snapshot."""

    @pytest.fixture
    def target(self, sim: OktaSimulator, monkeypatch: pytest.MonkeyPatch) -> Target:
        monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)

        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            path = operation.split(" ", 2)[1]
            pattern = "^" + re.escape(path).replace(r"\{id\}", "[^/?]+") + r"(\?|$)"
            if kind == "denied":
                sim.inject(pattern, 403, times=10**6)
            elif kind == "throttled":
                sim.inject(pattern, 429, retry_after=1)
            else:  # every page after the first of the user list fails
                # (the suite names the first call of the sorted provenance, which may be one
                # user's factors: the list that pages is /api/v1/users itself)
                sim.inject(r"^/api/v1/users\?.*after=", 500, times=10**6)

        def clear() -> None:
            sim.faults.clear()

        return Target(type="okta", now=NOW,
                      config={"org_url": sim.url, "allow_http": True, "page_limit": 40,
                              "api_token": {"env": "OKTA_TEST_TOKEN"}},
                      inject=inject, clear=clear, permission=operation_scope,
                      paged=["users"])
