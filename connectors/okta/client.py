"""Okta calls through the `okta` SDK's request executor, with our own pacing and paging.

Why the executor and not the SDK's typed methods: the typed methods send `SSWS<token>`
without the space Okta documents, keep response headers in a plain dict (only the last of
several `Link` lines survives), raise on answers outside their OpenAPI models, and
`paginate_all` returned `[]` on a 401. The executor still does what the SDK is for here:
building requests, the `SSWS <token>` header, and the OAuth 2.0 private_key_jwt flow (it
signs the client assertion, fetches and caches the access token). We keep the raw JSON
Okta answered (that is the evidence) and read every `Link` line ourselves.

Rate limits: a bucket whose `x-rate-limit-remaining` falls below the number of calls we
may have in flight pauses until its `x-rate-limit-reset`; a 429 waits until that reset.
All waiting in one snapshot shares one budget (`rate_limit_wait_seconds`); when it is spent,
`RateLimitExhausted` is raised and the snapshot records itself as incomplete.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

from connectors.base import ApiCall, Provenance
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.okta.config import OktaConfig
from connectors.secrets import resolve_secret

SCOPES = ("okta.users.read", "okta.groups.read", "okta.roles.read", "okta.policies.read",
          "okta.logs.read")
_HTTP_ENV = "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"
_env_lock = threading.Lock()


class RateLimitExhausted(TransientError):
    """Okta's rate limit outlasted the snapshot's waiting budget."""


class NotFound(ConnectorError):
    """Okta answered 404 for a resource (e.g. a user deleted while we listed)."""


def scope_for(path: str) -> str:
    """The read scope Okta requires for a Management API path."""
    if path.endswith("/roles") or path.startswith("/api/v1/iam/"):
        return "okta.roles.read"
    for prefix, scope in (("/api/v1/users", "okta.users.read"),
                          ("/api/v1/groups", "okta.groups.read"),
                          ("/api/v1/policies", "okta.policies.read"),
                          ("/api/v1/logs", "okta.logs.read")):
        if path.startswith(prefix):
            return scope
    return "okta.users.read"


def operation_scope(operation: str) -> str | None:
    """The scope a recorded operation ("GET /api/v1/...") needs; reading one's own user
    (`/api/v1/users/me`, the API token's principal) needs none beyond a valid token."""
    path = operation.split(" ", 2)[1] if " " in operation else operation
    if path == "/api/v1/users/me":
        return None
    return scope_for(path)


def _bucket(path: str) -> str:
    # Okta meters per endpoint family; per-id paths share one bucket.
    parts = path.split("?")[0].split("/")
    return "/".join("{id}" if i == 4 and len(parts) > 5 else p for i, p in enumerate(parts))


def sdk_config(cfg: OktaConfig, mode: str, scopes: tuple[str, ...] = SCOPES) -> dict[str, Any]:
    """The okta SDK's client config for `mode` ("api_token" or "oauth"); secrets resolved."""
    base: dict[str, Any] = {"orgUrl": cfg.org_url, "rateLimit": {"maxRetries": 0},
                            "cache": {"enabled": False}, "logging": {"enabled": False}}
    if mode == "api_token":
        assert cfg.api_token is not None
        return {**base, "authorizationMode": "SSWS", "token": resolve_secret(cfg.api_token)}
    assert cfg.oauth is not None
    out = {**base, "authorizationMode": "PrivateKey", "clientId": cfg.oauth.client_id,
           "scopes": list(scopes), "privateKey": resolve_secret(cfg.oauth.private_key)}
    if cfg.oauth.key_id:
        out["kid"] = cfg.oauth.key_id
    return out


ClientFactory = Callable[[dict[str, Any]], Any]


def default_client_factory(config: dict[str, Any]) -> Any:
    """An `okta.client.Client`; call inside the event loop that will use it."""
    from okta.client import Client

    return Client(config)


def make_client(cfg: OktaConfig, mode: str, factory: ClientFactory | None,
                scopes: tuple[str, ...] = SCOPES) -> Any:
    """Build the SDK client; with allow_http the SDK's https check is lifted for the build."""
    conf = sdk_config(cfg, mode, scopes)
    build = factory or default_client_factory
    if not cfg.allow_http:
        return build(conf)
    with _env_lock:  # the SDK reads this switch from the environment at construction only
        before = os.environ.get(_HTTP_ENV)
        os.environ[_HTTP_ENV] = "true"
        try:
            return build(conf)
        finally:
            if before is None:
                os.environ.pop(_HTTP_ENV, None)
            else:
                os.environ[_HTTP_ENV] = before


def _okta_error(body: Any) -> str:
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return str(body)[:200]
    if isinstance(body, dict):
        if "errorCode" in body:
            causes = "; ".join(str(c.get("errorSummary")) for c in body.get("errorCauses") or []
                               if isinstance(c, dict))
            return f"{body['errorCode']} {body.get('errorSummary')}" + (
                f" ({causes})" if causes else "")
        if "error" in body:
            return f"{body['error']}: {body.get('error_description')}"
    return str(body)[:200]


def links(headers: Any) -> dict[str, str]:
    """Every `Link` header line's rel -> URL (Okta sends self and next as separate lines)."""
    out: dict[str, str] = {}
    values = headers.getall("Link", []) if hasattr(headers, "getall") else \
        [headers.get("Link")] if headers.get("Link") else []
    for v in values:
        for part in str(v).split(","):
            if ";" not in part:
                continue
            url, _, params = part.partition(";")
            for p in params.split(";"):
                k, _, val = p.strip().partition("=")
                if k == "rel":
                    out[val.strip('"')] = url.strip().strip("<>")
    return out


class OktaHttp:
    """GETs against one org through one SDK client, recorded on the snapshot's provenance."""

    def __init__(self, cfg: OktaConfig, client: Any, ipe: Provenance, *,
                 sleep: Callable[[float], Any] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.client = client
        self.ipe = ipe
        self._sleep = sleep
        self._clock = clock
        self.waited = 0.0
        self.requests = 0
        self._paused: dict[str, float] = {}

    async def _wait(self, seconds: float, why: str) -> None:
        if self.waited + seconds > self.cfg.rate_limit_wait_seconds:
            raise RateLimitExhausted(
                f"{why}: waiting {seconds:.0f}s more would exceed the "
                f"{self.cfg.rate_limit_wait_seconds:g}s rate-limit budget",
                hint="raise rate_limit_wait_seconds or collect when the org is quieter",
                retry_after=seconds)
        self.waited += seconds
        await self._sleep(seconds)

    def _reset_in(self, headers: Any) -> float | None:
        vals = headers.getall("x-rate-limit-reset", []) if hasattr(headers, "getall") else []
        if not vals:
            return None
        try:
            reset = min(float(v) for v in vals)
        except ValueError:
            return None
        return max(0.0, reset - self._clock()) + 0.05

    async def get(self, path_or_url: str, params: dict[str, Any] | None = None, *,
                  call: ApiCall | None = None) -> tuple[Any, Any]:
        """One GET (path or absolute next-link URL): (parsed JSON, response headers);
        retries are counted on `call`, the provenance entry this request belongs to."""
        url = path_or_url
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        path = urllib.parse.urlsplit(url).path if url.startswith("http") else url
        bucket = _bucket(path)
        ex = self.client.get_request_executor()
        attempt = 0
        while True:
            attempt += 1
            pause = self._paused.get(bucket, 0.0) - self._clock()
            if pause > 0:
                await self._wait(pause, f"rate limit of {bucket} spent")
            req, err = await ex.create_request("GET", url, None, {})
            if err is not None:
                raise self._token_error(err)
            resp, body, err = await ex.execute(req)
            self.requests += 1
            if resp is None:
                if attempt < self.cfg.max_attempts:
                    self._retried(call)
                    await self._sleep(min(2.0 ** attempt * 0.1, 5.0))
                    continue
                raise TransientError(f"GET {path}: no answer ({type(err).__name__})",
                                     hint="check network access to the Okta org")
            status = resp.status
            headers = resp.headers
            remaining = headers.get("x-rate-limit-remaining") if 200 <= status < 300 else None
            # Stop early enough that the calls already in flight do not run into 429s.
            if remaining is not None and remaining.strip().isdigit() and \
                    int(remaining) < self.cfg.concurrency:
                reset_in = self._reset_in(headers)
                if reset_in is not None:
                    self._paused[bucket] = max(self._paused.get(bucket, 0.0),
                                               self._clock() + reset_in)
            if 200 <= status < 300:
                try:
                    return (json.loads(body) if body else None), headers
                except ValueError:
                    raise UnexpectedResponse(f"GET {path}: answer is not JSON") from None
            detail = _okta_error(body)
            if status == 429:
                self._retried(call)
                # An explicit Retry-After wins; Okta itself sends x-rate-limit-reset.
                ra = headers.get("Retry-After")
                wait = float(ra) if ra and ra.isdigit() else self._reset_in(headers)
                wait = 1.0 if wait is None else wait
                self._paused[bucket] = max(self._paused.get(bucket, 0.0), self._clock() + wait)
                await self._wait(wait, f"GET {path}: 429 {detail}")
                continue
            if status >= 500 and attempt < self.cfg.max_attempts:
                self._retried(call)
                await self._sleep(min(2.0 ** attempt * 0.1, 5.0))
                continue
            if status == 401:
                raise AuthError(f"GET {path}: 401 {detail}",
                                hint="the API token or service app credentials are invalid "
                                     "or expired")
            if status == 403:
                raise PermissionDenied(f"GET {path}: 403 {detail}",
                                       hint=f"grant {scope_for(path)} (read-only admin role "
                                            "for an API token)")
            if status == 404:
                raise NotFound(f"GET {path}: 404 {detail}")
            if status >= 500:
                raise TransientError(f"GET {path}: {status} {detail} after {attempt} attempts")
            raise UnexpectedResponse(f"GET {path}: {status} {detail}")

    def _retried(self, call: ApiCall | None) -> None:
        self.ipe.retried()
        if call is not None:
            call.retries += 1

    @staticmethod
    def _token_error(err: Any) -> ConnectorError:
        text = " ".join(str(err).split())
        if "invalid_scope" in text:
            return PermissionDenied(f"token request refused: {text[:300]}",
                                    hint="grant the service app the okta.*.read scopes "
                                         "printed by `evidence connectors permissions okta`")
        return AuthError(f"token request refused: {text[:300]}",
                         hint="check the service app's client_id, key and key_id")

    async def pages(self, path: str, params: dict[str, Any] | None = None, *,
                    operation: str, stop_on_empty: bool = False
                    ) -> AsyncIterator[list[Any]]:
        """Each page of a Link-paginated list, following rel="next" with loop detection;
        the call (params, pages, items) is recorded, cut short if it did not finish."""
        call = self.ipe.call(operation, dict(params or {}), pages=0, items=0)
        seen: set[str] = set()
        url: str | None = path
        first = True
        try:
            while url is not None:
                data, headers = await self.get(url, params if first else None, call=call)
                first = False
                page = data if isinstance(data, list) else (data or {}).get("value", [])
                call.pages += 1
                call.items = (call.items or 0) + len(page)
                nxt = links(headers).get("next")
                if nxt is None and isinstance(data, dict):
                    nxt = ((data.get("_links") or {}).get("next") or {}).get("href")
                if page:
                    yield page
                if nxt is None or (stop_on_empty and not page):
                    break
                if nxt in seen:
                    raise UnexpectedResponse(f"{operation}: the next link repeats ({nxt})")
                seen.add(nxt)
                url = nxt
        except ConnectorError as e:
            call.ok, call.error = False, str(e)[:300]
            raise
