"""A local stand-in for the Google Cloud REST APIs the `gcp` connector reads.

It follows Google's documented REST surface, not what our code happens to send:

- OAuth 2.0 token endpoint (`POST /token`): the JWT bearer grant a service-account key file
  makes (RS256 assertion verified against the public half of a key this server issued, `aud`
  Google's token endpoint, as Google documents for every assertion).
  Self-signed service-account JWTs are accepted as bearer tokens too, as Google documents.
- Workload identity federation: STS token exchange (`POST /v1/token`, the subject token an
  RS256 JWT from a trusted test issuer with the pool provider as audience) and
  `generateAccessToken` impersonation of a service account.
- Resource Manager v3 (organizations search/get, folders list/search/get, projects
  list/search/get, `getIamPolicy` honouring `options.requestedPolicyVersion`: below 3,
  conditional bindings come back as `ROLE_withcond_<hash>` without their condition).
- IAM v1 service accounts and keys, Cloud Logging v2 sinks and `locations/-/buckets`,
  Cloud KMS v1 locations / key rings / crypto keys, the Cloud Storage JSON API (buckets and
  bucket IAM), Org Policy v2 (`getEffectivePolicy` merged down the hierarchy).
- Google's error body `{"error": {"code", "message", "status", "details"}}`, `pageToken` /
  `nextPageToken` pagination bound to the query, enums as numbers when a GAPIC client asks
  with `$alt=json;enum-encoding=int`, 401 without a valid bearer token, 403 on resources the
  caller may not read, injected 429 RESOURCE_EXHAUSTED / 503 UNAVAILABLE / 500 faults.

    with GcpSimulator(generate_world(projects=12)) as sim:
        key_file = sim.service_account_key_file("collector@ops.iam.gserviceaccount.com")

Faults can be driven over HTTP too: `POST /_sim/faults` with a JSON fault, `DELETE
/_sim/faults`, `GET /_sim/stats` (requests per route).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulators.gcp_world import World, generate_world
from simulators.serving import QuietHandler, ServedSimulator, http_server

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
WIF_AUDIENCE = ("//iam.googleapis.com/projects/300000000000/locations/global/"
                "workloadIdentityPools/ci/providers/github")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
# Enum values as numbers, for GAPIC clients asking `enum-encoding=int` (from the protos).
_STATE = {"STATE_UNSPECIFIED": 0, "ACTIVE": 1, "DELETE_REQUESTED": 2}
_LOG_TYPE = {"LOG_TYPE_UNSPECIFIED": 0, "ADMIN_READ": 1, "DATA_WRITE": 2, "DATA_READ": 3}
_PURPOSE = {"ENCRYPT_DECRYPT": 1, "ASYMMETRIC_SIGN": 5, "ASYMMETRIC_DECRYPT": 6,
            "RAW_ENCRYPT_DECRYPT": 7, "MAC": 9}
_VERSION_STATE = {"PENDING_GENERATION": 5, "ENABLED": 1, "DISABLED": 2, "DESTROYED": 3,
                  "DESTROY_SCHEDULED": 4}
_PROTECTION = {"SOFTWARE": 1, "HSM": 2, "EXTERNAL": 3, "EXTERNAL_VPC": 4}
_ALGORITHM = {"GOOGLE_SYMMETRIC_ENCRYPTION": 1, "EC_SIGN_P256_SHA256": 12,
              "RSA_SIGN_PSS_2048_SHA256": 2}


@dataclass
class Fault:
    """An injected failure: requests whose path matches `path` (a regex) get `status`.

    `skip` matching requests pass first (e.g. fail page 2 of a list); `times` is how many
    then fail (None: every one). A 429 may carry `retry_after` seconds."""

    path: str
    status: int
    times: int | None = 1
    skip: int = 0
    retry_after: float | None = None
    message: str = "injected fault"
    seen: int = 0
    fired: int = 0

    def take(self, path: str) -> bool:
        if not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


class ApiError(Exception):
    """An error answered in Google's JSON error format."""

    def __init__(self, status: int, message: str, *, reason: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}

    def body(self, storage: bool) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.status, "message": self.message,
                               "status": _STATUS.get(self.status, "UNKNOWN")}
        if storage:  # the Cloud Storage JSON API's older shape adds `errors`
            err["errors"] = [{"domain": "global", "reason": self.reason or
                              _STATUS.get(self.status, "unknown").lower(),
                              "message": self.message}]
        else:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                               "reason": self.reason or _STATUS.get(self.status, "UNKNOWN"),
                               "domain": "googleapis.com"}]
        return {"error": err}


@dataclass
class _Req:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    principal: str | None = None
    ints: bool = False
    form: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            out = json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.") from None
        if not isinstance(out, dict):
            raise ApiError(400, "Invalid JSON payload received.")
        return out


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        h, p, s = token.split(".")
        header = json.loads(_unb64url(h))
        payload = json.loads(_unb64url(p))
        return header, payload, f"{h}.{p}".encode(), _unb64url(s)
    except (ValueError, TypeError):
        raise ApiError(400, "Invalid JWT.", reason="invalid_grant") from None


class GcpSimulator(ServedSimulator):
    """Serves a `World` over HTTP on 127.0.0.1 in a background thread."""

    thread_name = "gcp-simulator"

    def __init__(self, world: World | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 page_size_cap: int = 0, latency: float = 0.0) -> None:
        self.world = world or generate_world()
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}  # kid -> (email, key)
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (principal, expiry)
        self._issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.faults: list[Fault] = []
        self.stats: Counter[str] = Counter()
        self.page_size_cap = page_size_cap  # >0: never more per page (to force many pages)
        self.latency = latency  # seconds added to every API answer (bench)
        self._bind(http_server(host, port, self._handler()))

    # --- lifecycle ---------------------------------------------------------------------------

    # --- credentials -------------------------------------------------------------------------

    def service_account_key_file(self, email: str) -> dict[str, Any]:
        """A new key for `email` in Google's key-file format, its token URI this server."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(20)
        with self._lock:
            self._keys[kid] = (email, key.public_key())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": email.split("@")[1].split(".")[0],
                "private_key_id": kid, "private_key": pem, "client_email": email,
                "client_id": str(int(hashlib.sha1(email.encode()).hexdigest()[:15], 16)),
                "auth_uri": f"{self.url}/o/oauth2/auth", "token_uri": f"{self.url}/token"}

    def external_account_file(self, subject_token_path: str, service_account: str
                              ) -> dict[str, Any]:
        """A workload identity federation config reading an OIDC token from a file."""
        return {"type": "external_account", "audience": WIF_AUDIENCE,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": f"{self.url}/v1/token",
                "credential_source": {"file": subject_token_path},
                "service_account_impersonation_url":
                    f"{self.url}/v1/projects/-/serviceAccounts/{service_account}"
                    ":generateAccessToken"}

    def oidc_token(self, subject: str, *, audience: str = WIF_AUDIENCE,
                   lifetime: int = 3600) -> str:
        """An RS256 OIDC token from the identity provider the workload pool trusts."""
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "ci"}).encode())
        body = _b64url(json.dumps({"iss": "https://ci.example.test", "sub": subject,
                                   "aud": audience, "iat": now, "exp": now + lifetime}).encode())
        sig = self._issuer_key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(),
                                    hashes.SHA256())
        return f"{header}.{body}.{_b64url(sig)}"

    def issue_token(self, principal: str, lifetime: float = 3600) -> str:
        """An access token for `principal` (as the token endpoint would issue)."""
        tok = "ya29.sim-" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[tok] = (principal, time.time() + lifetime)
        return tok

    # --- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def deny(self, resource: str) -> None:
        """Refuse every read about `resource` (e.g. `projects/proj-0003`) with 403."""
        self.world.denied.add(resource)

    def api_calls(self) -> int:
        """How many API requests (token requests and control calls excluded) were served."""
        return sum(n for k, n in self.stats.items() if not k.startswith(("auth.", "sim.")))

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                body = self.read_body()
                query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
                req = _Req(self.command, urllib.parse.unquote(parts.path), query,
                           {k.lower(): v for k, v in self.headers.items()}, body)
                status, headers, payload = sim._dispatch(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

        return Handler

    def _dispatch(self, req: _Req) -> tuple[int, dict[str, str], bytes]:
        storage = req.path.startswith("/storage/")
        try:
            route, handler, args = self._route(req)
            with self._lock:
                self.stats[route] += 1
            if route.startswith("sim."):
                return _json(200, handler(req, *args))
            if route.startswith("auth."):
                return _json(200, handler(req, *args))
            req.principal = self._authenticate(req)
            self._fault(req)
            req.ints = "enum-encoding=int" in req.query.get("$alt", "")
            if self.latency:
                time.sleep(self.latency)
            return _json(200, handler(req, *args))
        except ApiError as e:
            if req.path == "/token" or req.path == "/v1/token":  # OAuth's own error shape
                return _json(e.status, {"error": e.reason or "invalid_request",
                                        "error_description": e.message}, e.headers)
            return _json(e.status, e.body(storage), e.headers)

    def _fault(self, req: _Req) -> None:
        with self._lock:
            hit = next((f for f in self.faults if f.take(req.path)), None)
        if hit is None:
            return
        headers = {}
        if hit.retry_after is not None:
            headers["Retry-After"] = f"{hit.retry_after:g}"
        raise ApiError(hit.status, hit.message, headers=headers,
                       reason="RATE_LIMIT_EXCEEDED" if hit.status == 429 else None)

    def _authenticate(self, req: _Req) -> str:
        auth = req.headers.get("authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if not auth.startswith("Bearer "):
            raise ApiError(401, "Request is missing required authentication credential. "
                           "Expected OAuth 2 access token, login cookie or other valid "
                           "authentication credential.", reason="CREDENTIALS_MISSING",
                           headers=challenge)
        token = auth[len("Bearer "):].strip()
        with self._lock:
            known = self._tokens.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        if token.count(".") == 2:  # a self-signed service-account JWT
            try:
                return self._verify_sa_jwt(token, audience=None)
            except ApiError:
                pass
        raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                       "access token, login cookie or other valid authentication credential.",
                       reason="ACCESS_TOKEN_TYPE_UNSUPPORTED", headers=challenge)

    def _verify_sa_jwt(self, token: str, audience: str | None) -> str:
        header, claims, signed, sig = _decode_jwt(token)
        if header.get("alg") != "RS256":
            raise ApiError(400, "Invalid JWT signature algorithm.", reason="invalid_grant")
        with self._lock:
            key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise ApiError(400, "Invalid JWT Signature.", reason="invalid_grant")
        email, pub = key
        try:
            pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ApiError(400, "Invalid JWT Signature.", reason="invalid_grant") from None
        now = time.time()
        if claims.get("iss") != email:
            raise ApiError(400, "Invalid JWT: iss does not match the key's account.",
                           reason="invalid_grant")
        if not (float(claims.get("iat", 0)) - 300 <= now < float(claims.get("exp", 0)) + 300):
            raise ApiError(400, "Invalid JWT: Token must be a short-lived token (60 minutes) "
                           "and in a reasonable timeframe.", reason="invalid_grant")
        if float(claims["exp"]) - float(claims["iat"]) > 3600:
            raise ApiError(400, "Invalid JWT: lifetime exceeds one hour.",
                           reason="invalid_grant")
        if audience is not None and claims.get("aud") != audience:
            raise ApiError(400, "Invalid JWT: audience is not the token endpoint.",
                           reason="invalid_grant")
        return f"serviceAccount:{email}"

    # --- routing -----------------------------------------------------------------------------

    def _route(self, req: _Req) -> tuple[str, Callable[..., Any], tuple[str, ...]]:
        for method, pattern, name, fn in self._routes():
            if method != req.method:
                continue
            m = re.fullmatch(pattern, req.path)
            if m:
                return name, fn, m.groups()
        raise ApiError(404, f"The requested URL {req.path} was not found on this server.")

    def _routes(self) -> list[tuple[str, str, str, Callable[..., Any]]]:
        c = r"((?:organizations|folders|projects)/[^/:]+)"
        return [
            ("POST", r"/token", "auth.token", self._token),
            ("POST", r"/v1/token", "auth.sts", self._sts),
            ("POST", r"/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken",
             "auth.generateAccessToken", self._generate_access_token),
            ("POST", r"/_sim/faults", "sim.inject", self._ctl_inject),
            ("DELETE", r"/_sim/faults", "sim.clear", self._ctl_clear),
            ("GET", r"/_sim/stats", "sim.stats", lambda r: dict(self.stats)),
            ("GET", r"/v3/organizations:search", "rm.organizations.search", self._org_search),
            ("GET", r"/v3/(organizations/[^/:]+)", "rm.organizations.get", self._get_container),
            ("GET", r"/v3/folders", "rm.folders.list", self._folders_list),
            ("GET", r"/v3/folders:search", "rm.folders.search", self._folders_search),
            ("GET", r"/v3/(folders/[^/:]+)", "rm.folders.get", self._get_container),
            ("GET", r"/v3/projects", "rm.projects.list", self._projects_list),
            ("GET", r"/v3/projects:search", "rm.projects.search", self._projects_search),
            ("GET", r"/v3/(projects/[^/:]+)", "rm.projects.get", self._get_container),
            ("POST", rf"/v3/{c}:getIamPolicy", "rm.getIamPolicy", self._get_iam_policy),
            ("GET", r"/v1/projects/([^/]+)/serviceAccounts", "iam.serviceAccounts.list",
             self._sa_list),
            ("GET", r"/v1/projects/([^/]+)/serviceAccounts/([^/]+)/keys",
             "iam.serviceAccounts.keys.list", self._sa_keys),
            ("GET", rf"/v2/{c}/sinks", "logging.sinks.list", self._sinks),
            ("GET", r"/v2/(projects/[^/]+)/locations/([^/]+)/buckets",
             "logging.buckets.list", self._log_buckets),
            ("GET", r"/v1/projects/([^/]+)/locations", "kms.locations.list", self._kms_locations),
            ("GET", r"/v1/(projects/[^/]+/locations/[^/]+)/keyRings", "kms.keyRings.list",
             self._key_rings),
            ("GET", r"/v1/(projects/[^/]+/locations/[^/]+/keyRings/[^/]+)/cryptoKeys",
             "kms.cryptoKeys.list", self._crypto_keys),
            ("GET", r"/storage/v1/b", "storage.buckets.list", self._buckets_list),
            ("GET", r"/storage/v1/b/([^/]+)", "storage.buckets.get", self._bucket_get),
            ("GET", r"/storage/v1/b/([^/]+)/iam", "storage.buckets.getIamPolicy",
             self._bucket_iam),
            ("GET", rf"/v2/{c}/policies/([^/:]+):getEffectivePolicy",
             "orgpolicy.policies.getEffectivePolicy", self._effective_policy),
            ("GET", rf"/v2/{c}/policies", "orgpolicy.policies.list", self._org_policies_list),
        ]

    # --- control -----------------------------------------------------------------------------

    def _ctl_inject(self, req: _Req) -> dict[str, Any]:
        d = req.json()
        f = self.inject(Fault(path=str(d.get("path", ".*")), status=int(d.get("status", 503)),
                              times=d.get("times", 1), skip=int(d.get("skip", 0)),
                              retry_after=d.get("retry_after")))
        return {"path": f.path, "status": f.status}

    def _ctl_clear(self, req: _Req) -> dict[str, Any]:
        self.clear_faults()
        return {}

    # --- auth --------------------------------------------------------------------------------

    def _form(self, req: _Req) -> dict[str, str]:
        ctype = req.headers.get("content-type", "")
        if "json" in ctype:
            return {k: str(v) for k, v in req.json().items()}
        return dict(urllib.parse.parse_qsl(req.body.decode()))

    def _token(self, req: _Req) -> dict[str, Any]:
        form = self._form(req)
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            # Google documents the assertion's `aud` as its token endpoint, always.
            principal = self._verify_sa_jwt(form.get("assertion", ""),
                                            audience=GOOGLE_TOKEN_AUDIENCE)
        else:
            raise ApiError(400, "Invalid grant_type.", reason="unsupported_grant_type")
        return {"access_token": self.issue_token(principal), "expires_in": 3599,
                "token_type": "Bearer"}

    def _sts(self, req: _Req) -> dict[str, Any]:
        form = self._form(req)
        if form.get("grant_type") != TOKEN_EXCHANGE:
            raise ApiError(400, "Invalid grant_type.", reason="unsupported_grant_type")
        if form.get("audience") != WIF_AUDIENCE:
            raise ApiError(400, "Invalid audience.", reason="invalid_target")
        _header, claims, signed, sig = _decode_jwt(form.get("subject_token", ""))
        try:
            self._issuer_key.public_key().verify(sig, signed, padding.PKCS1v15(),
                                                 hashes.SHA256())
        except InvalidSignature:
            raise ApiError(400, "Invalid subject token signature.",
                           reason="invalid_grant") from None
        if claims.get("aud") != WIF_AUDIENCE or float(claims.get("exp", 0)) < time.time():
            raise ApiError(400, "The subject token is expired or for another audience.",
                           reason="invalid_grant")
        principal = f"principal://iam.googleapis.com/{WIF_AUDIENCE[2:].split('/', 1)[1]}/" \
                    f"subject/{claims.get('sub')}"
        return {"access_token": self.issue_token(principal),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer", "expires_in": 3600}

    def _generate_access_token(self, req: _Req, email: str) -> dict[str, Any]:
        caller = self._authenticate(req)
        if not caller.startswith("principal://"):
            raise ApiError(403, "Permission 'iam.serviceAccounts.getAccessToken' denied.")
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return {"accessToken": self.issue_token(f"serviceAccount:{email}"),
                "expireTime": expire}

    # --- helpers -----------------------------------------------------------------------------

    def _check(self, *names: str) -> None:
        for n in names:
            if n in self.world.denied:
                raise ApiError(403, "The caller does not have permission",
                               reason="IAM_PERMISSION_DENIED")

    def _project(self, ref: str) -> dict[str, Any]:
        p = self.world.project_by_id(ref if ref.startswith("projects/") else f"projects/{ref}")
        if p is None:
            raise ApiError(403, "The caller does not have permission",
                           reason="IAM_PERMISSION_DENIED")  # Google hides missing projects
        self._check(p["name"], f"projects/{p['projectId']}")
        return p

    def _page(self, req: _Req, items: list[Any], key: str, *, default: int, cap: int,
              size_param: str = "pageSize", total: bool = False) -> dict[str, Any]:
        try:
            size = int(req.query.get(size_param) or default)
        except ValueError:
            raise ApiError(400, f"Invalid value for {size_param}.") from None
        if size <= 0:
            size = default
        size = min(size, cap)
        if self.page_size_cap:
            size = min(size, self.page_size_cap)
        bound = hashlib.sha256(json.dumps(
            [req.path, sorted((k, v) for k, v in req.query.items()
                              if k not in ("pageToken", size_param, "$alt"))]).encode()
        ).hexdigest()[:16]
        start = 0
        tok = req.query.get("pageToken")
        if tok:
            try:
                d = json.loads(_unb64url(tok))
                start, q = int(d["o"]), d["q"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "Invalid page token.") from None
            if q != bound:
                raise ApiError(400, "The page token does not match the request.")
        chunk = items[start:start + size]
        out: dict[str, Any] = {}
        if chunk:
            out[key] = chunk
        if start + size < len(items):
            out["nextPageToken"] = _b64url(json.dumps({"o": start + size, "q": bound}).encode())
        if total:
            out["totalSize"] = len(items)
        return out

    def _enc(self, req: _Req, obj: dict[str, Any], enums: dict[str, dict[str, int]]
             ) -> dict[str, Any]:
        """`obj` with its enum fields (dotted paths) as numbers when the client asked."""
        if not req.ints:
            return obj
        out: dict[str, Any] = json.loads(json.dumps(obj))
        for path, mapping in enums.items():
            *parents, leaf = path.split(".")
            node: Any = out
            for p in parents:
                node = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(leaf), str):
                node[leaf] = mapping.get(node[leaf], 0)
        return out

    # --- Resource Manager --------------------------------------------------------------------

    def _org_search(self, req: _Req) -> dict[str, Any]:
        orgs = [self.world.organization] if self.world.organization else []
        q = req.query.get("query", "")
        if q.startswith("domain:"):
            orgs = [o for o in orgs if o["displayName"] == q.split(":", 1)[1]]
        orgs = [self._enc(req, o, {"state": _STATE}) for o in orgs
                if o["name"] not in self.world.denied]
        return self._page(req, orgs, "organizations", default=50, cap=1000)

    def _get_container(self, req: _Req, name: str) -> dict[str, Any]:
        node = self.world.container(name)
        if node is None:
            raise ApiError(403, "The caller does not have permission",
                           reason="IAM_PERMISSION_DENIED")
        self._check(node["name"], name)
        return self._enc(req, node, {"state": _STATE})

    def _children(self, req: _Req, kind: dict[str, dict[str, Any]], key: str
                  ) -> dict[str, Any]:
        parent = req.query.get("parent")
        if not parent:
            raise ApiError(400, "parent is required.")
        if self.world.container(parent) is None:
            raise ApiError(403, "The caller does not have permission")
        self._check(parent)
        show_deleted = req.query.get("showDeleted") == "true"
        items = [self._enc(req, v, {"state": _STATE}) for _, v in sorted(kind.items())
                 if v.get("parent") == parent and (show_deleted or v["state"] == "ACTIVE")]
        return self._page(req, items, key, default=50, cap=1000)

    def _folders_list(self, req: _Req) -> dict[str, Any]:
        return self._children(req, self.world.folders, "folders")

    def _projects_list(self, req: _Req) -> dict[str, Any]:
        return self._children(req, self.world.projects, "projects")

    def _search(self, req: _Req, kind: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
        terms = [t for t in req.query.get("query", "").split() if t]
        items = []
        for _, v in sorted(kind.items()):
            if v["name"] in self.world.denied:
                continue
            ok = True
            for t in terms:
                k, _, val = t.partition(":")
                val = val.strip('"')
                if k == "parent":
                    ok &= v.get("parent") == val
                elif k in ("id", "projectId"):
                    ok &= v.get("projectId") == val
                elif k == "state":
                    ok &= v.get("state") == val
                elif k in ("displayName", "name"):
                    ok &= v.get("displayName") == val
            if ok:
                items.append(self._enc(req, v, {"state": _STATE}))
        return self._page(req, items, key, default=50, cap=1000)

    def _folders_search(self, req: _Req) -> dict[str, Any]:
        return self._search(req, self.world.folders, "folders")

    def _projects_search(self, req: _Req) -> dict[str, Any]:
        return self._search(req, self.world.projects, "projects")

    def _get_iam_policy(self, req: _Req, resource: str) -> dict[str, Any]:
        node = self.world.container(resource)
        if node is None:
            raise ApiError(403, "The caller does not have permission")
        self._check(node["name"], resource)
        if node["name"].startswith("projects/"):
            self._check(f"projects/{node['projectId']}")
        body = req.json()
        requested = int((body.get("options") or {}).get("requestedPolicyVersion") or 0)
        if requested not in (0, 1, 2, 3):
            raise ApiError(400, "Invalid requestedPolicyVersion.")
        pol = self.world.policies.get(node["name"], {"version": 1, "bindings": []})
        return self._render_policy(req, pol, requested)

    def _render_policy(self, req: _Req, pol: dict[str, Any], requested: int) -> dict[str, Any]:
        from simulators.gcp_world import etag

        bindings = []
        conditional = False
        for b in pol.get("bindings", []):
            if b.get("condition"):
                conditional = True
                if requested < 3:
                    # Google: a version-1 answer hides conditions behind a mangled role.
                    h = hashlib.sha256(json.dumps(b["condition"], sort_keys=True).encode())
                    bindings.append({"role": f"{b['role']}_withcond_{h.hexdigest()[:20]}",
                                     "members": list(b["members"])})
                    continue
            bindings.append(json.loads(json.dumps(b)))
        out: dict[str, Any] = {"version": 3 if conditional and requested >= 3 else 1,
                               "etag": etag(pol)}
        if bindings:
            out["bindings"] = bindings
        audit = json.loads(json.dumps(pol.get("auditConfigs", [])))
        if audit:
            if req.ints:
                for a in audit:
                    for lc in a.get("auditLogConfigs", []):
                        lc["logType"] = _LOG_TYPE.get(lc["logType"], 0)
            out["auditConfigs"] = audit
        return out

    # --- IAM ---------------------------------------------------------------------------------

    def _sa_list(self, req: _Req, project: str) -> dict[str, Any]:
        p = self._project(project)
        accts = self.world.service_accounts.get(p["projectId"], [])
        return self._page(req, accts, "accounts", default=20, cap=100)

    def _sa_keys(self, req: _Req, project: str, email: str) -> dict[str, Any]:
        p = self._project(project) if project != "-" else None
        keys = self.world.sa_keys.get(email)
        if keys is None or (p and not email.endswith(f"@{p['projectId']}.iam.gserviceaccount"
                                                     ".com")):
            raise ApiError(404, f"Service account projects/{project}/serviceAccounts/{email} "
                           "does not exist.")
        wanted = set()
        for part in urllib.parse.parse_qs(urllib.parse.urlencode(req.query)).get(
                "keyTypes", []):
            wanted.add(part)
        out = [k for k in keys if not wanted or k["keyType"] in wanted]
        return {"keys": out} if out else {}

    # --- Logging -----------------------------------------------------------------------------

    def _sinks(self, req: _Req, parent: str) -> dict[str, Any]:
        node = self.world.container(parent)
        if node is None:
            raise ApiError(404, f"Resource {parent} not found.")
        self._check(node["name"], parent)
        sinks = []
        for s in self.world.sinks.get(node["name"], []):
            s = dict(s)
            s.setdefault("writerIdentity", f"serviceAccount:service-{parent.split('/')[1]}"
                                           "@gcp-sa-logging.iam.gserviceaccount.com")
            s["createTime"] = s["updateTime"] = "2026-01-05T10:00:00Z"
            sinks.append(s)
        return self._page(req, sinks, "sinks", default=100, cap=200)

    def _log_buckets(self, req: _Req, parent: str, location: str) -> dict[str, Any]:
        p = self._project(parent)
        bs = self.world.log_buckets.get(f"projects/{p['projectId']}", [])
        if location != "-":
            bs = [b for b in bs if f"/locations/{location}/" in b["name"]]
        return self._page(req, bs, "buckets", default=100, cap=200)

    # --- KMS ---------------------------------------------------------------------------------

    def _kms_locations(self, req: _Req, project: str) -> dict[str, Any]:
        p = self._project(project)
        locs = [{"name": f"projects/{project}/locations/{loc}", "locationId": loc,
                 "displayName": loc} for loc in self.world.kms_locations.get(p["projectId"], [])]
        return self._page(req, locs, "locations", default=100, cap=1000)

    def _key_rings(self, req: _Req, parent: str) -> dict[str, Any]:
        self._project(parent.split("/")[1])
        rings = self.world.key_rings.get(parent, [])
        return self._page(req, rings, "keyRings", default=100, cap=1000, total=True)

    def _crypto_keys(self, req: _Req, ring: str) -> dict[str, Any]:
        self._project(ring.split("/")[1])
        if ring not in self.world.crypto_keys:
            raise ApiError(404, f"KeyRing {ring} not found.")
        enums = {"purpose": _PURPOSE, "primary.state": _VERSION_STATE,
                 "primary.protectionLevel": _PROTECTION, "primary.algorithm": _ALGORITHM,
                 "versionTemplate.protectionLevel": _PROTECTION,
                 "versionTemplate.algorithm": _ALGORITHM}
        keys = [self._enc(req, k, enums) for k in self.world.crypto_keys[ring]]
        return self._page(req, keys, "cryptoKeys", default=100, cap=1000, total=True)

    # --- Cloud Storage -----------------------------------------------------------------------

    def _buckets_list(self, req: _Req) -> dict[str, Any]:
        project = req.query.get("project")
        if not project:
            raise ApiError(400, "Required parameter: project", reason="required")
        p = self._project(project)
        out = self._page(req, self.world.buckets.get(p["projectId"], []), "items",
                         default=1000, cap=1000, size_param="maxResults")
        out["kind"] = "storage#buckets"
        return out

    def _bucket(self, name: str) -> dict[str, Any]:
        for pid, bs in self.world.buckets.items():
            for b in bs:
                if b["name"] == name:
                    self._project(pid)
                    return b
        raise ApiError(404, "The specified bucket does not exist.", reason="notFound")

    def _bucket_get(self, req: _Req, name: str) -> dict[str, Any]:
        return self._bucket(name)

    def _bucket_iam(self, req: _Req, name: str) -> dict[str, Any]:
        b = self._bucket(name)
        requested = int(req.query.get("optionsRequestedPolicyVersion") or 1)
        out = self._render_policy(req, self.world.policies.get(f"b/{b['name']}", {}),
                                  requested)
        out["kind"] = "storage#policy"
        out["resourceId"] = f"projects/_/buckets/{name}"
        out.setdefault("bindings", [])
        return out

    # --- Org Policy --------------------------------------------------------------------------

    def _effective_policy(self, req: _Req, resource: str, constraint: str) -> dict[str, Any]:
        node = self.world.container(resource)
        if node is None:
            raise ApiError(403, "The caller does not have permission")
        self._check(node["name"], resource)
        chain = list(reversed(self.world.ancestors(node["name"])))  # root first
        rules: list[dict[str, Any]] = []
        for name in chain:
            spec = self.world.org_policies.get(name, {}).get(constraint)
            if spec is None:
                continue
            if spec.get("reset"):
                rules = []
            elif spec.get("inheritFromParent") and _is_list(spec, rules):
                rules = _merge_list_rules(rules, spec.get("rules", []))
            else:
                rules = json.loads(json.dumps(spec.get("rules", [])))
        out: dict[str, Any] = {"name": f"{resource}/policies/{constraint}", "spec": {}}
        if rules:
            out["spec"]["rules"] = rules
        return out

    def _org_policies_list(self, req: _Req, resource: str) -> dict[str, Any]:
        node = self.world.container(resource)
        if node is None:
            raise ApiError(403, "The caller does not have permission")
        self._check(node["name"], resource)
        pols = [{"name": f"{resource}/policies/{c}", "spec": s}
                for c, s in sorted(self.world.org_policies.get(node["name"], {}).items())]
        return self._page(req, pols, "policies", default=100, cap=1000)


def _is_list(spec: dict[str, Any], inherited: list[dict[str, Any]]) -> bool:
    rules = spec.get("rules", []) + inherited
    return any("values" in r or "allowAll" in r or "denyAll" in r for r in rules)


def _merge_list_rules(parent: list[dict[str, Any]], child: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    """List-constraint inheritance: allowed and denied values are unioned down the tree."""
    allowed: list[str] = []
    denied: list[str] = []
    other: list[dict[str, Any]] = []
    for r in parent + child:
        v = r.get("values")
        if v:
            allowed += [x for x in v.get("allowedValues", []) if x not in allowed]
            denied += [x for x in v.get("deniedValues", []) if x not in denied]
        else:
            other.append(r)
    out = list(other)
    if allowed or denied:
        vals: dict[str, Any] = {}
        if allowed:
            vals["allowedValues"] = allowed
        if denied:
            vals["deniedValues"] = denied
        out.append({"values": vals})
    return out


def _json(status: int, body: Any, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    h = {"Content-Type": "application/json; charset=UTF-8"}
    h.update(headers or {})
    return status, h, json.dumps(body).encode()


def main(argv: list[str] | None = None) -> None:
    """Serve a generated organization until stopped (for benchmarks in another process).

    Prints one JSON line: the URL and the path of a service-account key file it issued."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m simulators.gcp", description=main.__doc__)
    ap.add_argument("--projects", type=int, default=12)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    ap.add_argument("--key-file", required=True, help="where to write the key file (0600)")
    args = ap.parse_args(argv)
    sim = GcpSimulator(generate_world(args.projects), port=args.port, latency=args.latency)
    sim.start()
    with open(args.key_file, "w", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)
              ) as f:
        json.dump(sim.service_account_key_file("evidence-agent@ops.iam.gserviceaccount.com"), f)
    sys.stdout.write(json.dumps({"url": sim.url, "key_file": args.key_file}) + "\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
