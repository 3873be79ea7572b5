"""Every Google API call one snapshot makes: rate-bounded, retried, recorded, errors mapped.

The SDK clients (google-cloud-resource-manager, -kms, -org-policy and -storage over REST, and
google-auth's AuthorizedSession for IAM keys and Cloud Logging) are called with their own
retries switched off: this module retries each page itself, so that a 429's Retry-After is
honoured, every API behaves alike (Google's search methods do not retry a 503 at all), and
each retry is counted in the record's provenance. Pages are fetched one at a time by
`pageToken`, so a list that fails on page N is recorded as cut short, never as complete.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from connectors.base import ApiCall, Provenance
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.gcp.config import GcpConfig

T = TypeVar("T")

HOSTS = {"cloudresourcemanager": "https://cloudresourcemanager.googleapis.com",
         "iam": "https://iam.googleapis.com", "logging": "https://logging.googleapis.com",
         "cloudkms": "https://cloudkms.googleapis.com",
         "storage": "https://storage.googleapis.com",
         "orgpolicy": "https://orgpolicy.googleapis.com"}

# The IAM permission each recorded operation needs (the hint of a PermissionDenied).
PERMISSION = {
    "cloudresourcemanager.organizations.get": "resourcemanager.organizations.get",
    "cloudresourcemanager.organizations.getIamPolicy":
        "resourcemanager.organizations.getIamPolicy",
    "cloudresourcemanager.folders.list": "resourcemanager.folders.list",
    "cloudresourcemanager.folders.get": "resourcemanager.folders.get",
    "cloudresourcemanager.folders.getIamPolicy": "resourcemanager.folders.getIamPolicy",
    "cloudresourcemanager.projects.list": "resourcemanager.projects.list",
    "cloudresourcemanager.projects.get": "resourcemanager.projects.get",
    "cloudresourcemanager.projects.getIamPolicy": "resourcemanager.projects.getIamPolicy",
    "iam.projects.serviceAccounts.list": "iam.serviceAccounts.list",
    "iam.projects.serviceAccounts.keys.list": "iam.serviceAccountKeys.list",
    "logging.sinks.list": "logging.sinks.list",
    "logging.buckets.list": "logging.buckets.list",
    "cloudkms.locations.list": "cloudkms.locations.list",
    "cloudkms.keyRings.list": "cloudkms.keyRings.list",
    "cloudkms.cryptoKeys.list": "cloudkms.cryptoKeys.list",
    "storage.buckets.list": "storage.buckets.list",
    "storage.buckets.getIamPolicy": "storage.buckets.getIamPolicy",
    "orgpolicy.policies.getEffectivePolicy": "orgpolicy.policies.get",
}

_RETRYABLE = (gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError,
              gexc.GatewayTimeout, gexc.BadGateway)
_RETRY_ON = (*_RETRYABLE, auth_exc.TransportError, requests.ConnectionError, requests.Timeout)


class CutShort(ConnectorError):
    """A list failed after some pages; `items` holds what those pages returned."""

    def __init__(self, cause: ConnectorError, items: list[Any], pages: int) -> None:
        super().__init__(f"{cause.message} (after {pages} pages)", hint=cause.hint)
        self.cause = cause
        self.items = items
        self.pages = pages


def map_error(e: BaseException, operation: str, target: str) -> ConnectorError:
    """Turn an SDK or transport exception into the collector's error for what to do next."""
    perm = PERMISSION.get(operation, operation)
    if isinstance(e, ConnectorError):
        return e
    if isinstance(e, gexc.TooManyRequests | gexc.ServiceUnavailable | gexc.InternalServerError
                  | gexc.GatewayTimeout | gexc.BadGateway):
        return TransientError(f"{operation} on {target}: HTTP {e.code} {_reason(e)}",
                              hint="Google asked to slow down or failed; retried, collect "
                                   "again later", retry_after=retry_after(e))
    if isinstance(e, gexc.Unauthenticated | gexc.Unauthorized):
        return AuthError(f"{operation} on {target}: credentials refused (HTTP 401)",
                         hint="check the service-account key, federation config or ADC")
    if isinstance(e, gexc.PermissionDenied | gexc.Forbidden):
        return PermissionDenied(f"{operation} on {target}: permission denied (HTTP 403)",
                                hint=f"grant {perm} on {target} to the collecting principal")
    if isinstance(e, gexc.NotFound):
        return UnexpectedResponse(f"{operation} on {target}: not found (HTTP 404)",
                                  hint="the resource vanished or the name is wrong")
    if isinstance(e, gexc.GoogleAPICallError):
        return UnexpectedResponse(f"{operation} on {target}: HTTP {e.code} {_reason(e)}",
                                  hint=f"unexpected Google API error for {perm}")
    if isinstance(e, auth_exc.RefreshError | auth_exc.OAuthError):
        return AuthError(f"{operation} on {target}: could not obtain an access token "
                         f"({type(e).__name__})",
                         hint="check the credentials: key revoked, federation refused, or "
                              "ADC not set up")
    if isinstance(e, auth_exc.TransportError | requests.ConnectionError | requests.Timeout):
        return TransientError(f"{operation} on {target}: could not reach Google "
                              f"({type(e).__name__})", hint="check network access to the API")
    if isinstance(e, auth_exc.DefaultCredentialsError):
        return AuthError(f"{operation}: no application default credentials",
                         hint="set GOOGLE_APPLICATION_CREDENTIALS or use another kind")
    return UnexpectedResponse(f"{operation} on {target}: {type(e).__name__}",
                              hint=f"unexpected error calling {perm}")


def _reason(e: gexc.GoogleAPICallError) -> str:
    # The status word only: messages may echo request details we do not want in records.
    resp = getattr(e, "response", None)
    try:
        status = resp.json()["error"].get("status", "") if resp is not None else ""
    except (ValueError, KeyError, AttributeError, TypeError):
        status = ""
    return str(status or type(e).__name__)


def retry_after(e: BaseException) -> float | None:
    """Seconds from a response's Retry-After header (delta-seconds form), if any."""
    resp = getattr(e, "response", None)
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    try:
        v = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(v, 0.0)


class RateLimiter:
    """A token bucket: at most `rate` requests per second (bursts of one second's worth)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = max(rate, 1.0)
        self._last = clock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(max(self.rate, 1.0),
                                   self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = max((1 - self._tokens) / self.rate, 0.001)  # float dust must not spin
            self._sleep(wait)


class Api:
    """The clients one connector uses, and the recorded, retried way to call them."""

    def __init__(self, config: GcpConfig, credentials: Credentials, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.credentials = credentials
        self._sleep = sleep
        self._local = threading.local()
        # The limiter really waits (an injected `sleep` only stands in for retry back-off).
        self._limiters = {s: RateLimiter(config.rate_for(s)) for s in HOSTS}

    # --- clients -----------------------------------------------------------------------------

    def _options(self, service: str) -> ClientOptions | None:
        url = self.config.endpoint_for(service)
        return ClientOptions(api_endpoint=url) if url else None

    def gapic(self, service: str, cls: type[T]) -> T:
        """A GAPIC client of `cls` over REST for this thread (clients are not shared)."""
        cache: dict[type[Any], Any] = self._local.__dict__.setdefault("gapic", {})
        if cls not in cache:
            cache[cls] = cls(credentials=self.credentials, transport="rest",  # type: ignore[call-arg]
                             client_options=self._options(service))
        return cache[cls]  # type: ignore[no-any-return]

    def storage(self) -> Any:
        """A google-cloud-storage client for this thread."""
        if not hasattr(self._local, "storage"):
            # Otherwise the client fetches bucket metadata in a background thread for its
            # telemetry: requests our records would not show.
            os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
            from google.cloud import storage  # type: ignore[attr-defined]

            url = self.config.endpoint_for("storage")
            opts = {"api_endpoint": url} if url else None
            self._local.storage = storage.Client(project="_", credentials=self.credentials,
                                                 client_options=opts)
        return self._local.storage

    def session(self) -> AuthorizedSession:
        """An authorized requests session for this thread (REST calls with no GAPIC client)."""
        if not hasattr(self._local, "session"):
            self._local.session = AuthorizedSession(self.credentials)  # type: ignore[no-untyped-call]
        return self._local.session  # type: ignore[no-any-return]

    def url(self, service: str, path: str) -> str:
        return f"{self.config.endpoint_for(service) or HOSTS[service]}{path}"

    def close(self) -> None:
        """Nothing pooled across threads; thread-local clients close with their threads."""

    # --- calling -----------------------------------------------------------------------------

    def _attempt(self, service: str, operation: str, target: str, fn: Callable[[], T],
                 ipe: Provenance, rec: ApiCall | None = None) -> T:
        deadline = time.monotonic() + self.config.retry_budget_seconds
        delay = 0.5
        attempt = 0
        while True:
            attempt += 1
            self._limiters[service].acquire()
            try:
                return fn()
            except _RETRY_ON as e:
                wait = retry_after(e)
                wait = delay if wait is None else max(wait, 0.0)
                if attempt >= self.config.max_attempts or \
                        time.monotonic() + wait > deadline:
                    raise map_error(e, operation, target) from e
                ipe.retried()
                if rec is not None:
                    rec.retries += 1
                self._sleep(wait)
                delay = min(delay * 2, 30.0)
            except Exception as e:
                raise map_error(e, operation, target) from e

    def call(self, ipe: Provenance, service: str, operation: str, target: str,
             params: dict[str, Any], fn: Callable[[], T], *, items: int | None = None) -> T:
        """One unpaged call, recorded (ok or failed) on `ipe`."""
        rec = ipe.call(operation, params, target=target, items=items)
        try:
            return self._attempt(service, operation, target, fn, ipe, rec)
        except ConnectorError as e:
            rec.ok, rec.error = False, type(e).__name__
            raise

    def paged(self, ipe: Provenance, service: str, operation: str, target: str,
              params: dict[str, Any],
              fetch: Callable[[str], tuple[list[T], str]]) -> list[T]:
        """Every page of a list (`fetch(token)` -> items, next token), recorded as one call.
        A failure after the first page marks the provenance cut short and raises `CutShort`
        carrying the items read, so a caller can keep them (flagged) or drop them."""
        out: list[T] = []
        token = ""
        pages = 0
        seen: set[str] = set()
        rec = ipe.call(operation, params, target=target, pages=0, items=0)
        while True:
            try:
                chunk, token = self._attempt(service, operation, target,
                                             lambda t=token: fetch(t), ipe,  # type: ignore[misc]
                                             rec)
            except ConnectorError as e:
                rec.ok, rec.error = False, type(e).__name__
                if pages:
                    ipe.cut_short(f"{target}: {operation} stopped after {pages} pages: "
                                  f"{e.message}")
                    raise CutShort(e, out, pages) from e
                raise
            pages += 1
            out.extend(chunk)
            rec.pages, rec.items = pages, len(out)
            if not token:
                return out
            if token in seen:  # a server repeating a token would loop forever
                rec.ok, rec.error = False, "PageTokenLoop"
                ipe.cut_short(f"{target}: {operation} repeated a page token after {pages} "
                              "pages")
                raise UnexpectedResponse(f"{operation} on {target}: the page token repeated",
                                         hint="the API returned the same nextPageToken twice")
            seen.add(token)

    def rest_list(self, ipe: Provenance, service: str, operation: str, target: str,
                  path: str, key: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a documented REST list method (`key` holds each page's items)."""
        base = dict(params or {})

        def fetch(token: str) -> tuple[list[Any], str]:
            q = dict(base)
            if token:
                q["pageToken"] = token
            data = self._get(service, path, q)
            items = data.get(key, [])
            if not isinstance(items, list):
                raise UnexpectedResponse(f"{operation} on {target}: {key} is not a list")
            return items, str(data.get("nextPageToken") or "")

        return self.paged(ipe, service, operation, target, base, fetch)

    def _get(self, service: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        resp = self.session().get(self.url(service, path), params=params,
                                  timeout=self.config.timeout_seconds)
        if resp.status_code >= 400:
            raise gexc.from_http_response(resp)  # type: ignore[no-untyped-call]
        try:
            data = resp.json()
        except ValueError:
            raise UnexpectedResponse(f"{path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise UnexpectedResponse(f"{path}: the answer is not a JSON object")
        return data

    def rest_get(self, ipe: Provenance, service: str, operation: str, target: str,
                 path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One documented REST GET, recorded."""
        q = dict(params or {})
        return self.call(ipe, service, operation, target, q, lambda: self._get(service, path, q))
