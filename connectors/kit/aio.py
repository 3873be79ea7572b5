"""Recording and retry for aiohttp-based SDKs (the okta SDK).

`session()` gives a ClientSession whose middleware records each call (operation, parameters,
status, items, pages folded by cursor, the API's total) and retries it per call with the
run's `Retrier` (429, 5xx, connection resets; Retry-After and rate-limit reset headers
honoured within the budget), each retry counted on the call it repeats. Hand it to the SDK:

    async with session(recorder, retrier, target=org) as s:
        client.get_request_executor().set_session(s)          # okta.client.Client

`trace_config` only observes (for an SDK that runs its own retry loop): an exchange
repeating a URL whose last answer was retryable is recorded as a retry of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

from connectors.base import ApiCall
from connectors.kit.http import count_items, describe, error_message
from connectors.kit.record import CallRecorder
from connectors.kit.redact import guard_loggers
from connectors.kit.retry import RETRY_STATUSES, Again, Retrier, status_again


def transient(e: BaseException) -> bool:
    """Connection resets and timeouts are worth another attempt."""
    return isinstance(e, aiohttp.ClientConnectionError | asyncio.TimeoutError)


def new_retrier(policy: Any, budget: Any = None) -> Retrier[aiohttp.ClientResponse]:
    """A Retrier for aiohttp exchanges (connection resets and timeouts retried too)."""
    return Retrier(policy, budget, transient=transient)


def middleware(recorder: CallRecorder, retrier: Retrier[aiohttp.ClientResponse], *,
               target: str | None = None,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
               ) -> aiohttp.ClientMiddlewareType:
    """A client middleware that records and retries every request it sees."""
    guard_loggers()

    async def mw(req: aiohttp.ClientRequest,
                 handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        op, params = describe(req.method, str(req.url))
        call: ApiCall | None = None

        def note(status: int | None, error: str | None, items: int | None = None,
                 total: int | None = None) -> None:
            nonlocal call
            ok = error is None
            if call is None:
                call = recorder.record(op, params, target=target, status=status, ok=ok,
                                       error=error, items=items, total=total)
            else:
                recorder.retry_of(call, status=status, ok=ok, error=error, items=items,
                                  total=total)

        async def attempt() -> aiohttp.ClientResponse:
            try:
                resp = await handler(req)
                body = await resp.read()  # cached on the response: the SDK reads it again
            except Exception as e:
                note(None, type(e).__name__)
                raise
            recorder.saw_date(resp.headers.get("Date"))  # the source's clock
            items = total = None
            if resp.status < 400 and "json" in resp.headers.get("Content-Type", ""):
                with contextlib.suppress(ValueError):
                    items, total = count_items(json.loads(body or b"null"))
            error = None
            if resp.status >= 400:
                detail = error_message(body)  # the vendor's own words (Okta's errorSummary)
                error = f"HTTP {resp.status}" + (f": {detail}" if detail else "")
            note(resp.status, error, items, total)
            return resp

        def classify(resp: aiohttp.ClientResponse) -> Again | None:
            again = status_again(resp.status, resp.headers, retrier.policy,
                                 now=retrier.clock())
            if again is not None:
                again.result = resp
            return again

        return await retrier.arun(attempt, classify=classify, sleep=sleep)

    return mw


def session(recorder: CallRecorder, retrier: Retrier[aiohttp.ClientResponse], *,
            target: str | None = None,
            sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
            extra: tuple[aiohttp.ClientMiddlewareType, ...] = (),
            **kw: Any) -> aiohttp.ClientSession:
    """A ClientSession that records and retries each call (`extra` middlewares run inside,
    once per attempt: e.g. a connector's own pacing)."""
    return aiohttp.ClientSession(
        middlewares=(middleware(recorder, retrier, target=target, sleep=sleep), *extra), **kw)


def trace_config(recorder: CallRecorder, *, target: str | None = None) -> aiohttp.TraceConfig:
    """A TraceConfig recording each request's operation, parameters, status and retries."""
    guard_loggers()
    failed: dict[str, ApiCall] = {}
    lock = threading.Lock()

    def done(url: str, method: str, status: int | None, error: str | None) -> None:
        op, params = describe(method, url)
        ok = error is None and status is not None and status < 400
        err = error or (None if ok else f"HTTP {status}")
        with lock:
            prior = failed.pop(url, None)
        if prior is not None:
            recorder.retry_of(prior, status=status, ok=ok, error=err)
            call = prior
        else:
            call = recorder.record(op, params, target=target, status=status, ok=ok, error=err)
        if error is not None or status in RETRY_STATUSES:
            with lock:
                failed[url] = call

    async def on_end(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                     p: aiohttp.TraceRequestEndParams) -> None:
        recorder.saw_date(p.response.headers.get("Date"))
        done(str(p.url), p.method, p.response.status, None)

    async def on_exception(_s: aiohttp.ClientSession, _c: SimpleNamespace,
                           p: aiohttp.TraceRequestExceptionParams) -> None:
        done(str(p.url), p.method, None, type(p.exception).__name__)

    tc = aiohttp.TraceConfig()
    tc.on_request_end.append(on_end)
    tc.on_request_exception.append(on_exception)
    return tc
