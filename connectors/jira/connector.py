"""The `jira` connector: change tickets with their approval history, Cloud or Server/DC.

One snapshot, `change_tickets` (CC8.1, a population): the issues matching the configured JQL
whose `period_field` falls in the window, each with its status and assignee history from the
changelog and its remote links (the pull requests or commits it names). The SDK (`jira`) is
used as Atlassian documents the API, worked around where it differs:
- the deployment type from `serverInfo` picks the search API: Server/DC `/search` paged by
  startAt against `total`; Cloud `/search/jql` paged by `nextPageToken` (the legacy Cloud
  `/search` is gone, and the SDK refuses startAt > 0 there). Pages are fetched one at a time,
  never with the SDK's fetch-everything mode, which holds every issue object at once;
- Cloud embeds only the newest 100 changelog entries: longer histories are paged from
  `/issue/{key}/changelog` (which Server/DC does not have; it embeds everything);
- JQL dates are minutes in the caller's profile time zone: the window is widened to whole
  minutes (plus an hour for DST) in that zone and then cut exactly on our side;
- the SDK's own retries sleep twice the `Retry-After`: they are off (`max_retries=0`); the
  connector kit's recording adapter sits on the SDK's session instead (`record_session`):
  every exchange lands in the provenance in the kit's form (pages folded, retries counted,
  Jira's `total` kept), and a 429 / 5xx is retried per call, honouring `Retry-After`, within
  `rate_limit_wait_seconds` for the run; beyond that the window is recorded as partial;
- `JIRAError`'s text includes the request headers (the credential): it is never printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.jira.assess import assess_change_tickets, change_ticket_items, user_id
from connectors.jira.config import JiraConfig
from connectors.kit import CallRecorder, Retrier, RetryPolicy, paginate
from connectors.kit.http import new_retrier, record_session
from connectors.secrets import resolve_secret

if TYPE_CHECKING:  # the SDK is imported when a client is made
    from jira import JIRA

Kind = Literal["cloud", "datacenter"]
ClientFactory = Callable[[JiraConfig, Kind | None], "JIRA"]
FIELDS = ["summary", "status", "assignee", "issuetype", "project", "created", "updated",
          "resolutiondate"]
KEPT_FIELDS = ("status", "assignee", "resolution")
PERMISSION = "Browse projects (on every project the JQL names)"
_PR = re.compile(r"^https?://[^/]+/([^/]+/[^/]+)/pull/(\d+)")
_COMMIT = re.compile(r"^https?://[^/]+/([^/]+/[^/]+)/commit/([0-9a-f]{7,40})")

EXAMPLE = {
    "site": "https://acme.atlassian.net", "deployment": "Cloud",
    "jql": '(project = CHG) AND updated >= "2026-02-28 23:00" AND updated < "2026-03-08 01:00"'
           " ORDER BY created ASC, key ASC",
    "base_jql": "project = CHG", "period_field": "updated", "time_zone": "UTC",
    "approved_statuses": ["Approved"],
    "window": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-08T00:00:00Z",
               "jql_from": "2026-02-28 23:00", "jql_to": "2026-03-08 01:00"},
    "fetched": 1,
    "tickets": [{
        "key": "CHG-1", "id": "10000", "summary": "Rotate signing keys", "status": "Done",
        "status_id": "10003", "status_category": "done",
        "created": "2026-03-01T09:00:00.000Z", "updated": "2026-03-03T12:00:00.000Z",
        "resolutiondate": "2026-03-03T12:00:00.000Z",
        "assignee": {"accountId": "5b10a", "accountType": "atlassian", "key": None,
                     "name": None, "displayName": "Ana"},
        "changelog_total": 3, "changelog_fetched": 3, "changelog_complete": True,
        "history": [{"id": "1", "created": "2026-03-02T10:00:00.000Z",
                     "author": {"accountId": "5b10b", "accountType": "atlassian",
                                "key": None, "name": None, "displayName": "Ben"},
                     "items": [{"field": "status", "from": "10001", "fromString": "In Review",
                                "to": "10002", "toString": "Approved"}]}],
        "remote_links": ["https://github.com/acme/api/pull/1"],
        "linked_changes": ["acme/api#1"]}],
}


def make_client(cfg: JiraConfig, kind: Kind | None) -> JIRA:
    """A jira SDK client for one credential (None: anonymous). It makes no request: the
    connector reads serverInfo once the kit's recording adapter is on its session."""
    from jira import JIRA

    opts: dict[str, Any] = {"verify": cfg.verify_tls, "check_update": False}
    common: dict[str, Any] = {"server": cfg.url, "options": opts, "max_retries": 0,
                              "logging": False, "timeout": cfg.timeout_seconds,
                              "get_server_info": False}
    if kind is None:
        return JIRA(**common)
    if kind == "cloud":
        assert cfg.email is not None and cfg.api_token is not None
        return JIRA(**common, basic_auth=(cfg.email, resolve_secret(cfg.api_token)))
    assert cfg.pat is not None
    return JIRA(**common, token_auth=resolve_secret(cfg.pat))


@dataclass(frozen=True)
class JiraFactory:
    """What the connector is given: how to make a client, and how to wait (tests: no-op)."""

    make: ClientFactory = make_client
    sleep: Callable[[float], None] = time.sleep


class _GaveUp(Exception):
    """A call still failing after the kit's retries (or rate limited past the budget)."""


@dataclass
class _Wire:
    """One snapshot run's recording and retrying, shared by its threads' clients."""

    recorder: CallRecorder
    retrier: Retrier[Any]


def _retry_after(e: Any) -> float | None:
    resp = getattr(e, "response", None)
    v = resp.headers.get("Retry-After") if resp is not None else None
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def _message(e: Any) -> str:
    """Jira's own error messages (never the SDK's str(), which prints request headers)."""
    text = str(getattr(e, "text", "") or "").strip().splitlines()
    return (text[0][:300] if text else "") or "no message"


def map_error(e: Exception, what: str, kind: Kind | None = None) -> ConnectorError:
    """A JIRAError or transport failure as one of our errors, secrets never included."""
    import requests

    if isinstance(e, requests.RequestException) and not hasattr(e, "status_code"):
        return TransientError(f"{what}: cannot reach Jira ({type(e).__name__})",
                              hint="check the url and the network path to Jira")
    status = getattr(e, "status_code", None)
    msg = _message(e)
    cred = {"cloud": "email + API token", "datacenter": "personal access token"}.get(
        kind or "", "credential")
    if status == 401:
        return AuthError(f"{what}: Jira refused the {cred} (HTTP 401)",
                         hint=f"check the {cred} named in the config; the account needs "
                              f"{PERMISSION}")
    if status == 403:
        return PermissionDenied(f"{what}: forbidden (HTTP 403): {msg}",
                                hint=f"grant the account {PERMISSION}")
    if status in (429, 503) or (isinstance(status, int) and status >= 500):
        return TransientError(f"{what}: HTTP {status}: {msg}", retry_after=_retry_after(e))
    if status == 400:
        return ConnectorError(f"{what}: Jira rejected the request (HTTP 400): {msg}",
                              hint="check jql and approved_statuses in the config")
    return UnexpectedResponse(f"{what}: HTTP {status}: {msg}")


def utc_iso(v: str | None) -> str | None:
    """Jira's `2026-03-01T10:00:00.000+0100` as UTC ISO 8601 with milliseconds and Z."""
    if not v:
        return None
    from connectors.jira.assess import parse_ts

    return parse_ts(v).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jql_bounds(start: datetime, end: datetime, tz: ZoneInfo,
               margin: timedelta = timedelta(hours=1)) -> tuple[str, str]:
    """JQL minute bounds in `tz` that contain [start, end): floor, ceil, widened by margin."""
    lo = (start - margin).astimezone(tz).replace(second=0, microsecond=0)
    hi = (end + margin).astimezone(tz)
    if hi.second or hi.microsecond:
        hi = hi.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return lo.strftime("%Y-%m-%d %H:%M"), hi.strftime("%Y-%m-%d %H:%M")


def linked_change(url: str) -> str | None:
    """`owner/repo#N` for a pull request URL, `owner/repo@sha` for a commit URL."""
    m = _PR.match(url)
    if m:
        return f"{m.group(1)}#{m.group(2)}"
    m = _COMMIT.match(url)
    return f"{m.group(1)}@{m.group(2)}" if m else None


@dataclass
class _Session:
    client: JIRA
    kind: Kind
    deployment: str
    me: dict[str, Any]
    tz: ZoneInfo


class JiraConnector(Connector[JiraConfig]):
    """Jira Cloud and Server/Data Center through the `jira` SDK."""

    name = "jira"
    title = "Jira Cloud and Server/Data Center (jira SDK): change tickets and approvals"

    @property
    def cfg(self) -> JiraConfig:
        return self.config

    def _factory(self) -> ClientFactory:
        f = self.factory
        return f.make if isinstance(f, JiraFactory) else cast(ClientFactory, f or make_client)

    def _sleep(self, s: float) -> None:
        (self.factory.sleep if isinstance(self.factory, JiraFactory) else time.sleep)(s)

    def _wire(self, ipe: Provenance) -> _Wire:
        policy = RetryPolicy(max_attempts=4, budget_seconds=self.cfg.rate_limit_wait_seconds)
        return _Wire(CallRecorder(ipe), new_retrier(policy, sleep=self._sleep))

    def _connect(self, wire: _Wire | None) -> _Session:
        """serverInfo with the first credential; the other one when the site is the other
        deployment type; then `myself` for the principal and its profile time zone."""
        kinds = self.cfg.credentials()
        kind = kinds[0]
        client = self._new(kind, wire)
        deployment = str(client.deploymentType or "Server")
        wanted: Kind = "cloud" if deployment == "Cloud" else "datacenter"
        if wanted != kind and wanted in kinds:
            _close(client)
            kind = wanted
            client = self._new(kind, wire)
        try:
            me = client.myself()
        except Exception as e:
            _close(client)
            raise map_error(e, "GET /rest/api/2/myself", kind) from None
        try:
            tz = ZoneInfo(str(me.get("timeZone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        return _Session(client, kind, deployment, me, tz)

    def _new(self, kind: Kind | None, wire: _Wire | None) -> JIRA:
        """A client for `kind` whose session records and retries through the kit (when a
        snapshot runs), with serverInfo read as the SDK would (deployment type, version)."""
        try:
            client = self._factory()(self.cfg, kind)
        except ConnectorError:
            raise
        except Exception as e:
            raise map_error(e, "GET /rest/api/2/serverInfo", kind) from None
        if wire is not None:
            record_session(client._session, wire.recorder, wire.retrier, target=self.cfg.url)
        try:
            si = client.server_info()
        except Exception as e:
            _close(client)
            raise map_error(e, "GET /rest/api/2/serverInfo", kind) from None
        client.deploymentType = si.get("deploymentType")
        client._version = tuple(si.get("versionNumbers") or (0, 0, 0))
        return client

    @staticmethod
    def _principal(s: _Session) -> str:
        me = s.me
        who = me.get("emailAddress") or me.get("name") or user_id(me) or "unknown"
        return f"{who} ({s.deployment}, {s.kind} credential)"

    def check(self) -> CheckResult:
        """Each configured credential: serverInfo, myself, then the JQL with one result."""
        parts: list[str] = []
        ok_any = False
        principal = source = None
        site: str | None = None
        try:  # serverInfo is documented as anonymous: it says which credential can fit
            anon = self._new(None, None)
            site = str(anon.deploymentType or "Server")
            _close(anon)
        except ConnectorError:
            pass
        for kind in self.cfg.credentials():
            if site is not None and (site == "Cloud") != (kind == "cloud"):
                parts.append(f"{kind} credential: not usable, the site is {site} ("
                             + ("Cloud takes email + API token)" if site == "Cloud" else
                                "Server / Data Center takes a personal access token)"))
                continue
            try:
                client = self._new(kind, None)
            except ConnectorError as e:
                parts.append(f"{kind} credential: FAILED {e}")
                continue
            try:
                deployment = str(client.deploymentType or "Server")
                if (deployment == "Cloud") != (kind == "cloud"):
                    parts.append(f"{kind} credential: not usable, the site is {deployment}")
                    continue
                me = client.myself()
                s = _Session(client, kind, deployment, me, ZoneInfo("UTC"))
                if kind == "cloud":
                    client.enhanced_search_issues(self.cfg.jql, maxResults=1, fields=["key"],
                                                  json_result=True)
                    found = "the JQL runs"
                else:
                    r = client.search_issues(self.cfg.jql, maxResults=1, fields="key",
                                             json_result=True)
                    found = f"the JQL matches {r.get('total')} issues"
                ok_any = True
                principal, source = self._principal(s), f"{self.cfg.url} ({deployment})"
                parts.append(f"{kind} credential: ok as {principal}; {found}")
            except Exception as e:
                parts.append(f"{kind} credential: FAILED {map_error(e, 'check', kind)}")
            finally:
                _close(client)
        return CheckResult(ok_any, principal, source, "; ".join(parts))

    # the snapshot ---------------------------------------------------------------------------
    @snapshot(controls=["CC8.1"], kind="population", max_age=timedelta(days=1),
              permissions=[PERMISSION],
              assess=assess_change_tickets, items=change_ticket_items, example=EXAMPLE,
              lookback=timedelta(days=90), max_window=timedelta(days=7))
    def change_tickets(self, ctx: SnapshotContext) -> SnapshotResult:
        """Change tickets matching the configured JQL in the window, each with who moved it
        into an approved status and when (from the changelog), its assignee history and the
        pull requests it links: proves each change was approved by someone other than the
        person doing it."""
        if ctx.period_start is None or ctx.period_end is None:
            raise ConnectorError("change_tickets is a population: it needs a window")
        ipe = ctx.ipe
        s = self._connect(self._wire(ipe))
        try:
            ipe.principal = self._principal(s)
            ipe.source = f"{self.cfg.url} ({s.deployment})"
            return self._collect(ctx, s)
        finally:
            _close(s.client)

    def _collect(self, ctx: SnapshotContext, s: _Session) -> SnapshotResult:
        assert ctx.period_start is not None and ctx.period_end is not None
        cfg, ipe = self.cfg, ctx.ipe
        f = cfg.period_field
        lo, hi = jql_bounds(ctx.period_start, ctx.period_end, s.tz)
        jql = f'({cfg.jql}) AND {f} >= "{lo}" AND {f} < "{hi}" ORDER BY created ASC, key ASC'
        tickets: dict[str, dict[str, Any]] = {}
        fetched = 0
        try:
            with ThreadPoolExecutor(max_workers=cfg.workers,
                                    thread_name_prefix="jira-ticket") as pool:
                for page in self._pages(s, jql, ipe):
                    fetched += len(page)
                    wanted = [i for i in page if _in_window(i, f, ctx.period_start,
                                                            ctx.period_end)]
                    # per-ticket calls (remote links, long changelogs) overlap, bounded
                    for t in pool.map(lambda i: self._ticket(s, i, ipe), wanted):
                        if t["key"] in tickets:
                            ipe.error(f"{t['key']} was returned twice while paging")
                        tickets[t["key"]] = t
        except _GaveUp as e:
            ipe.cut_short(str(e))
        content = {
            "site": cfg.url, "deployment": s.deployment, "jql": jql, "base_jql": cfg.jql,
            "period_field": f, "time_zone": str(s.tz), "approved_statuses":
            list(cfg.approved_statuses),
            "window": {"start": _z(ctx.period_start), "end": _z(ctx.period_end),
                       "jql_from": lo, "jql_to": hi},
            "fetched": fetched,
            "tickets": [tickets[k] for k in sorted(tickets, key=_key_order)]}
        return SnapshotResult(content, len(tickets))

    def _get(self, what: str, fn: Callable[[], Any], kind: Kind, first: bool = False) -> Any:
        """One SDK call; the kit's adapter already retried it (429 / 5xx, Retry-After, within
        the run's budget). Still failing: a 5xx on the first search page fails the window
        (TransientError); a later call, or a rate limit outlasting the budget, cuts it short
        (partial)."""
        try:
            return fn()
        except Exception as e:
            err = map_error(e, what, kind)
            if not isinstance(err, TransientError):
                raise err from None
            limited = getattr(e, "status_code", None) in (429, 503)
            if first and not limited:
                raise err from None
            raise _GaveUp(f"{what}: {err.message.split(': ', 1)[-1]} after "
                          f"{'waiting' if limited else 'retrying'}; the rest of the "
                          "window was not read") from None

    def _pages(self, s: _Session, jql: str, ipe: Provenance) -> Iterator[list[dict[str, Any]]]:
        """The search's pages through the kit's `paginate` (a repeated cursor stops it; a page
        after the first failing cuts the window short): Server/DC by startAt against `total`,
        Cloud by `nextPageToken`."""
        size = self.cfg.page_size
        common = {"maxResults": size, "fields": list(FIELDS), "expand": "changelog",
                  "json_result": True}
        if s.kind == "datacenter":
            seen = {"fetched": 0, "total": -1}

            def fetch(start: int | None) -> Any:
                return self._get("GET /rest/api/2/search", partial(
                    s.client.search_issues, jql, startAt=start or 0, **common), s.kind,
                    first=not start)

            def nxt(page: Any) -> int | None:
                issues, total = page.get("issues", []), int(page.get("total", 0))
                if seen["total"] < 0:
                    seen["total"] = total
                    ipe.api_total("issues", total)
                elif total != seen["total"]:
                    ipe.cut_short(f"the result set changed while paging (total "
                                  f"{seen['total']}, then {total}); re-collect the window")
                    return None
                seen["fetched"] += len(issues)
                if not issues or seen["fetched"] >= total:
                    if seen["fetched"] < total:
                        ipe.cut_short(f"paging stopped at {seen['fetched']} of {total} issues")
                    return None
                return seen["fetched"]

            pages = paginate(fetch, nxt, ipe=ipe, what="GET /rest/api/2/search")
        else:
            try:  # recorded by the kit either way; only a count we got is a total
                n = s.client.approximate_issue_count(jql)
                ipe.api_total("issues_approximate", int(cast(int, n)))
            except Exception:
                pass

            def fetch_cloud(token: str | None) -> Any:
                return self._get("GET /rest/api/2/search/jql", partial(
                    s.client.enhanced_search_issues, jql, nextPageToken=token, **common),
                    s.kind, first=token is None)

            def nxt_cloud(page: Any) -> str | None:
                token = page.get("nextPageToken")
                if not token and page.get("isLast") is False:
                    ipe.cut_short("a page said isLast=false but gave no nextPageToken")
                return str(token) if token else None

            pages = paginate(fetch_cloud, nxt_cloud, ipe=ipe, what="GET /rest/api/2/search/jql")
        for page in pages:
            yield list(page.get("issues", []))

    def _ticket(self, s: _Session, issue: dict[str, Any], ipe: Provenance) -> dict[str, Any]:
        fields = issue.get("fields") or {}
        key = str(issue["key"])
        log = issue.get("changelog") or {}
        histories = list(log.get("histories", []))
        total = int(log.get("total", len(histories)))
        if len(histories) < total and s.kind == "cloud":
            try:
                histories = self._full_changelog(s, key)
            except (AuthError, PermissionDenied):
                raise
            except ConnectorError as e:
                ipe.error(f"{key}: changelog not read in full: {e}")
        status = fields.get("status") or {}
        t: dict[str, Any] = {
            "key": key, "id": str(issue.get("id")), "summary": fields.get("summary"),
            "status": status.get("name"), "status_id": status.get("id"),
            "status_category": (status.get("statusCategory") or {}).get("key"),
            "created": utc_iso(fields.get("created")), "updated": utc_iso(fields.get("updated")),
            "resolutiondate": utc_iso(fields.get("resolutiondate")),
            "assignee": _person(fields.get("assignee")),
            "changelog_total": total, "changelog_fetched": len(histories),
            "changelog_complete": len(histories) >= total,
            "history": [h for h in (_history(x) for x in histories) if h["items"]],
        }
        urls: list[str] = []
        try:
            raw = self._get("GET /rest/api/2/issue/{key}/remotelink",
                            lambda: s.client._get_json(f"issue/{key}/remotelink"), s.kind)
            urls = sorted({str((x.get("object") or {}).get("url")) for x in raw
                           if (x.get("object") or {}).get("url")})
        except (AuthError, PermissionDenied):
            raise
        except ConnectorError as e:
            ipe.error(f"{key}: remote links not read: {e}")
        t["remote_links"] = urls
        t["linked_changes"] = sorted({c for c in map(linked_change, urls) if c})
        return t

    def _full_changelog(self, s: _Session, key: str) -> list[dict[str, Any]]:
        """Cloud: every changelog entry from /issue/{key}/changelog, oldest first."""
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._get("GET /rest/api/2/issue/{key}/changelog",
                             partial(s.client._get_json, f"issue/{key}/changelog",
                                     params={"startAt": start, "maxResults": 100}), s.kind)
            values = page.get("values", [])
            out.extend(values)
            start += len(values)
            if page.get("isLast", True) or not values or start >= int(page.get("total", 0)):
                return out


def _in_window(issue: dict[str, Any], field: str, start: datetime, end: datetime) -> bool:
    """The issue's period field lies in [start, end) (the JQL bounds are wider)."""
    when = utc_iso((issue.get("fields") or {}).get(field))
    if when is None:  # e.g. unresolved, with period_field = resolutiondate
        return False
    return start <= datetime.fromisoformat(when.replace("Z", "+00:00")) < end


def _close(client: JIRA) -> None:
    client.close()  # type: ignore[no-untyped-call]


def _z(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _key_order(key: str) -> tuple[str, int]:
    p, _, n = key.rpartition("-")
    return (p, int(n) if n.isdigit() else 0)


def _person(u: Any) -> dict[str, Any] | None:
    if not isinstance(u, dict):
        return None
    return {k: u.get(k) for k in ("accountId", "accountType", "key", "name", "displayName")}


def _history(h: dict[str, Any]) -> dict[str, Any]:
    items = [{k: it.get(k) for k in ("field", "from", "fromString", "to", "toString")}
             for it in h.get("items", []) if it.get("field") in KEPT_FIELDS]
    return {"id": str(h.get("id")), "created": utc_iso(h.get("created")),
            "author": _person(h.get("author")), "items": items}
