"""A connector registered as a third-party plugin would be, for testing the run loop and store.

By default it fetches nothing over the network: it generates deterministic records, can be
made slow, flaky or broken, and so exercises retries, partial results, crashes and
concurrency. Given a `url` it reads the same records from a list API (tests/listapi.py)
through the connector kit, the way a connector on a requests-based SDK does, and so runs the
conformance suite against a simulator with injected faults.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import requests

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Finding,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import TransientError, UnexpectedResponse
from connectors.kit import CallRecorder, RetryPolicy, cursor_pages, link_pages
from connectors.kit.http import http_error, new_retrier, record_session
from connectors.secrets import SecretRef, resolve_secret

_ATTEMPTS: dict[str, int] = {}
T = TypeVar("T")
# The permission each list-API call needs (declared per snapshot below).
PERMISSIONS = {"GET /link": "synthetic.items.read", "GET /settings": "synthetic.settings.read",
               "GET /events": "synthetic.events.read"}


class SyntheticConfig(ConnectorConfig):
    items: int = 10
    seed: str = "s"
    delay_seconds: float = 0.0
    fail: tuple[str, ...] = ()
    partial: tuple[str, ...] = ()
    transient: int = 0
    partial_then_transient: int = 0
    payload_bytes: int = 0
    url: str | None = None
    token: SecretRef | None = None
    retry_budget_seconds: float = 30.0


def synthetic_items(seed: str, n: int, payload_bytes: int = 0) -> list[dict[str, Any]]:
    """The deterministic items a seed stands for."""
    out = []
    for i in range(n):
        h = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
        out.append({"name": f"item-{i:05d}", "mfa": int(h[0], 16) % 3 != 0,
                    "pad": "x" * payload_bytes})
    return out


def assess_items(content: Any) -> list[Finding]:
    """Each item passes when it has MFA."""
    return [Finding(i["name"], "pass" if i["mfa"] else "fail",
                    "MFA enabled" if i["mfa"] else "no MFA") for i in content["items"]]


def event_items(content: Any) -> list[dict[str, Any]]:
    """Each generated event is one population item."""
    return [{"id": e["change"], "time": e["at"], **e} for e in content["events"]]


class SyntheticConnector(Connector[SyntheticConfig]):
    """Generates deterministic evidence for tests."""

    name = "synthetic"
    title = "Synthetic (tests only)"

    @property
    def cfg(self) -> SyntheticConfig:
        return self.config

    def check(self) -> CheckResult:
        return CheckResult(True, principal="synthetic:tester", source=self.cfg.seed)

    def _session(self, ctx: SnapshotContext) -> requests.Session:
        policy = RetryPolicy(max_attempts=3, budget_seconds=self.cfg.retry_budget_seconds,
                             base_seconds=0.05)
        s = record_session(requests.Session(), CallRecorder(ctx.ipe), new_retrier(policy),
                           target=self.cfg.url)
        if self.cfg.token is not None:
            s.headers["Authorization"] = f"Bearer {resolve_secret(self.cfg.token)}"
        return s

    def _read(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except requests.RequestException as e:
            raise http_error(e, operation=operation,
                             permission=PERMISSIONS.get(operation)) from None

    def _common(self, ctx: SnapshotContext, name: str) -> None:
        ctx.ipe.principal = "synthetic:tester"
        ctx.ipe.source = f"seed:{self.cfg.seed}"
        if self.cfg.delay_seconds:
            time.sleep(self.cfg.delay_seconds)
        key = f"{self.instance}:{name}"
        if self.cfg.transient and _ATTEMPTS.get(key, 0) < self.cfg.transient:
            _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
            ctx.ipe.call("List", {"name": name}, ok=False, error="429")
            raise TransientError("throttled", retry_after=0.0)
        if name in self.cfg.fail:
            ctx.ipe.call("List", {"name": name}, ok=False, error="500")
            raise UnexpectedResponse(f"{name}: server answered 500", hint="try later")

    @snapshot(controls=["CC6.1", "CC6.2"], max_age=timedelta(days=1),
              permissions=["synthetic.items.read"], assess=assess_items,
              example={"items": [{"name": "a", "mfa": True, "pad": ""},
                                 {"name": "b", "mfa": False, "pad": ""}]})
    def items(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every generated item with its MFA flag."""
        self._common(ctx, "items")
        key = f"{self.instance}:items:cut"
        if _ATTEMPTS.get(key, 0) < self.cfg.partial_then_transient:
            _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
            ctx.ipe.call("ListItems", {"limit": 100}, items=100)
            ctx.ipe.cut_short("page 2 throttled")
            raise TransientError("throttled on page 2", retry_after=0.0)
        if self.cfg.url is not None:
            s = self._session(ctx)
            pages = self._read("GET /link", lambda: list(link_pages(
                s, f"{self.cfg.url}/link", {"per_page": 10}, ipe=ctx.ipe)))
            items = [{"name": i["name"], "mfa": i["mfa"], "pad": i["pad"]}
                     for p in pages for i in p.json()]
        else:
            items = synthetic_items(self.cfg.seed, self.cfg.items, self.cfg.payload_bytes)
            ctx.ipe.call("ListItems", {"limit": 100}, pages=max(1, -(-len(items) // 100)),
                         items=len(items))
        ctx.ipe.api_total("items", len(items))
        if "items" in self.cfg.partial:
            ctx.ipe.cut_short("stopped after page 1")
        return SnapshotResult({"items": items}, len(items))

    @snapshot(controls=["CC7.2"], max_age=timedelta(hours=6),
              permissions=["synthetic.settings.read"],
              example={"logging": True, "seed": "s"})
    def settings(self, ctx: SnapshotContext) -> SnapshotResult:
        """The generated settings document."""
        self._common(ctx, "settings")
        if self.cfg.url is not None:
            s = self._session(ctx)

            def get() -> Any:
                r = s.get(f"{self.cfg.url}/settings", timeout=30)
                r.raise_for_status()
                return r.json()
            return SnapshotResult(self._read("GET /settings", get), 1)
        ctx.ipe.call("GetSettings")
        return SnapshotResult({"logging": True, "seed": self.cfg.seed}, 1)

    @snapshot(controls=["CC8.1"], kind="population", max_age=timedelta(days=1),
              permissions=["synthetic.events.read"], lookback=timedelta(days=3),
              max_window=timedelta(days=1), items=event_items,
              example={"events": [{"at": "2026-03-01T10:00:00+00:00", "change": "chg-1"}]})
    def events(self, ctx: SnapshotContext) -> SnapshotResult:
        """One generated change event per hour of the window."""
        self._common(ctx, "events")
        assert ctx.period_start is not None and ctx.period_end is not None
        start = ctx.period_start.replace(minute=0, second=0, microsecond=0)
        if start < ctx.period_start:
            start += timedelta(hours=1)
        out = []
        if self.cfg.url is not None:
            s = self._session(ctx)
            q = {"since": ctx.period_start.isoformat(), "until": ctx.period_end.isoformat()}
            pages = self._read("GET /events", lambda: list(cursor_pages(
                s, f"{self.cfg.url}/events", q, ipe=ctx.ipe)))
            out = [e for p in pages for e in p.json()["events"]]
            return SnapshotResult({"events": out}, len(out))
        t = start
        while t < ctx.period_end:
            out.append({"at": t.isoformat(), "change": f"chg-{int(t.timestamp())}"})
            t += timedelta(hours=1)
        ctx.ipe.call("ListEvents", {"since": ctx.period_start.isoformat(),
                                    "until": ctx.period_end.isoformat()}, items=len(out))
        return SnapshotResult({"events": out}, len(out))
