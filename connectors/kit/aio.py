"""Recording for aiohttp-based SDKs (the okta SDK): an `aiohttp.TraceConfig` that records
every request the session sends. The SDK retries by sending the same URL again after a 429;
an exchange repeating a URL whose last answer was retryable is recorded as a retry of it.

    session = aiohttp.ClientSession(trace_configs=[trace_config(recorder, target=org)])
    client.set_custom_http_session(session)   # okta.client.Client
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import aiohttp

from connectors.base import ApiCall
from connectors.kit.http import describe
from connectors.kit.record import CallRecorder
from connectors.kit.redact import guard_loggers
from connectors.kit.retry import RETRY_STATUSES


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

