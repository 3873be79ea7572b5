"""One snapshot run across accounts and regions, fanned out with the kit's FanOut."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from connectors.aws.accounts import Account, SessionFactory, resolve_accounts, resolve_regions
from connectors.aws.calls import Client, Recorder
from connectors.aws.config import AwsConfig
from connectors.base import SnapshotContext
from connectors.errors import ConnectorError
from connectors.kit import FanOut

S = TypeVar("S")
T = TypeVar("T")


class Run:
    """The accounts reached for one snapshot, and the parts that failed (recorded, not raised)."""

    def __init__(self, config: AwsConfig, factory: SessionFactory, ctx: SnapshotContext,
                 client_lock: threading.Lock) -> None:
        self.config = config
        self.ctx = ctx
        self.rec = Recorder(ctx.ipe, config, client_lock)
        self.fan = FanOut(ctx.ipe, ctx.log, workers=config.workers, what=f"aws {ctx.snapshot}")
        self.accounts, failed = resolve_accounts(config, factory, self.rec)
        for f in failed:
            self.fail(f.account_id, f.label, None, f.error)
        if not self.accounts:
            raise failed[0].error if failed else ConnectorError("no AWS account to collect from")
        ctx.ipe.principal = ", ".join(sorted({a.principal for a in self.accounts}))
        ctx.ipe.source = ", ".join(sorted(a.account_id for a in self.accounts))

    def client(self, account: Account, service: str, region: str | None = None) -> Client:
        """A recorded client for `service` in `account` (default: the home region). A listing
        it leaves cut short is an `unreadable` entry too, so no verdict takes the pages read
        for the whole population."""
        where = region or self.config.home_region

        def cut(err: ConnectorError) -> None:
            # region None: an account-wide listing (IAM, ListBuckets) in the home region
            self.fail(account.account_id, account.label, region, err, provenance=False)

        return self.rec.client(account.session, service, where,
                               f"{account.account_id}/{where}", on_cut=cut)

    def fail(self, account_id: str | None, label: str | None, region: str | None,
             err: ConnectorError, *, provenance: bool = True) -> None:
        """Record a part that could not be read: an IPE error (unless `provenance` is False:
        it already holds one) and an `unreadable` entry."""
        self.fan.fail({"account_id": account_id, "account": label, "region": region}, err,
                      provenance=provenance)

    def sorted_unreadable(self) -> list[dict[str, Any]]:
        """The unreadable parts in a stable order (content must not depend on timing)."""
        return self.fan.unreadable()

    def map(self, fn: Callable[[S], T], items: Sequence[S]) -> list[T]:
        """Run `fn` over `items` on the worker pool, keeping order."""
        return self.fan.map(fn, items)

    def each_account(self, fn: Callable[[Account], T]) -> list[tuple[Account, T]]:
        """`fn` for every account; a failing account is recorded and skipped."""
        return self.fan.each(fn, self.accounts, _where)

    def each_region(self, fn: Callable[[Account, str], T]) -> list[tuple[Account, str, T]]:
        """`fn` for every (account, region); a failing region is recorded and skipped."""
        pairs: list[tuple[Account, str]] = []
        for a in self.accounts:
            try:
                pairs.extend((a, r) for r in resolve_regions(self.config, a, self.rec))
            except ConnectorError as e:
                self.fail(a.account_id, a.label, None, e)
        done = self.fan.each(lambda p: fn(*p), pairs,
                             lambda p: {**_where(p[0]), "region": p[1]})
        return [(a, r, out) for (a, r), out in done]

    def scope(self, results: list[tuple[Account, str, Any]]) -> list[dict[str, str]]:
        """The (account, region) pairs actually read, sorted."""
        return sorted(({"account_id": a.account_id, "region": r} for a, r, _ in results),
                      key=lambda s: (s["account_id"], s["region"]))


def _where(a: Account) -> dict[str, str | None]:
    return {"account_id": a.account_id, "account": a.label, "region": None}
