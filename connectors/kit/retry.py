"""Retry per call, not per snapshot: 429, 5xx and connection resets are retried with backoff
(tenacity) that honours `Retry-After` and the vendors' reset headers (`x-ratelimit-reset`
from GitHub, `x-rate-limit-reset` from Okta), within a time budget shared by one run.

A transport wraps each exchange in `Retrier.run` (`Retrier.arun` for coroutines);
`on_retry` is where it records the retry.
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Generic, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

R = TypeVar("R")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How one connector retries a call; `budget_seconds` bounds the waiting of a whole run."""

    max_attempts: int = 5
    budget_seconds: float = 120.0
    base_seconds: float = 0.5
    max_wait_seconds: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES


class RetryBudget:
    """Seconds of retry waiting one run may still spend; shared by its threads."""

    def __init__(self, seconds: float) -> None:
        self._left = seconds
        self._lock = threading.Lock()

    def take(self, seconds: float) -> bool:
        """Spend `seconds` if they are left; False (nothing spent) otherwise."""
        with self._lock:
            if seconds > self._left:
                return False
            self._left -= seconds
            return True

    @property
    def left(self) -> float:
        with self._lock:
            return self._left


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` (seconds or an HTTP date), else a
    rate-limit reset time in epoch seconds (`x-ratelimit-reset`, `x-rate-limit-reset`)."""
    h = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    ra = h.get("retry-after")
    if ra:
        try:
            return max(0.0, float(ra))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(ra)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, when.timestamp() - now)
    for name in ("x-ratelimit-reset", "x-rate-limit-reset"):
        if h.get(name):
            try:
                return max(0.0, float(h[name]) - now)
            except ValueError:
                continue
    return None


class Again(Exception):
    """An attempt's answer that asks for another attempt (kept to return if none is left)."""

    def __init__(self, result: object, reason: str, wait: float | None) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason
        self.wait = wait


class Retrier(Generic[R]):
    """Runs one call with tenacity: retries what `classify` or `transient` flags."""

    def __init__(self, policy: RetryPolicy, budget: RetryBudget | None = None, *,
                 transient: Callable[[BaseException], bool] = lambda e: False,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.budget = budget or RetryBudget(policy.budget_seconds)
        self.transient = transient
        self.sleep = sleep
        self.clock = clock  # epoch seconds, for reset headers (tests: the simulator's clock)
        self.backoff = wait_exponential_jitter(multiplier=policy.base_seconds,
                                                max=policy.max_wait_seconds)

    def run(self, attempt: Callable[[], R], *, classify: Callable[[R], Again | None],
            on_retry: Callable[[str, float], None] = lambda reason, wait: None) -> R:
        """`attempt()` until it succeeds, is not retryable, or attempts or budget run out;
        then its last answer (or error). `on_retry(reason, wait)` runs before each wait."""
        def once() -> R:
            out = attempt()
            again = classify(out)
            if again is not None:
                raise again
            return out

        return Retrying(sleep=self.sleep, **self._plan(on_retry))(once)

    async def arun(self, attempt: Callable[[], Awaitable[R]], *,
                   classify: Callable[[R], Again | None],
                   on_retry: Callable[[str, float], None] = lambda reason, wait: None,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> R:
        """`run` for coroutines (aiohttp-based SDKs): the same policy, budget and records."""
        async def once() -> R:
            out = await attempt()
            again = classify(out)
            if again is not None:
                raise again
            return out

        return await AsyncRetrying(sleep=sleep, **self._plan(on_retry))(once)

    def _plan(self, on_retry: Callable[[str, float], None]) -> dict[str, Any]:
        """tenacity's stop / wait / retry / callbacks for one call."""
        planned: dict[int, float] = {}

        def wait_for(rs: RetryCallState) -> float:
            if rs.attempt_number not in planned:
                exc = rs.outcome.exception() if rs.outcome else None
                asked = exc.wait if isinstance(exc, Again) else None
                # The server's own wait wins; the run's budget bounds it (see out_of_budget).
                planned[rs.attempt_number] = asked if asked is not None else self.backoff(rs)
            return planned[rs.attempt_number]

        budget = self.budget

        class OutOfBudget(stop_base):
            def __call__(self, rs: RetryCallState) -> bool:
                return not budget.take(wait_for(rs))

        def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome else None
            reason = exc.reason if isinstance(exc, Again) else type(exc).__name__
            on_retry(reason, planned.get(rs.attempt_number, 0.0))

        def give_up(rs: RetryCallState) -> Any:
            exc = rs.outcome.exception() if rs.outcome else None
            if isinstance(exc, Again):
                return exc.result
            assert exc is not None
            raise exc

        return {"stop": stop_after_attempt(self.policy.max_attempts) | OutOfBudget(),
                "wait": wait_for, "before_sleep": before_sleep,
                "retry": retry_if_exception(lambda e: isinstance(e, Again) or self.transient(e)),
                "retry_error_callback": give_up}


def status_again(status: int, headers: Mapping[str, str], policy: RetryPolicy,
                 *, now: float | None = None) -> Again | None:
    """The retry an HTTP answer asks for, or None: a retryable status, or a 403 whose rate
    limit is spent (GitHub answers a primary rate limit with 403 and remaining 0)."""
    h = {k.lower(): v for k, v in headers.items()}
    spent = h.get("x-ratelimit-remaining") == "0" or h.get("x-rate-limit-remaining") == "0"
    if status in policy.statuses or (status == 403 and spent):
        return Again(None, f"HTTP {status}", retry_after(headers, now=now))
    return None



def backoff_or_wait(retrier: Retrier[object], attempts: int, asked: float | None) -> float | None:
    """For SDKs that run their own retry loop and ask us for the delay (botocore's
    `needs-retry`): the wait before attempt `attempts + 1`, or None when attempts or the
    run's budget are spent. The server's own wait wins over the exponential backoff."""
    if attempts >= retrier.policy.max_attempts:
        return None
    if asked is None:
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = attempts
        asked = retrier.backoff(state)
    return asked if retrier.budget.take(asked) else None
