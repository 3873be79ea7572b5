"""Fan-out over scopes (accounts, regions, organizations, repositories, projects,
subscriptions) with bounded concurrency: a scope that cannot be read is recorded by name with
its error, on the provenance and in the content's `unreadable` list, and the rest go on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from connectors.base import Provenance
from connectors.errors import ConnectorError

S = TypeVar("S")
T = TypeVar("T")
Where = Mapping[str, str | None]


class FanOut:
    """Runs work over scopes on at most `workers` threads; failures recorded, not raised."""

    def __init__(self, ipe: Provenance, log: logging.Logger, *, workers: int,
                 what: str = "") -> None:
        self.ipe = ipe
        self.log = log
        self.workers = max(1, workers)
        self.what = what
        self._lock = threading.Lock()
        self._unreadable: list[dict[str, Any]] = []
        self.first_error: ConnectorError | None = None

    def map(self, fn: Callable[[T], S], items: Sequence[T]) -> list[S]:
        """`fn` over `items` on the pool, in order; errors propagate."""
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def each(self, fn: Callable[[S], T], scopes: Sequence[S],
             where: Callable[[S], Where]) -> list[tuple[S, T]]:
        """`fn` for every scope; a scope raising ConnectorError is recorded and skipped. When
        no scope could be read at all the first error is raised: the snapshot failed."""
        def one(s: S) -> tuple[S, T] | None:
            try:
                return s, fn(s)
            except ConnectorError as e:
                self.fail(where(s), e)
                return None
        out = [r for r in self.map(one, scopes) if r is not None]
        if not out and self.first_error is not None:
            raise self.first_error
        return out

    def fail(self, where: Where, err: ConnectorError, *, provenance: bool = True) -> None:
        """Record a scope that could not be read: a provenance error and an unreadable entry
        (`provenance` False: the provenance already says so, e.g. a listing cut short)."""
        name = "/".join(v for v in where.values() if v) or "scope"
        if provenance:
            self.ipe.error(f"{name}: {err}")
        self.log.warning("%s: %s could not be read: %s", self.what, name, err)
        with self._lock:
            self.first_error = self.first_error or err
            self._unreadable.append({**where, "error": type(err).__name__,
                                     "detail": err.message})

    def unreadable(self) -> list[dict[str, Any]]:
        """The unreadable scopes in a stable order (content must not depend on timing)."""
        with self._lock:
            rows = list(self._unreadable)
        return sorted(rows, key=lambda u: tuple(str(v) for v in u.values()))
