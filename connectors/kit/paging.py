"""Pagination that never hands back a silently short population.

`paginate` is the engine: it counts pages, stops on a loop (the same cursor twice) and, when a
page after the first fails (after its own retries), marks the run's provenance `cut_short`
and stops, so the record is stored as partial, never complete. A failing first page raises:
nothing was read. The helpers below drive it over a `requests.Session` for each scheme:

    link_pages     Link header rel="next"              GitHub, Okta
    cursor_pages   nextPageToken in the body           Jira Cloud, GCP
    offset_pages   startAt / maxResults / total        Jira Server and Data Center
    next_link_pages  nextLink / @odata.nextLink        Azure Resource Manager, Graph

Pages are requested through the session, so its recording adapter sees each one and folds
them into one provenance call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.base import Provenance

if TYPE_CHECKING:  # annotations only: importing requests costs a collection ~0.1 s
    import requests

P = TypeVar("P")


def paginate(fetch: Callable[[Any], P], next_cursor: Callable[[P], Hashable | None], *,
             ipe: Provenance, what: str,
             describe: Callable[[BaseException], str] = str) -> Iterator[P]:
    """Pages from `fetch(cursor)` (None first) until `next_cursor(page)` is None."""
    seen: set[Hashable] = set()
    cursor: Any = None
    pages = 0
    while True:
        try:
            page = fetch(cursor)
        except Exception as e:
            if pages == 0:
                raise
            ipe.cut_short(f"{what}: stopped after {pages} page(s): {describe(e)}")
            return
        pages += 1
        yield page
        cursor = next_cursor(page)
        if cursor is None:
            return
        if cursor in seen:
            ipe.cut_short(f"{what}: the API returned cursor {cursor!r} twice after {pages} "
                          "page(s); stopped to avoid a loop")
            return
        seen.add(cursor)


def _get(session: requests.Session, url: str, params: Mapping[str, Any] | None,
         timeout: float) -> requests.Response:
    r = session.get(url, params=dict(params) if params else None, timeout=timeout)
    r.raise_for_status()
    return r


def link_pages(session: requests.Session, url: str, params: Mapping[str, Any] | None = None,
               *, ipe: Provenance, what: str | None = None,
               timeout: float = 60.0) -> Iterator[requests.Response]:
    """Pages following the `Link: <...>; rel="next"` header (GitHub, Okta)."""
    return paginate(lambda nxt: _get(session, nxt or url, None if nxt else params, timeout),
                    lambda r: r.links.get("next", {}).get("url"), ipe=ipe, what=what or url)


def cursor_pages(session: requests.Session, url: str, params: Mapping[str, Any] | None = None,
                 *, ipe: Provenance, cursor_param: str = "pageToken",
                 cursor_field: str = "nextPageToken", what: str | None = None,
                 timeout: float = 60.0) -> Iterator[requests.Response]:
    """Pages passing the body's `cursor_field` back as `cursor_param` (Jira Cloud, GCP);
    the last page has no cursor, or an empty one."""
    def fetch(cursor: str | None) -> requests.Response:
        q = dict(params or {})
        if cursor:
            q[cursor_param] = cursor
        return _get(session, url, q, timeout)

    def nxt(r: requests.Response) -> str | None:
        body = r.json()
        value = body.get(cursor_field) if isinstance(body, dict) else None
        return str(value) if value else None

    return paginate(fetch, nxt, ipe=ipe, what=what or url)


def offset_pages(session: requests.Session, url: str, params: Mapping[str, Any] | None = None,
                 *, ipe: Provenance, items_field: str, start_param: str = "startAt",
                 size_param: str = "maxResults", total_field: str = "total",
                 what: str | None = None, timeout: float = 60.0) -> Iterator[requests.Response]:
    """Pages by offset (Jira Server / Data Center): the next page starts after the items
    received. Stops when the API's total is reached or a page is empty; an empty page before
    the total is a short population and marks the record cut short."""
    label = what or url
    state = {"fetched": 0}

    def fetch(start: int | None) -> requests.Response:
        q = dict(params or {})
        q[start_param] = start or 0
        return _get(session, url, q, timeout)

    def nxt(r: requests.Response) -> int | None:
        body = r.json()
        items = body.get(items_field) or []
        state["fetched"] += len(items)
        total = body.get(total_field)
        if isinstance(total, int):
            ipe.api_total(label, total)
            if state["fetched"] >= total:
                return None
            if not items:
                ipe.cut_short(f"{label}: an empty page at {state['fetched']} of {total} items")
                return None
        elif not items:
            return None
        return int(body.get(start_param, state["fetched"] - len(items))) + len(items)

    return paginate(fetch, nxt, ipe=ipe, what=label)


def next_link_pages(session: requests.Session, url: str,
                    params: Mapping[str, Any] | None = None, *, ipe: Provenance,
                    what: str | None = None,
                    timeout: float = 60.0) -> Iterator[requests.Response]:
    """Pages following the body's `nextLink` or `@odata.nextLink` (Azure, Microsoft Graph)."""
    def nxt(r: requests.Response) -> str | None:
        body = r.json()
        if not isinstance(body, dict):
            return None
        link = body.get("nextLink") or body.get("@odata.nextLink")
        return str(link) if link else None

    return paginate(lambda n: _get(session, n or url, None if n else params, timeout), nxt,
                    ipe=ipe, what=what or url)


def drain(pages: Iterable[P], *, ipe: Provenance, what: str,
          describe: Callable[[BaseException], str] = str,
          on_cut: Callable[[str, BaseException], None] | None = None) -> list[P]:
    """Every element of an iterator the SDK pages itself (botocore's PageIterator, PyGithub's
    PaginatedList, google-api-core pagers, azure's ItemPaged). A failure after the first
    element marks the run cut short and returns what was read (and tells `on_cut` why, so
    the caller can record the unread rest in its content); on the first it raises."""
    out: list[P] = []
    try:
        for p in pages:
            out.append(p)
    except Exception as e:
        if not out:
            raise
        reason = f"{what}: stopped after {len(out)} page(s): {describe(e)}"
        ipe.cut_short(reason)
        if on_cut is not None:
            on_cut(reason, e)
    return out
