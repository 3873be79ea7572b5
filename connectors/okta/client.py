"""Okta calls through the `okta` SDK's request executor, recorded and retried by the kit.

Why the executor and not the SDK's typed methods: the typed methods send `SSWS<token>`
without the space Okta documents, keep response headers in a plain dict (only the last of
several `Link` lines survives), raise on answers outside their OpenAPI models, and
`paginate_all` returned `[]` on a 401. The executor still does what the SDK is for here:
building requests, the `SSWS <token>` header, and the OAuth 2.0 private_key_jwt flow (it
signs the client assertion, fetches and caches the access token). We keep the raw JSON
Okta answered (that is the evidence) and read every `Link` line ourselves.

The SDK's session is the kit's (`connectors.kit.aio.session`): every request is recorded
on the snapshot's provenance and retried per call (429, 5xx, resets), waiting out
`Retry-After` or Okta's `x-rate-limit-reset`, all waits of one snapshot within one budget
(`rate_limit_wait_seconds`). Okta-specific, inside it: a bucket whose
`x-rate-limit-remaining` falls below the calls we may have in flight pauses until its reset
(from the same budget), so concurrent calls do not run into 429s. When the budget is spent,
`RateLimitExhausted` is raised and the snapshot records itself as incomplete.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from connectors.base import Provenance
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.kit import CallRecorder, RetryPolicy, aio
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
    if path == "/api/v1/users/me" or path.startswith("/oauth2/"):
        return None  # the token request is how a service app authenticates
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


class Pacer:
    """Okta meters each endpoint bucket: once a bucket's `x-rate-limit-remaining` falls below
    the calls we may have in flight, later calls to it wait for its `x-rate-limit-reset`."""

    def __init__(self, cfg: OktaConfig, retrier: Any,
                 sleep: Callable[[float], Awaitable[Any]], clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.budget = retrier.budget
        self._sleep = sleep
        self._clock = clock
        self._paused: dict[str, float] = {}

    async def middleware(self, req: aiohttp.ClientRequest,
                         handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        bucket = _bucket(req.url.path)
        pause = self._paused.get(bucket, 0.0) - self._clock()
        if pause > 0:
            if not self.budget.take(pause):
                raise RateLimitExhausted(
                    f"rate limit of {bucket} spent: waiting {pause:.0f}s more would exceed "
                    f"the {self.cfg.rate_limit_wait_seconds:g}s rate-limit budget",
                    hint="raise rate_limit_wait_seconds or collect when the org is quieter",
                    retry_after=pause)
            await self._sleep(pause)
        resp = await handler(req)
        remaining = resp.headers.get("x-rate-limit-remaining")
        if resp.status == 429 or (remaining is not None and remaining.strip().isdigit()
                                  and int(remaining) < self.cfg.concurrency):
            resets = resp.headers.getall("x-rate-limit-reset", [])
            try:
                reset = min(float(v) for v in resets) if resets else None
            except ValueError:
                reset = None
            if reset is not None and resp.status != 429:  # a 429's wait is the retrier's
                self._paused[bucket] = max(self._paused.get(bucket, 0.0), reset + 0.05)
        return resp


class OktaHttp:
    """GETs against one org through one SDK client whose session is the kit's."""

    def __init__(self, cfg: OktaConfig, client: Any) -> None:
        self.cfg = cfg
        self.client = client

    async def get(self, path_or_url: str, params: dict[str, Any] | None = None
                  ) -> tuple[Any, Any]:
        """One GET (path or absolute next-link URL): (parsed JSON, response headers)."""
        url = path_or_url
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        path = urllib.parse.urlsplit(url).path if url.startswith("http") else url
        path = path.split("?")[0]
        ex = self.client.get_request_executor()
        req, err = await ex.create_request("GET", url, None, {})
        if err is not None:
            if isinstance(err, RateLimitExhausted):
                raise err
            raise self._token_error(err)
        resp, body, err = await ex.execute(req)
        if resp is None:
            if isinstance(err, ConnectorError):
                raise err  # the pacer's RateLimitExhausted
            raise TransientError(f"GET {path}: no answer ({type(err).__name__})",
                                 hint="check network access to the Okta org")
        status = resp.status
        if 200 <= status < 300:
            try:
                return (json.loads(body) if body else None), resp.headers
            except ValueError:
                raise UnexpectedResponse(f"GET {path}: answer is not JSON") from None
        detail = _okta_error(body)
        if status == 429:
            raise RateLimitExhausted(
                f"GET {path}: 429 {detail}; still limited after the retries the "
                f"{self.cfg.rate_limit_wait_seconds:g}s rate-limit budget allowed",
                hint="raise rate_limit_wait_seconds or collect when the org is quieter")
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
            raise TransientError(f"GET {path}: {status} {detail} after retries")
        raise UnexpectedResponse(f"GET {path}: {status} {detail}")

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
                    stop_on_empty: bool = False) -> AsyncIterator[list[Any]]:
        """Each page of a Link-paginated list, following rel="next" (every `Link` line, not
        the SDK's last one) with loop detection; the kit folds the pages into one call."""
        seen: set[str] = set()
        url: str | None = path
        first = True
        while url is not None:
            data, headers = await self.get(url, params if first else None)
            first = False
            page = data if isinstance(data, list) else (data or {}).get("value", [])
            nxt = links(headers).get("next")
            if page:
                yield page
            if nxt is None or (stop_on_empty and not page):
                break
            if nxt in seen:
                raise UnexpectedResponse(f"GET {path}: the next link repeats ({nxt})")
            seen.add(nxt)
            url = nxt


def retry_policy(cfg: OktaConfig) -> RetryPolicy:
    """Per call: up to `max_attempts`, all waits of one snapshot within the rate-limit budget."""
    return RetryPolicy(max_attempts=cfg.max_attempts, budget_seconds=cfg.rate_limit_wait_seconds)


def recorded_session(cfg: OktaConfig, ipe: Provenance, *,
                     sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                     clock: Callable[[], float] = time.time) -> aiohttp.ClientSession:
    """The kit's recording, retrying aiohttp session for one snapshot, with Okta's pacing."""
    retrier = aio.new_retrier(retry_policy(cfg))
    pacer = Pacer(cfg, retrier, sleep, clock)
    return aio.session(CallRecorder(ipe), retrier, target=None, sleep=sleep,
                       extra=(pacer.middleware,))
