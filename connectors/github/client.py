"""PyGithub client factory and the one seam every GitHub call goes through.

`default_factory(cfg)` builds a PyGithub `Github` for a fine-grained token or a GitHub App
installation (JWT RS256 -> installation token, refreshed by PyGithub), against github.com
or an Enterprise Server `/api/v3` base URL, with PyGithub's own retry off (`retry=None`).
`Api` routes the client's `requests` traffic through the connector kit
(`connectors.kit.http.record_session`): every exchange is recorded in the snapshot's
provenance in the kit's form (pages folded, retries counted, GitHub's totals kept) and
retried per call by the kit's `Retrier`, within `rate_limit_wait_seconds` for the run.

Rate limits, as GitHub documents them (`rate_limit_again`): a primary limit answers 403 or
429 with `x-ratelimit-remaining: 0` (wait until `x-ratelimit-reset`); a secondary limit
answers 403 or 429, with `retry-after` (wait that long) or without (wait at least a minute).
A limit outlasting the budget ends the collection as incomplete (`RateLimited`), never as a
silent short population or an hour's sleep.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Mapping
from typing import Any

import requests

from connectors.base import Provenance
from connectors.errors import AuthError, PermissionDenied, TransientError, UnexpectedResponse
from connectors.github.config import GitHubConfig
from connectors.github.permissions import hint_for
from connectors.kit import Again, CallRecorder, RetryBudget, RetryPolicy, paginate
from connectors.kit.http import new_retrier, record_session
from connectors.secrets import resolve_secret

Json = Any
ClientFactory = Callable[[GitHubConfig], Any]
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
RETRY_5XX = frozenset({500, 502, 503, 504})


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


def rate_limit_wait(status: int, headers: Mapping[str, str], message: str,
                    now: float) -> float | None:
    """Seconds GitHub asks us to wait before retrying this answer, if it is a rate limit."""
    if status not in (403, 429):
        return None
    h = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in h:
        try:
            return max(0.0, float(h["retry-after"]))
        except ValueError:
            return 60.0
    if h.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(h.get("x-ratelimit-reset", "0")) - now) + 1.0
        except ValueError:
            return 60.0
    if status == 429 or "rate limit" in message.lower():
        return 60.0  # a secondary limit without a header: "wait for at least one minute"
    return None


def rate_limit_again(r: requests.Response, now: float) -> Again | None:
    """The kit's retry rule for GitHub: rate limits (primary and secondary) and 5xx."""
    if r.status_code in RETRY_5XX:
        return Again(None, f"HTTP {r.status_code}", None)
    if r.status_code not in (403, 429):
        return None
    message = r.text[:2000]  # read now: the kit closes a response it retries
    wait = rate_limit_wait(r.status_code, r.headers, message, now)
    return None if wait is None else Again(None, f"HTTP {r.status_code} rate limit", wait)


def _instrument(gh: Any, mount: Callable[[requests.Session], object]) -> None:
    """Have every connection PyGithub's requester opens carry the kit's recording adapter.
    PyGithub makes one `requests.Session` per connection, lazily; its connection class is the
    requester's only transport seam (there is no session argument), so this client's class
    is swapped for a subclass that mounts the adapter on the session it just made."""
    req = gh.requester
    attr = "_Requester__connectionClass"
    base = getattr(req, attr)

    class Recording(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            mount(self.session)

    setattr(req, attr, Recording)


class Api:
    """GETs through per-thread PyGithub clients whose HTTP is recorded and retried by the
    kit; GitHub's error answers become our errors by what the caller should do."""

    def __init__(self, factory: ClientFactory, cfg: GitHubConfig, ipe: Provenance, *,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.factory = factory
        self.cfg = cfg
        self.ipe = ipe
        self.clock = clock
        self.recorder = CallRecorder(ipe)
        self.retrier = new_retrier(
            RetryPolicy(max_attempts=cfg.max_retries + 1,
                        budget_seconds=cfg.rate_limit_wait_seconds, max_wait_seconds=30.0),
            RetryBudget(cfg.rate_limit_wait_seconds), sleep=sleep, clock=clock)
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def client(self) -> Any:
        """This thread's PyGithub client (its connection keeps per-request state)."""
        gh = getattr(self._local, "gh", None)
        if gh is None:
            gh = self.factory(self.cfg)
            _instrument(gh, lambda s: record_session(
                s, self.recorder, self.retrier, target=self.cfg.base_url,
                classify=rate_limit_again, pool_connections=max(self.cfg.concurrency, 1),
                pool_maxsize=max(self.cfg.concurrency, 1)))
            self._local.gh = gh
            with self._lock:
                self._clients.append(gh)
        return gh

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for gh in clients:
            gh.close()

    def _request(self, path: str, params: Mapping[str, Any] | None) -> tuple[Json, Json]:
        from github.GithubException import GithubException

        try:
            return self.client().requester.requestJsonAndCheck(  # type: ignore[no-any-return]
                "GET", path, parameters=dict(params) if params else None)
        except GithubException as e:
            raise self._error(path, int(e.status or 0), e.headers or {}, e.data) from None
        except requests.RequestException as e:
            raise TransientError(f"cannot reach GitHub at {self.cfg.base_url}: "
                                 f"{type(e).__name__}",
                                 hint="check base_url and the network") from None

    def _error(self, path: str, status: int, headers: Mapping[str, Any],
               data: Any) -> Exception:
        where = _path_only(path)
        message = _message(data)
        h = {str(k).lower(): str(v) for k, v in headers.items()}
        wait = rate_limit_wait(status, h, message, self.clock())
        if wait is not None:
            return RateLimited(
                f"GitHub rate limit on {where}: waiting {wait:.0f}s more would exceed the "
                f"{self.cfg.rate_limit_wait_seconds:.0f}s wait budget "
                f"({self.cfg.rate_limit_wait_seconds - self.retrier.budget.left:.0f}s spent)",
                hint="collect again after the reset, or raise rate_limit_wait_seconds",
                retry_after=wait)
        if status == 401:
            return AuthError(f"GitHub refused the credentials on {where}: {message}",
                             hint="check the token or the App's key, ID and installation")
        if status == 403:
            return PermissionDenied(f"GitHub denied {where}: {message}", hint=hint_for(where))
        if status >= 500:
            return TransientError(f"GitHub answered {status} on {where} after retries: "
                                  f"{message}", hint="GitHub is having trouble; collect again")
        return UnexpectedResponse(f"GitHub answered {status} on {where}: {message}",
                                  hint="check the organization and repository names")

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            absent: tuple[str, ...] = ()) -> Any:
        """One GET; returns the JSON, or None when a 404 message is in `absent`."""
        try:
            return self._request(path, params)[1]
        except UnexpectedResponse as e:
            if any(a.lower() in e.message.lower() for a in absent):
                return None
            raise

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *,
              key: str | None = None) -> Generator[list[Json], None, None]:
        """Each page of a list, following `Link: rel="next"` (the kit's `paginate`: loop-safe;
        a page after the first failing after its retries cuts the record short, the first
        raises). Stopping early is fine: each exchange is already recorded."""
        first = {"per_page": self.cfg.per_page, **(params or {})}

        def fetch(url: str | None) -> tuple[str | None, list[Json]]:
            headers, data = self._request(url or path, None if url else first)
            batch = data.get(key, []) if key is not None else data
            if not isinstance(batch, list):
                raise UnexpectedResponse(f"{path} answered {type(batch).__name__}, not a list")
            nxt = _links(headers).get("next")
            if nxt is not None:
                _same_origin(nxt, self.cfg.base_url)
            return nxt, batch

        for _, batch in paginate(fetch, lambda page: page[0], ipe=self.ipe, what=path):
            yield batch

    def all(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[Json]:
        """Every item of a list endpoint."""
        return [x for page in self.pages(path, params, **kw) for x in page]


def _path_only(path: str) -> str:
    return urllib.parse.urlsplit(path).path or path


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
