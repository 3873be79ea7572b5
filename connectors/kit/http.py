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
from connectors.kit.redact import guard_loggers, redact_text, redact_url
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


def _count_once(resp: requests.Response) -> tuple[int | None, int | None]:
    """`count_items` of a JSON answer, parsed once: the parse is handed to the first
    `resp.json()` (the jira SDK, the paging helpers) instead of being done again. Later calls,
    or calls with arguments, parse afresh, so no caller shares a mutable object with another.
    (PyGithub parses `resp.text` itself; there the count costs one C-level parse.)"""
    try:
        body = json.loads(resp.content or b"null")
    except ValueError:
        return None, None
    plain = resp.json
    handed: list[bool] = []

    def json_once(**kw: Any) -> Any:
        if kw or handed:
            return plain(**kw)
        handed.append(True)
        return body

    resp.json = json_once  # type: ignore[method-assign]
    return count_items(body)


ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error answer read; more is cut
ERROR_TEXT_LIMIT = 300  # characters of the vendor's error message kept in a record


def _read_bounded(r: requests.Response) -> None:
    """Read an answer's body into `r.content`, at most ERROR_BODY_LIMIT bytes (an error page
    can be large), then release the connection."""
    try:
        data = r.raw.read(ERROR_BODY_LIMIT, decode_content=True) if r.raw is not None else b""
    except Exception:  # a body we cannot read is only a lost message
        data = b""
    r._content = data or b""
    r._content_consumed = True  # type: ignore[attr-defined]
    r.close()


def error_text(resp: requests.Response) -> str | None:
    """The vendor's own error message in a failed answer, redacted and at most
    ERROR_TEXT_LIMIT characters: Jira `errorMessages` / `errors`, Okta `errorSummary` and
    `errorCauses`, GitHub `message`, Azure / Google `error.message`, OAuth
    `error_description`; else the body's first line. None when the body is empty."""
    try:
        raw = resp.content or b""
    except Exception:  # the body could not be read
        return None
    return error_message(raw)


def error_message(raw: bytes) -> str | None:
    """`error_text` of a body already read (aiohttp, azure-core)."""
    text = ""
    with contextlib.suppress(ValueError):
        text = _vendor_message(json.loads(raw))
    if not text:
        lines = raw[:ERROR_TEXT_LIMIT * 4].decode("utf-8", "replace").strip().splitlines()
        text = lines[0] if lines else ""
    text = redact_text(" ".join(text.split()))
    if len(text) > ERROR_TEXT_LIMIT:
        text = text[:ERROR_TEXT_LIMIT - 3] + "..."
    return text or None


def _vendor_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    msgs = body.get("errorMessages")
    if isinstance(msgs, list):
        parts += [str(m) for m in msgs if m]
    errs = body.get("errors")
    if isinstance(errs, dict):
        parts += [f"{k}: {v}" for k, v in errs.items()]
    for key in ("errorSummary", "message", "error_description"):
        if isinstance(body.get(key), str) and body[key]:
            parts.append(body[key])
    causes = body.get("errorCauses")
    if isinstance(causes, list):
        parts += [str(c.get("errorSummary")) for c in causes
                  if isinstance(c, dict) and c.get("errorSummary")]
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        parts.append(err["message"])
    elif isinstance(err, str) and not parts:
        parts.append(err)
    return "; ".join(parts)


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
                if not stream:
                    # Read the body before the next attempt: it releases the connection to
                    # the pool, and if this answer is the last one (attempts or budget spent)
                    # the SDK still gets the vendor's error text, not an empty body.
                    _read_bounded(r)
                else:
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
            items, total = _count_once(resp)
        if log.isEnabledFor(logging.DEBUG):  # redacting the URL costs ~0.1 ms a request
            log.debug("%s %s -> %s (retries %d)", request.method,
                      redact_url(str(request.url)), resp.status_code, len(waits))
        error = None
        if not ok:
            detail = None if stream else error_text(resp)
            error = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
        self.recorder.record(op, params, target=self.target, status=resp.status_code, ok=ok,
                             error=error, items=items, retries=len(waits), total=total)
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
    said = error_text(resp) if resp is not None else None
    said = f": {said}" if said else ""
    if status == 403:
        return PermissionDenied(f"{operation}: denied (403){said}",
                                hint=f"grant {permission or 'read access'} to the collecting "
                                     "principal")
    if status is None or status in RETRY_STATUSES:
        what = f"HTTP {status}" if status else type(e).__name__
        return TransientError(f"{operation}: {what} after retries{said}",
                              hint="the platform is throttling or failing; collect again later")
    return UnexpectedResponse(f"{operation}: unexpected HTTP {status}{said}",
                              hint=f"unexpected answer for {permission or operation}")
