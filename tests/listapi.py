"""A small list API in the four paging schemes the kit follows, for the kit's own tests:
`/link` (GitHub/Okta Link header, `page`), `/cursor` (GCP/Jira Cloud `pageToken` /
`nextPageToken`), `/offset` (Jira Server `startAt`/`maxResults`/`total`) and `/nextlink`
(Azure `nextLink` with `$skiptoken`). `/loop` answers the same next link forever. For the
synthetic connector it also serves `/settings` and `/events` (cursor-paged, filtered by
`since` <= at < `until`). Every request must carry `Authorization: Bearer <token>`.

Given a `clock`, the API keeps its own time: its answers carry that time in their `Date`
header (or the time of `date_clock`, to play a source whose Date is wrong; when that gives
None, an empty Date: a source without a clock), and `/events` holds no event later than it
(an event cannot be listed before it happened)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from simulators.faults import Environ, StartResponse

PAGE = 10


class ListApi:
    """`items` items, served in pages of PAGE."""

    def __init__(self, items: int | list[dict[str, Any]], token: str, *,
                 settings: dict[str, Any] | None = None,
                 events: list[dict[str, Any]] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 date_clock: Callable[[], datetime | None] | None = None) -> None:
        self.items = items if isinstance(items, list) else \
            [{"id": i, "name": f"item-{i}"} for i in range(items)]
        self.token = token
        self.settings = settings or {}
        self.events = events or []
        self.authorizations: list[str] = []
        self.clock = clock
        self.date_clock = date_clock or clock

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.clock is None:
            return self._answer(environ, start_response)
        now = self.clock()
        told = (self.date_clock or self.clock)()
        date = "" if told is None else format_datetime(told, usegmt=True)

        def dated(status: str, headers: list[tuple[str, str]], *a: Any) -> Any:
            return start_response(status, [*headers, ("Date", date)], *a)
        return self._answer(environ, dated, now)

    def _answer(self, environ: Environ, start_response: StartResponse,
                now: datetime | None = None) -> Iterable[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        self.authorizations.append(auth)
        if auth != f"Bearer {self.token}":
            return _send(start_response, 401, {"message": "Bad credentials"})
        path = environ.get("PATH_INFO", "")
        q = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        base = f"http://{environ['HTTP_HOST']}{path}"
        if path == "/link":
            page = int(q.get("page", "1"))
            chunk = self.items[(page - 1) * PAGE: page * PAGE]
            headers = {}
            if page * PAGE < len(self.items):
                headers["Link"] = f'<{base}?page={page + 1}>; rel="next"'
            return _send(start_response, 200, chunk, headers)
        if path == "/settings":
            return _send(start_response, 200, self.settings)
        if path == "/events":
            start = int(q.get("pageToken", "0") or 0)
            evs = [e for e in self.events if q.get("since", "") <= e["at"] < q.get("until", "~")
                   and (now is None or datetime.fromisoformat(e["at"]) <= now)]
            body: dict[str, Any] = {"events": evs[start:start + PAGE]}
            if start + PAGE < len(evs):
                body["nextPageToken"] = str(start + PAGE)
            return _send(start_response, 200, body)
        if path == "/loop":
            return _send(start_response, 200, self.items[:PAGE],
                         {"Link": f'<{base}?page=2>; rel="next"'})
        if path == "/cursor":
            start = int(q.get("pageToken", "0") or 0)
            page_body: dict[str, Any] = {"items": self.items[start:start + PAGE]}
            if start + PAGE < len(self.items):
                page_body["nextPageToken"] = str(start + PAGE)
            return _send(start_response, 200, page_body)
        if path == "/offset":
            start = int(q.get("startAt", "0"))
            size = int(q.get("maxResults", str(PAGE)))
            return _send(start_response, 200, {"startAt": start, "maxResults": size,
                                               "total": len(self.items),
                                               "issues": self.items[start:start + size]})
        if path == "/nextlink":
            start = int(q.get("$skiptoken", "0"))
            value: dict[str, Any] = {"value": self.items[start:start + PAGE]}
            if start + PAGE < len(self.items):
                value["nextLink"] = f"{base}?api-version=2022-12-01&$skiptoken={start + PAGE}"
            return _send(start_response, 200, value)
        return _send(start_response, 404, {"message": "Not Found"})


def _send(start_response: StartResponse, status: int, body: Any,
          headers: dict[str, str] | None = None) -> Iterable[bytes]:
    raw = json.dumps(body).encode()
    start_response(f"{status} X", [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(raw))),
                                   *(headers or {}).items()])
    return [raw]
