"""Clients for one snapshot run: every call recorded on the run's IPE, errors mapped.

Recording uses botocore's own event hooks on each client, so every request is seen, paginated
or not: `before-parameter-build` keeps the parameters, `after-call` records the operation,
its target (account/region), pages, items and retries, `after-call-error` records failures
that never got a response. Continuation pages (a request carrying a pagination token) are
folded into the call that started them.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from collector.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.aws.config import AwsConfig
from connectors.aws.policy import iam_action
from connectors.base import ApiCall, Provenance

_TOKENS = frozenset({"Marker", "NextToken", "ContinuationToken", "nextToken", "StartingToken",
                     "PaginationToken", "KeyMarker"})
_REDACT = frozenset({"ExternalId", "SerialNumber", "TokenCode"})

_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                     "AuthorizationError", "Forbidden", "UnauthorizedAccess",
                     "AllAccessDisabled", "OptInRequired", "SubscriptionRequiredException"})
_AUTH = frozenset({"InvalidClientTokenId", "UnrecognizedClientException",
                   "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                   "InvalidAccessKeyId", "AuthFailure", "InvalidToken",
                   "MissingAuthenticationToken", "MissingAuthenticationTokenException",
                   "IncompleteSignature", "InvalidSignatureException", "TokenRefreshRequired",
                   "RequestExpired"})
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "ThrottledException",
                        "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                        "RequestLimitExceeded", "SlowDown", "BandwidthLimitExceeded",
                        "ProvisionedThroughputExceededException", "PriorRequestNotComplete",
                        "EC2ThrottledException", "LimitExceededException",
                        "ServiceUnavailable", "InternalError", "InternalFailure",
                        "ServiceUnavailableException", "InternalServerError"})


def error_code(e: ClientError) -> str:
    """The AWS error code of a ClientError ("" when the response had none)."""
    return str(e.response.get("Error", {}).get("Code", ""))


def map_error(e: Exception, service: str, operation: str, target: str) -> ConnectorError:
    """Turn a botocore exception into the collector's error for what the caller should do."""
    what = f"{service}.{operation}"
    action = iam_action(service, operation)
    if isinstance(e, ClientError):
        code = error_code(e)
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _DENIED or (status == 403 and code not in _AUTH):
            return PermissionDenied(f"{what} denied in {target} ({code or status})",
                                    hint=f"grant {action} to the collecting principal")
        if code in _AUTH:
            return AuthError(f"{what} refused the credentials in {target} ({code})",
                             hint="check the profile, role or environment credentials")
        if code in _THROTTLED or status == 429 or status >= 500:
            return TransientError(f"{what} throttled or failed in {target} ({code or status})",
                                  hint="AWS asked to slow down or failed; retry later")
        return UnexpectedResponse(f"{what} failed in {target} ({code or status})",
                                  hint=f"unexpected AWS error for {action}")
    if isinstance(e, NoCredentialsError | PartialCredentialsError | ProfileNotFound
                  | CredentialRetrievalError):
        return AuthError(f"{what}: no usable AWS credentials for {target} "
                         f"({type(e).__name__})",
                         hint="set a profile, a role or AWS_* environment credentials")
    if isinstance(e, NoRegionError):
        return UnexpectedResponse(f"{what}: no region for {target}", hint="set regions")
    if isinstance(e, BotoConnectionError | HTTPClientError):
        return TransientError(f"{what}: could not reach AWS for {target} ({type(e).__name__})",
                              hint="check network access to the AWS endpoint")
    return UnexpectedResponse(f"{what} failed in {target} ({type(e).__name__})",
                              hint=f"unexpected error calling {action}")


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in _TOKENS:
            continue
        out[k] = "<redacted>" if k in _REDACT else v
    return json.loads(json.dumps(out, default=_json_default))  # type: ignore[no-any-return]


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def _count_items(parsed: dict[str, Any]) -> int | None:
    lists = [v for k, v in parsed.items() if k != "ResponseMetadata" and isinstance(v, list)]
    return sum(len(v) for v in lists) if lists else None


def _strip_account_prefix(request: Any, **_: Any) -> None:
    # s3control puts the account ID in front of the host; a local server's IP cannot take it.
    parts = urllib.parse.urlsplit(request.url)
    host, _sep, rest = parts.netloc.partition(".")
    if host.isdigit() and len(host) == 12 and rest:
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=rest))


class Recorder:
    """Makes clients for one run and records every call they make on `ipe`."""

    def __init__(self, ipe: Provenance, config: AwsConfig, client_lock: threading.Lock) -> None:
        self.ipe = ipe
        self.config = config
        self._client_lock = client_lock
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str, str], ApiCall] = {}
        self._local = threading.local()
        self.operations: set[tuple[str, str]] = set()
        self._botocfg = BotoConfig(
            retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
            user_agent_extra="evidence-agent", connect_timeout=10, read_timeout=60,
            max_pool_connections=config.workers + 4)

    @contextmanager
    def polling(self) -> Iterator[None]:
        """Record repeats of the same call in this block (waiting for a state, not fetching
        more data) as one call: how many polls it took varies from run to run, and would
        otherwise make the provenance, and so its blob, differ for an unchanged source."""
        self._local.polling = True
        try:
            yield
        finally:
            self._local.polling = False

    def client(self, session: boto3.Session, service: str, region: str, target: str) -> Client:
        """A client for `service` in `region` whose calls are recorded under `target`."""
        endpoint = self.config.endpoint_for(service)
        with self._client_lock:  # boto3 sessions are not thread-safe; clients are
            raw = session.client(service, region_name=region, endpoint_url=endpoint,
                                 config=self._botocfg)
        ev = raw.meta.events
        ev.register("before-parameter-build", self._on_params)
        ev.register("after-call", self._after_call_for(service, target))
        ev.register("after-call-error", self._after_error_for(service, target))
        if service == "s3control" and endpoint is not None:
            ev.register("before-sign.s3-control", _strip_account_prefix)
        return Client(self, raw, service, target)

    def last_call(self) -> ApiCall | None:
        """The call this thread recorded last."""
        return getattr(self._local, "last", None)

    def _on_params(self, params: dict[str, Any], model: Any, context: dict[str, Any],
                   **_: Any) -> None:
        context["evidence_op"] = model.name
        context["evidence_params"] = dict(params)
        context["evidence_continued"] = any(params.get(t) for t in _TOKENS)

    def _after_call_for(self, service: str, target: str) -> Any:
        def after_call(http_response: Any, parsed: dict[str, Any], model: Any,
                       context: dict[str, Any], **_: Any) -> None:
            ok = http_response.status_code < 300
            code = None if ok else str(parsed.get("Error", {}).get("Code") or
                                       http_response.status_code)
            retries = int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)
            self._record(service, target, model.name, context, ok=ok, error=code,
                         items=_count_items(parsed) if ok else None, retries=retries)
        return after_call

    def _after_error_for(self, service: str, target: str) -> Any:
        def after_error(exception: Exception, context: dict[str, Any], **_: Any) -> None:
            op = str(context.get("evidence_op", "unknown"))
            self._record(service, target, op, context, ok=False,
                         error=type(exception).__name__, items=None, retries=0)
        return after_error

    def _record(self, service: str, target: str, op: str, context: dict[str, Any], *,
                ok: bool, error: str | None, items: int | None, retries: int) -> None:
        params = _clean(context.get("evidence_params", {}))
        key = (target, f"{service}.{op}", json.dumps(params, sort_keys=True))
        if retries:
            self.ipe.retried(retries)
        with self._lock:
            self.operations.add((service, op))
            polling = getattr(self._local, "polling", False)
            call = self._open.get(key) if context.get("evidence_continued") or polling \
                else None
            if call is not None and polling and not context.get("evidence_continued"):
                call.ok, call.error = ok, error  # the poll's latest outcome, no extra page
                if items is not None:
                    call.items = items
            elif call is None:
                call = self.ipe.call(f"{service}.{op}", params, target=target, items=items,
                                     ok=ok, error=error)
                self._open[key] = call
            else:
                call.pages += 1
                if items is not None:
                    call.items = (call.items or 0) + items
                if not ok:
                    call.ok, call.error = False, error
        self._local.last = call


class Client:
    """One boto3 client plus where its calls go, with mapped errors."""

    def __init__(self, recorder: Recorder, raw: Any, service: str, target: str) -> None:
        self.recorder = recorder
        self.raw = raw
        self.service = service
        self.target = target

    def call(self, operation: str, *, absent: Collection[str] = (),
             **params: Any) -> dict[str, Any] | None:
        """Call `operation`; None when AWS answers with one of the `absent` codes."""
        try:
            out: dict[str, Any] = getattr(self.raw, xform_name(operation))(**params)
            return out
        except ClientError as e:
            code = error_code(e)
            if code in absent:
                last = self.recorder.last_call()
                if last is not None and last.operation == f"{self.service}.{operation}":
                    last.ok, last.error, last.items = True, f"{code} (absent)", 0
                return None
            raise map_error(e, self.service, operation, self.target) from e
        except BotoCoreError as e:
            raise map_error(e, self.service, operation, self.target) from e

    def need(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call `operation`; its answer is required."""
        out = self.call(operation, **params)
        assert out is not None
        return out

    def pages(self, operation: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a paginated `operation`; marks the IPE cut short if it stops early."""
        out: list[dict[str, Any]] = []
        try:
            for page in self.raw.get_paginator(xform_name(operation)).paginate(**params):
                out.append(page)
        except (ClientError, BotoCoreError) as e:
            err = map_error(e, self.service, operation, self.target)
            if out:
                self.recorder.ipe.cut_short(f"{self.target}: {self.service}.{operation} "
                                            f"stopped after {len(out)} pages: {err.message}")
            raise err from e
        return out
