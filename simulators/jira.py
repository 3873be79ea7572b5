"""A local Jira REST API (v2) stand-in, Cloud or Server/Data Center, following Atlassian's docs.

What it answers, as documented:
  GET  /rest/api/2/serverInfo                 deploymentType "Cloud" or "Server" (DC says
                                              "Server" too); anonymous access allowed
  GET  /rest/api/2/myself                     the caller, with its profile `timeZone`
  GET  /rest/api/2/field                      field list (the SDK reads it before searching)
  GET  /rest/api/2/mypermissions              BROWSE_PROJECTS per project
  GET  /rest/api/2/search                     Server/DC: startAt / maxResults / total;
                                              Cloud: 410 Gone (the legacy search was removed)
  GET  /rest/api/2/search/jql                 Cloud only: nextPageToken (opaque, bound to the
                                              query; absent on the last page), isLast, no total;
                                              unbounded JQL refused
  POST /rest/api/2/search/approximate-count   Cloud only: {"count": N}
  GET  /rest/api/2/issue/{key}[?expand=changelog]
  GET  /rest/api/2/issue/{key}/changelog      Cloud only (DC has no such endpoint): startAt /
                                              maxResults<=100 / total / isLast / values
  GET  /rest/api/2/issue/{key}/remotelink     remote links (e.g. the pull requests of a change)

`expand=changelog` embeds every history entry on Server/DC, but on Cloud only the newest 100
(the embedded `total` says how many exist). Auth: Cloud takes HTTP Basic `email:api_token`,
Server/DC a personal access token as `Authorization: Bearer <PAT>`; anything else is a 401.
Errors carry Jira's body `{"errorMessages": [...], "errors": {...}}`. Rate limiting (optional
token bucket, or injected) answers 429 with `Retry-After` (seconds) and, on Cloud,
`X-RateLimit-Reset` (ISO 8601) and `RateLimit-Reason`; on DC `X-RateLimit-Interval-Seconds`
and `X-RateLimit-FillRate`.

JQL: a subset enough for change populations: AND / OR / NOT / parentheses; fields project,
key, status, statusCategory, issuetype, assignee, resolution, created, updated,
resolutiondate (alias resolved); operators = != > >= < <= IN, NOT IN, IS [NOT] EMPTY; ORDER BY.
Dates follow Jira: "yyyy-MM-dd" / "yyyy/MM/dd" [HH:mm] in the caller's profile time zone, a
bare date meaning midnight at the START of that day (so `resolutiondate <= "2026-06-30"`
excludes the 30th), and relative "-5d" / "-3h" / "-1w" / "-30m".

Tests drive faults over HTTP too: `POST /__sim__/faults` with a JSON fault (see `Fault`);
`DELETE /__sim__/faults` clears them; `GET /__sim__/stats` counts requests per path.

    with JiraSimulator("cloud", generate(200)) as sim:
        JIRA(server=sim.url, basic_auth=(sim.cloud_email, sim.api_token), max_retries=0)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from zoneinfo import ZoneInfo

from simulators.serving import QuietHandler, ServedSimulator, http_server

Deployment = Literal["cloud", "datacenter"]
API = "/rest/api/2"
CLOUD_EMBED_LIMIT = 100  # Cloud embeds only the newest 100 changelog entries
CHANGELOG_PAGE_MAX = 100
SEARCH_MAX_DC = 1000
SEARCH_MAX_CLOUD = 100
STATUS_CATEGORY = {"To Do": ("new", "To Do", 2), "In Review": ("indeterminate", "In Progress", 4),
                   "Approved": ("indeterminate", "In Progress", 4),
                   "In Progress": ("indeterminate", "In Progress", 4),
                   "Done": ("done", "Done", 3), "Rejected": ("done", "Done", 3)}
STATUS_ID = {"To Do": "10000", "In Review": "10001", "Approved": "10002", "In Progress": "3",
             "Done": "10003", "Rejected": "10004"}


# --- the data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    """A Jira user: Cloud identifies it by accountId, Server/DC by key (and name)."""

    account_id: str
    name: str
    key: str
    display_name: str
    email: str
    time_zone: str = "UTC"
    # Cloud's accountType: "atlassian" (a person), "app" (an app's system account, e.g.
    # Automation for Jira) or "customer" (a service-desk customer).
    account_type: str = "atlassian"


@dataclass
class Change:
    """One changelog history entry: who, when, and which fields moved."""

    id: int
    author: str  # account_id of a User
    created: datetime
    items: list[tuple[str, str | None, str | None]]  # (field, from, to); users by account_id


@dataclass
class Ticket:
    """One issue as the simulator keeps it."""

    id: int
    key: str
    project: str
    summary: str
    issuetype: str
    status: str
    assignee: str | None
    reporter: str
    created: datetime
    updated: datetime
    resolutiondate: datetime | None
    history: list[Change] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # remote link URLs


@dataclass
class Dataset:
    """Users, projects and tickets a simulator serves."""

    users: dict[str, User]
    projects: dict[str, str]  # key -> name
    tickets: list[Ticket]

    def by_key(self) -> dict[str, Ticket]:
        return {t.key: t for t in self.tickets}


@dataclass
class Fault:
    """A fault to inject: `status` on requests whose path starts with `path`, skipping the
    first `after` matches, `times` times (-1: forever). 429s carry `retry_after`."""

    status: int
    path: str = API
    after: int = 0
    times: int = 1
    retry_after: int | None = None
    method: str | None = None
    seen: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _ApiError(Exception):
    def __init__(self, status: int, messages: list[str], errors: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(messages[0] if messages else str(status))
        self.status = status
        self.body = {"errorMessages": messages, "errors": errors or {}}
        self.headers = headers or {}


# --- the deterministic generator -----------------------------------------------------------

def generate(n: int = 200, *, seed: int = 7, project: str = "CHG",
             start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
             end: datetime = datetime(2026, 6, 30, tzinfo=UTC), n_users: int = 40,
             repos: tuple[str, ...] = ("acme/api", "acme/web"),
             long_every: int = 25) -> Dataset:
    """`n` change tickets with realistic changelogs, the same for the same arguments.

    Most tickets go To Do -> In Review -> Approved (by someone other than the assignee) ->
    In Progress -> Done, with one GitHub pull request linked per ticket. Every 11th is
    approved by its own assignee, every 13th is closed without approval, every 17th is
    reassigned to its approver after the approval; every `long_every`-th has 100-260
    history entries (so Cloud must page its changelog)."""
    rnd = random.Random(seed)
    users = _users(n_users)
    ids = list(users)
    span = (end - start).total_seconds()
    tickets: list[Ticket] = []
    hid = 100000
    for i in range(n):
        created = start + timedelta(seconds=int(rnd.random() * span * 0.9))
        reporter = rnd.choice(ids)
        assignee = rnd.choice(ids)
        approver = rnd.choice([u for u in ids if u != assignee])
        t = Ticket(10000 + i, f"{project}-{i + 1}", project, f"Change {i + 1}: update service",
                   "Change", "To Do", assignee, reporter, created, created, None)
        clock = created

        def step(minutes: float, author: str, items: list[tuple[str, str | None, str | None]],
                 t: Ticket = t) -> None:
            nonlocal clock, hid
            clock = clock + timedelta(minutes=minutes, milliseconds=rnd.randrange(1000))
            hid += 1
            t.history.append(Change(hid, author, clock, items))

        if i % 7 == 3:  # first assigned to someone else, then reassigned
            other = rnd.choice(ids)
            t.history.append(Change(hid := hid + 1, reporter, created + timedelta(minutes=1),
                                    [("assignee", None, other)]))
            step(5, reporter, [("assignee", other, assignee)])
        step(rnd.randrange(10, 600), assignee, [("status", "To Do", "In Review")])
        if i % long_every == long_every - 1:
            for _ in range(100 + rnd.randrange(160)):
                step(rnd.randrange(1, 30), rnd.choice(ids), [("labels", None, "touched")])
        if i % 13 == 12:  # closed without approval
            step(rnd.randrange(60, 3000), assignee, [("status", "In Review", "Done"),
                                                     ("resolution", None, "Done")])
            t.status = "Done"
        else:
            who = assignee if i % 11 == 10 else approver
            step(rnd.randrange(30, 2000), who, [("status", "In Review", "Approved")])
            if i % 17 == 16:
                step(10, approver, [("assignee", assignee, approver)])
                assignee = approver
            step(rnd.randrange(10, 600), assignee, [("status", "Approved", "In Progress")])
            step(rnd.randrange(60, 3000), assignee, [("status", "In Progress", "Done"),
                                                     ("resolution", None, "Done")])
            t.status = "Done"
        t.assignee = assignee
        t.resolutiondate = clock
        t.updated = clock
        repo = repos[i % len(repos)]
        t.links.append(f"https://github.com/{repo}/pull/{i + 1}")
        tickets.append(t)
    return Dataset(users, {project: "Change management"}, tickets)


def _users(n: int) -> dict[str, User]:
    zones = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
    users: dict[str, User] = {}
    for i in range(n):
        aid = f"5b10ac8d82e05b22cc7d4e{i:02x}"
        users[aid] = User(aid, f"user{i:02d}", f"JIRAUSER{10100 + i}", f"User {i:02d}",
                          f"user{i:02d}@acme.example", zones[i % len(zones)])
    return users


Approval = Literal["before", "after", "self"]


@dataclass(frozen=True)
class ChangeTicket:
    """The ticket planned for one merged change (see `simulators.github_seed`): its key, the
    pull request it links, the merge time, and whether it is approved before the merge,
    after it, or only by its own assignee."""

    key: str
    pr_url: str
    merged_at: datetime
    approval: Approval = "before"


def tickets_for_changes(planned: list[ChangeTicket], *, until: datetime, seed: int = 7,
                        n_users: int = 40) -> Dataset:
    """A Jira dataset whose tickets are the ones a seeded GitHub organization names, each
    approved as planned relative to its change's merge; every time before `until` (so a
    collection ending then sees the whole history). Same arguments, same dataset."""
    rnd = random.Random(seed)
    users = _users(n_users)
    ids = list(users)
    tickets: list[Ticket] = []
    hid = 500000

    def ms(t: datetime) -> datetime:
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    for i, p in enumerate(planned):
        project = p.key.rpartition("-")[0]
        assignee = rnd.choice(ids)
        approver = rnd.choice([u for u in ids if u != assignee])
        merged = p.merged_at
        created = ms(merged - timedelta(minutes=rnd.randrange(120, 4320)))
        review = ms(created + (merged - created) * 0.1)
        if p.approval == "after":
            approved = ms(merged + max(timedelta(seconds=2),
                                       (until - merged) * rnd.uniform(.1, .4)))
            started = ms(approved + (until - approved) * 0.3)
            done = ms(approved + (until - approved) * 0.6)
        else:
            approved = ms(created + (merged - created) * rnd.uniform(0.3, 0.7))
            started = ms(approved + (merged - approved) * 0.5)
            done = ms(merged + (until - merged) * rnd.uniform(0.05, 0.5))
        who = assignee if p.approval == "self" else approver
        t = Ticket(20000 + i, p.key, project, f"Change {p.key}: ship {p.pr_url.rsplit('/', 3)[-3]}",
                   "Change", "Done", assignee, approver, created, done, done)
        for when, author, items in (
                (review, assignee, [("status", "To Do", "In Review")]),
                (approved, who, [("status", "In Review", "Approved")]),
                (started, assignee, [("status", "Approved", "In Progress")]),
                (done, assignee, [("status", "In Progress", "Done"),
                                  ("resolution", None, "Done")])):
            hid += 1
            t.history.append(Change(hid, author, when, list(items)))
        t.links.append(p.pr_url)
        tickets.append(t)
    projects = {p.key.rpartition("-")[0]: "Change management" for p in planned}
    return Dataset(users, projects or {"CHG": "Change management"}, tickets)


# --- JQL -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
                        |(?P<op>!=|>=|<=|=|>|<|\(|\)|,)
                        |(?P<word>[^\s=!<>(),"']+))""", re.X)
DATE_FIELDS = {"created": "created", "createddate": "created", "updated": "updated",
               "updateddate": "updated", "resolutiondate": "resolutiondate",
               "resolved": "resolutiondate"}
TEXT_FIELDS = {"project", "key", "issuekey", "status", "statuscategory", "issuetype", "type",
               "assignee", "resolution"}


class JqlError(ValueError):
    """A JQL query the simulator (like Jira) refuses."""


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        kind = m.lastgroup or "word"
        val = m.group(kind)
        if kind == "str":
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out.append((kind, val))
        pos = m.end()
    return out


Pred = Callable[[Ticket], bool]


@dataclass
class Query:
    """A parsed JQL query: a predicate, its ORDER BY, and whether it restricts anything."""

    pred: Pred
    order: list[tuple[str, bool]]
    bounded: bool
    projects: set[str]


class _Parser:
    def __init__(self, jql: str, sim: JiraSimulator, tz: ZoneInfo, now: datetime,
                 visible: set[str]) -> None:
        self.t = _tokens(jql)
        self.i = 0
        self.sim = sim
        self.tz = tz
        self.now = now
        self.visible = visible
        self.projects: set[str] = set()

    def peek(self, upper: bool = True) -> str | None:
        if self.i >= len(self.t):
            return None
        k, v = self.t[self.i]
        return v.upper() if (upper and k == "word") else v

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.t):
            raise JqlError("Error in the JQL Query: the query ended unexpectedly.")
        self.i += 1
        return self.t[self.i - 1]

    def parse(self) -> Query:
        pred: Pred = lambda t: True  # noqa: E731
        bounded = False
        if self.peek() not in (None, "ORDER"):
            pred = self.or_()
            bounded = True
        order: list[tuple[str, bool]] = []
        if self.peek() == "ORDER":
            self.take()
            if self.peek() != "BY":
                raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
            self.take()
            while True:
                f = self.take()[1].lower()
                desc = False
                if self.peek() in ("ASC", "DESC"):
                    desc = self.take()[1].upper() == "DESC"
                order.append((f, desc))
                if self.peek() != ",":
                    break
                self.take()
        if self.i != len(self.t):
            raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                           f"'{self.t[self.i][1]}'.")
        return Query(pred, order, bounded, self.projects)

    def or_(self) -> Pred:
        parts = [self.and_()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda t: any(p(t) for p in parts))

    def and_(self) -> Pred:
        parts = [self.unary()]
        while self.peek() == "AND":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda t: all(p(t) for p in parts))

    def unary(self) -> Pred:
        if self.peek() == "NOT":
            self.take()
            inner = self.unary()
            return lambda t: not inner(t)
        if self.peek() == "(":
            self.take()
            inner = self.or_()
            if self.take()[1] != ")":
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause()

    def values(self) -> list[str]:
        if self.peek() != "(":
            return [self.take()[1]]
        self.take()
        vals = []
        while True:
            vals.append(self.take()[1])
            sep = self.take()[1]
            if sep == ")":
                return vals
            if sep != ",":
                raise JqlError("Error in the JQL Query: Expecting ',' or ')'.")

    def clause(self) -> Pred:
        fname = self.take()[1].lower()
        op = self.take()[1].upper()
        if op == "NOT":
            if self.take()[1].upper() != "IN":
                raise JqlError("Error in the JQL Query: Expecting 'IN' after 'NOT'.")
            op = "NOT IN"
        elif op == "IS":
            if self.peek() == "NOT":
                self.take()
                op = "IS NOT"
            if self.take()[1].upper() not in ("EMPTY", "NULL"):
                raise JqlError("Error in the JQL Query: Expecting EMPTY after IS.")
        elif op not in ("=", "!=", ">", ">=", "<", "<=", "IN"):
            raise JqlError(f"Error in the JQL Query: The operator '{op}' is not supported.")
        if fname in DATE_FIELDS:
            return self.date_clause(DATE_FIELDS[fname], op)
        if fname not in TEXT_FIELDS:
            raise JqlError(f"Field '{fname}' does not exist or you do not have permission to "
                           "view it.")
        get = self.getter(fname)
        if op in ("IS", "IS NOT"):
            empty = op == "IS"
            return lambda t: (get(t) is None) == empty
        vals = self.values() if op in ("IN", "NOT IN") else [self.take()[1]]
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise JqlError(f"The operator '{op}' is not supported by the '{fname}' field.")
        if fname == "project":
            for v in vals:
                if v.upper() not in self.visible:
                    raise JqlError(f"The value '{v}' does not exist for the field 'project'.")
            self.projects.update(v.upper() for v in vals)
        wanted = {self.norm(fname, v) for v in vals}
        if op in ("=", "IN"):
            return lambda t: get(t) in wanted
        return lambda t: get(t) is not None and get(t) not in wanted

    def norm(self, fname: str, v: str) -> str:
        if fname == "assignee":
            u = self.sim.find_user(v)
            return u.account_id if u else f"?{v}"
        return v.lower()

    def getter(self, fname: str) -> Callable[[Ticket], str | None]:
        if fname == "project":
            return lambda t: t.project.lower()
        if fname in ("key", "issuekey"):
            return lambda t: t.key.lower()
        if fname == "status":
            return lambda t: t.status.lower()
        if fname == "statuscategory":
            return lambda t: STATUS_CATEGORY[t.status][1].lower()
        if fname in ("issuetype", "type"):
            return lambda t: t.issuetype.lower()
        if fname == "resolution":
            return lambda t: "done" if t.resolutiondate else None
        return lambda t: t.assignee

    def date_clause(self, fname: str, op: str) -> Pred:
        def get(t: Ticket) -> datetime | None:
            v: datetime | None = getattr(t, fname)
            return v

        if op in ("IS", "IS NOT"):
            empty = op == "IS"
            return lambda t: (get(t) is None) == empty
        if op in ("IN", "NOT IN"):
            raise JqlError(f"The operator '{op}' is not supported by the '{fname}' field.")
        bound = parse_jql_date(self.take()[1], self.tz, self.now)
        cmp: dict[str, Callable[[datetime, datetime], bool]] = {
            "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
        f = cmp[op]

        def pred(t: Ticket) -> bool:
            v = get(t)
            return v is not None and f(v, bound)

        return pred


_REL = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_ABS = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})(?:\s+(\d{2}):(\d{2}))?$")


def parse_jql_date(v: str, tz: ZoneInfo, now: datetime) -> datetime:
    """A JQL date value as Jira reads it: in the caller's time zone, a bare date is midnight
    at the start of that day; relative values count from now."""
    v = v.strip()
    m = _REL.match(v)
    if m:
        n = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
        unit = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
                "m": timedelta(minutes=1)}[m.group(3)]
        return now + n * unit
    m = _ABS.match(v)
    if not m:
        raise JqlError(f"Date value '{v}' for field is invalid. Valid formats include: "
                       "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
                       "or a period format e.g. '-5d', '4w 2d'.")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hh, mm = (int(m.group(4)), int(m.group(5))) if m.group(4) else (0, 0)
    try:
        return datetime(y, mo, d, hh, mm, tzinfo=tz).astimezone(UTC)
    except ValueError:
        raise JqlError(f"Date value '{v}' for field is invalid.") from None


def jira_time(dt: datetime, tz: ZoneInfo) -> str:
    """Jira's timestamp format: milliseconds and a +hhmm offset, in the caller's zone."""
    local = dt.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + \
        local.strftime("%z")


# --- the server ----------------------------------------------------------------------------

class JiraSimulator(ServedSimulator):
    """Jira Cloud or Server/DC on 127.0.0.1, in a thread; see the module docstring."""

    thread_name = "jira-simulator"

    cloud_email = "evidence-bot@acme.example"
    api_token = "cloud-api-token-not-real"
    pat = "dc-personal-access-token-not-real"

    def __init__(self, deployment: Deployment = "cloud", data: Dataset | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, bot_time_zone: str = "UTC",
                 rate_per_second: float | None = None, burst: int = 50,
                 visible_projects: set[str] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.deployment = deployment
        self.data = data or generate(50)
        self.now = now
        self.bot = User("5b10ac8d82e05b22cc7d4ebb", "evidence-bot", "JIRAUSER19999",
                        "Evidence Bot", self.cloud_email, bot_time_zone)
        self._users = dict(self.data.users)
        self._users[self.bot.account_id] = self.bot
        self._by_key = self.data.by_key()
        self.visible = {p.upper() for p in (visible_projects if visible_projects is not None
                                            else set(self.data.projects))}
        self.faults: list[Fault] = []
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rate = rate_per_second
        self._burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._secret = hashlib.sha256(f"{deployment}:{len(self.data.tickets)}".encode()).digest()
        self._bind(http_server(host, port, self._handler()))

    # lifecycle ------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def find_user(self, ref: str) -> User | None:
        for u in self._users.values():
            if ref in (u.account_id, u.name, u.key, u.email):
                return u
        return None

    # HTTP -----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            wbufsize = -1  # one write per response: no small-segment (Nagle) stalls

            def _serve(self) -> None:
                body = self.read_body()
                status, headers, payload = sim._dispatch(self.command, self.path,
                                                         dict(self.headers.items()), body)
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        return Handler

    def _dispatch(self, method: str, raw_path: str, headers: dict[str, str],
                  body: bytes) -> tuple[int, dict[str, str], Any]:
        parts = urllib.parse.urlsplit(raw_path)
        path = parts.path.rstrip("/")
        params = {k: ",".join(v) for k, v in urllib.parse.parse_qs(parts.query).items()}
        if path.startswith("/__sim__/"):
            return self._control(method, path, body)
        with self._lock:
            self.stats[f"{method} {_route(path)}"] += 1
        try:
            self._fault(method, path)
            self._admit()
            user = self._authenticate(headers, path)
            return 200, {}, self._route(method, path, params, body, user)
        except _ApiError as e:
            return e.status, e.headers, e.body

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        if path == "/__sim__/faults" and method == "POST":
            spec = json.loads(body or b"{}")
            f = self.inject(Fault(**{k: v for k, v in spec.items() if k != "seen"}))
            return 201, {}, f.to_json()
        if path == "/__sim__/faults" and method == "DELETE":
            with self._lock:
                self.faults.clear()
            return 204, {}, None
        if path == "/__sim__/stats":
            with self._lock:
                return 200, {}, dict(self.stats)
        return 404, {}, {"errorMessages": ["no such control path"], "errors": {}}

    def _fault(self, method: str, path: str) -> None:
        with self._lock:
            for f in self.faults:
                if not path.startswith(f.path) or (f.method and f.method != method):
                    continue
                f.seen += 1
                if f.seen <= f.after or (f.times >= 0 and f.seen > f.after + f.times):
                    continue
                raise self._error_for(f.status, f.retry_after)

    def _error_for(self, status: int, retry_after: int | None) -> _ApiError:
        if status == 429:
            return _ApiError(429, ["Rate limit exceeded."],
                             headers=self._limit_headers(retry_after or 1))
        msg = {401: "You are not authenticated. Authentication required to perform this "
                    "operation.",
               403: "You do not have permission to perform this operation.",
               500: "Internal server error", 503: "Service unavailable"}.get(
            status, f"HTTP {status}")
        hdrs = {"Retry-After": str(retry_after)} if retry_after else {}
        return _ApiError(status, [msg], headers=hdrs)

    def _limit_headers(self, retry_after: int) -> dict[str, str]:
        h = {"Retry-After": str(retry_after), "X-RateLimit-Limit": str(self._burst),
             "X-RateLimit-Remaining": "0"}
        if self.deployment == "cloud":
            reset = datetime.now(UTC) + timedelta(seconds=retry_after)
            h["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
            h["RateLimit-Reason"] = "jira-quota-based"
        else:
            h["X-RateLimit-Interval-Seconds"] = "1"
            h["X-RateLimit-FillRate"] = str(int(self._rate or self._burst))
        return h

    def _admit(self) -> None:
        if self._rate is None:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self._rate
        raise _ApiError(429, ["Rate limit exceeded."],
                        headers=self._limit_headers(max(1, int(wait + 0.999))))

    def _authenticate(self, headers: dict[str, str], path: str) -> User | None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth is None:
            if path == f"{API}/serverInfo":
                return None  # documented as available anonymously
            raise _ApiError(401, ["You are not authenticated. Authentication required to "
                                  "perform this operation."])
        scheme, _, cred = auth.partition(" ")
        ok = False
        if self.deployment == "cloud" and scheme == "Basic":
            try:
                email, _, token = base64.b64decode(cred).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                email, token = "", ""
            ok = hmac.compare_digest(email, self.cloud_email) and \
                hmac.compare_digest(token, self.api_token)
        elif self.deployment == "datacenter" and scheme == "Bearer":
            ok = hmac.compare_digest(cred, self.pat)
        if not ok:
            raise _ApiError(401, ["You are not authenticated. Authentication required to "
                                  "perform this operation."],
                            headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
        return self.bot

    # routes -----------------------------------------------------------------------------------
    def _route(self, method: str, path: str, params: dict[str, str], body: bytes,
               user: User | None) -> Any:
        cloud = self.deployment == "cloud"
        if path == f"{API}/serverInfo" and method == "GET":
            return self._server_info()
        assert user is not None
        tz = ZoneInfo(user.time_zone)
        if path == f"{API}/myself" and method == "GET":
            return self._user(user, tz, full=True)
        if path == f"{API}/field" and method == "GET":
            return [{"id": f, "key": f, "name": f.title(), "custom": False, "navigable": True,
                     "searchable": True, "clauseNames": [f]}
                    for f in ("summary", "status", "assignee", "reporter", "issuetype",
                              "project", "created", "updated", "resolutiondate", "resolution")]
        if path == f"{API}/mypermissions" and method == "GET":
            proj = params.get("projectKey", "").upper()
            have = not proj or proj in self.visible
            return {"permissions": {"BROWSE_PROJECTS": {
                "id": "10", "key": "BROWSE_PROJECTS", "name": "Browse Projects",
                "type": "PROJECT", "havePermission": have}}}
        if path == f"{API}/search":
            if cloud:
                raise _ApiError(410, ["The requested API has been removed. Please migrate to "
                                      "the /rest/api/3/search/jql API."])
            if method == "POST":
                params = {k: (",".join(v) if isinstance(v, list) else str(v))
                          for k, v in json.loads(body or b"{}").items() if v is not None}
            return self._search_dc(params, tz)
        if path == f"{API}/search/jql":
            if not cloud:
                raise _ApiError(404, ["null for uri: " + path])
            if method == "POST":
                params = {k: (",".join(v) if isinstance(v, list) else str(v))
                          for k, v in json.loads(body or b"{}").items() if v is not None}
            return self._search_cloud(params, tz)
        if path == f"{API}/search/approximate-count" and method == "POST":
            if not cloud:
                raise _ApiError(404, ["null for uri: " + path])
            q = self._query(json.loads(body or b"{}").get("jql", ""), tz)
            return {"count": sum(1 for t in self._visible_tickets() if q.pred(t))}
        m = re.fullmatch(rf"{API}/issue/([^/]+)(/changelog|/remotelink)?", path)
        if m and method == "GET":
            t = self._ticket(m.group(1))
            if m.group(2) == "/remotelink":
                return [self._remote_link(t, i, u) for i, u in enumerate(t.links)]
            if m.group(2) == "/changelog":
                if not cloud:
                    raise _ApiError(404, ["null for uri: " + path])
                return self._changelog_page(t, params, tz)
            return self._issue(t, _fields(params.get("fields"), cloud=False),
                               "changelog" in params.get("expand", ""), tz)
        raise _ApiError(404, ["null for uri: " + path])

    def _server_info(self) -> dict[str, Any]:
        cloud = self.deployment == "cloud"
        version = [1001, 0, 0] if cloud else [9, 12, 15]
        return {"baseUrl": self.url, "version": ".".join(map(str, version)) +
                ("-SNAPSHOT" if cloud else ""), "versionNumbers": version,
                "deploymentType": "Cloud" if cloud else "Server", "buildNumber": 100250,
                "buildDate": "2026-10-01T00:00:00.000+0000",
                "serverTime": jira_time(datetime.now(UTC), ZoneInfo("UTC")),
                "scmInfo": "0" * 40, "serverTitle": "Jira"}

    def _visible_tickets(self) -> Iterator[Ticket]:
        return (t for t in self.data.tickets if t.project.upper() in self.visible)

    def _ticket(self, key: str) -> Ticket:
        t = self._by_key.get(key.upper())
        if t is None and key.isdigit():
            t = next((x for x in self.data.tickets if str(x.id) == key), None)
        if t is None or t.project.upper() not in self.visible:
            raise _ApiError(404, ["Issue does not exist or you do not have permission to "
                                  "see it."])
        return t

    def _query(self, jql: str, tz: ZoneInfo) -> Query:
        try:
            return _Parser(jql, self, tz, self.now(), self.visible).parse()
        except JqlError as e:
            raise _ApiError(400, [str(e)]) from None

    def _matches(self, q: Query) -> list[Ticket]:
        found = [t for t in self._visible_tickets() if q.pred(t)]
        for fname, desc in reversed(q.order or [("key", False)]):
            f = DATE_FIELDS.get(fname, fname)

            def sort_key(t: Ticket, f: str = f) -> Any:
                if f in ("key", "issuekey", "id"):
                    return t.id
                v = getattr(t, f, None)
                return (v is None, v if v is not None else datetime.min.replace(tzinfo=UTC))

            found.sort(key=sort_key, reverse=desc)
        return found

    def _search_dc(self, params: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
        q = self._query(params.get("jql", ""), tz)
        start = _int(params.get("startAt"), 0, "startAt")
        size = min(_int(params.get("maxResults"), 50, "maxResults"), SEARCH_MAX_DC)
        found = self._matches(q)
        fields = _fields(params.get("fields"), cloud=False)
        expand = "changelog" in params.get("expand", "")
        page = found[start:start + size] if size > 0 else []
        return {"expand": "schema,names", "startAt": start, "maxResults": size,
                "total": len(found), "issues": [self._issue(t, fields, expand, tz)
                                                for t in page]}

    def _search_cloud(self, params: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
        jql = params.get("jql", "")
        q = self._query(jql, tz)
        if not q.bounded:
            raise _ApiError(400, ["Unbounded JQL queries are not allowed here. Please add a "
                                  "search restriction to your query."])
        size = max(1, min(_int(params.get("maxResults"), 50, "maxResults"), SEARCH_MAX_CLOUD))
        start = 0
        if params.get("nextPageToken"):
            start = self._read_token(params["nextPageToken"], jql)
        found = self._matches(q)
        fields = _fields(params.get("fields"), cloud=True)
        expand = "changelog" in params.get("expand", "")
        page = found[start:start + size]
        out: dict[str, Any] = {"issues": [self._issue(t, fields, expand, tz) for t in page]}
        if start + size < len(found):
            out["nextPageToken"] = self._make_token(start + size, jql)
            out["isLast"] = False
        else:
            out["isLast"] = True
        return out

    def _make_token(self, offset: int, jql: str) -> str:
        msg = f"{offset}:{hashlib.sha256(jql.encode()).hexdigest()[:16]}".encode()
        mac = hmac.new(self._secret, msg, "sha256").hexdigest()[:16]
        return base64.urlsafe_b64encode(msg + b":" + mac.encode()).decode().rstrip("=")

    def _read_token(self, token: str, jql: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            off, qh, mac = raw.split(":")
            want = hmac.new(self._secret, f"{off}:{qh}".encode(), "sha256").hexdigest()[:16]
            if not hmac.compare_digest(mac, want) or \
                    qh != hashlib.sha256(jql.encode()).hexdigest()[:16]:
                raise ValueError
            return int(off)
        except (ValueError, UnicodeDecodeError):
            raise _ApiError(400, ["The provided next page token is invalid or expired."]) \
                from None

    # rendering ------------------------------------------------------------------------------
    def _user(self, u: User | None, tz: ZoneInfo, full: bool = False) -> dict[str, Any] | None:
        if u is None:
            return None
        if self.deployment == "cloud":
            out: dict[str, Any] = {"self": f"{self.url}{API}/user?accountId={u.account_id}",
                                   "accountId": u.account_id, "accountType": u.account_type,
                                   "displayName": u.display_name, "active": True}
        else:
            out = {"self": f"{self.url}{API}/user?username={u.name}", "name": u.name,
                   "key": u.key, "displayName": u.display_name, "active": True}
        out["emailAddress"] = u.email
        if full:
            out["timeZone"] = u.time_zone
            out["locale"] = "en_US"
        return out

    def _user_ref(self, account_id: str | None) -> str | None:
        if account_id is None:
            return None
        u = self._users.get(account_id)
        if u is None:
            return account_id
        return u.account_id if self.deployment == "cloud" else u.key

    def _history(self, c: Change, tz: ZoneInfo) -> dict[str, Any]:
        items = []
        for fname, frm, to in c.items:
            item: dict[str, Any] = {"field": fname, "fieldtype": "jira"}
            if fname == "assignee":
                item["fieldId"] = "assignee"
                item["from"], item["to"] = self._user_ref(frm), self._user_ref(to)
                fu = self._users.get(frm) if frm else None
                tu = self._users.get(to) if to else None
                item["fromString"] = fu.display_name if fu else None
                item["toString"] = tu.display_name if tu else None
                if self.deployment == "cloud":
                    item["tmpFromAccountId"], item["tmpToAccountId"] = frm, to
            elif fname == "status":
                item["fieldId"] = "status"
                item["from"], item["fromString"] = STATUS_ID.get(frm or ""), frm
                item["to"], item["toString"] = STATUS_ID.get(to or ""), to
            else:
                item["fieldId"] = fname
                item["from"], item["fromString"] = None, frm
                item["to"], item["toString"] = None, to
            items.append(item)
        return {"id": str(c.id), "author": self._user(self._users.get(c.author), tz),
                "created": jira_time(c.created, tz), "items": items}

    def _issue(self, t: Ticket, fields: set[str] | None, changelog: bool,
               tz: ZoneInfo) -> dict[str, Any]:
        out: dict[str, Any] = {"expand": "operations,changelog,renderedFields", "id": str(t.id),
                               "self": f"{self.url}{API}/issue/{t.id}", "key": t.key}
        cat = STATUS_CATEGORY[t.status]
        every: dict[str, Any] = {
            "summary": t.summary,
            "status": {"self": f"{self.url}{API}/status/{STATUS_ID[t.status]}",
                       "name": t.status, "id": STATUS_ID[t.status],
                       "statusCategory": {"id": cat[2], "key": cat[0], "name": cat[1]}},
            "assignee": self._user(self._users.get(t.assignee) if t.assignee else None, tz),
            "reporter": self._user(self._users.get(t.reporter), tz),
            "issuetype": {"id": "10005", "name": t.issuetype},
            "project": {"id": "10000", "key": t.project, "name": self.data.projects[t.project]},
            "created": jira_time(t.created, tz), "updated": jira_time(t.updated, tz),
            "resolutiondate": jira_time(t.resolutiondate, tz) if t.resolutiondate else None,
            "resolution": {"name": "Done"} if t.resolutiondate else None,
        }
        if fields is None or fields:
            out["fields"] = {k: v for k, v in every.items() if fields is None or k in fields}
        if changelog:
            hist = t.history
            if self.deployment == "cloud" and len(hist) > CLOUD_EMBED_LIMIT:
                hist = hist[-CLOUD_EMBED_LIMIT:]
            out["changelog"] = {"startAt": 0, "maxResults": len(hist),
                                "total": len(t.history),
                                "histories": [self._history(c, tz) for c in hist]}
        return out

    def _changelog_page(self, t: Ticket, params: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
        start = _int(params.get("startAt"), 0, "startAt")
        size = max(1, min(_int(params.get("maxResults"), 100, "maxResults"),
                          CHANGELOG_PAGE_MAX))
        page = t.history[start:start + size]
        last = start + size >= len(t.history)
        out: dict[str, Any] = {
            "self": f"{self.url}{API}/issue/{t.key}/changelog?maxResults={size}&startAt={start}",
            "maxResults": size, "startAt": start, "total": len(t.history), "isLast": last,
            "values": [self._history(c, tz) for c in page]}
        if not last:
            out["nextPage"] = (f"{self.url}{API}/issue/{t.key}/changelog?maxResults={size}"
                               f"&startAt={start + size}")
        return out

    def _remote_link(self, t: Ticket, i: int, url: str) -> dict[str, Any]:
        m = re.match(r"https://github\.com/([^/]+/[^/]+)/pull/(\d+)", url)
        title = f"{m.group(1)}#{m.group(2)}" if m else url
        return {"id": 20000 + t.id * 10 + i,
                "self": f"{self.url}{API}/issue/{t.key}/remotelink/{20000 + t.id * 10 + i}",
                "globalId": f"github-pr={url}",
                "application": {"type": "com.github", "name": "GitHub"},
                "relationship": "pull request",
                "object": {"url": url, "title": title, "summary": t.summary,
                           "status": {"resolved": True}}}


def _route(path: str) -> str:
    return re.sub(r"/issue/[^/]+", "/issue/{key}", path)


def _int(v: str | None, default: int, name: str) -> int:
    if v in (None, ""):
        return default
    try:
        return int(str(v))
    except ValueError:
        raise _ApiError(400, [], {name: f"The value '{v}' is not a valid number."}) from None


def _fields(v: str | None, *, cloud: bool) -> set[str] | None:
    """None: every field; an empty set: no `fields` object. Cloud's enhanced search returns
    only the id unless fields are asked for; Server/DC defaults to navigable fields."""
    if v is None or v == "":
        return set() if cloud else None
    names = {f.strip() for f in v.split(",") if f.strip()}
    if names & {"*all", "*navigable"}:
        return None
    return names - {"id", "key"}


def main(argv: list[str] | None = None) -> None:
    """`python -m simulators.jira --mode cloud --tickets 5000`: serve until interrupted."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--mode", choices=["cloud", "datacenter"], default="cloud")
    ap.add_argument("--tickets", type=int, default=500)
    ap.add_argument("--days", type=int, default=80, help="tickets spread over this many days")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=None, help="requests/second (429 above)")
    a = ap.parse_args(argv)
    now = datetime.now(UTC)
    data = generate(a.tickets, start=now - timedelta(days=a.days), end=now - timedelta(hours=1))
    sim = JiraSimulator(a.mode, data, port=a.port, rate_per_second=a.rate).start()
    print(sim.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
