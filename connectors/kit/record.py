"""Transport-neutral call recording: every transport reports each HTTP exchange here, and the
record keeps one `ApiCall` per logical call in `connectors.base.Provenance`.

Continuation pages (a request carrying a cursor) fold into the call that started them; a
retry of an attempt adds to that call's `retries`; parameters are redacted and stripped of
cursors, so an unchanged source gives identical provenance from run to run. Each transport
also hands over the answer's `Date` header (`saw_date`): the source's own clock, which bounds
how far a population window may claim to reach.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.base import ApiCall, Provenance
from connectors.kit.redact import redact_params

# Query parameters that carry a page cursor, by platform: GitHub (page), Okta (after),
# Jira (startAt, nextPageToken), GCP (pageToken), Azure ($skiptoken), AWS (tokens, markers).
PAGE_PARAMS = frozenset({
    "page", "after", "cursor", "starting_after", "startat", "pagetoken", "nextpagetoken",
    "$skiptoken", "skiptoken", "$skip", "marker", "nexttoken", "continuationtoken",
    "startingtoken", "paginationtoken", "keymarker", "next"})
# Values that mean "the first page": a request carrying them starts a call, it continues none.
_FIRST_PAGE = {"page": {"", "1"}, "startat": {"", "0"}, "$skip": {"", "0"}}


def split_cursor(params: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """(params without cursors, whether the request asks for a continuation page)."""
    kept: dict[str, Any] = {}
    continued = False
    for k, v in params.items():
        low = str(k).lower()
        if low in PAGE_PARAMS:
            if v not in (None, "") and str(v) not in _FIRST_PAGE.get(low, {""}):
                continued = True
            continue
        kept[k] = v
    return kept, continued


def http_date(value: str | None) -> datetime | None:
    """An HTTP `Date` header (RFC 9110 IMF-fixdate, or the obsolete forms) as UTC; None when
    absent or unreadable (a source without a clock leaves windows to ours)."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(redact_params(params), default=_default))  # type: ignore[no-any-return]


def _default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, bytes):
        return f"<{len(o)} bytes>"
    return str(o)


class CallRecorder:
    """Folds the HTTP exchanges of one snapshot run into provenance calls; thread-safe."""

    def __init__(self, ipe: Provenance) -> None:
        self.ipe = ipe
        self._lock = threading.Lock()
        self._open: dict[tuple[str | None, str, str], ApiCall] = {}
        self._local = threading.local()

    @contextmanager
    def polling(self) -> Iterator[None]:
        """Record repeats of the same call in this block (waiting for a state, not fetching
        more data) as one call: how many polls it took varies from run to run and would
        otherwise make the provenance, and so its blob, differ for an unchanged source."""
        self._local.polling = True
        try:
            yield
        finally:
            self._local.polling = False

    def saw_date(self, value: str | None) -> None:
        """Note an answer's `Date` header (the source's clock) on the provenance."""
        when = http_date(value)
        if when is not None:
            self.ipe.source_time(when)

    def last_call(self) -> ApiCall | None:
        """The call this thread recorded last."""
        return getattr(self._local, "last", None)

    def record(self, operation: str, params: Mapping[str, Any], *, target: str | None = None,
               continued: bool | None = None, status: int | None = None, ok: bool = True,
               error: str | None = None, items: int | None = None, retries: int = 0,
               total: int | None = None) -> ApiCall:
        """Record one exchange. `params` may still hold cursors: they are stripped and, unless
        `continued` says otherwise, decide whether this is a continuation page."""
        kept, has_cursor = split_cursor(params)
        continued = has_cursor if continued is None else continued
        clean = _jsonable(kept)
        key = (target, operation, json.dumps(clean, sort_keys=True))
        if retries:
            self.ipe.retried(retries)
        polling = getattr(self._local, "polling", False)
        with self._lock:
            call = self._open.get(key) if continued or polling else None
            if call is None and continued:
                # A next link may drop or reorder the first request's parameters: it still
                # continues this thread's latest call of the same operation.
                call = self._by_op().get((target, operation))
            if call is not None and polling and not continued:
                call.ok, call.error, call.status = ok, error, status  # the latest poll
                call.retries += retries
                if items is not None:
                    call.items = items
            elif call is None:
                call = self.ipe.call(operation, clean, target=target, items=items, ok=ok,
                                     error=error, status=status, retries=retries, total=total)
                self._open[key] = call
            else:
                call.pages += 1
                call.retries += retries
                if items is not None:
                    call.items = (call.items or 0) + items
                if total is not None:
                    call.total = total
                if not ok:
                    call.ok, call.error, call.status = False, error, status
        self._local.last = call
        self._by_op()[(target, operation)] = call
        return call

    def _by_op(self) -> dict[tuple[str | None, str], ApiCall]:
        by: dict[tuple[str | None, str], ApiCall] | None = getattr(self._local, "by_op", None)
        if by is None:
            by = self._local.by_op = {}
        return by

    def retry_of(self, call: ApiCall, *, status: int | None, ok: bool, error: str | None,
                 items: int | None = None, total: int | None = None) -> None:
        """Another attempt of `call`'s latest exchange: count the retry, keep its outcome."""
        self.ipe.retried()
        with self._lock:
            call.retries += 1
            call.ok, call.error = ok, error
            if status is not None:
                call.status = status
            if items is not None:
                call.items = (call.items or 0) + items
            if total is not None:
                call.total = total
        self._local.last = call
