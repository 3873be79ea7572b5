"""Credentials, clients and recorded calls for the `azure` connector.

The credential comes from azure-identity (client secret, client certificate, workload
identity, managed identity), built from the config's references. ARM goes through the
azure-mgmt-* clients (or azure-core's PipelineClient where no client has the operation:
diagnostic settings, log profiles, Log Analytics tables), Microsoft Graph through a
PipelineClient with a bearer policy (msgraph-sdk would add ~390 MB for four GETs). Every
logical call is recorded on the snapshot's provenance with its pages and items; errors map
to the collector's error classes with an operator hint.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest

from connectors.azure.config import (
    AzureConfig,
    ClientCertificate,
    ClientSecret,
    ManagedIdentity,
    WorkloadIdentity,
)
from connectors.base import ApiCall, Provenance
from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.secrets import resolve_secret

# The read permission each recorded operation needs: Azure RBAC actions (all in the built-in
# Reader role) and Microsoft Graph application permissions (prefixed "graph:").
OPERATION_PERMISSIONS: dict[str, str] = {
    "subscriptions.list": "Microsoft.Resources/subscriptions/read",
    "managementGroups.getDescendants": "Microsoft.Management/managementGroups/descendants/read",
    "authorization.roleDefinitions.list": "Microsoft.Authorization/roleDefinitions/read",
    "authorization.roleAssignments.listForSubscription":
        "Microsoft.Authorization/roleAssignments/read",
    "storage.storageAccounts.list": "Microsoft.Storage/storageAccounts/read",
    "keyvault.vaults.listBySubscription": "Microsoft.KeyVault/vaults/read",
    "keyvault.keys.list": "Microsoft.KeyVault/vaults/keys/read",
    "insights.diagnosticSettings.list": "Microsoft.Insights/DiagnosticSettings/Read",
    "insights.logProfiles.list": "Microsoft.Insights/LogProfiles/Read",
    "operationalinsights.workspaces.get": "Microsoft.OperationalInsights/workspaces/read",
    "operationalinsights.tables.get": "Microsoft.OperationalInsights/workspaces/tables/read",
    "graph.reports.userRegistrationDetails": "graph:AuditLog.Read.All",
    "graph.directoryRoles.list": "graph:RoleManagement.Read.Directory",
    "graph.directoryRoles.members": "graph:RoleManagement.Read.Directory",
    "graph.identity.conditionalAccess.policies": "graph:Policy.Read.All",
    "graph.policies.identitySecurityDefaultsEnforcementPolicy": "graph:Policy.Read.All",
    "graph.groups.get": "graph:GroupMember.Read.All",
    "graph.groups.transitiveMembers": "graph:GroupMember.Read.All",
    "graph.users.get": "graph:User.Read.All",
}


def hint_for(operation: str) -> str:
    """The operator hint for a denied operation: the permission to grant, and where."""
    perm = OPERATION_PERMISSIONS.get(operation)
    if perm is None:
        return "grant the built-in Reader role"
    if perm.startswith("graph:"):
        return (f"grant {perm} (the Microsoft Graph application permission "
                f"{perm.removeprefix('graph:')}, with admin consent)")
    return f"grant {perm} (the built-in Reader role has it) on the subscription"


ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
USER_AGENT = "evidence-agent"
CredentialFactory = Callable[[AzureConfig], TokenCredential]


def build_credential(cfg: AzureConfig) -> TokenCredential:
    """The azure-identity credential the config names, its secret resolved by reference."""
    from azure.identity import (
        CertificateCredential,
        ClientSecretCredential,
        ManagedIdentityCredential,
        WorkloadIdentityCredential,
    )

    common: dict[str, Any] = {"authority": cfg.authority,
                              "disable_instance_discovery": _custom_authority(cfg)}
    if cfg.ca_bundle:
        common["connection_verify"] = cfg.ca_bundle
    c = cfg.credential
    if isinstance(c, ClientSecret):
        return ClientSecretCredential(cfg.tenant_id, c.client_id, resolve_secret(c.secret),
                                      **common)
    if isinstance(c, ClientCertificate):
        pem = resolve_secret(c.certificate).encode() + b"\n"
        password = resolve_secret(c.password).encode() if c.password else None
        try:
            return CertificateCredential(cfg.tenant_id, c.client_id, certificate_data=pem,
                                         password=password,
                                         send_certificate_chain=c.send_certificate_chain,
                                         **common)
        except ValueError as e:
            raise ConfigError(f"azure: the client certificate ({c.certificate.describe()}) "
                              f"cannot be loaded: {type(e).__name__}") from None
    if isinstance(c, WorkloadIdentity):
        return WorkloadIdentityCredential(tenant_id=cfg.tenant_id, client_id=c.client_id,
                                          token_file_path=c.token_file, **common)
    assert isinstance(c, ManagedIdentity)
    kwargs: dict[str, Any] = {"client_id": c.client_id} if c.client_id else {}
    return ManagedIdentityCredential(**kwargs)


def _custom_authority(cfg: AzureConfig) -> bool:
    # MSAL asks Microsoft's public login host to validate any authority it does not know;
    # a private or local authority must skip that (it cannot be reached from here).
    host = urllib.parse.urlsplit(cfg.authority).hostname or ""
    return host not in ("login.microsoftonline.com", "login.microsoftonline.us",
                        "login.chinacloudapi.cn", "login.partner.microsoftonline.cn")


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read (not verified) to name the principal."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return data if isinstance(data, dict) else {}
    except (IndexError, ValueError):
        return {}


def describe_principal(claims: dict[str, Any]) -> str:
    """How a token's principal is named in the record."""
    appid = claims.get("appid") or claims.get("azp")
    oid = claims.get("oid")
    if appid:
        return f"app {appid} (service principal {oid})"
    return f"object {oid}" if oid else "unknown principal"


def _first_line(text: str, limit: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:limit]


def error_code(e: HttpResponseError) -> str | None:
    """The ARM / Graph error code of a failed response (`error.code`)."""
    code = getattr(getattr(e, "error", None), "code", None)
    if code:
        return str(code)
    try:
        body = json.loads(e.response.text()) if e.response is not None else None
    except (ValueError, AttributeError, TypeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "") or None
    return None


def map_error(e: Exception, what: str, target: str, *, hint: str) -> ConnectorError:
    """The collector's error for an azure-core / azure-identity exception."""
    if isinstance(e, ConnectorError):
        return e
    if isinstance(e, HttpResponseError) and e.status_code is not None:
        code = error_code(e) or str(e.status_code)
        status = int(e.status_code)
        if status == 403:
            return PermissionDenied(f"{what} denied for {target} ({code})", hint=hint)
        if status == 401:
            return AuthError(f"{what} refused the token for {target} ({code})",
                             hint="check the tenant, the app registration and its credential")
        if status == 429 or status >= 500:
            ra = getattr(e.response, "headers", {}).get("Retry-After") \
                if e.response is not None else None
            try:
                after = float(ra) if ra else None
            except ValueError:
                after = None
            return TransientError(f"{what} throttled or failed for {target} ({code})",
                                  hint="Azure asked to slow down or failed; retry later",
                                  retry_after=after)
        return UnexpectedResponse(f"{what} failed for {target} ({status} {code})",
                                  hint="an unexpected Azure answer; see the error code")
    if isinstance(e, ClientAuthenticationError):
        return AuthError(f"{what}: no token for {target}: {_first_line(e.message)}",
                         hint="check tenant_id, client_id and the credential's reference")
    if isinstance(e, ServiceRequestError | ServiceResponseError):
        return TransientError(f"{what}: could not reach Azure for {target} "
                              f"({type(e).__name__})",
                              hint="check network access (and ca_bundle for a private "
                                   "endpoint)")
    if isinstance(e, AzureError):
        return UnexpectedResponse(f"{what} failed for {target} ({type(e).__name__})",
                                  hint="an unexpected Azure client error")
    return UnexpectedResponse(f"{what} failed for {target} ({type(e).__name__})",
                              hint="an unexpected error; see the log")


class _RetryCounter(SansIOHTTPPolicy[Any, Any]):
    """Counts answers azure-core's retry policy retries (429, 5xx) on the call this thread
    is making (a per-retry policy: it sees every attempt)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]
                    ) -> None:
        status = response.http_response.status_code
        if status == 429 or status in (500, 502, 503, 504):
            self.session.note_retry()


class Session:
    """One snapshot's clients: ARM management clients, raw ARM and Graph, all recorded."""

    def __init__(self, cfg: AzureConfig, credential: TokenCredential, ipe: Provenance) -> None:
        self.cfg = cfg
        self.credential = credential
        self.ipe = ipe
        self._counter = _RetryCounter(self)
        self._lock = threading.Lock()
        self._local = threading.local()  # the call this thread is making
        self._clients: dict[tuple[str, str], Any] = {}
        self._raw: dict[str, PipelineClient[Any, Any]] = {}

    # --- clients --------------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "base_url": self.cfg.arm_endpoint, "credential_scopes": [ARM_SCOPE],
            "retry_total": self.cfg.max_retries,
            "retry_backoff_factor": self.cfg.retry_backoff_seconds,
            "per_retry_policies": [self._counter], "user_agent": USER_AGENT,
            "connection_timeout": 20, "read_timeout": self.cfg.timeout_seconds,
        }
        if self.cfg.ca_bundle:
            kw["connection_verify"] = self.cfg.ca_bundle
        return kw

    def mgmt(self, kind: str, subscription_id: str = "") -> Any:
        """A management client: subscriptions, managementgroups, authorization, storage,
        keyvault (one per subscription, reused within the snapshot)."""
        key = (kind, subscription_id)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
            kw = self._common()
            if kind == "subscriptions":
                from azure.mgmt.resource.subscriptions import SubscriptionClient
                client: Any = SubscriptionClient(self.credential, **kw)
            elif kind == "managementgroups":
                from azure.mgmt.managementgroups import ManagementGroupsMgmtClient
                client = ManagementGroupsMgmtClient(self.credential, **kw)
            elif kind == "authorization":
                from azure.mgmt.authorization import AuthorizationManagementClient
                client = AuthorizationManagementClient(self.credential, subscription_id,
                                                       api_version="2022-04-01", **kw)
            elif kind == "storage":
                from azure.mgmt.storage import StorageManagementClient
                client = StorageManagementClient(self.credential, subscription_id, **kw)
            elif kind == "keyvault":
                from azure.mgmt.keyvault import KeyVaultManagementClient
                client = KeyVaultManagementClient(self.credential, subscription_id, **kw)
            else:
                raise ValueError(kind)
            self._clients[key] = client
            return client

    def _pipeline(self, which: str) -> PipelineClient[Any, Any]:
        with self._lock:
            if which in self._raw:
                return self._raw[which]
            base = self.cfg.arm_endpoint if which == "arm" else self.cfg.graph_endpoint
            scope = ARM_SCOPE if which == "arm" else GRAPH_SCOPE
            kw: dict[str, Any] = {"connection_timeout": 20,
                                  "read_timeout": self.cfg.timeout_seconds}
            if self.cfg.ca_bundle:
                kw["connection_verify"] = self.cfg.ca_bundle
            policies: list[Any] = [
                HeadersPolicy({"Accept": "application/json"}),
                UserAgentPolicy(USER_AGENT),
                RetryPolicy(retry_total=self.cfg.max_retries,
                            retry_backoff_factor=self.cfg.retry_backoff_seconds),
                self._counter,
                BearerTokenCredentialPolicy(self.credential, scope),
            ]
            client: PipelineClient[Any, Any] = PipelineClient(base, policies=policies, **kw)
            self._raw[which] = client
            return client

    def principal(self) -> str:
        """Name the principal from the ARM token's claims (and note it on the provenance)."""
        try:
            tok = self.credential.get_token(ARM_SCOPE)
        except Exception as e:  # azure-identity raises several unrelated types
            raise map_error(e, "token", f"tenant {self.cfg.tenant_id}",
                            hint="check the credential") from None
        who = describe_principal(token_claims(tok.token))
        self.ipe.principal = who
        self.ipe.source = f"tenant {self.cfg.tenant_id}"
        return who

    # --- recorded calls -------------------------------------------------------------------

    def note_retry(self) -> None:
        """Count a retried attempt on the provenance and on the current call."""
        self.ipe.retried()
        call: ApiCall | None = getattr(self._local, "call", None)
        if call is not None:
            with self._lock:
                call.retries += 1

    def _start(self, op: str, params: dict[str, Any], target: str, **kw: Any) -> ApiCall:
        call = self.ipe.call(op, params, target=target, **kw)
        self._local.call = call
        return call

    def pages(self, op: str, target: str, params: dict[str, Any], paged: Any, *,
              hint: str | None = None, incomplete: list[str] | None = None) -> list[Any]:
        """Every item of an azure-core ItemPaged, recorded as one call with its pages. Given
        an `incomplete` list, a failure after the first page keeps what was read and notes
        why on it (the provenance says the list was cut short) instead of raising."""
        call = self._start(op, params, target, pages=0, items=0)
        out: list[Any] = []
        try:
            for page in paged.by_page():
                items = list(page)
                out.extend(items)
                call.pages += 1
                call.items = (call.items or 0) + len(items)
        except Exception as e:
            err = self._failed(call, e, op, target, hint)
            if incomplete is not None and call.pages:
                incomplete.append(f"{op} stopped after {call.pages} pages: {err.message}")
                return out
            raise err from e
        return out

    def once(self, op: str, target: str, params: dict[str, Any], fn: Callable[[], Any], *,
             hint: str | None = None) -> Any:
        """One recorded non-paged call."""
        call = self._start(op, params, target)
        try:
            out = fn()
        except Exception as e:
            raise self._failed(call, e, op, target, hint) from e
        return out

    def _failed(self, call: ApiCall, e: Exception, op: str, target: str,
                hint: str | None) -> ConnectorError:
        err = map_error(e, op, target, hint=hint or hint_for(op))
        call.ok, call.error = False, err.message
        if call.pages:
            self.ipe.cut_short(f"{target}: {op} stopped after {call.pages} pages: "
                               f"{err.message}")
        return err

    def _send(self, which: str, url: str) -> dict[str, Any]:
        client = self._pipeline(which)
        resp = client.send_request(HttpRequest("GET", url))
        if resp.status_code >= 400:
            raise HttpResponseError(response=resp)
        body = resp.json()
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"{url.split('?')[0]} answered {type(body).__name__}",
                                     hint="not the documented JSON object")
        return body

    def rest(self, which: str, op: str, target: str, path: str, params: dict[str, str], *,
             hint: str | None = None, absent: Iterable[int] = ()) -> dict[str, Any] | None:
        """GET one ARM or Graph document; None when its status is in `absent`."""
        url = self._url(which, path, params)
        call = self._start(op, dict(params), target)
        try:
            return self._send(which, url)
        except HttpResponseError as e:
            if e.status_code in set(absent):
                call.error, call.items = f"{e.status_code} (absent)", 0
                return None
            raise self._failed(call, e, op, target, hint) from e
        except Exception as e:
            raise self._failed(call, e, op, target, hint) from e

    def rest_pages(self, which: str, op: str, target: str, path: str, params: dict[str, str],
                   *, hint: str | None = None, keep_partial: bool = False
                   ) -> Iterator[dict[str, Any]]:
        """Every item of an ARM (`nextLink`) or Graph (`@odata.nextLink`) list. With
        `keep_partial`, a failure after the first page ends the list where it stopped (the
        provenance says it was cut short, so the record is partial) instead of raising."""
        call = self._start(op, dict(params), target, pages=0, items=0)
        url: str | None = self._url(which, path, params)
        seen: set[str] = set()
        link = "@odata.nextLink" if which == "graph" else "nextLink"
        while url:
            if url in seen:
                self.ipe.cut_short(f"{target}: {op} returned a next link already followed")
                raise UnexpectedResponse(f"{op} for {target}: pagination loops",
                                         hint="the API repeated a next link")
            seen.add(url)
            self._local.call = call  # the consumer may have made other calls in between
            try:
                body = self._send(which, url)
            except Exception as e:
                err = self._failed(call, e, op, target, hint)
                if keep_partial and call.pages:
                    return
                raise err from e
            items = body.get("value")
            if not isinstance(items, list):
                raise self._failed(call, UnexpectedResponse(
                    f"{op} for {target}: no 'value' list", hint="not the documented shape"),
                    op, target, hint)
            call.pages += 1
            call.items = (call.items or 0) + len(items)
            yield from items
            url = body.get(link) or None

    def _url(self, which: str, path: str, params: dict[str, str]) -> str:
        base = self.cfg.arm_endpoint if which == "arm" else self.cfg.graph_endpoint
        q = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,'()")
        return f"{base}{urllib.parse.quote(path)}" + (f"?{q}" if q else "")
