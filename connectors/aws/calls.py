"""Clients for one snapshot run, on the connector kit: every call recorded on the run's IPE
(`connectors.kit.boto`), retried per call within the run's budget, errors mapped to what the
caller should do."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any

import boto3
from botocore import xform_name
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

from connectors.aws.config import AwsConfig
from connectors.aws.policy import iam_action
from connectors.base import ApiCall, Provenance
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.kit import CallRecorder, Retrier, RetryBudget, RetryPolicy, drain
from connectors.kit.boto import THROTTLED, boto_config, instrument

_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                     "AuthorizationError", "Forbidden", "UnauthorizedAccess",
                     "AllAccessDisabled", "OptInRequired", "SubscriptionRequiredException"})
_AUTH = frozenset({"InvalidClientTokenId", "UnrecognizedClientException",
                   "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                   "InvalidAccessKeyId", "AuthFailure", "InvalidToken",
                   "MissingAuthenticationToken", "MissingAuthenticationTokenException",
                   "IncompleteSignature", "InvalidSignatureException", "TokenRefreshRequired",
                   "RequestExpired"})
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
        if code in THROTTLED or status == 429 or status >= 500:
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


def _strip_account_prefix(request: Any, **_: Any) -> None:
    # s3control puts the account ID in front of the host; a local server's IP cannot take it.
    parts = urllib.parse.urlsplit(request.url)
    host, _sep, rest = parts.netloc.partition(".")
    if host.isdigit() and len(host) == 12 and rest:
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=rest))


class Recorder:
    """Makes clients for one run; every call they make is recorded on `ipe` and retried per
    call within the run's retry budget."""

    def __init__(self, ipe: Provenance, config: AwsConfig, client_lock: threading.Lock) -> None:
        self.ipe = ipe
        self.config = config
        self._client_lock = client_lock
        self.calls = CallRecorder(ipe)
        policy = RetryPolicy(max_attempts=config.max_attempts,
                             budget_seconds=config.retry_budget_seconds)
        self.retrier: Retrier[Any] = Retrier(policy, RetryBudget(policy.budget_seconds))
        self._botocfg = boto_config(workers=config.workers, mode=config.retry_mode)

    def polling(self) -> AbstractContextManager[None]:
        """Fold repeats of the same call (waiting for a state) into one call."""
        return self.calls.polling()

    def client(self, session: boto3.Session, service: str, region: str, target: str, *,
               on_cut: Callable[[ConnectorError], None] | None = None) -> Client:
        """A client for `service` in `region` whose calls are recorded under `target`;
        `on_cut` hears of each listing cut short (the pages after the first not read)."""
        endpoint = self.config.endpoint_for(service)
        with self._client_lock:  # boto3 sessions are not thread-safe; clients are
            raw = session.client(service, region_name=region, endpoint_url=endpoint,
                                 config=self._botocfg)
        instrument(raw, self.calls, self.retrier, target=target)
        if service == "s3control" and endpoint is not None:
            raw.meta.events.register("before-sign.s3-control", _strip_account_prefix)
        return Client(self, raw, service, target, on_cut)

    def last_call(self) -> ApiCall | None:
        """The call this thread recorded last."""
        return self.calls.last_call()


class Client:
    """One boto3 client plus where its calls go, with mapped errors."""

    def __init__(self, recorder: Recorder, raw: Any, service: str, target: str,
                 on_cut: Callable[[ConnectorError], None] | None = None) -> None:
        self.recorder = recorder
        self.raw = raw
        self.service = service
        self.target = target
        self.on_cut = on_cut

    def call(self, operation: str, *, absent: Collection[str] = (),
             **params: Any) -> dict[str, Any] | None:
        """Call `operation`; None when AWS answers with one of the `absent` codes."""
        return self.answer(operation, absent=absent, **params)[0]

    def answer(self, operation: str, *, absent: Collection[str] = (),
               **params: Any) -> tuple[dict[str, Any] | None, str | None]:
        """Call `operation`: (its answer, None), or (None, the code) when AWS answers with one
        of the `absent` codes (recorded as a successful call: the thing is absent)."""
        try:
            out: dict[str, Any] = getattr(self.raw, xform_name(operation))(**params)
            return out, None
        except ClientError as e:
            code = error_code(e)
            if code in absent:
                last = self.recorder.last_call()
                if last is not None and last.operation == f"{self.service}.{operation}":
                    last.ok, last.error, last.items = True, f"{code} (absent)", 0
                return None, code
            raise map_error(e, self.service, operation, self.target) from e
        except BotoCoreError as e:
            raise map_error(e, self.service, operation, self.target) from e

    def need(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call `operation`; its answer is required."""
        out = self.call(operation, **params)
        assert out is not None
        return out

    def pages(self, operation: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a paginated `operation`. A page failing after the first marks the
        record cut short (partial), tells `on_cut` (an error naming the call and the pages
        read) and returns the pages read; a failing first page raises."""
        return self.listing(operation, **params)[0]

    def listing(self, operation: str,
                **params: Any) -> tuple[list[dict[str, Any]], str | None]:
        """`pages`, and why the listing was cut short (None: read to the end), for a caller
        whose verdicts need the whole population."""
        what = f"{self.target}: {self.service}.{operation}"
        why: list[str] = []

        def cut(reason: str, e: BaseException) -> None:
            err = map_error(e, self.service, operation, self.target) \
                if isinstance(e, Exception) else UnexpectedResponse(str(e))
            why.append(f"{self.service}.{operation} not read to the end: "
                       f"{reason.removeprefix(what + ': ')}")
            if self.on_cut is not None:
                self.on_cut(type(err)(why[-1], hint=err.hint))

        try:
            out = drain(self.raw.get_paginator(xform_name(operation)).paginate(**params),
                        ipe=self.recorder.ipe, what=what, describe=self._describe(operation),
                        on_cut=cut)
        except (ClientError, BotoCoreError) as e:
            raise map_error(e, self.service, operation, self.target) from e
        return out, (why[0] if why else None)

    def _describe(self, operation: str) -> Any:
        def describe(e: BaseException) -> str:
            if isinstance(e, ClientError | BotoCoreError):
                return map_error(e, self.service, operation, self.target).message
            return f"{type(e).__name__}: {e}"
        return describe
