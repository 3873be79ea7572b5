"""Recording for `requests`-based SDKs (PyGithub, jira, google-auth's AuthorizedSession):
a transport adapter mounted on the SDK's session records every exchange, retries it per call
(429, 5xx, connection resets; Retry-After honoured) and counts list items and API totals.

    session = record_session(requests.Session(), recorder, retrier, target="acme")
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.kit.record import CallRecorder
from connectors.kit.redact import guard_loggers, redact_url
from connectors.kit.retry import RETRY_STATUSES, Again, Retrier, status_again

log = logging.getLogger("evidence.kit.http")
TOTAL_FIELDS = ("total", "total_count", "totalSize", "totalCount", "@odata.count")
# A platform's own reading of an answer (e.g. GitHub's secondary rate limit, a 403 whose
# body says so): the retry it asks for, or None. `now` is the retrier's clock.
Classify = Callable[[requests.Response, float], Again | None]


def count_items(body: Any) -> tuple[int | None, int | None]:
    """(items in a list answer, the API's own total) for common JSON list shapes: a bare
    list, or an object with one list field (`values`, `issues`, `value`, `items`...)."""
    if isinstance(body, list):
        return len(body), None
    if not isinstance(body, dict):
        return None, None
    lists = [v for v in body.values() if isinstance(v, list)]
    total = next((body[f] for f in TOTAL_FIELDS if isinstance(body.get(f), int)), None)
    return (len(lists[0]) if len(lists) == 1 else None), total


def describe(method: str, url: str) -> tuple[str, dict[str, Any]]:
    """(operation, query parameters) of a request: `GET /repos/o/r/pulls`, {state: all}."""
    parts = urllib.parse.urlsplit(url)
    params: dict[str, Any] = {}
    for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        params[k] = v if k not in params else [*_as_list(params[k]), v]
    return f"{method.upper()} {parts.path or '/'}", params


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def transient(e: BaseException) -> bool:
    """Connection resets and timeouts are worth another attempt."""
    return isinstance(e, requests.ConnectionError | requests.Timeout)


class RecordingAdapter(HTTPAdapter):
    """An HTTPAdapter that records, retries and counts each exchange."""

    def __init__(self, recorder: CallRecorder, retrier: Retrier[requests.Response], *,
                 target: str | None = None, classify: Classify | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.recorder = recorder
        self.retrier = retrier
        self.target = target
        self.classify = classify

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        op, params = describe(str(request.method), str(request.url))
        waits: list[str] = []

        def attempt() -> requests.Response:
            return super(RecordingAdapter, self).send(request, stream=stream, timeout=timeout,
                                                      verify=verify, cert=cert, proxies=proxies)

        def classify(r: requests.Response) -> Again | None:
            now = self.retrier.clock()
            again = (self.classify(r, now) if self.classify is not None
                     else status_again(r.status_code, r.headers, self.retrier.policy, now=now))
            if again is not None:
                again.result = r
                r.close()
            return again

        try:
            resp = self.retrier.run(attempt, classify=classify,
                                    on_retry=lambda reason, wait: waits.append(reason))
        except Exception as e:
            self.recorder.record(op, params, target=self.target, ok=False,
                                 error=type(e).__name__, retries=len(waits))
            raise
        self.recorder.saw_date(resp.headers.get("Date"))
        items = total = None
        ok = resp.status_code < 400
        if ok and not stream and "json" in resp.headers.get("Content-Type", ""):
            with contextlib.suppress(ValueError):
                items, total = count_items(json.loads(resp.content or b"null"))
        log.debug("%s %s -> %s (retries %d)", request.method, redact_url(str(request.url)),
                  resp.status_code, len(waits))
        self.recorder.record(op, params, target=self.target, status=resp.status_code, ok=ok,
                             error=None if ok else f"HTTP {resp.status_code}", items=items,
                             retries=len(waits), total=total)
        return resp


def record_session(session: requests.Session, recorder: CallRecorder,
                   retrier: Retrier[requests.Response], *, target: str | None = None,
                   classify: Classify | None = None, **kw: Any) -> requests.Session:
    """Mount a recording adapter on `session` (any requests.Session, including an SDK's own
    or google-auth's AuthorizedSession) for http and https; returns the session. `classify`
    replaces the generic retry rule (`status_again`) with the platform's own; `kw` goes to
    the adapter (pool sizes)."""
    guard_loggers()
    adapter = RecordingAdapter(recorder, retrier, target=target, classify=classify, **kw)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def new_retrier(policy: Any, budget: Any = None, **kw: Any) -> Retrier[requests.Response]:
    """A Retrier for requests exchanges (connection resets and timeouts retried too)."""
    return Retrier(policy, budget, transient=transient, **kw)


def http_error(e: requests.RequestException, *, operation: str,
               permission: str | None) -> ConnectorError:
    """The connector error for a failed exchange, by what the caller should do: 401 ->
    AuthError, 403 -> PermissionDenied naming `permission`, 429/5xx/resets -> TransientError."""
    resp = e.response if isinstance(e, requests.HTTPError) else None
    status = resp.status_code if resp is not None else None
    if status == 401:
        return AuthError(f"{operation}: the credentials were refused (401)",
                         hint="check the token or key the config refers to")
    if status == 403:
        return PermissionDenied(f"{operation}: denied (403)",
                                hint=f"grant {permission or 'read access'} to the collecting "
                                     "principal")
    if status is None or status in RETRY_STATUSES:
        what = f"HTTP {status}" if status else type(e).__name__
        return TransientError(f"{operation}: {what} after retries",
                              hint="the platform is throttling or failing; collect again later")
    return UnexpectedResponse(f"{operation}: unexpected HTTP {status}",
                              hint=f"unexpected answer for {permission or operation}")
