"""The jira connector passes the kit's conformance suite against the Jira simulator (Cloud),
faults injected in the simulator over its own fault hooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from collector.conformance import Conformance, FaultKind, Target
from connectors.jira.connector import PERMISSION
from simulators.jira import Fault, JiraSimulator, generate

NOW = datetime(2026, 11, 1, tzinfo=UTC)
FREE = {"GET /rest/api/2/serverInfo", "GET /rest/api/2/myself",
        "POST /rest/api/2/search/approximate-count"}


@pytest.fixture(scope="module")
def sim() -> Iterator[JiraSimulator]:
    data = generate(24, start=NOW - timedelta(days=20), end=NOW - timedelta(days=1),
                    long_every=8)
    with JiraSimulator("cloud", data) as s:
        yield s


def _path(operation: str) -> str:
    """The path prefix a fault covers: per-issue calls fault on every issue."""
    path = operation.split(" ", 1)[1]
    return path.split("/issue/")[0] + "/issue/" if "/issue/" in path else path


class TestJiraConformance(Conformance):
    """Every conformance check on `change_tickets`."""

    @pytest.fixture
    def target(self, sim: JiraSimulator, monkeypatch: pytest.MonkeyPatch) -> Target:
        monkeypatch.setenv("JIRA_CONFORMANCE_TOKEN", sim.api_token)

        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            path = operation.split(" ", 1)[1]
            if kind == "denied":
                sim.inject(Fault(403, path=path, times=-1))
            elif kind == "throttled":
                sim.inject(Fault(429, path=path, retry_after=1, times=1))
            else:
                sim.inject(Fault(500, path=_path(operation), after=1, times=-1))

        def clear() -> None:
            sim.faults.clear()

        return Target(
            type="jira", now=NOW, inject=inject, clear=clear,
            permission=lambda op: None if op in FREE else PERMISSION,
            config={"url": sim.url, "email": sim.cloud_email,
                    "api_token": {"env": "JIRA_CONFORMANCE_TOKEN"}, "jql": "project = CHG",
                    "page_size": 5, "rate_limit_wait_seconds": 30},
            paged=("change_tickets",))
