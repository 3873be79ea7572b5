"""A local stand-in for Okta's Management API, following Okta's documentation.

Served on 127.0.0.1 (port 0 by default) in a thread, for tests and `evidence demo`:

- Auth: `Authorization: SSWS <api token>` (the documented form, with a space; `SSWS<token>`
  is refused like any invalid token) and `Authorization: Bearer <access token>` from
  `POST /oauth2/v1/token` (client_credentials with a private_key_jwt client assertion whose
  RS256 signature is checked against the service app's registered public key; the token
  carries only the granted `okta.*.read` scopes, and an endpoint outside them answers 403).
- Paths: `/api/v1/users` (`limit` <= 200, `after` cursor, `filter`/`search` on status;
  without one, DEPROVISIONED users are left out as Okta documents), `/api/v1/users/{id}`,
  `/api/v1/users/{id}/factors`, `/api/v1/users/{id}/roles`, `/api/v1/iam/assignees/users`,
  `/api/v1/groups`, `/api/v1/groups/{id}/users`, `/api/v1/groups/{id}/roles`,
  `/api/v1/policies?type=...`, `/api/v1/policies/{id}/rules`, `/api/v1/logs`.
- Pagination: `Link: <...>; rel="self"` then `Link: <...>; rel="next"` (separate header
  lines, `after` cursor). System Log: with `until` the last page has no next link; without
  it a next link is always sent. `since` older than the 90-day retention is refused (400).
- Errors: Okta's body `{errorCode, errorSummary, errorLink, errorId, errorCauses}`.
- Rate limits per endpoint bucket: `x-rate-limit-limit/-remaining/-reset` on every answer,
  429 (E0000047) with them and a `Date` when a bucket is spent.
- Fault injection for tests: `sim.inject(...)` or `POST /__sim/faults` with the same fields.

    with OktaSimulator(generate_org(500), api_tokens={"tok": "00u..."}) as sim:
        sim.url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from simulators.okta_seed import OktaOrg, ts
from simulators.serving import QuietHandler, ServedSimulator, http_server

RETENTION = timedelta(days=90)
ALL_SCOPES = ("okta.users.read", "okta.groups.read", "okta.roles.read", "okta.policies.read",
              "okta.logs.read")
# Default per-minute limits per bucket (Okta's documented defaults are of this order).
DEFAULT_LIMITS = {"users": 600, "user": 2000, "groups": 500, "roles": 600, "policies": 500,
                  "logs": 120, "token": 600}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Fault:
    """Answer `status` (with Okta's error body) to requests whose path matches `path`."""

    path: str
    status: int
    times: int = 1
    skip: int = 0
    retry_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "times": self.times,
                "skip": self.skip, "retry_after": self.retry_after}


@dataclass
class ServiceApp:
    """An OAuth 2.0 service app: its registered public key (PEM) and granted scopes."""

    client_id: str
    public_key_pem: str
    scopes: tuple[str, ...] = ALL_SCOPES


_ERRORS = {
    400: ("E0000001", "Api validation failed"),
    401: ("E0000011", "Invalid token provided"),
    403: ("E0000006", "You do not have permission to perform the requested action"),
    404: ("E0000007", "Not found: Resource not found"),
    405: ("E0000022", "The endpoint does not support the provided HTTP method"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
    500: ("E0000009", "Internal Server Error"),
    503: ("E0000010", "Service is in read only mode"),
}


def error_body(status: int, summary: str | None = None,
               causes: list[str] | None = None) -> dict[str, Any]:
    """Okta's documented error object."""
    code, default = _ERRORS.get(status, ("E0000009", "Internal Server Error"))
    return {"errorCode": code, "errorSummary": summary or default, "errorLink": code,
            "errorId": "oae" + secrets.token_urlsafe(16)[:22],
            "errorCauses": [{"errorSummary": c} for c in (causes or [])]}


def _parse_time(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _enc(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def _dec(s: str) -> str:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()


_STATUS_EXPR = re.compile(r'^\s*status\s+eq\s+"([A-Z_]+)"\s*$')
_EVENT_EXPR = re.compile(r'^\s*eventType\s+(eq|sw)\s+"([a-z0-9_.]+)"\s*$')


class _Handled(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class OktaSimulator(ServedSimulator):
    """Okta's Management API on 127.0.0.1 over one `OktaOrg`."""

    thread_name = "okta-simulator"

    def __init__(self, org: OktaOrg, *, api_tokens: dict[str, str] | None = None,
                 token_denied: dict[str, tuple[str, ...]] | None = None,
                 apps: list[ServiceApp] | None = None,
                 limits: dict[str, int] | None = None, window_seconds: float = 60.0,
                 clock: Any = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.org = org
        self.api_tokens = dict(api_tokens or {})  # token -> user id of its admin
        self.token_denied = dict(token_denied or {})  # token -> scopes its admin lacks
        self.apps = {a.client_id: a for a in (apps or [])}
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.window = window_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, int]] = {}
        self._access: dict[str, tuple[str, frozenset[str], float]] = {}
        self._jtis: set[str] = set()
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str, int]] = []  # (method, path?query, status)
        self.count_calls = True
        self._bind(http_server(host, port, self._handler()))

    # --- lifecycle ------------------------------------------------------------------------

    def inject(self, path: str, status: int, *, times: int = 1, skip: int = 0,
               retry_after: float | None = None) -> Fault:
        """Answer `status` to the next `times` requests matching regex `path` (after `skip`)."""
        f = Fault(path, status, times, skip, retry_after)
        with self._lock:
            self.faults.append(f)
        return f

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self._buckets.clear()

    # --- request handling -----------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                body = self.read_body()
                status, payload, headers = sim.handle(method, self.path, dict(
                    (k.lower(), v) for k, v in self.headers.items()), body)
                data = json.dumps(payload, separators=(",", ":")).encode() \
                    if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, Any, list[tuple[str, str]]]:
        """Answer one request: (status, JSON body, headers)."""
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query,
                                                           keep_blank_values=True).items()}
        out: list[tuple[str, str]] = []
        try:
            if path == "/__sim/faults":
                return self._control(method, body)
            bucket = self._bucket(path)
            out.extend(self._rate(bucket))
            fault = self._fault(raw_path)
            if fault is not None:
                if fault.status == 429:
                    out = [h for h in out if h[0] != "x-rate-limit-remaining"]
                    out.append(("x-rate-limit-remaining", "0"))
                if fault.retry_after is not None:
                    out = [h for h in out if h[0] != "x-rate-limit-reset"]
                    out.append(("x-rate-limit-reset", str(int(time.time() + fault.retry_after))))
                    out.append(("Retry-After", str(int(fault.retry_after))))
                raise _Handled(fault.status, error_body(fault.status))
            if path == "/oauth2/v1/token":
                status, payload = self._token(method, headers, body)
                return self._done(method, raw_path, status, payload, out)
            if not path.startswith("/api/v1/"):
                raise _Handled(404, error_body(404, f"Not found: Resource not found: {path}"))
            if method != "GET":
                raise _Handled(405, error_body(405))
            principal = self._authenticate(headers, path)
            payload, links = self._route(path, query, principal)
            for rel, href in links:
                out.append(("Link", f'<{href}>; rel="{rel}"'))
            return self._done(method, raw_path, 200, payload, out)
        except _Handled as h:
            out.extend(h.headers.items())
            return self._done(method, raw_path, h.status, h.body, out)

    def _done(self, method: str, raw: str, status: int, payload: Any,
              headers: list[tuple[str, str]]) -> tuple[int, Any, list[tuple[str, str]]]:
        if self.count_calls:
            with self._lock:
                self.calls.append((method, raw, status))
        return status, payload, headers

    def _control(self, method: str, body: bytes) -> tuple[int, Any, list[tuple[str, str]]]:
        if method == "POST":
            spec = json.loads(body or b"{}")
            f = self.inject(str(spec["path"]), int(spec["status"]),
                            times=int(spec.get("times", 1)), skip=int(spec.get("skip", 0)),
                            retry_after=spec.get("retry_after"))
            return 201, f.to_json(), []
        if method == "DELETE":
            with self._lock:
                self.faults.clear()
            return 200, [], []
        with self._lock:
            return 200, [f.to_json() for f in self.faults], []

    def _fault(self, raw_path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and re.search(f.path, raw_path):
                    if f.skip > 0:
                        f.skip -= 1
                        return None
                    f.times -= 1
                    return f
        return None

    # --- rate limits ----------------------------------------------------------------------

    @staticmethod
    def _bucket(path: str) -> str:
        if path == "/oauth2/v1/token":
            return "token"
        if path == "/api/v1/users":
            return "users"
        if path.startswith("/api/v1/users/"):
            return "roles" if path.endswith("/roles") else "user"
        if path.startswith("/api/v1/iam/"):
            return "roles"
        if path.startswith("/api/v1/groups"):
            return "roles" if path.endswith("/roles") else "groups"
        if path.startswith("/api/v1/policies"):
            return "policies"
        if path.startswith("/api/v1/logs"):
            return "logs"
        return "other"

    def _rate(self, bucket: str) -> list[tuple[str, str]]:
        limit = self.limits.get(bucket)
        if not limit:
            return []
        now = time.time()
        with self._lock:
            start, used = self._buckets.get(bucket, (0.0, 0))
            if now >= start + self.window:
                start, used = now - (now % self.window), 0
            used += 1
            self._buckets[bucket] = (start, used)
        reset = int(start + self.window) + (0 if (start + self.window) % 1 == 0 else 1)
        hdrs = [("x-rate-limit-limit", str(limit)),
                ("x-rate-limit-remaining", str(max(0, limit - used))),
                ("x-rate-limit-reset", str(reset))]
        if used > limit:
            raise _Handled(429, error_body(429), dict(hdrs))
        return hdrs

    # --- auth -----------------------------------------------------------------------------

    def _authenticate(self, headers: dict[str, str], path: str) -> tuple[str, frozenset[str]]:
        auth = headers.get("authorization", "")
        need = self._scope(path)
        if auth.startswith("SSWS "):
            token = auth[5:]
            if token not in self.api_tokens:
                raise _Handled(401, error_body(401))
            denied = self.token_denied.get(token, ())
            if need in denied:
                raise _Handled(403, error_body(403))
            return f"user:{self.api_tokens[token]}", frozenset(ALL_SCOPES) - set(denied)
        if auth.startswith("Bearer "):
            with self._lock:
                entry = self._access.get(auth[7:])
            if entry is None or entry[2] < time.time():
                raise _Handled(401, error_body(401), {
                    "WWW-Authenticate": 'Bearer authorization_uri="http://localhost/oauth2/v1/'
                                        'authorize", realm="http://localhost", scope="'
                                        + need + '", error="invalid_token", error_description='
                                        '"The access token is invalid.", resource="' + path + '"'})
            client_id, scopes, _ = entry
            if need not in scopes:
                raise _Handled(403, error_body(403), {
                    "WWW-Authenticate": 'Bearer realm="IdpMyAccountAPI", '
                                        'error="insufficient_scope", error_description="The '
                                        'access token provided does not contain the required '
                                        'scopes.", scope="' + need + '"'})
            return f"app:{client_id}", scopes
        # `SSWS<token>` (no space), missing or unknown schemes: Okta answers invalid token.
        raise _Handled(401, error_body(401))

    @staticmethod
    def _scope(path: str) -> str:
        if path.endswith("/roles") or path.startswith("/api/v1/iam/"):
            return "okta.roles.read"
        if path.startswith("/api/v1/users"):
            return "okta.users.read"
        if path.startswith("/api/v1/groups"):
            return "okta.groups.read"
        if path.startswith("/api/v1/policies"):
            return "okta.policies.read"
        if path.startswith("/api/v1/logs"):
            return "okta.logs.read"
        return "okta.users.read"

    def _token(self, method: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, Any]]:
        import jwt

        def oauth_error(status: int, err: str, desc: str) -> tuple[int, dict[str, Any]]:
            return status, {"error": err, "error_description": desc}

        if method != "POST":
            return oauth_error(405, "invalid_request", "The token endpoint takes POST.")
        if "application/x-www-form-urlencoded" not in headers.get("content-type", ""):
            return oauth_error(400, "invalid_request", "Content-Type must be "
                               "application/x-www-form-urlencoded.")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type",
                               "The authorization server only supports client_credentials here.")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get(
                "client_assertion"):
            return oauth_error(401, "invalid_client", "Client authentication failed: a "
                               "private_key_jwt client assertion is required.")
        assertion = form["client_assertion"]
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return oauth_error(401, "invalid_client", "The client_assertion is not a JWT.")
        app = self.apps.get(str(unverified.get("iss")))
        if app is None or unverified.get("sub") != app.client_id:
            return oauth_error(401, "invalid_client", "The client_assertion iss and sub must "
                               "be the client_id of a registered service app.")
        try:
            claims = jwt.decode(assertion, app.public_key_pem, algorithms=["RS256", "ES256"],
                                audience=f"{self.url}/oauth2/v1/token", issuer=app.client_id,
                                options={"require": ["exp", "jti", "aud", "iss", "sub"]})
        except jwt.InvalidSignatureError:
            return oauth_error(401, "invalid_client", "The client_assertion signature is "
                               "invalid.")
        except jwt.ExpiredSignatureError:
            return oauth_error(401, "invalid_client", "The client_assertion token is expired.")
        except jwt.InvalidAudienceError:
            return oauth_error(401, "invalid_client", "The audience claim for client_assertion "
                               "must be the endpoint invoked for the request.")
        except jwt.PyJWTError as e:
            return oauth_error(401, "invalid_client", f"The client_assertion is invalid: {e}")
        if int(claims["exp"]) - int(claims.get("iat", time.time())) > 3600:
            return oauth_error(401, "invalid_client", "The client_assertion token has an "
                               "expiration too far into the future.")
        with self._lock:
            if claims["jti"] in self._jtis:
                return oauth_error(401, "invalid_client", "The client_assertion token has "
                                   "already been used.")
            self._jtis.add(str(claims["jti"]))
        asked = form.get("scope", "").split()
        if not asked:
            return oauth_error(400, "invalid_scope", "The authorization server resource does "
                               "not have any configured default scopes, 'scope' must be "
                               "provided.")
        missing = [s for s in asked if s not in app.scopes]
        if missing:
            return oauth_error(400, "invalid_scope", "The following scopes are not allowed: "
                               + ", ".join(missing))
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._access[token] = (app.client_id, frozenset(asked), time.time() + 3600)
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token,
                     "scope": " ".join(asked)}

    # --- resources ------------------------------------------------------------------------

    def _limit(self, query: dict[str, str], default: int, maximum: int) -> int:
        raw = query.get("limit")
        if raw is None or raw == "":
            return default
        try:
            n = int(raw)
        except ValueError:
            raise _Handled(400, error_body(400, "Api validation failed: limit",
                                           ["limit: must be a number"])) from None
        if n < 1:
            raise _Handled(400, error_body(400, "Api validation failed: limit",
                                           ["limit: must be greater than 0"]))
        return min(n, maximum)

    def _link(self, path: str, query: dict[str, str], **changes: str) -> str:
        q = {k: v for k, v in query.items() if k != "after"}
        q.update(changes)
        qs = urllib.parse.urlencode(q)
        return f"{self.url}{path}" + (f"?{qs}" if qs else "")

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]],
              default: int, maximum: int, key: str = "id"
              ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        limit = self._limit(query, default, maximum)
        after = query.get("after")
        start = 0
        if after:
            try:
                mark = _dec(after)
            except (ValueError, UnicodeDecodeError):
                raise _Handled(400, error_body(400, "Api validation failed: after",
                                               ["after: invalid cursor"])) from None
            start = next((i + 1 for i, x in enumerate(items) if x[key] == mark), len(items))
        page = items[start:start + limit]
        links = [("self", self._link(path, query, **({"after": after} if after else {})))]
        if start + limit < len(items) and page:
            links.append(("next", self._link(path, query, after=_enc(page[-1][key]),
                                             limit=str(limit))))
        return page, links

    def _route(self, path: str, query: dict[str, str], principal: tuple[str, frozenset[str]]
               ) -> tuple[Any, list[tuple[str, str]]]:
        org = self.org
        parts = path.split("/")[3:]  # after /api/v1
        if parts == ["users"]:
            return self._users(path, query)
        if len(parts) >= 2 and parts[0] == "users":
            uid = parts[1]
            if uid == "me":
                if not principal[0].startswith("user:"):
                    raise _Handled(404, error_body(404, "Not found: Resource not found: me "
                                                        "(User)"))
                uid = principal[0][5:]
            user = org.user(uid)
            if user is None:
                raise _Handled(404, error_body(404, f"Not found: Resource not found: {uid} "
                                                    "(User)"))
            if len(parts) == 2:
                return self._with_links(user), []
            if parts[2:] == ["factors"]:
                return [self._with_links(f, f"/api/v1/users/{uid}/factors/{f['id']}")
                        for f in org.factors.get(uid, [])], []
            if parts[2:] == ["roles"]:
                return org.user_roles.get(uid, []), []
        if parts == ["iam", "assignees", "users"]:
            ids = [{"id": u["id"], "orn": f"orn:okta:directory:00o1:users:{u['id']}",
                    "_links": {"self": {"href": f"{self.url}/api/v1/users/{u['id']}"},
                               "roles": {"href": f"{self.url}/api/v1/users/{u['id']}/roles"}}}
                   for u in org.users if org.user_roles.get(u["id"])]
            page, links = self._page(path, query, ids, 100, 100)
            nxt = [h for r, h in links if r == "next"]
            return {"value": page, "_links": {"next": {"href": nxt[0]}} if nxt else {}}, []
        if parts == ["groups"]:
            return self._page(path, query, [self._with_links(g) for g in org.groups], 10000,
                              10000)
        if len(parts) == 3 and parts[0] == "groups":
            gid = parts[1]
            if gid not in org.group_members:
                raise _Handled(404, error_body(404, f"Not found: Resource not found: {gid} "
                                                    "(UserGroup)"))
            if parts[2] == "roles":
                return org.group_roles.get(gid, []), []
            if parts[2] == "users":
                members = [u for u in (org.user(m) for m in org.group_members[gid]) if u]
                return self._page(path, query, members, 1000, 1000)
        if parts == ["policies"]:
            ptype = query.get("type")
            if not ptype:
                raise _Handled(400, error_body(400, "Api validation failed: type",
                                               ["type: The policy type is required."]))
            known = ("OKTA_SIGN_ON", "PASSWORD", "MFA_ENROLL", "IDP_DISCOVERY",
                     "ACCESS_POLICY", "PROFILE_ENROLLMENT", "POST_AUTH_SESSION",
                     "ENTITY_RISK", "DEVICE_SIGNAL_COLLECTION")
            if ptype not in known:
                raise _Handled(400, error_body(400, "Api validation failed: type",
                                               [f"type: Invalid policy type: {ptype}"]))
            # Paged like Okta's other lists: `limit` and the `after` cursor, the next page in
            # a Link rel="next" (the Policy API documents both; its default page size is not
            # stated, 20 is what this stand-in uses).
            return self._page(path, query, [self._with_links(p, f"/api/v1/policies/{p['id']}")
                                            for p in org.policies.get(ptype, [])], 20, 200)
        if len(parts) == 3 and parts[0] == "policies" and parts[2] == "rules":
            if parts[1] not in org.rules:
                raise _Handled(404, error_body(404, f"Not found: Resource not found: "
                                                    f"{parts[1]} (Policy)"))
            return org.rules[parts[1]], []
        if parts == ["logs"]:
            return self._logs(path, query)
        raise _Handled(404, error_body(404, f"Not found: Resource not found: {path}"))

    def _with_links(self, obj: dict[str, Any], href: str | None = None) -> dict[str, Any]:
        out = dict(obj)
        if href is None:
            kind = "users" if obj["id"].startswith("00u") else "groups"
            href = f"/api/v1/{kind}/{obj['id']}"
        out["_links"] = {"self": {"href": self.url + href}}
        return out

    def _users(self, path: str, query: dict[str, str]
               ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        expr = query.get("filter") or query.get("search")
        if expr:
            m = _STATUS_EXPR.match(expr)
            if m is None:
                raise _Handled(400, error_body(400, "Invalid search criteria.",
                                               ["filter: only status eq \"...\" is supported "
                                                "by this simulator"]))
            users = [u for u in self.org.users if u["status"] == m.group(1)]
        else:
            users = [u for u in self.org.users if u["status"] != "DEPROVISIONED"]
        page, links = self._page(path, query, users, 200, 200)
        return [self._with_links(u) for u in page], links

    def _logs(self, path: str, query: dict[str, str]
              ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        now = self.clock()
        floor = now - RETENTION
        try:
            since = _parse_time(query["since"]) if query.get("since") else now - timedelta(
                minutes=15)
            until = _parse_time(query["until"]) if query.get("until") else None
        except ValueError:
            raise _Handled(400, error_body(400, "Api validation failed: 'since'", [
                "since: The date format in your query is not recognized. Please enter dates "
                "using ISO8601 string format."])) from None
        if since < floor:
            raise _Handled(400, error_body(400, "Api validation failed: 'since'", [
                "since: The date is too far in the past. System Log data is kept for 90 "
                "days."]))
        if until is not None and until < since:
            raise _Handled(400, error_body(400, "Api validation failed: 'until'", [
                "until: must be after since"]))
        if query.get("sortOrder", "ASCENDING") != "ASCENDING":
            raise _Handled(400, error_body(400, "Api validation failed: sortOrder", [
                "sortOrder: this simulator serves ASCENDING only"]))
        preds = []
        if query.get("filter"):
            for term in re.split(r"\s+or\s+", query["filter"]):
                m = _EVENT_EXPR.match(term)
                if m is None:
                    raise _Handled(400, error_body(400, "Invalid filter expression.", [
                        "filter: only eventType eq/sw terms joined by or are supported"]))
                preds.append((m.group(1), m.group(2)))
        s, u = ts(since), ts(until) if until else ts(now)
        events = [e for e in self.org.events
                  if s <= e["published"] < u and (not preds or any(
                      e["eventType"] == v if op == "eq" else e["eventType"].startswith(v)
                      for op, v in preds))]
        limit = self._limit(query, 100, 1000)
        after = query.get("after")
        start = 0
        if after:
            try:
                mark = _dec(after)
            except (ValueError, UnicodeDecodeError):
                raise _Handled(400, error_body(400, "Api validation failed: after")) from None
            start = next((i + 1 for i, e in enumerate(events) if e["uuid"] == mark),
                         len(events))
        page = events[start:start + limit]
        links = [("self", self._link(path, query, **({"after": after} if after else {})))]
        more = start + limit < len(events)
        if until is None:
            # A polling query always has a next link; it points past the newest event seen.
            if page:
                cursor: dict[str, str] = {"after": _enc(page[-1]["uuid"])}
            else:
                cursor = {"after": after} if after else {}
            links.append(("next", self._link(path, query, **cursor)))
        elif more:
            links.append(("next", self._link(path, query, after=_enc(page[-1]["uuid"]),
                                             limit=str(limit))))
        return page, links


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.okta --users N`: serve a generated org until stdin closes."""
    import argparse
    import sys

    from simulators.okta_seed import generate_org

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--token", required=True, help="the API token the simulator accepts")
    p.add_argument("--limit", action="append", default=[], metavar="BUCKET=N",
                   help="per-window limit of a bucket (users, user, roles, groups, ...)")
    p.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    p.add_argument("--no-limits", action="store_true", help="no rate limits at all")
    a = p.parse_args(argv)
    org = generate_org(a.users, seed=a.seed, now=datetime.now(UTC))
    limits = {} if a.no_limits else dict(DEFAULT_LIMITS)
    for item in a.limit:
        k, _, v = item.partition("=")
        limits[k] = int(v)
    sim = OktaSimulator(org, api_tokens={a.token: org.users[0]["id"]}, limits=limits,
                        window_seconds=a.window)
    sim.count_calls = False
    sim.start()
    print(sim.url, flush=True)
    sys.stdin.read()
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
