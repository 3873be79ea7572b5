"""The `azure` connector's config: tenant, subscriptions, endpoints; secrets only by reference.

    [[connectors]]
    type = "azure"
    instance = "prod"
    tenant_id = "00000000-0000-0000-0000-000000000000"
    subscriptions = "all"                   # or ["<subscription id>", ...]
    break_glass = ["breakglass1@contoso.com"]
    [connectors.credential]                 # one of four kinds:
    kind = "client_secret"
    client_id = "..."
    secret = { env = "AZURE_CLIENT_SECRET" }
    # kind = "client_certificate"; certificate = { file = "/run/secrets/sp.pem" }
    # kind = "workload_identity"; token_file = "/var/run/secrets/azure/tokens/..."
    # kind = "managed_identity"; client_id only for a user-assigned identity
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_URL = re.compile(r"^https://[^/@\s]+/?$")


class ClientSecret(ConnectorConfig):
    """An app registration's client secret (by reference)."""

    kind: Literal["client_secret"]
    client_id: str = Field(pattern=_GUID)
    secret: SecretRef


class ClientCertificate(ConnectorConfig):
    """An app registration's certificate: a PEM with the private key and the certificate."""

    kind: Literal["client_certificate"]
    client_id: str = Field(pattern=_GUID)
    certificate: SecretRef
    password: SecretRef | None = None
    send_certificate_chain: bool = False


class WorkloadIdentity(ConnectorConfig):
    """A federated token file (Kubernetes workload identity, or any trusted issuer)."""

    kind: Literal["workload_identity"]
    client_id: str = Field(pattern=_GUID)
    token_file: str = "/var/run/secrets/azure/tokens/azure-identity-token"


class ManagedIdentity(ConnectorConfig):
    """The Azure host's managed identity (system-assigned, or user-assigned by client_id)."""

    kind: Literal["managed_identity"]
    client_id: str | None = Field(default=None, pattern=_GUID)


Credential = Annotated[ClientSecret | ClientCertificate | WorkloadIdentity | ManagedIdentity,
                       Field(discriminator="kind")]


class AzureConfig(ConnectorConfig):
    """Where and how the `azure` connector collects."""

    tenant_id: str = Field(pattern=_GUID)
    credential: Credential
    subscriptions: tuple[str, ...] | Literal["all"] = "all"
    exclude_subscriptions: tuple[str, ...] = ()
    # The management group whose tree is read for inherited assignments (default: the root).
    management_group: str | None = None
    break_glass: tuple[str, ...] = ()
    max_owners: int = Field(default=3, ge=1, le=100)
    require_cmk: bool = False
    minimum_tls: Literal["TLS1_2", "TLS1_3"] = "TLS1_2"
    activity_log_retention_days: int = Field(default=365, ge=1, le=36500)
    authority: str = "https://login.microsoftonline.com"
    arm_endpoint: str = "https://management.azure.com"
    graph_endpoint: str = "https://graph.microsoft.com"
    # A CA bundle for the endpoints (a private proxy or a local simulator); default: system.
    ca_bundle: str | None = None
    workers: int = Field(default=8, ge=1, le=32)
    max_retries: int = Field(default=4, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=0.8, ge=0, le=60)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("subscriptions", "exclude_subscriptions")
    @classmethod
    def _guids(cls, v: tuple[str, ...] | str) -> tuple[str, ...] | str:
        if isinstance(v, str):
            return v
        for s in v:
            if not re.match(_GUID, s):
                raise ValueError(f"not a subscription id (GUID): {s!r}")
        return tuple(dict.fromkeys(s.lower() for s in v))

    @field_validator("authority", "arm_endpoint", "graph_endpoint")
    @classmethod
    def _https(cls, v: str) -> str:
        if not _URL.match(v):
            raise ValueError("must be an https:// URL with no path or credentials "
                             "(azure-identity refuses anything but TLS)")
        return v.rstrip("/")
