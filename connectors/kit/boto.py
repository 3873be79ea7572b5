"""Recording for botocore clients (boto3), through botocore's own event hooks, so every
request is seen, paginated or not: `before-parameter-build` keeps the parameters,
`after-call` records operation, target, status, pages, items and retries, `after-call-error`
records failures that never got a response. Retries stay in botocore's loop (each attempt is
observed) but the kit decides them: `needs-retry` asks the run's Retrier for the delay, which
honours Retry-After and the run's time budget.

    raw = session.client("iam", config=boto_config(workers=16))
    instrument(raw, recorder, retrier, target="123456789012/us-east-1")
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from connectors.kit.record import CallRecorder
from connectors.kit.redact import guard_loggers
from connectors.kit.retry import Retrier, backoff_or_wait, retry_after

# AWS error codes that mean "slow down" or "try again", whatever the HTTP status.
THROTTLED = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "BandwidthLimitExceeded", "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete", "EC2ThrottledException", "ServiceUnavailable", "InternalError",
    "InternalFailure", "ServiceUnavailableException", "InternalServerError",
    "RequestTimeout", "RequestTimeoutException"})


def boto_config(*, workers: int, mode: str = "standard") -> BotoConfig:
    """A botocore Config whose own retry gives up after one attempt: the kit decides retries
    (`needs-retry`), and `mode` keeps the adaptive client-side rate limiter when asked."""
    return BotoConfig(retries={"mode": mode, "total_max_attempts": 1},
                      user_agent_extra="evidence-agent", connect_timeout=10, read_timeout=60,
                      max_pool_connections=workers + 4)


def _count_items(parsed: dict[str, Any]) -> int | None:
    lists = [v for k, v in parsed.items() if k != "ResponseMetadata" and isinstance(v, list)]
    return sum(len(v) for v in lists) if lists else None


def instrument(client: Any, recorder: CallRecorder, retrier: Retrier[Any], *,
               target: str) -> Any:
    """Record and retry every call `client` (a botocore client) makes, under `target`."""
    guard_loggers()
    service = client.meta.service_model.service_name
    ev = client.meta.events

    def on_params(params: dict[str, Any], model: Any, context: dict[str, Any],
                  **_: Any) -> None:
        context["evidence_op"] = model.name
        context["evidence_params"] = dict(params)

    def needs_retry(response: Any, attempts: int, caught_exception: Exception | None,
                    request_dict: dict[str, Any], **_: Any) -> float | None:
        if caught_exception is not None:
            if not isinstance(caught_exception, BotoConnectionError | HTTPClientError):
                return None
            asked = None
        else:
            http, parsed = response
            code = str(parsed.get("Error", {}).get("Code", ""))
            if http.status_code not in retrier.policy.statuses and code not in THROTTLED:
                return None
            asked = retry_after(dict(http.headers))
        wait = backoff_or_wait(retrier, attempts, asked)
        if wait is not None:
            ctx = request_dict.get("context", {})
            ctx["evidence_retries"] = ctx.get("evidence_retries", 0) + 1
        return wait

    def after_call(http_response: Any, parsed: dict[str, Any], model: Any,
                   context: dict[str, Any], **_: Any) -> None:
        recorder.saw_date(http_response.headers.get("Date"))
        ok = http_response.status_code < 300
        code = None if ok else str(parsed.get("Error", {}).get("Code") or
                                   http_response.status_code)
        retries = int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)
        recorder.record(f"{service}.{model.name}", context.get("evidence_params", {}),
                        target=target, status=http_response.status_code, ok=ok, error=code,
                        items=_count_items(parsed) if ok else None, retries=retries)

    def after_error(exception: Exception, context: dict[str, Any], **_: Any) -> None:
        op = str(context.get("evidence_op", "unknown"))
        recorder.record(f"{service}.{op}", context.get("evidence_params", {}), target=target,
                        ok=False, error=type(exception).__name__,
                        retries=int(context.get("evidence_retries", 0)))

    event_name = client.meta.service_model.service_id.hyphenize()
    ev.register("before-parameter-build", on_params)
    ev.register_first(f"needs-retry.{event_name}", needs_retry)
    ev.register("after-call", after_call)
    ev.register("after-call-error", after_error)
    return client
