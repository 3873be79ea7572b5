"""A local HTTPS stand-in for Microsoft Entra ID, Azure Resource Manager and Microsoft Graph.

It follows Microsoft's documented REST APIs, so the real azure-identity credentials and
azure-mgmt-* clients run against it end to end:

- TLS with a self-signed certificate made at start (`cert_path` for `connection_verify`):
  azure-identity refuses a plain-http authority.
- Entra ID v2.0: `GET /{tenant}/v2.0/.well-known/openid-configuration` and
  `POST /{tenant}/oauth2/v2.0/token` (client credentials grant) with a client secret, a
  certificate assertion (RFC 7523 JWT, `x5t#S256` or `x5t` header, PS256 or RS256, its
  signature checked against the registered certificate, `aud` = the token endpoint) or a
  federated assertion from a trusted external issuer (workload identity). Errors are the
  documented `{"error", "error_description": "AADSTS...", "error_codes", ...}` bodies.
  Access tokens are RS256 JWTs with `aud`, `tid`, `appid`, `oid` and, for Graph, `roles`.
- ARM (`Authorization: Bearer`, audience `https://management.azure.com/`): subscriptions,
  management groups (`@nextLink`) and their descendants (`nextLink`), role assignments and
  role definitions at any scope (a subscription's list includes assignments inherited from
  its management groups, as ARM documents), storage accounts, key vaults
  (`list_by_subscription`) and their keys with rotation policy, subscription diagnostic
  settings, legacy log profiles, Log Analytics workspaces and tables. Every request must
  carry a supported `api-version`; errors are `{"error": {"code", "message"}}`; lists page
  through an absolute `nextLink` with `$skiptoken`.
- Microsoft Graph v1.0 (audience `https://graph.microsoft.com`), with the application
  permission each documented endpoint needs: the authentication-methods registration
  report, Conditional Access policies, the security-defaults policy, directory roles and
  members, group transitive members. Lists page through `@odata.nextLink`.

Faults for tests (and the kit's conformance suite over HTTP, `POST /_sim/faults`): any
status on requests whose path contains a string, optionally only on page N, with
Retry-After for 429/503. `GET /_sim/stats` reports the calls served.

    with AzureSimulator(generate_tenant(3)) as sim:
        cred = ClientSecretCredential(sim.tenant_id, sim.client_id, sim.client_secret,
                                      authority=sim.url, disable_instance_discovery=True,
                                      connection_verify=sim.cert_path)
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from simulators.azure_data import App, FederatedCredential, TenantData, generate_tenant
from simulators.serving import QuietHandler, ServedSimulator, http_server

ARM_AUDIENCE = "https://management.azure.com/"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
_SCOPES = {"https://management.azure.com/.default": ARM_AUDIENCE,
           "https://management.core.windows.net//.default": ARM_AUDIENCE,
           "https://graph.microsoft.com/.default": GRAPH_AUDIENCE}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# api-versions each resource provider accepts (the SDKs' defaults among documented ones).
API_VERSIONS: dict[str, frozenset[str]] = {
    "subscriptions": frozenset({"2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01"}),
    "managementGroups": frozenset({"2020-05-01", "2021-04-01", "2023-04-01"}),
    "authorization": frozenset({"2015-07-01", "2018-01-01-preview", "2020-04-01-preview",
                                "2022-04-01"}),
    "storage": frozenset({"2023-01-01", "2023-05-01", "2025-01-01", "2025-06-01",
                          "2026-09-01"}),
    "keyvault": frozenset({"2023-07-01", "2024-11-01", "2026-05-15"}),
    "diagnosticSettings": frozenset({"2017-05-01-preview", "2021-05-01-preview"}),
    "logprofiles": frozenset({"2016-03-01"}),
    "operationalinsights": frozenset({"2022-10-01", "2023-09-01", "2025-02-01"}),
}
# Graph application permissions that satisfy each endpoint (least privileged first).
GRAPH_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "registration": ("AuditLog.Read.All",),
    "conditional_access": ("Policy.Read.All",),
    "security_defaults": ("Policy.Read.All",),
    "directory_roles": ("RoleManagement.Read.Directory", "Directory.Read.All"),
    "group_members": ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    "users": ("User.Read.All", "Directory.Read.All"),
}
READER_GRAPH_ROLES = ("AuditLog.Read.All", "Policy.Read.All", "RoleManagement.Read.Directory",
                      "GroupMember.Read.All", "User.Read.All")


def b64url(data: bytes) -> str:
    """Base64url without padding (JWT encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without `=` padding (MSAL pads `x5t`)."""
    text = text.strip().rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(claims: dict[str, Any], key: rsa.RSAPrivateKey, *, kid: str | None = None,
             headers: dict[str, Any] | None = None) -> str:
    """An RS256 JWT."""
    head: dict[str, Any] = {"alg": "RS256", "typ": "JWT", **(headers or {})}
    if kid:
        head["kid"] = kid
    signing = (b64url(json.dumps(head, separators=(",", ":")).encode()) + "." +
               b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = key.sign(signing.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing + "." + b64url(sig)


def _verify(alg: str, public: Any, signing: bytes, sig: bytes) -> None:
    if alg == "RS256":
        public.verify(sig, signing, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        public.verify(sig, signing, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                salt_length=hashes.SHA256.digest_size),
                      hashes.SHA256())
    else:
        raise InvalidSignature(f"unsupported alg {alg}")


def _split_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    head = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    return head, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])


def self_signed(common_name: str, *, san_ip: str | None = None, days: int = 2,
                key: rsa.RSAPrivateKey | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA key and a self-signed certificate for it."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=days)))
    if san_ip:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(san_ip)), x509.DNSName("localhost")]),
            critical=False)
    return key, builder.sign(key, hashes.SHA256())


def pem_bundle(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """Private key and certificate in one PEM (the form CertificateCredential reads)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + \
        cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Fault:
    """Answer `status` to requests whose path contains `path` and, if given, that match the
    simulator's route named `route` (e.g. "arm.storageAccounts.list") and ask for `page`,
    `times` times (None: always)."""

    path: str
    status: int
    times: int | None = 1
    retry_after: float | None = None
    page: int | None = None
    code: str | None = None
    route: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "times": self.times,
                "retry_after": self.retry_after, "page": self.page, "code": self.code,
                "route": self.route}


class ApiError(Exception):
    """A documented error answer."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def arm_error(status: int, code: str, message: str) -> ApiError:
    """ARM's error body."""
    return ApiError(status, {"error": {"code": code, "message": message}})


def graph_error(status: int, code: str, message: str) -> ApiError:
    """Microsoft Graph's error body."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return ApiError(status, {"error": {"code": code, "message": message, "innerError": {
        "date": now, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}})


def aad_error(status: int, error: str, code: int, message: str) -> ApiError:
    """Entra ID's token-endpoint error body."""
    return ApiError(status, {
        "error": error, "error_description": f"AADSTS{code}: {message}",
        "error_codes": [code], "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
        "error_uri": "https://login.microsoftonline.com/error?code=" + str(code)})


@dataclass
class _Req:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str

    def page(self, size: int) -> int:
        """Which page (1-based) this request asks for, given the page size."""
        token = self.query.get("$skiptoken", "0")
        return (int(token) // size if token.isdigit() else 0) + 1


Route = Callable[[_Req, "re.Match[str]"], Any]


class AzureSimulator(ServedSimulator):
    """Entra ID + ARM + Graph over HTTPS on 127.0.0.1 for one tenant (see module docstring)."""

    thread_name = "azure-sim"

    def __init__(self, tenant: TenantData | None = None, *, page_size: int = 100,
                 graph_page_size: int = 100, host: str = "127.0.0.1", port: int = 0,
                 token_lifetime: int = 3599, latency: float = 0.0) -> None:
        self.tenant = tenant or generate_tenant()
        self.latency = latency  # seconds added to every API answer (benchmarks)
        self.page_size = page_size
        self.graph_page_size = graph_page_size
        self.token_lifetime = token_lifetime
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.tokens_issued: Counter[str] = Counter()
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        # An external OIDC issuer (e.g. a Kubernetes cluster) trusted for workload identity.
        self.federated_issuer = "https://oidc.cluster.example/"
        self._issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.tenant.tenant_id + "/reader"))
        self.client_secret = secrets.token_urlsafe(24)
        self.client_key, self.client_cert = self_signed("evidence-agent-reader")
        self.federated_subject = "system:serviceaccount:evidence:evidence-agent"
        if self.client_id not in self.tenant.apps:
            self.tenant.apps[self.client_id] = App(
                client_id=self.client_id,
                object_id=str(uuid.uuid5(uuid.NAMESPACE_URL, self.client_id + "/sp")),
                display_name="evidence-agent-reader", secret=self.client_secret,
                certificates_pem=[self.client_cert.public_bytes(serialization.Encoding.PEM)],
                federated=[FederatedCredential(self.federated_issuer, self.federated_subject)],
                graph_roles=READER_GRAPH_ROLES)
        self._tmp = tempfile.TemporaryDirectory(prefix="azure-sim-")
        self.cert_path = ""
        self._routes = self._build_routes()

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        return f"https://{self._host}:{self._server.server_address[1]}"

    def start(self) -> AzureSimulator:
        """Make the TLS certificate, bind, and serve in a daemon thread."""
        key, cert = self_signed(self._host, san_ip=self._host)
        d = Path(self._tmp.name)
        (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / "key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.cert_path = str(d / "cert.pem")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
        server = http_server(self._host, self._port, self._handler())
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._bind(server)
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._server = None
        self._tmp.cleanup()

    # --- test helpers -----------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Add a fault (see `Fault`)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def certificate_pem(self) -> bytes:
        """The reader app's private key and certificate, as CertificateCredential reads them."""
        return pem_bundle(self.client_key, self.client_cert)

    def federated_token(self, *, subject: str | None = None,
                        audience: str = "api://AzureADTokenExchange",
                        lifetime: int = 3600, issuer: str | None = None) -> str:
        """A token from the trusted external issuer, as a cluster would project it."""
        now = int(time.time())
        return sign_jwt({"iss": issuer or self.federated_issuer,
                         "sub": subject or self.federated_subject, "aud": audience,
                         "iat": now, "nbf": now, "exp": now + lifetime}, self._issuer_key,
                        kid="cluster")

    def total_calls(self) -> int:
        with self._lock:
            return sum(v for k, v in self.calls.items() if not k.startswith("_sim"))

    # --- HTTP plumbing ----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                body = self.read_body()
                status, headers, payload = sim._dispatch(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        return Handler

    def _dispatch(self, method: str, raw_path: str, headers: dict[str, str],
                  body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(
            parts.query, keep_blank_values=True).items()}
        req = _Req(method, urllib.parse.unquote(parts.path), query, headers, body,
                   self.url)
        out_headers = {"Content-Type": "application/json; charset=utf-8",
                       "x-ms-request-id": str(uuid.uuid4())}
        try:
            for name, pattern, methods, fn in self._routes:
                m = pattern.fullmatch(req.path)
                if m is None or method not in methods:
                    continue
                with self._lock:
                    self.calls[name] += 1
                if not name.startswith("_sim"):
                    if self.latency:
                        time.sleep(self.latency)
                    self._maybe_fault(req, name)
                result = fn(req, m)
                if name.startswith("arm."):
                    out_headers["x-ms-ratelimit-remaining-subscription-reads"] = "11999"
                return 200, out_headers, json.dumps(result).encode()
            kind = "graph" if req.path.startswith("/v1.0/") else "arm"
            raise (graph_error(400, "BadRequest", f"Resource not found for the segment "
                                                  f"'{req.path.rsplit('/', 1)[-1]}'.")
                   if kind == "graph" else
                   arm_error(404, "InvalidResourceType" if "/providers/" in req.path
                             else "NotFound", f"The resource path '{req.path}' is not "
                                              "supported by this simulator."))
        except ApiError as e:
            out_headers.update(e.headers)
            return e.status, out_headers, json.dumps(e.body).encode()

    def _maybe_fault(self, req: _Req, name: str) -> None:
        with self._lock:
            for f in self.faults:
                if f.path not in req.path or (f.route is not None and f.route != name):
                    continue
                size = self.graph_page_size if name.startswith("graph.") else self.page_size
                if f.page is not None and req.page(size) != f.page:
                    continue
                if f.times is not None:
                    if f.times <= 0:
                        continue
                    f.times -= 1
                break
            else:
                return
        headers = {}
        if f.retry_after is not None:
            headers["Retry-After"] = f"{f.retry_after:g}"
        graph = name.startswith("graph.")
        code = f.code or {401: "InvalidAuthenticationToken", 403: "AuthorizationFailed",
                          429: "TooManyRequests", 500: "InternalServerError",
                          503: "ServiceUnavailable"}.get(f.status, "Failed")
        if graph and f.status == 403 and f.code is None:
            code = "Authorization_RequestDenied"
        msg = {429: "Rate limit exceeded. Try again later.",
               403: "The client does not have authorization to perform this action."}.get(
            f.status, "The simulator injected this fault.")
        err = graph_error(f.status, code, msg) if graph else arm_error(f.status, code, msg)
        err.headers.update(headers)
        raise err

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], set[str], Route]]:
        sub = r"/subscriptions/(?P<sub>[^/]+)"
        auth = r"/providers/Microsoft\.Authorization"
        mg = r"/providers/Microsoft\.Management/managementGroups"
        scope = r"(?P<scope>(?:/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?)|" \
                r"(?:/providers/Microsoft\.Management/managementGroups/[^/]+))?"
        r: list[tuple[str, str, set[str], Route]] = [
            ("_sim.faults", r"/_sim/faults", {"GET", "POST", "DELETE"}, self._sim_faults),
            ("_sim.stats", r"/_sim/stats", {"GET"}, self._sim_stats),
            ("aad.openid", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration",
             {"GET"}, self._openid),
            ("aad.token", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", {"POST"}, self._token),
            ("arm.subscriptions.list", r"/subscriptions", {"GET"}, self._subscriptions),
            ("arm.subscriptions.get", sub, {"GET"}, self._subscription),
            ("arm.managementGroups.list", mg, {"GET"}, self._mg_list),
            ("arm.managementGroups.descendants", mg + r"/(?P<mg>[^/]+)/descendants", {"GET"},
             self._mg_descendants),
            ("arm.roleAssignments.list", scope + auth + r"/roleAssignments", {"GET"},
             self._role_assignments),
            ("arm.roleDefinitions.list", scope + auth + r"/roleDefinitions", {"GET"},
             self._role_definitions),
            ("arm.roleDefinitions.get", scope + auth + r"/roleDefinitions/(?P<guid>[^/]+)",
             {"GET"}, self._role_definition),
            ("arm.storageAccounts.list", sub + r"/providers/Microsoft\.Storage/storageAccounts",
             {"GET"}, self._storage),
            ("arm.vaults.listBySubscription", sub + r"/providers/Microsoft\.KeyVault/vaults",
             {"GET"}, self._vaults),
            ("arm.keys.list", sub + r"/resourceGroups/(?P<rg>[^/]+)/providers/"
                                    r"Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)/keys",
             {"GET"}, self._keys),
            ("arm.diagnosticSettings.list",
             sub + r"/providers/(?i:microsoft\.insights)/diagnosticSettings", {"GET"},
             self._diagnostic_settings),
            ("arm.logProfiles.list", sub + r"/providers/(?i:microsoft\.insights)/logprofiles",
             {"GET"}, self._log_profiles),
            ("arm.workspaces.get", sub + r"/resourceGroups/(?P<rg>[^/]+)/providers/"
                                         r"(?i:Microsoft\.OperationalInsights)/workspaces/"
                                         r"(?P<ws>[^/]+)", {"GET"}, self._workspace),
            ("arm.tables.get", sub + r"/resourceGroups/(?P<rg>[^/]+)/providers/"
                                     r"(?i:Microsoft\.OperationalInsights)/workspaces/"
                                     r"(?P<ws>[^/]+)/tables/(?P<table>[^/]+)", {"GET"},
             self._table),
            ("graph.registration", r"/v1\.0/reports/authenticationMethods/"
                                   r"userRegistrationDetails", {"GET"}, self._registration),
            ("graph.conditional_access", r"/v1\.0/identity/conditionalAccess/policies",
             {"GET"}, self._ca_policies),
            ("graph.security_defaults",
             r"/v1\.0/policies/identitySecurityDefaultsEnforcementPolicy", {"GET"},
             self._security_defaults),
            ("graph.directory_roles", r"/v1\.0/directoryRoles", {"GET"}, self._dir_roles),
            ("graph.directory_role_members", r"/v1\.0/directoryRoles/(?P<role>[^/]+)/members",
             {"GET"}, self._dir_role_members),
            ("graph.users.get", r"/v1\.0/users/(?P<user>[^/]+)", {"GET"}, self._user),
            ("graph.groups.get", r"/v1\.0/groups/(?P<group>[^/]+)", {"GET"}, self._group),
            ("graph.group_members", r"/v1\.0/groups/(?P<group>[^/]+)/transitiveMembers",
             {"GET"}, self._group_members),
        ]
        return [(n, re.compile(p), ms, fn) for n, p, ms, fn in r]

    # --- control endpoints ------------------------------------------------------------------

    def _sim_faults(self, req: _Req, m: re.Match[str]) -> Any:
        if req.method == "POST":
            d = json.loads(req.body or b"{}")
            f = self.inject(Fault(path=str(d.get("path", "")), status=int(d["status"]),
                                  times=d.get("times", 1), retry_after=d.get("retry_after"),
                                  page=d.get("page"), code=d.get("code"),
                                  route=d.get("route")))
            return f.to_json()
        if req.method == "DELETE":
            self.clear_faults()
        with self._lock:
            return {"faults": [f.to_json() for f in self.faults]}

    def _sim_stats(self, req: _Req, m: re.Match[str]) -> Any:
        with self._lock:
            return {"calls": dict(self.calls), "tokens": dict(self.tokens_issued)}

    # --- Entra ID ---------------------------------------------------------------------------

    def _check_tenant(self, tenant: str) -> None:
        if tenant not in (self.tenant.tenant_id, self.tenant.domain, "organizations"):
            raise aad_error(400, "invalid_request", 90002,
                            f"Tenant '{tenant}' not found. Check to make sure you have the "
                            "correct tenant ID and are signing into the correct cloud.")

    def _openid(self, req: _Req, m: re.Match[str]) -> Any:
        tenant = m["tenant"]
        self._check_tenant(tenant)
        base = f"{req.base}/{self.tenant.tenant_id}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{req.base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
        }

    def _token(self, req: _Req, m: re.Match[str]) -> Any:
        self._check_tenant(m["tenant"])
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            raise aad_error(400, "unsupported_grant_type", 70003,
                            "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        app = self.tenant.apps.get(client_id)
        if app is None:
            raise aad_error(400, "unauthorized_client", 700016,
                            f"Application with identifier '{client_id}' was not found in the "
                            f"directory '{self.tenant.tenant_id}'.")
        scope = form.get("scope", "").split()
        audiences = {_SCOPES.get(s) for s in scope if s not in ("offline_access", "openid",
                                                                  "profile")}
        if len(audiences) != 1 or None in audiences:
            raise aad_error(400, "invalid_scope", 1002012,
                            f"The provided value for scope {' '.join(scope)} is not valid. "
                            "Client credential flows must have a scope value with /.default "
                            "suffixed to the resource identifier (application ID URI).")
        audience = next(iter(audiences))
        assert audience is not None
        endpoint = f"{req.base}/{m['tenant']}/oauth2/v2.0/token"
        if "client_secret" in form:
            if app.secret is None or not secrets.compare_digest(form["client_secret"],
                                                                app.secret):
                raise aad_error(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent "
                                "in the request is the client secret value, not the client "
                                f"secret ID, for a secret added to app '{client_id}'.")
            how = "secret"
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            how = self._check_assertion(app, form.get("client_assertion", ""), endpoint, req)
        else:
            raise aad_error(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: "
                            "'client_assertion' or 'client_secret'.")
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience, "iss": f"https://sts.windows.net/{self.tenant.tenant_id}/",
            "iat": now, "nbf": now, "exp": now + self.token_lifetime,
            "appid": app.client_id, "appidacr": "1" if how == "secret" else "2",
            "idtyp": "app", "oid": app.object_id, "sub": app.object_id,
            "tid": self.tenant.tenant_id, "ver": "1.0", "uti": secrets.token_urlsafe(12),
        }
        if audience == GRAPH_AUDIENCE:
            claims["roles"] = list(app.graph_roles)
        with self._lock:
            self.tokens_issued[f"{how}:{'graph' if audience == GRAPH_AUDIENCE else 'arm'}"] += 1
        return {"token_type": "Bearer", "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": sign_jwt(claims, self._signing_key, kid=self._kid)}

    def _check_assertion(self, app: App, assertion: str, endpoint: str, req: _Req) -> str:
        try:
            head, claims, signing, sig = _split_jwt(assertion)
        except (ValueError, json.JSONDecodeError):
            raise aad_error(400, "invalid_client", 50027,
                            "JWT token is invalid or malformed.") from None
        now = time.time()
        if head.get("kid") == "cluster" or ("x5t" not in head and "x5t#S256" not in head):
            return self._check_federated(app, head, claims, signing, sig, now)
        cert = None
        for pem in app.certificates_pem:
            c = x509.load_pem_x509_certificate(pem)
            der = c.public_bytes(serialization.Encoding.DER)
            sha256 = "x5t#S256" in head and b64url_decode(head["x5t#S256"]) == \
                hashlib.sha256(der).digest()
            sha1 = "x5t" in head and b64url_decode(head["x5t"]) == hashlib.sha1(der).digest()
            if sha256 or sha1:
                cert = c
        if cert is None:
            thumb = head.get("x5t#S256") or head.get("x5t")
            raise aad_error(401, "invalid_client", 700027,
                            f"The certificate with identifier used to sign the client "
                            f"assertion is not registered on application. [Reason - The key "
                            f"was not found., Thumbprint of key used by client: '{thumb}']")
        try:
            _verify(str(head.get("alg")), cert.public_key(), signing, sig)
        except InvalidSignature:
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion contains an invalid signature.") from None
        aud = claims.get("aud")
        accepted = {endpoint, f"{req.base}/{self.tenant.tenant_id}/oauth2/v2.0/token"}
        if aud not in accepted:
            raise aad_error(401, "invalid_client", 700212,
                            f"No matching federated identity record found for presented "
                            f"assertion audience '{aud}'.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise aad_error(401, "invalid_client", 700023,
                            "Client assertion issuer and subject must be the client id.")
        if not claims.get("jti"):
            raise aad_error(401, "invalid_client", 700025, "Client assertion has no jti.")
        if float(claims.get("exp", 0)) < now or float(claims.get("nbf", 0)) > now + 300:
            raise aad_error(401, "invalid_client", 700024,
                            "Client assertion is not within its valid time range.")
        return "certificate"

    def _check_federated(self, app: App, head: dict[str, Any], claims: dict[str, Any],
                         signing: bytes, sig: bytes, now: float) -> str:
        match = [f for f in app.federated if f.issuer == claims.get("iss")
                 and f.subject == claims.get("sub") and f.audience == claims.get("aud")]
        if not match:
            raise aad_error(400, "invalid_request", 70021,
                            "No matching federated identity record found for presented "
                            f"assertion. Assertion Issuer: '{claims.get('iss')}'. Assertion "
                            f"Subject: '{claims.get('sub')}'. Assertion Audience: "
                            f"'{claims.get('aud')}'.")
        try:
            _verify(str(head.get("alg")), self._issuer_key.public_key(), signing, sig)
        except InvalidSignature:
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion failed signature validation.") from None
        if float(claims.get("exp", 0)) < now:
            raise aad_error(400, "invalid_client", 700024,
                            "Client assertion is not within its valid time range.")
        return "federated"

    def _bearer(self, req: _Req, audience: str) -> dict[str, Any]:
        graph = audience == GRAPH_AUDIENCE
        h = req.headers.get("authorization", "")
        if not h:
            if graph:
                raise graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
            raise ApiError(401, {"error": {"code": "AuthenticationFailed", "message":
                                           "Authentication failed. The 'Authorization' header "
                                           "is missing."}},
                           {"WWW-Authenticate": f'Bearer authorization_uri="{req.base}/'
                                                f'{self.tenant.tenant_id}", error='
                                                '"invalid_token", error_description="The '
                                                'authentication failed because of missing '
                                                '\'Authorization\' header."'})
        scheme, _, token = h.partition(" ")
        try:
            if scheme != "Bearer":
                raise ValueError("scheme")
            _head, claims, signing, sig = _split_jwt(token)
            _verify("RS256", self._signing_key.public_key(), signing, sig)
        except (ValueError, InvalidSignature, json.JSONDecodeError):
            if graph:
                raise graph_error(401, "InvalidAuthenticationToken",
                                  "IDX14100: JWT is not well formed.") from None
            raise arm_error(401, "InvalidAuthenticationToken",
                            "The access token is invalid.") from None
        if float(claims.get("exp", 0)) < time.time():
            if graph:
                raise graph_error(401, "InvalidAuthenticationToken", "Lifetime validation "
                                  "failed, the token is expired.")
            raise arm_error(401, "ExpiredAuthenticationToken",
                            "The access token expiry UTC time is earlier than current UTC "
                            "time.")
        if claims.get("aud") != audience:
            if graph:
                raise graph_error(401, "InvalidAuthenticationToken",
                                  "Invalid audience.")
            raise arm_error(401, "InvalidAuthenticationTokenAudience",
                            f"The access token has been obtained for wrong audience or "
                            f"resource '{claims.get('aud')}'. It should exactly match with one "
                            f"of the allowed audiences '{ARM_AUDIENCE}'.")
        if claims.get("tid") != self.tenant.tenant_id:
            raise arm_error(401, "InvalidAuthenticationTokenTenant",
                            "The access token is from the wrong issuer.")
        return claims

    # --- ARM --------------------------------------------------------------------------------

    def _arm(self, req: _Req, family: str, sub: str | None = None) -> dict[str, Any]:
        claims = self._bearer(req, ARM_AUDIENCE)
        version = req.query.get("api-version")
        if not version:
            raise arm_error(400, "MissingApiVersionParameter",
                            "The api-version query parameter (?api-version=) is required for "
                            "all requests.")
        if version not in API_VERSIONS[family]:
            raise arm_error(400, "InvalidApiVersionParameter" if family in (
                "subscriptions", "managementGroups") else "NoRegisteredProviderFound",
                f"The api-version '{version}' is invalid. The supported versions are "
                f"'{', '.join(sorted(API_VERSIONS[family]))}'.")
        if sub is not None:
            known = {s["subscriptionId"] for s in self.tenant.subscriptions}
            if sub not in known:
                raise arm_error(404, "SubscriptionNotFound",
                                f"The subscription '{sub}' could not be found.")
            if sub in self.tenant.denied_subscriptions:
                raise arm_error(403, "AuthorizationFailed",
                                f"The client '{claims.get('appid')}' with object id "
                                f"'{claims.get('oid')}' does not have authorization to perform "
                                f"action over scope '/subscriptions/{sub}' or the scope is "
                                "invalid. If access was recently granted, please refresh your "
                                "credentials.")
        return claims

    def _page(self, req: _Req, items: list[Any], *, link: str = "nextLink",
              size: int | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        size = size or self.page_size
        top = req.query.get("$top")
        if top and top.isdigit():
            size = min(size, int(top))
        try:
            start = int(req.query.get("$skiptoken", "0") or 0)
        except ValueError:
            raise arm_error(400, "InvalidSkipToken", "The $skiptoken is invalid.") from None
        out: dict[str, Any] = {**(extra or {}), "value": items[start:start + size]}
        if start + size < len(items):
            q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(start + size)
            out[link] = f"{req.base}{urllib.parse.quote(req.path)}?" + \
                urllib.parse.urlencode(q)
        return out

    def _subscriptions(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "subscriptions")
        subs = self.tenant.subscriptions
        return self._page(req, subs, extra={"count": {"type": "Total", "value": len(subs)}})

    def _subscription(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "subscriptions", m["sub"])
        return next(s for s in self.tenant.subscriptions if s["subscriptionId"] == m["sub"])

    def _mg_list(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "managementGroups")
        return self._page(req, self.tenant.management_groups, link="@nextLink")

    def _mg_descendants(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "managementGroups")
        root = f"/providers/Microsoft.Management/managementGroups/{m['mg']}"
        if root not in {g["id"] for g in self.tenant.management_groups}:
            raise arm_error(403, "AuthorizationFailed",
                            f"The client does not have authorization to perform action "
                            f"'Microsoft.Management/managementGroups/descendants/read' over "
                            f"scope '{root}' or the scope is invalid.")
        names = {g["id"]: g["properties"]["displayName"] for g in self.tenant.management_groups}
        subs = {s["id"]: s["displayName"] for s in self.tenant.subscriptions}
        out = []
        for child, parent in sorted(self.tenant.parents.items()):
            if root != parent and root not in self.tenant.ancestors(parent):
                continue
            is_sub = child.startswith("/subscriptions/")
            out.append({"id": child, "type": "/subscriptions" if is_sub
                        else "Microsoft.Management/managementGroups",
                        "name": child.rsplit("/", 1)[-1],
                        "properties": {"displayName": subs.get(child) if is_sub
                                       else names.get(child), "parent": {"id": parent}}})
        return self._page(req, out)

    def _role_assignments(self, req: _Req, m: re.Match[str]) -> Any:
        scope = m["scope"] or ""
        sub = re.match(r"/subscriptions/([^/]+)", scope)
        self._arm(req, "authorization", sub.group(1) if sub else None)
        flt = req.query.get("$filter", "")
        at_scope = "atScope()" in flt
        principal = re.search(r"principalId eq '([^']+)'", flt)
        above = set(self._scopes_above(scope))
        out = []
        for a in self.tenant.role_assignments:
            s = a["properties"]["scope"]
            below = (s + "/").lower().startswith(scope.lower() + "/") and s != scope
            if not (s == scope or s in above or (below and not at_scope)):
                continue
            if principal and a["properties"]["principalId"] != principal.group(1):
                continue
            doc = json.loads(json.dumps(a))
            guid = doc["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
            prefix = f"/subscriptions/{sub.group(1)}" if sub else ""
            doc["properties"]["roleDefinitionId"] = \
                f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            out.append(doc)
        return self._page(req, out)

    def _scopes_above(self, scope: str) -> list[str]:
        if not scope:
            return []
        out = []
        sub = re.match(r"(/subscriptions/[^/]+)", scope)
        if sub:
            if scope != sub.group(1):
                out.append(sub.group(1))
            out += self.tenant.ancestors(sub.group(1))
        else:
            out += self.tenant.ancestors(scope)
        return [*out, "/"]

    def _visible_definitions(self, scope: str) -> list[dict[str, Any]]:
        reach = {scope, *self._scopes_above(scope)}
        out = []
        for d in self.tenant.role_definitions:
            if "/" in d["properties"]["assignableScopes"] or reach & set(
                    d["properties"]["assignableScopes"]):
                doc = json.loads(json.dumps(d))
                sub = re.match(r"/subscriptions/[^/]+", scope)
                prefix = sub.group(0) if sub else ""
                doc["id"] = f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/" \
                            f"{doc['name']}"
                out.append(doc)
        return out

    def _role_definitions(self, req: _Req, m: re.Match[str]) -> Any:
        scope = m["scope"] or ""
        sub = re.match(r"/subscriptions/([^/]+)", scope)
        self._arm(req, "authorization", sub.group(1) if sub else None)
        return self._page(req, self._visible_definitions(scope))

    def _role_definition(self, req: _Req, m: re.Match[str]) -> Any:
        scope = m["scope"] or ""
        sub = re.match(r"/subscriptions/([^/]+)", scope)
        self._arm(req, "authorization", sub.group(1) if sub else None)
        for d in self._visible_definitions(scope):
            if d["name"] == m["guid"]:
                return d
        raise arm_error(404, "RoleDefinitionDoesNotExist",
                        "The specified role definition with ID "
                        f"'{m['guid']}' does not exist.")

    def _storage(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "storage", m["sub"])
        return self._page(req, self.tenant.storage_accounts.get(m["sub"], []))

    def _vaults(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "keyvault", m["sub"])
        return self._page(req, self.tenant.vaults.get(m["sub"], []))

    def _keys(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "keyvault", m["sub"])
        vid = (f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/"
               f"Microsoft.KeyVault/vaults/{m['vault']}").lower()
        if vid not in self.tenant.keys:
            raise arm_error(404, "ResourceNotFound",
                            f"The Resource 'Microsoft.KeyVault/vaults/{m['vault']}' under "
                            f"resource group '{m['rg']}' was not found.")
        return self._page(req, self.tenant.keys[vid])

    def _diagnostic_settings(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "diagnosticSettings", m["sub"])
        # Documented as a plain list (no paging) for this scope.
        return {"value": self.tenant.diagnostic_settings.get(m["sub"], [])}

    def _log_profiles(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "logprofiles", m["sub"])
        return {"value": self.tenant.log_profiles.get(m["sub"], [])}

    def _workspace(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "operationalinsights", m["sub"])
        doc = self.tenant.workspaces.get(req.path.lower())
        if doc is None:
            raise arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft."
                            f"OperationalInsights/workspaces/{m['ws']}' under resource group "
                            f"'{m['rg']}' was not found.")
        return doc

    def _table(self, req: _Req, m: re.Match[str]) -> Any:
        self._arm(req, "operationalinsights", m["sub"])
        doc = self.tenant.tables.get(req.path.lower())
        if doc is None:
            raise arm_error(404, "ResourceNotFound", f"Table {m['table']} was not found.")
        return doc

    # --- Graph ------------------------------------------------------------------------------

    def _graph(self, req: _Req, what: str) -> dict[str, Any]:
        claims = self._bearer(req, GRAPH_AUDIENCE)
        need = GRAPH_PERMISSIONS[what]
        if not set(claims.get("roles", [])) & set(need):
            raise graph_error(403, "Authorization_RequestDenied",
                              "Insufficient privileges to complete the operation.")
        return claims

    def _gpage(self, req: _Req, items: list[Any], context: str) -> dict[str, Any]:
        return self._page(req, items, link="@odata.nextLink", size=self.graph_page_size,
                          extra={"@odata.context": "https://graph.microsoft.com/v1.0/"
                                                   f"$metadata#{context}"})

    def _registration(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "registration")
        if not self.tenant.premium:
            raise graph_error(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                              "Neither tenant is B2C or tenant doesn't have premium license")
        return self._gpage(req, self.tenant.registration_details,
                           "reports/authenticationMethods/userRegistrationDetails")

    def _ca_policies(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "conditional_access")
        return self._gpage(req, self.tenant.ca_policies, "identity/conditionalAccess/policies")

    def _security_defaults(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "security_defaults")
        return self.tenant.security_defaults

    def _dir_roles(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "directory_roles")
        return self._gpage(req, self.tenant.directory_roles, "directoryRoles")

    def _members(self, ids: list[str]) -> list[dict[str, Any]]:
        return [o for o in (self.tenant.user_object(i) for i in ids) if o is not None]

    def _dir_role_members(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "directory_roles")
        if m["role"] not in self.tenant.role_members:
            raise graph_error(404, "Request_ResourceNotFound",
                              f"Resource '{m['role']}' does not exist or one of its queried "
                              "reference-property objects are not present.")
        return self._gpage(req, self._members(self.tenant.role_members[m["role"]]),
                           "directoryObjects")

    def _group_members(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "group_members")
        if m["group"] not in self.tenant.group_members:
            raise graph_error(404, "Request_ResourceNotFound",
                              f"Resource '{m['group']}' does not exist or one of its queried "
                              "reference-property objects are not present.")
        return self._gpage(req, self._members(self.tenant.group_members[m["group"]]),
                           "directoryObjects")

    def _user(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "users")
        u = self.tenant.users.get(m["user"])
        if u is None:
            raise graph_error(404, "Request_ResourceNotFound",
                              f"Resource '{m['user']}' does not exist or one of its queried "
                              "reference-property objects are not present.")
        select = [f for f in req.query.get("$select", "").split(",") if f]
        return {k: v for k, v in u.items() if not select or k in select or k == "@odata.type"}

    def _group(self, req: _Req, m: re.Match[str]) -> Any:
        self._graph(req, "group_members")
        g = self.tenant.groups.get(m["group"])
        if g is None:
            raise graph_error(404, "Request_ResourceNotFound",
                              f"Resource '{m['group']}' does not exist or one of its queried "
                              "reference-property objects are not present.")
        return g
