"""The synthetic test connector, reading its list API through the kit, passes the
conformance suite with faults injected in front of that API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from collector.conformance import Conformance, FaultKind, Target
from simulators.faults import Fault, Faults, Served
from tests.listapi import ListApi
from tests.plugins.synthetic_connector import PERMISSIONS, synthetic_items

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TOKEN = "synthetic-token-0123456789"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Served, Faults]]:
    events = [{"at": (NOW - timedelta(hours=h)).isoformat(),
               "change": f"chg-{int((NOW - timedelta(hours=h)).timestamp())}"}
              for h in range(96, 0, -1)]
    api = ListApi(synthetic_items("conf", 25), TOKEN,
                  settings={"logging": True, "seed": "conf"}, events=events)
    faults = Faults(api)
    with Served(faults) as srv:
        yield srv, faults


class TestSyntheticConformance(Conformance):
    """Every conformance check on every synthetic snapshot."""

    @pytest.fixture
    def target(self, served: tuple[Served, Faults],
               monkeypatch: pytest.MonkeyPatch) -> Target:
        monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
        srv, faults = served

        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            path = operation.split(" ", 1)[1]
            if kind == "denied":
                faults.inject(Fault(403, path_contains=path, times=None))
            elif kind == "throttled":
                faults.inject(Fault(429, headers={"Retry-After": "1"}, path_contains=path))
            else:
                faults.inject(Fault(500, path_contains=path, skip=1, times=None))

        return Target(type="synthetic", now=NOW,
                      config={"url": srv.url, "seed": "conf", "token": {"env": "SYNTHETIC_TOKEN"}},
                      inject=inject, clear=faults.clear, permission=PERMISSIONS.get,
                      paged=["items"])
