"""A local stand-in for GitHub's REST API (github.com and GitHub Enterprise Server).

It answers the read-only endpoints the `github` connector uses, as GitHub documents them:

    GET  /user, /app, /rate_limit
    POST /app/installations/{id}/access_tokens            (JWT RS256 from a GitHub App)
    GET  /orgs/{org}, /orgs/{org}/members (role=all|admin|member, filter=all|2fa_disabled)
    GET  /orgs/{org}/outside_collaborators, /orgs/{org}/repos
    GET  /orgs/{org}/rulesets, /orgs/{org}/rulesets/{id}
    GET  /repos/{o}/{r}, /repos/{o}/{r}/branches, /repos/{o}/{r}/branches/{b}
    GET  /repos/{o}/{r}/branches/{b}/protection            (404 "Branch not protected")
    GET  /repos/{o}/{r}/rulesets (includes_parents), /repos/{o}/{r}/rulesets/{id}
    GET  /repos/{o}/{r}/rules/branches/{b}                 (active rules only, all levels)
    GET  /repos/{o}/{r}/pulls (state, base, sort, direction), /pulls/{n}, /pulls/{n}/reviews
    GET  /repos/{o}/{r}/commits (sha, since, until), /commits/{ref}/check-runs,
         /commits/{ref}/status
    GET  /repos/{o}/{r}/activity (ref, activity_type, actor, time_period; cursor paging)
    GET  /search/issues?q=...                              (total_count, 1,000-result cap)

Auth: `Authorization: token X` or `Bearer X` (personal / fine-grained / installation tokens),
or a GitHub App JWT (RS256, `iss` = app ID, at most 10 minutes) for the `/app` endpoints.
Paging: `per_page` (max 100, default 30) and `page`, with a `Link` header (rel next, last,
first, prev) whose URLs use this server's own host, port and prefix. Every answer carries
`x-ratelimit-limit/-remaining/-reset/-used/-resource`; past the limit the primary rate limit
answers 403 with remaining 0, and injected faults give secondary limits with `retry-after`.
Errors are GitHub's `{"message", "documentation_url"}` bodies.

    with GitHubSimulator(prefix="/api/v3") as sim:       # GHES-style base URL
        sim.add_token("t0k3n", login="auditor")
        seed_org(sim, "acme", merged_prs=200)
        Github(base_url=sim.url, auth=Auth.Token("t0k3n"))

Faults for tests (and the kit's conformance suite, over HTTP at `POST /_simulator/faults`):
`sim.inject(Fault(status=429, retry_after=1, times=1))`, a 500 on page N
(`Fault(status=500, page=2, path_contains="/pulls")`), 401/403 for a path.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from simulators.serving import QuietHandler, ServedSimulator, http_server

DOCS = "https://docs.github.com/rest"
Json = dict[str, Any]


def iso(t: datetime | None) -> str | None:
    """GitHub's timestamp format: ISO 8601 UTC with a Z."""
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(v: str) -> datetime:
    """Parse an ISO 8601 timestamp (a date alone means its midnight UTC)."""
    t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def fnmatch_ref(pattern: str, name: str) -> bool:
    """GitHub's ruleset pattern matching (`fnmatch` with FNM_PATHNAME): `*` stops at `/`,
    `**` crosses it, `?` is one character, `[...]` a class."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.fullmatch("".join(out), name) is not None


def ruleset_targets(ruleset: Json, repo: Json, branch: str) -> bool:
    """Whether a branch ruleset's conditions select `branch` of `repo` (documented semantics:
    a name must match an include pattern and no exclude pattern; `~ALL`, `~DEFAULT_BRANCH`)."""
    if ruleset.get("target", "branch") != "branch":
        return False
    cond = ruleset.get("conditions") or {}
    rn = cond.get("repository_name")
    if rn is not None:
        inc, exc = rn.get("include") or [], rn.get("exclude") or []
        name = repo["name"]
        if not any(p == "~ALL" or fnmatch_ref(p, name) for p in inc):
            return False
        if any(p == "~ALL" or fnmatch_ref(p, name) for p in exc):
            return False
    rid = cond.get("repository_id")
    if rid is not None and repo["id"] not in (rid.get("repository_ids") or []):
        return False
    if ruleset.get("source_type") == "Organization" and rn is None and rid is None:
        return False  # an organization ruleset must say which repositories it targets
    ref = cond.get("ref_name")
    if ref is None:
        return False  # a branch ruleset selects branches through ref_name
    full = f"refs/heads/{branch}"

    def hit(p: str) -> bool:
        if p == "~ALL":
            return True
        if p == "~DEFAULT_BRANCH":
            return bool(branch == repo["default_branch"])
        return fnmatch_ref(p, full)

    inc, exc = ref.get("include") or [], ref.get("exclude") or []
    return any(hit(p) for p in inc) and not any(hit(p) for p in exc)


@dataclass
class Fault:
    """Answer matching requests with an error (until `times` runs out; None = always)."""

    status: int = 500
    message: str = "Server Error"
    path_contains: str | None = None
    path: str | None = None  # exact path (after the API prefix)
    method: str | None = None
    page: int | None = None
    times: int | None = 1
    retry_after: int | None = None
    ratelimit_remaining: int | None = None

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in path)
                and (self.path is None or self.path == path)
                and (self.page is None or int(query.get("page", "1") or 1) == self.page))


@dataclass
class Principal:
    """Who a token belongs to and what it may read."""

    login: str
    kind: str = "user"  # user | installation | app
    repo_admin_read: bool = True  # "Administration: read" (classic protection)
    org_admin_read: bool = True  # "Administration: read" on the org (org rulesets, 2FA)
    write_rulesets: bool = True  # sees rulesets' bypass_actors (documented: write access)
    installation_id: int | None = None


@dataclass
class _ApiError(Exception):
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    doc: str = DOCS


@dataclass
class _RateWindow:
    limit: int
    reset: float
    used: int = 0


class GitHubSimulator(ServedSimulator):
    """GitHub's documented REST API over HTTP on 127.0.0.1, for tests, demo and bench."""

    thread_name = "github-simulator"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "",
                 rate_limit: int = 5000, search_rate_limit: int = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.prefix = prefix.rstrip("/")
        self.rate_limit = rate_limit
        self.search_rate_limit = search_rate_limit
        self.clock = clock
        self.orgs: dict[str, Json] = {}
        self.repos: dict[str, Json] = {}  # "owner/name" -> repo state
        self.users: dict[str, Json] = {}
        self.tokens: dict[str, Principal] = {}
        self.apps: dict[int, tuple[bytes, dict[int, Principal]]] = {}
        self._faults: list[Fault] = []
        self._rate: dict[tuple[str, str], _RateWindow] = {}
        self._lock = threading.Lock()
        self._next_id = 1000
        self.requests = 0
        self.request_log: list[tuple[str, str, int]] = []
        self.keep_log = True
        self._bind(http_server(host, port, self._handler()))

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API base URL (`http://127.0.0.1:PORT` or `.../api/v3` for GHES)."""
        return self.origin + self.prefix

    # --- state -------------------------------------------------------------------------------

    def new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_token(self, token: str, login: str = "auditor", **kw: Any) -> Principal:
        """Accept `token` as `login` (kw: Principal's permission flags)."""
        p = Principal(login=login, **kw)
        self.tokens[token] = p
        self.user(login)
        return p

    def add_app(self, app_id: int, public_key_pem: bytes, installation_id: int,
                **kw: Any) -> Principal:
        """Register a GitHub App (its public key) with one installation."""
        p = Principal(login=f"app-{app_id}[bot]", kind="installation",
                      installation_id=installation_id, **kw)
        if app_id not in self.apps:
            self.apps[app_id] = (public_key_pem, {})
        self.apps[app_id][1][installation_id] = p
        return p

    def user(self, login: str, *, two_factor: bool = True, kind: str = "User") -> Json:
        """The user called `login`, created on first mention."""
        u = self.users.get(login)
        if u is None:
            u = {"login": login, "id": self.new_id(), "type": kind, "two_factor": two_factor}
            self.users[login] = u
        return u

    def add_org(self, login: str, **settings: Any) -> Json:
        org = {"login": login, "id": self.new_id(), "members": {}, "outside": [],
               "rulesets": [], "two_factor_requirement_enabled": True,
               "default_repository_permission": "read",
               "members_can_create_repositories": False, "created_at": "2020-01-01T00:00:00Z"}
        org.update(settings)
        self.orgs[login] = org
        return org

    def add_member(self, org: str, login: str, *, role: str = "member",
                   two_factor: bool = True) -> Json:
        u = self.user(login, two_factor=two_factor)
        u["two_factor"] = two_factor
        self.orgs[org]["members"][login] = role
        return u

    def add_repo(self, org: str, name: str, *, default_branch: str = "main",
                 private: bool = True, archived: bool = False) -> Json:
        repo = {"name": name, "id": self.new_id(), "owner": org, "default_branch": default_branch,
                "private": private, "archived": archived, "branches": {default_branch: {}},
                "protection": {}, "rulesets": [], "pulls": [], "pulls_by_number": {},
                "check_runs": {}, "statuses": {}, "commits": [], "activity": []}
        self.repos[f"{org}/{name}"] = repo
        return repo

    def add_ruleset(self, owner: Json, *, name: str, enforcement: str = "active",
                    conditions: Json | None = None, rules: list[Json] | None = None,
                    bypass_actors: list[Json] | None = None) -> Json:
        """A branch ruleset on a repo (owner is a repo) or an organization (owner is an org)."""
        is_org = "members" in owner
        rs = {"id": self.new_id(), "name": name, "target": "branch",
              "source_type": "Organization" if is_org else "Repository",
              "source": owner["login"] if is_org else f"{owner['owner']}/{owner['name']}",
              "enforcement": enforcement, "conditions": conditions or {},
              "rules": rules or [], "bypass_actors": bypass_actors or [],
              "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
        owner["rulesets"].append(rs)
        return rs

    def add_pull(self, repo: Json, pr: Json) -> Json:
        """Add a pull request (dict with number, title, user, head/base refs, times...)."""
        pr.setdefault("id", self.new_id())
        pr.setdefault("reviews", [])
        repo["pulls"].append(pr)
        repo["pulls_by_number"][pr["number"]] = pr
        return pr

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._rate.clear()

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                body = self.read_body()
                status, headers, out = sim.handle(self.command, self.path,
                                                  {k.lower(): v for k, v in self.headers.items()},
                                                  body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        return Handler

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body)."""
        u = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True)
                 .items()}
        path = u.path
        if path.startswith("/_simulator/"):
            return self._control(method, path, body)
        out_headers: dict[str, str] = {"Content-Type": "application/json; charset=utf-8",
                                       "X-GitHub-Media-Type": "github.v3; format=json"}
        with self._lock:
            self.requests += 1
        status = 200
        try:
            if self.prefix:
                if not path.startswith(self.prefix + "/") and path != self.prefix:
                    raise _ApiError(404, "Not Found")
                path = path[len(self.prefix):] or "/"
            principal, key = self._authenticate(method, path, headers)
            resource = "search" if path.startswith("/search/") else "core"
            fault = self._fault_for(method, path, query)
            if fault is not None:
                self._count(key, resource, out_headers)
                raise self._fault_error(fault, key, resource)
            self._count(key, resource, out_headers, admit=True)
            result, extra = self._route(method, path, query, principal, body)
            status = int(extra.pop("_status", "200"))
            out_headers.update(extra)
            payload = json.dumps(result, separators=(",", ":")).encode()
        except _ApiError as e:
            status = e.status
            out_headers.update(e.headers)
            payload = json.dumps({"message": e.message, "documentation_url": e.doc,
                                  "status": str(e.status)}).encode()
        if self.keep_log:
            with self._lock:
                self.request_log.append((method, raw_path, status))
        return status, out_headers, payload

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        h = {"Content-Type": "application/json"}
        if method == "POST" and path == "/_simulator/faults":
            try:
                spec = json.loads(body or b"{}")
                f = self.inject(Fault(**spec))
            except (TypeError, ValueError) as e:
                return 400, h, json.dumps({"message": f"bad fault: {e}"}).encode()
            return 201, h, json.dumps(asdict(f)).encode()
        if method == "DELETE" and path == "/_simulator/faults":
            self.clear_faults()
            return 204, h, b""
        if method == "GET" and path == "/_simulator/stats":
            with self._lock:
                stats = {"requests": self.requests}
            return 200, h, json.dumps(stats).encode()
        if method == "POST" and path == "/_simulator/reset":
            self.clear_faults()
            self.reset_rate_limits()
            return 204, h, b""
        return 404, h, json.dumps({"message": "Not Found"}).encode()

    def _fault_for(self, method: str, path: str, query: dict[str, str]) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(method, path, query) and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _fault_error(self, f: Fault, key: str, resource: str) -> _ApiError:
        h: dict[str, str] = {}
        if f.retry_after is not None:
            h["retry-after"] = str(f.retry_after)
        if f.ratelimit_remaining is not None:
            h["x-ratelimit-remaining"] = str(f.ratelimit_remaining)
        return _ApiError(f.status, f.message, h)

    # --- auth and rate limits ----------------------------------------------------------------

    def _authenticate(self, method: str, path: str,
                      headers: dict[str, str]) -> tuple[Principal | None, str]:
        auth = headers.get("authorization", "")
        scheme, _, cred = auth.partition(" ")
        cred = cred.strip()
        if not auth:
            raise _ApiError(401, "Requires authentication")
        if scheme.lower() not in ("token", "bearer") or not cred:
            raise _ApiError(401, "Bad credentials")
        if cred.count(".") == 2 and scheme.lower() == "bearer":
            app_id = self._verify_jwt(cred)
            if not path.startswith("/app"):
                raise _ApiError(401, "A JSON web token could not be decoded")
            return Principal(login=f"app-{app_id}", kind="app"), f"app:{app_id}"
        p = self.tokens.get(cred)
        if p is None:
            raise _ApiError(401, "Bad credentials")
        return p, f"tok:{p.login}:{p.kind}"

    def _verify_jwt(self, token: str) -> int:
        import jwt  # PyJWT, a PyGithub dependency

        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app_id = int(claims["iss"])
            key = self.apps[app_id][0]
            claims = jwt.decode(token, key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]}, leeway=60)
        except (KeyError, ValueError, TypeError, jwt.PyJWTError):
            raise _ApiError(401, "A JSON web token could not be decoded") from None
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            raise _ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        return app_id

    def _count(self, key: str, resource: str, out: dict[str, str], admit: bool = False) -> None:
        now = self.clock()
        limit = self.search_rate_limit if resource == "search" else self.rate_limit
        period = 60.0 if resource == "search" else 3600.0
        with self._lock:
            w = self._rate.get((key, resource))
            if w is None or now >= w.reset:
                w = _RateWindow(limit=limit, reset=float(int(now + period)))
                self._rate[(key, resource)] = w
            exceeded = admit and w.used >= w.limit
            if admit and not exceeded:
                w.used += 1
            out.update({"x-ratelimit-limit": str(w.limit),
                        "x-ratelimit-remaining": str(max(0, w.limit - w.used)),
                        "x-ratelimit-reset": str(int(w.reset)),
                        "x-ratelimit-used": str(w.used),
                        "x-ratelimit-resource": resource})
        if exceeded:
            raise _ApiError(403, f"API rate limit exceeded for {key.split(':')[1]}.",
                            dict(out),
                            doc="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")

    # --- routing -----------------------------------------------------------------------------

    _ROUTES: ClassVar[list[tuple[str, re.Pattern[str], str]]] = [
        (m, re.compile("^" + p + "$"), h) for m, p, h in [
            ("GET", r"/user", "_get_user"),
            ("GET", r"/rate_limit", "_get_rate_limit"),
            ("GET", r"/app", "_get_app"),
            ("POST", r"/app/installations/(\d+)/access_tokens", "_post_access_token"),
            ("GET", r"/orgs/([^/]+)", "_get_org"),
            ("GET", r"/orgs/([^/]+)/members", "_get_members"),
            ("GET", r"/orgs/([^/]+)/outside_collaborators", "_get_outside"),
            ("GET", r"/orgs/([^/]+)/repos", "_get_org_repos"),
            ("GET", r"/orgs/([^/]+)/rulesets", "_get_org_rulesets"),
            ("GET", r"/orgs/([^/]+)/rulesets/(\d+)", "_get_org_ruleset"),
            ("GET", r"/repos/([^/]+)/([^/]+)", "_get_repo"),
            ("GET", r"/repos/([^/]+)/([^/]+)/branches", "_get_branches"),
            ("GET", r"/repos/([^/]+)/([^/]+)/branches/(.+)/protection", "_get_protection"),
            ("GET", r"/repos/([^/]+)/([^/]+)/branches/(.+)", "_get_branch"),
            ("GET", r"/repos/([^/]+)/([^/]+)/rulesets", "_get_repo_rulesets"),
            ("GET", r"/repos/([^/]+)/([^/]+)/rulesets/(\d+)", "_get_repo_ruleset"),
            ("GET", r"/repos/([^/]+)/([^/]+)/rules/branches/(.+)", "_get_branch_rules"),
            ("GET", r"/repos/([^/]+)/([^/]+)/pulls", "_get_pulls"),
            ("GET", r"/repos/([^/]+)/([^/]+)/pulls/(\d+)", "_get_pull"),
            ("GET", r"/repos/([^/]+)/([^/]+)/pulls/(\d+)/reviews", "_get_reviews"),
            ("GET", r"/repos/([^/]+)/([^/]+)/commits", "_get_commits"),
            ("GET", r"/repos/([^/]+)/([^/]+)/commits/([^/]+)/check-runs", "_get_check_runs"),
            ("GET", r"/repos/([^/]+)/([^/]+)/commits/([^/]+)/status", "_get_status"),
            ("GET", r"/repos/([^/]+)/([^/]+)/activity", "_get_activity"),
            ("GET", r"/search/issues", "_search_issues"),
        ]]

    def _route(self, method: str, path: str, query: dict[str, str], who: Principal | None,
               body: bytes) -> tuple[Any, dict[str, str]]:
        known_path = False
        for m, rx, name in self._ROUTES:
            hit = rx.match(path)
            if hit is None:
                continue
            known_path = True
            if m != method:
                continue
            args = [urllib.parse.unquote(a) for a in hit.groups()]
            if who is not None and who.kind == "app" and not name.startswith(("_get_app",
                                                                               "_post_access")):
                raise _ApiError(401, "A JSON web token could not be decoded")
            fn = getattr(self, name)
            with self._lock:
                out: tuple[Any, dict[str, str]] = fn(query, who, body, *args)
            return out
        if known_path:
            raise _ApiError(404, "Not Found")
        raise _ApiError(404, "Not Found")

    def _link(self, path: str, query: dict[str, str], **changes: str | int) -> str:
        q = dict(query)
        q.update({k: str(v) for k, v in changes.items()})
        return f"<{self.url}{path}?{urllib.parse.urlencode(q)}>"

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[list[Any],
                                                                                  dict[str, str]]:
        try:
            per_page = min(100, max(1, int(query.get("per_page") or 30)))
            page = max(1, int(query.get("page") or 1))
        except ValueError:
            raise _ApiError(422, "Validation Failed") from None
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        if page < last:
            links.append(self._link(path, query, page=page + 1, per_page=per_page)
                         + '; rel="next"')
            links.append(self._link(path, query, page=last, per_page=per_page) + '; rel="last"')
        if page > 1:
            links.append(self._link(path, query, page=page - 1, per_page=per_page)
                         + '; rel="prev"')
            links.append(self._link(path, query, page=1, per_page=per_page) + '; rel="first"')
        return chunk, ({"Link": ", ".join(links)} if links else {})

    # --- object shapes ------------------------------------------------------------------------

    def _simple_user(self, login: str | None) -> Json | None:
        if login is None:
            return None
        u = self.users.get(login) or {"login": login, "id": 0, "type": "User"}
        return {"login": u["login"], "id": u["id"], "node_id": f"U_{u['id']}",
                "type": u["type"], "site_admin": False,
                "url": f"{self.url}/users/{u['login']}",
                "html_url": f"{self.origin}/{u['login']}"}

    def _repo_json(self, r: Json) -> Json:
        full = f"{r['owner']}/{r['name']}"
        return {"id": r["id"], "node_id": f"R_{r['id']}", "name": r["name"], "full_name": full,
                "owner": self._simple_user_org(r["owner"]), "private": r["private"],
                "visibility": "private" if r["private"] else "public",
                "archived": r["archived"], "disabled": False, "fork": False,
                "default_branch": r["default_branch"], "url": f"{self.url}/repos/{full}",
                "html_url": f"{self.origin}/{full}"}

    def _simple_user_org(self, login: str) -> Json:
        o = self.orgs.get(login)
        oid = o["id"] if o else 0
        return {"login": login, "id": oid, "type": "Organization",
                "url": f"{self.url}/orgs/{login}"}

    def _find_repo(self, owner: str, name: str) -> Json:
        r = self.repos.get(f"{owner}/{name}")
        if r is None:
            raise _ApiError(404, "Not Found")
        return r

    def _find_org(self, login: str) -> Json:
        o = self.orgs.get(login)
        if o is None:
            raise _ApiError(404, "Not Found")
        return o

    # --- handlers ------------------------------------------------------------------------------

    def _get_user(self, q: dict[str, str], who: Principal | None, body: bytes
                  ) -> tuple[Any, dict[str, str]]:
        if who is None or who.kind != "user":
            raise _ApiError(403, "Resource not accessible by integration")
        return self._simple_user(who.login), {}

    def _get_rate_limit(self, q: dict[str, str], who: Principal | None, body: bytes
                        ) -> tuple[Any, dict[str, str]]:
        res = {}
        for (k, r), w in self._rate.items():
            if who is not None and k.startswith(f"tok:{who.login}:"):
                res[r] = {"limit": w.limit, "used": w.used, "remaining": w.limit - w.used,
                          "reset": int(w.reset)}
        return {"resources": res, "rate": res.get("core", {})}, {}

    def _get_app(self, q: dict[str, str], who: Principal | None, body: bytes
                 ) -> tuple[Any, dict[str, str]]:
        if who is None or who.kind != "app":
            raise _ApiError(401, "A JSON web token could not be decoded")
        app_id = int(who.login.split("-")[1])
        return {"id": app_id, "slug": f"evidence-app-{app_id}", "name": "Evidence Agent",
                "permissions": {"metadata": "read", "administration": "read",
                                "pull_requests": "read", "checks": "read",
                                "statuses": "read", "members": "read"}}, {}

    def _post_access_token(self, q: dict[str, str], who: Principal | None, body: bytes,
                           inst: str) -> tuple[Any, dict[str, str]]:
        if who is None or who.kind != "app":
            raise _ApiError(401, "A JSON web token could not be decoded")
        app_id = int(who.login.split("-")[1])
        p = self.apps[app_id][1].get(int(inst))
        if p is None:
            raise _ApiError(404, "Not Found")
        tok = "ghs_" + base64.b32encode(f"{app_id}:{inst}:{self._next_id}".encode()).decode()
        tok = tok.rstrip("=")
        self._next_id += 1
        self.tokens[tok] = p
        # Clients compare expiry with their own wall clock, whatever this server's clock says.
        expires = datetime.fromtimestamp(max(self.clock(), time.time()), UTC) + timedelta(hours=1)
        return ({"token": tok, "expires_at": iso(expires),
                 "permissions": {"metadata": "read", "administration": "read",
                                 "pull_requests": "read", "members": "read"},
                 "repository_selection": "all"}, {"_status": "201"})

    def _get_org(self, q: dict[str, str], who: Principal | None, body: bytes, org: str
                 ) -> tuple[Any, dict[str, str]]:
        o = self._find_org(org)
        out = {"login": o["login"], "id": o["id"], "node_id": f"O_{o['id']}",
               "url": f"{self.url}/orgs/{org}", "type": "Organization",
               "repos_url": f"{self.url}/orgs/{org}/repos", "created_at": o["created_at"],
               "public_repos": sum(1 for r in self.repos.values()
                                   if r["owner"] == org and not r["private"])}
        # Documented: these settings are only visible to organization owners.
        if who is not None and who.org_admin_read:
            out.update({k: o[k] for k in ("two_factor_requirement_enabled",
                                          "default_repository_permission",
                                          "members_can_create_repositories")})
            out["total_private_repos"] = sum(1 for r in self.repos.values()
                                             if r["owner"] == org and r["private"])
        return out, {}

    def _get_members(self, q: dict[str, str], who: Principal | None, body: bytes, org: str
                     ) -> tuple[Any, dict[str, str]]:
        o = self._find_org(org)
        role = q.get("role", "all")
        flt = q.get("filter", "all")
        if role not in ("all", "admin", "member") or flt not in ("all", "2fa_disabled"):
            raise _ApiError(422, "Validation Failed")
        if flt == "2fa_disabled" and not (who and who.org_admin_read):
            raise _ApiError(422, "Only owners can use this filter.")
        logins = sorted(o["members"], key=lambda x: self.users[x]["id"])
        out = []
        for login in logins:
            r = o["members"][login]
            if (role == "admin" and r != "admin") or (role == "member" and r != "member"):
                continue
            if flt == "2fa_disabled" and self.users[login]["two_factor"]:
                continue
            out.append(self._simple_user(login))
        return self._page(f"/orgs/{org}/members", q, out)

    def _get_outside(self, q: dict[str, str], who: Principal | None, body: bytes, org: str
                     ) -> tuple[Any, dict[str, str]]:
        o = self._find_org(org)
        flt = q.get("filter", "all")
        out = [self._simple_user(x) for x in o["outside"]
               if flt != "2fa_disabled" or not self.users[x]["two_factor"]]
        return self._page(f"/orgs/{org}/outside_collaborators", q, out)

    def _get_org_repos(self, q: dict[str, str], who: Principal | None, body: bytes, org: str
                       ) -> tuple[Any, dict[str, str]]:
        self._find_org(org)
        t = q.get("type", "all")
        rs = [r for r in self.repos.values() if r["owner"] == org]
        if t == "public":
            rs = [r for r in rs if not r["private"]]
        elif t == "private":
            rs = [r for r in rs if r["private"]]
        rs.sort(key=lambda r: r["name"].lower() if q.get("sort") == "full_name" else -r["id"])
        if q.get("sort") == "full_name" and q.get("direction", "asc") == "desc":
            rs.reverse()
        return self._page(f"/orgs/{org}/repos", q, [self._repo_json(r) for r in rs])

    def _ruleset_json(self, rs: Json, who: Principal | None, full: bool,
                      base: str) -> Json:
        out = {k: rs[k] for k in ("id", "name", "target", "source_type", "source",
                                  "enforcement", "created_at", "updated_at")}
        out["node_id"] = f"RRS_{rs['id']}"
        out["_links"] = {"self": {"href": f"{self.url}{base}/rulesets/{rs['id']}"}}
        if full:
            out["conditions"] = rs["conditions"]
            out["rules"] = rs["rules"]
            # Documented: bypass_actors only reach callers with write access to the ruleset.
            if who is not None and who.write_rulesets:
                out["bypass_actors"] = rs["bypass_actors"]
            out["current_user_can_bypass"] = "never"
        return out

    def _get_org_rulesets(self, q: dict[str, str], who: Principal | None, body: bytes,
                          org: str) -> tuple[Any, dict[str, str]]:
        o = self._find_org(org)
        if not (who and who.org_admin_read):
            raise _ApiError(403, "Resource not accessible by integration")
        return self._page(f"/orgs/{org}/rulesets", q,
                          [self._ruleset_json(rs, who, False, f"/orgs/{org}")
                           for rs in o["rulesets"]])

    def _get_org_ruleset(self, q: dict[str, str], who: Principal | None, body: bytes,
                         org: str, rid: str) -> tuple[Any, dict[str, str]]:
        o = self._find_org(org)
        if not (who and who.org_admin_read):
            raise _ApiError(403, "Resource not accessible by integration")
        for rs in o["rulesets"]:
            if rs["id"] == int(rid):
                return self._ruleset_json(rs, who, True, f"/orgs/{org}"), {}
        raise _ApiError(404, "Not Found")

    def _get_repo(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                  name: str) -> tuple[Any, dict[str, str]]:
        return self._repo_json(self._find_repo(owner, name)), {}

    def _branch_json(self, r: Json, b: str) -> Json:
        full = f"{r['owner']}/{r['name']}"
        info = r["branches"][b]
        prot = r["protection"].get(b)
        out: Json = {"name": b, "commit": {"sha": info.get("sha", "0" * 40),
                                           "url": f"{self.url}/repos/{full}/commits/"
                                                  f"{info.get('sha', '0' * 40)}"},
                     "protected": prot is not None or bool(self._rules_for(r, b)),
                     "protection_url": f"{self.url}/repos/{full}/branches/{b}/protection"}
        return out

    def _get_branches(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                      name: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        items = [self._branch_json(r, b) for b in sorted(r["branches"])]
        if q.get("protected") == "true":
            items = [b for b in items if b["protected"]]
        return self._page(f"/repos/{owner}/{name}/branches", q, items)

    def _get_branch(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                    name: str, branch: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        if branch not in r["branches"]:
            raise _ApiError(404, "Branch not found")
        return self._branch_json(r, branch), {}

    def _get_protection(self, q: dict[str, str], who: Principal | None, body: bytes,
                        owner: str, name: str, branch: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        if not (who and who.repo_admin_read):
            raise _ApiError(403, "Resource not accessible by personal access token")
        if branch not in r["branches"]:
            raise _ApiError(404, "Branch not found")
        p = r["protection"].get(branch)
        if p is None:
            raise _ApiError(404, "Branch not protected",
                            doc=f"{DOCS}/branches/branch-protection#get-branch-protection")
        base = f"{self.url}/repos/{owner}/{name}/branches/{branch}/protection"
        out: Json = {"url": base}
        if p.get("required_status_checks") is not None:
            rsc = p["required_status_checks"]
            out["required_status_checks"] = {
                "url": f"{base}/required_status_checks", "strict": rsc.get("strict", False),
                "contexts": list(rsc.get("contexts", [])),
                "checks": [{"context": c, "app_id": None} for c in rsc.get("contexts", [])],
                "contexts_url": f"{base}/required_status_checks/contexts"}
        out["enforce_admins"] = {"url": f"{base}/enforce_admins",
                                 "enabled": bool(p.get("enforce_admins", False))}
        if p.get("required_pull_request_reviews") is not None:
            rv = p["required_pull_request_reviews"]
            out["required_pull_request_reviews"] = {
                "url": f"{base}/required_pull_request_reviews",
                "dismiss_stale_reviews": rv.get("dismiss_stale_reviews", False),
                "require_code_owner_reviews": rv.get("require_code_owner_reviews", False),
                "required_approving_review_count": rv.get("required_approving_review_count", 1),
                "require_last_push_approval": rv.get("require_last_push_approval", False)}
            allow = rv.get("bypass_pull_request_allowances")
            if allow is not None:
                # "Allow specified actors to bypass required pull requests": users (simple
                # users), teams and apps, as GET .../protection documents them.
                out["required_pull_request_reviews"]["bypass_pull_request_allowances"] = {
                    "users": [self._simple_user(u) for u in allow.get("users", [])],
                    "teams": [{"id": i + 1, "slug": t, "name": t,
                               "url": f"{self.url}/orgs/{owner}/teams/{t}"}
                              for i, t in enumerate(allow.get("teams", []))],
                    "apps": [{"id": i + 1, "slug": a, "name": a}
                             for i, a in enumerate(allow.get("apps", []))]}
        for k in ("required_linear_history", "allow_force_pushes", "allow_deletions",
                  "required_conversation_resolution", "lock_branch", "allow_fork_syncing"):
            out[k] = {"enabled": bool(p.get(k, False))}
        out["required_signatures"] = {"url": f"{base}/required_signatures",
                                      "enabled": bool(p.get("required_signatures", False))}
        return out, {}

    def _applicable_rulesets(self, r: Json, include_parents: bool) -> list[Json]:
        out = list(r["rulesets"])
        if include_parents:
            org = self.orgs.get(r["owner"])
            for rs in (org["rulesets"] if org else []):
                cond = rs.get("conditions") or {}
                probe = dict(rs, conditions={k: v for k, v in cond.items() if k != "ref_name"})
                probe["conditions"]["ref_name"] = {"include": ["~ALL"]}
                if ruleset_targets(probe, r, r["default_branch"]):
                    out.append(rs)
        return out

    def _get_repo_rulesets(self, q: dict[str, str], who: Principal | None, body: bytes,
                           owner: str, name: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        parents = q.get("includes_parents", "true") != "false"
        items = [self._ruleset_json(rs, who, False, f"/repos/{owner}/{name}")
                 for rs in self._applicable_rulesets(r, parents)]
        return self._page(f"/repos/{owner}/{name}/rulesets", q, items)

    def _get_repo_ruleset(self, q: dict[str, str], who: Principal | None, body: bytes,
                          owner: str, name: str, rid: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        parents = q.get("includes_parents", "true") != "false"
        for rs in self._applicable_rulesets(r, parents):
            if rs["id"] == int(rid):
                # A parent's ruleset seen from a repository: bypass actors need org write.
                viewer = who
                if rs["source_type"] == "Organization" and who and not who.org_admin_read:
                    viewer = Principal(who.login, who.kind, write_rulesets=False)
                return self._ruleset_json(rs, viewer, True, f"/repos/{owner}/{name}"), {}
        raise _ApiError(404, "Not Found")

    def _rules_for(self, r: Json, branch: str) -> list[Json]:
        out = []
        for rs in self._applicable_rulesets(r, True):
            if rs["enforcement"] != "active" or not ruleset_targets(rs, r, branch):
                continue
            for rule in rs["rules"]:
                item = dict(rule)
                item.update({"ruleset_source_type": rs["source_type"],
                             "ruleset_source": rs["source"], "ruleset_id": rs["id"]})
                out.append(item)
        return out

    def _get_branch_rules(self, q: dict[str, str], who: Principal | None, body: bytes,
                          owner: str, name: str, branch: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        return self._page(f"/repos/{owner}/{name}/rules/branches/{branch}", q,
                          self._rules_for(r, branch))

    def _pull_json(self, r: Json, p: Json, detail: bool) -> Json:
        full = f"{r['owner']}/{r['name']}"
        merged = p.get("merged_at") is not None
        closed = p.get("closed_at") is not None
        out: Json = {
            "url": f"{self.url}/repos/{full}/pulls/{p['number']}", "id": p["id"],
            "node_id": f"PR_{p['id']}", "html_url": f"{self.origin}/{full}/pull/{p['number']}",
            "number": p["number"], "state": "closed" if closed else "open",
            "locked": False, "title": p["title"], "user": self._simple_user(p["user"]),
            "body": p.get("body"), "created_at": iso(p["created_at"]),
            "updated_at": iso(p.get("updated_at") or p["created_at"]),
            "closed_at": iso(p.get("closed_at")), "merged_at": iso(p.get("merged_at")),
            "merge_commit_sha": p.get("merge_commit_sha"), "draft": False,
            "head": {"label": f"{r['owner']}:{p['head_ref']}", "ref": p["head_ref"],
                     "sha": p["head_sha"], "user": self._simple_user_org(r["owner"]),
                     "repo": self._repo_json(r)},
            "base": {"label": f"{r['owner']}:{p['base_ref']}", "ref": p["base_ref"],
                     "sha": p.get("base_sha", "0" * 40),
                     "user": self._simple_user_org(r["owner"]), "repo": self._repo_json(r)},
            "author_association": "MEMBER"}
        if detail:
            out.update({"merged": merged, "mergeable": None, "merged_by":
                        self._simple_user(p.get("merged_by")) if merged else None,
                        "comments": 0, "review_comments": 0, "commits": p.get("commits", 1),
                        "additions": 10, "deletions": 2, "changed_files": 1})
        return out

    def _get_pulls(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                   name: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        state = q.get("state", "open")
        sort = q.get("sort", "created")
        direction = q.get("direction", "desc" if sort in ("created", "updated") else "asc")
        if state not in ("open", "closed", "all") or sort not in (
                "created", "updated", "popularity", "long-running") or direction not in (
                "asc", "desc"):
            raise _ApiError(422, "Validation Failed")
        ps = r["pulls"]
        if state != "all":
            ps = [p for p in ps if (p.get("closed_at") is not None) == (state == "closed")]
        if "base" in q:
            ps = [p for p in ps if p["base_ref"] == q["base"]]
        if "head" in q:
            ps = [p for p in ps if f"{owner}:{p['head_ref']}" == q["head"]]

        def key(p: Json) -> tuple[datetime, int]:
            t = p.get("updated_at") or p["created_at"] if sort == "updated" else p["created_at"]
            return t, p["number"]

        ps = sorted(ps, key=key, reverse=direction == "desc")
        chunk, links = self._page(f"/repos/{owner}/{name}/pulls", q, ps)
        return [self._pull_json(r, p, False) for p in chunk], links

    def _get_pull(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                  name: str, number: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        p = r["pulls_by_number"].get(int(number))
        if p is None:
            raise _ApiError(404, "Not Found")
        return self._pull_json(r, p, True), {}

    def _get_reviews(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                     name: str, number: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        p = r["pulls_by_number"].get(int(number))
        if p is None:
            raise _ApiError(404, "Not Found")
        full = f"{owner}/{name}"
        items = []
        for rv in sorted(p["reviews"], key=lambda x: x["id"]):
            items.append({
                "id": rv["id"], "node_id": f"PRR_{rv['id']}",
                "user": self._simple_user(rv.get("user")), "body": rv.get("body", ""),
                "state": rv["state"],
                "html_url": f"{self.origin}/{full}/pull/{number}#pullrequestreview-{rv['id']}",
                "pull_request_url": f"{self.url}/repos/{full}/pulls/{number}",
                "submitted_at": iso(rv.get("submitted_at")), "commit_id": rv.get("commit_id"),
                "author_association": rv.get("author_association", "MEMBER")})
        return self._page(f"/repos/{owner}/{name}/pulls/{number}/reviews", q, items)

    def _get_commits(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                     name: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        sha = q.get("sha", r["default_branch"])
        cs = [c for c in r["commits"] if c["branch"] == sha]
        if "since" in q:
            cs = [c for c in cs if c["date"] >= parse_time(q["since"])]
        if "until" in q:
            cs = [c for c in cs if c["date"] <= parse_time(q["until"])]
        cs = sorted(cs, key=lambda c: c["date"], reverse=True)
        chunk, links = self._page(f"/repos/{owner}/{name}/commits", q, cs)
        out = [{"sha": c["sha"], "url": f"{self.url}/repos/{owner}/{name}/commits/{c['sha']}",
                "commit": {"message": c["message"],
                           "author": {"name": c["author"], "date": iso(c["date"])},
                           "committer": {"name": c["author"], "date": iso(c["date"])}},
                "author": self._simple_user(c["author"]),
                "committer": self._simple_user(c["author"]),
                "parents": [{"sha": s} for s in c.get("parents", [])]} for c in chunk]
        return out, links

    def _get_check_runs(self, q: dict[str, str], who: Principal | None, body: bytes,
                        owner: str, name: str, ref: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        runs = list(r["check_runs"].get(ref, []))
        if "check_name" in q:
            runs = [c for c in runs if c["name"] == q["check_name"]]
        if q.get("filter", "latest") == "latest":
            latest: dict[str, Json] = {}
            for c in sorted(runs, key=lambda c: c["id"]):
                latest[c["name"]] = c
            runs = list(latest.values())
        runs.sort(key=lambda c: -c["id"])
        chunk, links = self._page(f"/repos/{owner}/{name}/commits/{ref}/check-runs", q, runs)
        out = [{"id": c["id"], "name": c["name"], "head_sha": ref, "status": c["status"],
                "conclusion": c.get("conclusion"), "started_at": iso(c.get("started_at")),
                "completed_at": iso(c.get("completed_at")),
                "app": {"id": 15368, "slug": "github-actions"}} for c in chunk]
        return {"total_count": len(runs), "check_runs": out}, links

    def _get_status(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                    name: str, ref: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        latest: dict[str, Json] = {}
        for s in sorted(r["statuses"].get(ref, []), key=lambda s: s["id"]):
            latest[s["context"]] = s
        sts = list(latest.values())
        states = {s["state"] for s in sts}
        combined = ("failure" if states & {"failure", "error"} else
                    "pending" if "pending" in states or not sts else "success")
        chunk, links = self._page(f"/repos/{owner}/{name}/commits/{ref}/status", q, sts)
        return {"state": combined, "sha": ref, "total_count": len(sts),
                "statuses": [{"id": s["id"], "context": s["context"], "state": s["state"],
                              "created_at": iso(s["created_at"]),
                              "updated_at": iso(s["created_at"])} for s in chunk]}, links

    def _get_activity(self, q: dict[str, str], who: Principal | None, body: bytes, owner: str,
                      name: str) -> tuple[Any, dict[str, str]]:
        r = self._find_repo(owner, name)
        acts = list(r["activity"])
        if "ref" in q:
            ref = q["ref"] if q["ref"].startswith("refs/") else f"refs/heads/{q['ref']}"
            acts = [a for a in acts if a["ref"] == ref]
        if "activity_type" in q:
            acts = [a for a in acts if a["activity_type"] == q["activity_type"]]
        if "actor" in q:
            acts = [a for a in acts if a["actor"] == q["actor"]]
        if "time_period" in q:
            days = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}.get(
                q["time_period"])
            if days is None:
                raise _ApiError(422, "Validation Failed")
            since = datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=days)
            acts = [a for a in acts if a["timestamp"] >= since]
        desc = q.get("direction", "desc") == "desc"
        acts.sort(key=lambda a: (a["timestamp"], a["id"]), reverse=desc)
        per_page = min(100, max(1, int(q.get("per_page") or 30)))
        start = 0
        if q.get("after"):
            cursor = _decode_cursor(q["after"])
            start = next((i + 1 for i, a in enumerate(acts) if a["id"] == cursor), len(acts))
        chunk = acts[start:start + per_page]
        links = {}
        if start + per_page < len(acts) and chunk:
            nq = {k: v for k, v in q.items() if k not in ("after", "before")}
            links["Link"] = (self._link(f"/repos/{owner}/{name}/activity", nq,
                                        after=_encode_cursor(chunk[-1]["id"]))
                             + '; rel="next"')
        return [{"id": a["id"], "node_id": f"RA_{a['id']}", "before": a["before"],
                 "after": a["after"], "ref": a["ref"], "timestamp": iso(a["timestamp"]),
                 "activity_type": a["activity_type"], "actor": self._simple_user(a["actor"])}
                for a in chunk], links

    def _search_issues(self, q: dict[str, str], who: Principal | None, body: bytes
                       ) -> tuple[Any, dict[str, str]]:
        query = q.get("q", "")
        if not query.strip():
            raise _ApiError(422, "Validation Failed")
        matched = [(r, p) for r, p in self._search_candidates(query)]
        matched.sort(key=lambda rp: (rp[1]["created_at"], rp[1]["number"]), reverse=True)
        per_page = min(100, max(1, int(q.get("per_page") or 30)))
        page = max(1, int(q.get("page") or 1))
        if (page - 1) * per_page >= 1000:
            raise _ApiError(422, "Only the first 1000 search results are available")
        chunk, links = self._page("/search/issues", q, matched[:1000])
        items = []
        for r, p in chunk:
            pj = self._pull_json(r, p, False)
            items.append({"url": pj["url"].replace("/pulls/", "/issues/"),
                          "id": p["id"], "number": p["number"], "title": p["title"],
                          "user": pj["user"], "state": pj["state"],
                          "created_at": pj["created_at"], "closed_at": pj["closed_at"],
                          "pull_request": {"url": pj["url"], "html_url": pj["html_url"],
                                           "merged_at": pj["merged_at"]},
                          "repository_url": f"{self.url}/repos/{r['owner']}/{r['name']}"})
        return {"total_count": len(matched), "incomplete_results": False, "items": items}, links

    def _search_candidates(self, query: str) -> Iterable[tuple[Json, Json]]:
        terms = query.split()
        repo_f: str | None = None
        org_f: str | None = None
        base_f: str | None = None
        merged_range: tuple[datetime | None, datetime | None] | None = None
        need_merged = False
        for t in terms:
            k, _, v = t.partition(":")
            if k == "repo":
                repo_f = v
            elif k in ("org", "user"):
                org_f = v
            elif k == "base":
                base_f = v
            elif k == "is" and v == "merged":
                need_merged = True
            elif k == "merged":
                merged_range = _search_range(v)
                need_merged = True
        for full, r in self.repos.items():
            if repo_f is not None and full.lower() != repo_f.lower():
                continue
            if org_f is not None and r["owner"].lower() != org_f.lower():
                continue
            for p in r["pulls"]:
                m = p.get("merged_at")
                if need_merged and m is None:
                    continue
                if base_f is not None and p["base_ref"] != base_f:
                    continue
                if merged_range is not None:
                    lo, hi = merged_range
                    if (lo is not None and m < lo) or (hi is not None and m > hi):
                        continue
                yield r, p


def _search_range(v: str) -> tuple[datetime | None, datetime | None]:
    """A search qualifier's date range: `A..B` (inclusive), `>=A`, `>A`, `<=B`, `<B`, `A`."""
    try:
        if ".." in v:
            a, b = v.split("..", 1)
            lo = None if a in ("", "*") else parse_time(a)
            hi = None if b in ("", "*") else _end_of(b)
            return lo, hi
        if v.startswith(">="):
            return parse_time(v[2:]), None
        if v.startswith(">"):
            return parse_time(v[1:]) + timedelta(seconds=1), None
        if v.startswith("<="):
            return None, _end_of(v[2:])
        if v.startswith("<"):
            return None, parse_time(v[1:]) - timedelta(seconds=1)
        return parse_time(v), _end_of(v)
    except ValueError:
        raise _ApiError(422, "Validation Failed") from None


def _end_of(v: str) -> datetime:
    t = parse_time(v)
    return t + timedelta(days=1) - timedelta(seconds=1) if len(v) == 10 else t


def _encode_cursor(i: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": i}).encode()).decode().rstrip("=")


def _decode_cursor(c: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))["id"])
    except (ValueError, KeyError, TypeError):
        raise _ApiError(422, "Validation Failed: invalid cursor") from None
