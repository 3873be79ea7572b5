"""One snapshot run across accounts and regions: fan-out, and what could not be read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from collector.errors import ConnectorError
from connectors.aws.accounts import Account, SessionFactory, resolve_accounts, resolve_regions
from connectors.aws.calls import Client, Recorder
from connectors.aws.config import AwsConfig
from connectors.base import SnapshotContext

T = TypeVar("T")


class Run:
    """The accounts reached for one snapshot, and the parts that failed (recorded, not raised)."""

    def __init__(self, config: AwsConfig, factory: SessionFactory, ctx: SnapshotContext,
                 client_lock: threading.Lock) -> None:
        self.config = config
        self.ctx = ctx
        self.rec = Recorder(ctx.ipe, config, client_lock)
        self._lock = threading.Lock()
        self.unreadable: list[dict[str, Any]] = []
        self._first_error: ConnectorError | None = None
        self.accounts, failed = resolve_accounts(config, factory, self.rec)
        for f in failed:
            self.fail(f.account_id, f.label, None, f.error)
        if not self.accounts:
            raise failed[0].error if failed else ConnectorError("no AWS account to collect from")
        ctx.ipe.principal = ", ".join(sorted({a.principal for a in self.accounts}))
        ctx.ipe.source = ", ".join(sorted(a.account_id for a in self.accounts))

    def client(self, account: Account, service: str, region: str | None = None) -> Client:
        """A recorded client for `service` in `account` (default: the home region)."""
        region = region or self.config.home_region
        return self.rec.client(account.session, service, region,
                               f"{account.account_id}/{region}")

    def fail(self, account_id: str | None, label: str | None, region: str | None,
             err: ConnectorError) -> None:
        """Record a part that could not be read: an IPE error and an `unreadable` entry."""
        where = f"{account_id or label}/{region}" if region else str(account_id or label)
        self.ctx.ipe.error(f"{where}: {err}")
        self.ctx.log.warning("aws %s: %s could not be read: %s", self.ctx.snapshot, where, err)
        with self._lock:
            self._first_error = self._first_error or err
            self.unreadable.append({"account_id": account_id, "account": label,
                                    "region": region, "error": type(err).__name__,
                                    "detail": err.message})

    def sorted_unreadable(self) -> list[dict[str, Any]]:
        """The unreadable parts in a stable order (content must not depend on timing)."""
        return sorted(self.unreadable, key=lambda u: (str(u["account_id"]), str(u["account"]),
                                                      str(u["region"]), u["detail"]))

    def map(self, fn: Callable[[T], Any], items: list[T]) -> list[Any]:
        """Run `fn` over `items` on the worker pool, keeping order."""
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.config.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def each_account(self, fn: Callable[[Account], T]) -> list[tuple[Account, T]]:
        """`fn` for every account; a failing account is recorded and skipped."""
        def one(a: Account) -> tuple[Account, T] | None:
            try:
                return a, fn(a)
            except ConnectorError as e:
                self.fail(a.account_id, a.label, None, e)
                return None
        out = [r for r in self.map(one, self.accounts) if r is not None]
        self._all_failed(out)
        return out

    def each_region(self, fn: Callable[[Account, str], T]) -> list[tuple[Account, str, T]]:
        """`fn` for every (account, region); a failing region is recorded and skipped."""
        pairs: list[tuple[Account, str]] = []
        for a in self.accounts:
            try:
                pairs.extend((a, r) for r in resolve_regions(self.config, a, self.rec))
            except ConnectorError as e:
                self.fail(a.account_id, a.label, None, e)

        def one(p: tuple[Account, str]) -> tuple[Account, str, T] | None:
            try:
                return p[0], p[1], fn(*p)
            except ConnectorError as e:
                self.fail(p[0].account_id, p[0].label, p[1], e)
                return None
        out = [r for r in self.map(one, pairs) if r is not None]
        self._all_failed(out)
        return out

    def _all_failed(self, results: list[Any]) -> None:
        # Nothing read at all: the snapshot failed (the runner retries transient errors).
        if not results and self._first_error is not None:
            raise self._first_error

    def scope(self, results: list[tuple[Account, str, Any]]) -> list[dict[str, str]]:
        """The (account, region) pairs actually read, sorted."""
        return sorted(({"account_id": a.account_id, "region": r} for a, r, _ in results),
                      key=lambda s: (s["account_id"], s["region"]))
