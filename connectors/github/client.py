"""PyGithub client factory and the one seam every GitHub call goes through.

`default_factory(cfg)` builds a PyGithub `Github` for a fine-grained token or a GitHub App
installation (JWT RS256 -> installation token, refreshed by PyGithub), against github.com
or an Enterprise Server `/api/v3` base URL. PyGithub's own retry is off (`retry=None`):
`Api` retries 5xx a few times and honours GitHub's rate-limit answers itself, waiting only
within the snapshot's budget, so a long reset ends the collection as incomplete instead of
sleeping for an hour or failing silently.

Rate limits, as GitHub documents them: a primary limit answers 403 or 429 with
`x-ratelimit-remaining: 0` (wait until `x-ratelimit-reset`); a secondary limit answers 403
or 429, with `retry-after` (wait that long) or without (wait at least a minute).
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import ApiCall, Provenance
from connectors.errors import AuthError, PermissionDenied, TransientError, UnexpectedResponse
from connectors.github.config import GitHubConfig
from connectors.github.permissions import hint_for
from connectors.secrets import resolve_secret

Json = Any
ClientFactory = Callable[[GitHubConfig], Any]
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
_NUMBERS = re.compile(r"/(\d+|[0-9a-f]{40})(?=/|$)")


def default_factory(cfg: GitHubConfig) -> Any:
    """A PyGithub client for `cfg` (token or App installation); secrets read only here."""
    from github import Auth, Github

    auth: Any
    if cfg.token is not None:
        auth = Auth.Token(resolve_secret(cfg.token))
    else:
        assert cfg.app is not None
        key = resolve_secret(cfg.app.private_key)
        auth = Auth.AppAuth(cfg.app.app_id, key).get_installation_auth(cfg.app.installation_id)
    return Github(base_url=cfg.base_url, auth=auth, per_page=cfg.per_page,
                  timeout=int(cfg.timeout_seconds), retry=None,
                  seconds_between_requests=cfg.seconds_between_requests,
                  seconds_between_writes=cfg.seconds_between_requests,
                  pool_size=max(cfg.concurrency, 1))


class RateLimited(TransientError):
    """GitHub's rate limit outlasts the wait budget: stop and record the snapshot as partial."""


@dataclass
class WaitBudget:
    """Seconds a snapshot may still spend waiting out rate limits (shared by its threads)."""

    seconds: float

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.waited = 0.0

    def take(self, wanted: float) -> bool:
        with self._lock:
            if self.waited + wanted > self.seconds:
                return False
            self.waited += wanted
            return True


def template(path: str) -> str:
    """A path with numbers and SHAs folded, so per-item calls aggregate in the provenance."""
    return _NUMBERS.sub(lambda m: "/{sha}" if len(m.group(1)) == 40 else "/{n}", path)


class Api:
    """GET through PyGithub's requester with retries, rate-limit waits and provenance."""

    def __init__(self, client: Callable[[], Any], cfg: GitHubConfig, ipe: Provenance, *,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 budget: WaitBudget | None = None) -> None:
        self.client = client  # the calling thread's PyGithub client
        self.cfg = cfg
        self.ipe = ipe
        self.sleep = sleep
        self.clock = clock
        self.budget = budget or WaitBudget(cfg.rate_limit_wait_seconds)
        self._agg: dict[tuple[str, str | None], ApiCall] = {}
        self._lock = threading.Lock()
        self.requests = 0
        self.last_rate: dict[str, str] = {}

    # --- one request ---------------------------------------------------------------------------

    def _request(self, path: str, params: Mapping[str, Any] | None,
                 retries: list[int]) -> tuple[dict[str, Any], Any]:
        from github.GithubException import GithubException

        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self.requests += 1
            try:
                headers, data = self.client().requester.requestJsonAndCheck(
                    "GET", path, parameters=dict(params or {}))
                self._note_rate(headers)
                return headers, data
            except GithubException as e:
                status = int(e.status or 0)
                headers = {k.lower(): str(v) for k, v in (e.headers or {}).items()}
                self._note_rate(headers)
                message = _message(e.data)
                wait = self._rate_wait(status, headers, message)
                if wait is not None:
                    if not self.budget.take(wait):
                        raise RateLimited(
                            f"GitHub rate limit on {template(path)}: waiting {wait:.0f}s more "
                            f"would exceed the {self.cfg.rate_limit_wait_seconds:.0f}s wait "
                            f"budget ({self.budget.waited:.0f}s spent)",
                            hint="collect again after the reset, or raise "
                                 "rate_limit_wait_seconds", retry_after=wait) from None
                    self.ipe.retried()
                    retries[0] += 1
                    self.sleep(wait)
                    attempt = 0
                    continue
                if status >= 500 or status == 0:
                    if attempt <= self.cfg.max_retries:
                        self.ipe.retried()
                        retries[0] += 1
                        self.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                        continue
                    raise TransientError(f"GitHub answered {status} on {template(path)} after "
                                         f"{attempt} attempts: {message}",
                                         hint="GitHub is having trouble; collect again") from None
                raise _map_error(status, path, message) from None
            except (OSError, ConnectionError) as e:
                if attempt <= self.cfg.max_retries:
                    self.ipe.retried()
                    retries[0] += 1
                    self.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                    continue
                raise TransientError(f"cannot reach GitHub at {self.cfg.base_url}: "
                                     f"{type(e).__name__}",
                                     hint="check base_url and the network") from None

    def _rate_wait(self, status: int, h: Mapping[str, str], message: str) -> float | None:
        """Seconds to wait before retrying, if this answer is a rate limit (else None)."""
        if status not in (403, 429):
            return None
        if "retry-after" in h:
            try:
                return max(0.0, float(h["retry-after"]))
            except ValueError:
                return 60.0
        if h.get("x-ratelimit-remaining") == "0":
            try:
                return max(0.0, float(h.get("x-ratelimit-reset", "0")) - self.clock()) + 1.0
            except ValueError:
                return 60.0
        low = message.lower()
        if status == 429 or "secondary rate limit" in low or "rate limit" in low:
            return 60.0
        return None

    def _note_rate(self, h: Mapping[str, Any]) -> None:
        keep = {k: str(h[k]) for k in ("x-ratelimit-limit", "x-ratelimit-remaining",
                                       "x-ratelimit-reset", "x-ratelimit-resource") if k in h}
        if keep:
            with self._lock:
                self.last_rate = keep

    # --- recorded calls ------------------------------------------------------------------------

    def _record(self, path: str, params: Mapping[str, Any] | None, *, target: str | None,
                aggregate: bool, pages: int, items: int | None, ok: bool = True,
                error: str | None = None, retries: int = 0) -> None:
        op = f"GET {template(path) if aggregate else path}"
        if not aggregate:
            self.ipe.call(op, dict(params or {}), target=target, pages=pages, items=items,
                          ok=ok, error=error, retries=retries)
            return
        with self._lock:
            key = (op, target)
            c = self._agg.get(key)
            if c is None:
                c = self.ipe.call(op, {k: v for k, v in (params or {}).items()
                                       if k in ("per_page", "filter")},
                                  target=target, pages=0, items=0)
                self._agg[key] = c
            c.pages += pages
            c.items = (c.items or 0) + (items or 0)
            c.retries += retries
            if not ok:
                c.ok = False
                c.error = error

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            target: str | None = None, aggregate: bool = False,
            absent: tuple[str, ...] = ()) -> Any:
        """One GET; returns the JSON, or None when a 404 message is in `absent`."""
        tries = [0]
        rec = {"target": target, "aggregate": aggregate, "pages": 1}
        try:
            _, data = self._request(path, params, tries)
        except UnexpectedResponse as e:
            if any(a.lower() in e.message.lower() for a in absent):
                self._record(path, params, items=0, retries=tries[0], **rec)  # type: ignore[arg-type]
                return None
            self._record(path, params, items=None, ok=False, error=e.message,
                         retries=tries[0], **rec)  # type: ignore[arg-type]
            raise
        except Exception as e:
            self._record(path, params, items=None, ok=False, error=str(e)[:300],
                         retries=tries[0], **rec)  # type: ignore[arg-type]
            raise
        n = len(data) if isinstance(data, list) else None
        self._record(path, params, items=n, retries=tries[0], **rec)  # type: ignore[arg-type]
        return data

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *,
              target: str | None = None, aggregate: bool = False,
              key: str | None = None) -> Generator[list[Json], None, None]:
        """Yield each page of a list, following `Link: rel="next"` to the end (loop-safe).
        Stopping the iteration early records the call as not exhausted."""
        q: dict[str, Any] = {"per_page": self.cfg.per_page, **(params or {})}
        url: str | None = path
        seen: set[str] = set()
        pages = 0
        items = 0
        tries = [0]
        try:
            while url is not None:
                headers, data = self._request(url, q if url == path else None, tries)
                pages += 1
                batch = data.get(key, []) if key is not None else data
                if not isinstance(batch, list):
                    raise UnexpectedResponse(f"{template(path)} answered {type(batch).__name__}"
                                             ", not a list")
                items += len(batch)
                nxt = _links(headers).get("next")
                if nxt is not None:
                    if nxt in seen:
                        raise UnexpectedResponse(f"{template(path)}: pagination loops at {nxt}")
                    seen.add(nxt)
                    _same_origin(nxt, self.cfg.base_url)
                url = nxt
                yield batch
        except GeneratorExit:
            # The caller stopped on purpose (e.g. past the window's start on a sorted list).
            early = {"stopped_early": True} if url is not None else {}
            self._record(path, {**(params or {}), **early}, target=target,
                         aggregate=aggregate, pages=pages, items=items, retries=tries[0])
            raise
        except BaseException as e:
            self._record(path, params, target=target, aggregate=aggregate, pages=pages,
                         items=items, ok=False, error=str(e)[:300], retries=tries[0])
            raise
        self._record(path, params, target=target, aggregate=aggregate, pages=pages,
                     items=items, retries=tries[0])

    def all(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[Json]:
        """Every item of a list endpoint."""
        return [x for page in self.pages(path, params, **kw) for x in page]


def _same_origin(url: str, base: str) -> None:
    """Refuse a next-page link to another host (the token must not travel there)."""
    u = urllib.parse.urlsplit(url)
    b = urllib.parse.urlsplit(base)
    if u.netloc != b.netloc:
        raise UnexpectedResponse(f"GitHub sent a next page on another host: {u.netloc}")


def _links(headers: Mapping[str, Any]) -> dict[str, str]:
    raw = str(headers.get("link") or headers.get("Link") or "")
    return {rel: url for url, rel in _LINK.findall(raw)}


def _message(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message") or "")[:300]
    return str(data or "")[:300]


def _map_error(status: int, path: str, message: str) -> Exception:
    where = template(path)
    if status == 401:
        return AuthError(f"GitHub refused the credentials on {where}: {message}",
                         hint="check the token or the App's key, ID and installation")
    if status == 403:
        return PermissionDenied(f"GitHub denied {where}: {message}", hint=hint_for(path))
    return UnexpectedResponse(f"GitHub answered {status} on {where}: {message}",
                              hint="check the organization and repository names")


def iso_now(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat()
