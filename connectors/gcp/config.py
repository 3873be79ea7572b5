"""The `gcp` connector's config: scope, credentials by reference, verdict thresholds.

    [[connectors]]
    type = "gcp"
    instance = "prod"
    organization = "organizations/123456789012"     # or: projects = ["app-prod", "data-prod"]
    credentials = { kind = "service_account_key", key = { file = "/run/secrets/gcp-sa.json" } }
    # credentials = { kind = "external_account", config_file = "/etc/gcp/wif.json" }
    # credentials = { kind = "application_default" }
    allowed_domains = ["example.com"]
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_ORG = re.compile(r"^(organizations/)?\d{1,20}$")
_URL = re.compile(r"^https?://[^/@]+(/.*)?$")
SERVICES = ("cloudresourcemanager", "iam", "logging", "cloudkms", "storage", "orgpolicy")

# Requests per second per API, at or below Google's documented default quotas for one
# consumer project (Resource Manager v3 reads: 10/s; IAM v1 reads: 6,000/min); the others,
# whose read quotas are higher, are kept conservative. Raise them if your quota is higher.
DEFAULT_RATES: dict[str, float] = {"cloudresourcemanager": 10.0, "iam": 100.0,
                                   "logging": 20.0, "cloudkms": 50.0, "storage": 50.0,
                                   "orgpolicy": 20.0}

DEFAULT_CONSTRAINTS = ("iam.disableServiceAccountKeyCreation",
                       "iam.disableServiceAccountKeyUpload",
                       "iam.allowedPolicyMemberDomains",
                       "storage.publicAccessPrevention",
                       "storage.uniformBucketLevelAccess")


class GcpCredentials(ConnectorConfig):
    """How the connector authenticates; secrets only by reference, always passed explicitly."""

    kind: Literal["service_account_key", "external_account", "application_default"]
    # service_account_key: the key file's JSON, named by { file = "..." } or { env = "..." }
    key: SecretRef | None = None
    # external_account: a workload identity federation config file (it holds no secret)
    config_file: str | None = None
    quota_project: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> GcpCredentials:
        if self.kind == "service_account_key" and self.key is None:
            raise ValueError('service_account_key needs key = { file = "..." } or '
                             '{ env = "..." }')
        if self.kind != "service_account_key" and self.key is not None:
            raise ValueError("key goes with kind = \"service_account_key\"")
        if self.kind == "external_account" and not self.config_file:
            raise ValueError("external_account needs config_file (the federation config)")
        if self.kind != "external_account" and self.config_file is not None:
            raise ValueError("config_file goes with kind = \"external_account\"")
        return self

    def describe(self) -> str:
        """How the credentials are named in records (never the secret)."""
        if self.key is not None:
            return f"{self.kind} ({self.key.describe()})"
        if self.config_file:
            return f"{self.kind} ({self.config_file})"
        return self.kind


class GcpConfig(ConnectorConfig):
    """Where and how the `gcp` connector collects, and the thresholds its verdicts use."""

    organization: str | None = None
    projects: tuple[str, ...] = ()
    credentials: GcpCredentials = GcpCredentials(kind="application_default")
    # Members in these domains (user:, group:, domain:) are internal; the organization's own
    # domain is added when the scope is an organization.
    allowed_domains: tuple[str, ...] = ()
    # Members trusted though outside the domains (exact member strings, e.g.
    # "user:auditor@audit-firm.com" or a workload identity principalSet).
    allowed_members: tuple[str, ...] = ()
    # Members allowed to hold the basic roles owner / editor (e.g. a break-glass group).
    basic_role_members: tuple[str, ...] = ()
    max_key_age_days: int = Field(default=90, ge=1, le=3650)
    max_rotation_days: int = Field(default=90, ge=1, le=3650)
    min_log_retention_days: int = Field(default=365, ge=1, le=3650)
    require_cmek: bool = False
    constraints: tuple[str, ...] = DEFAULT_CONSTRAINTS
    endpoint: str | None = None  # one base URL for every API (a local simulator)
    service_endpoints: dict[str, str] = Field(default_factory=dict)
    rates: dict[str, float] = Field(default_factory=dict)  # requests/s per API (quotas)
    workers: int = Field(default=8, ge=1, le=64)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_budget_seconds: float = Field(default=120.0, gt=0, le=1800)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one_scope(self) -> GcpConfig:
        if (self.organization is None) == (not self.projects):
            raise ValueError("give exactly one of organization or projects")
        return self

    @field_validator("organization")
    @classmethod
    def _org(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not _ORG.match(v):
            raise ValueError("organization is organizations/NUMBER (or the number)")
        return v if v.startswith("organizations/") else f"organizations/{v}"

    @field_validator("projects")
    @classmethod
    def _projects(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not _PROJECT_ID.match(p):
                raise ValueError(f"not a GCP project ID: {p!r}")
        return tuple(sorted(set(v)))

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({d.lower().lstrip("@") for d in v}))

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError("endpoint must be an http(s) URL without credentials")
        return v.rstrip("/") if v else v

    @field_validator("service_endpoints", "rates")
    @classmethod
    def _services(cls, v: dict[str, object]) -> dict[str, object]:
        for k, val in v.items():
            if k not in SERVICES:
                raise ValueError(f"unknown API {k!r} (known: {', '.join(SERVICES)})")
            if isinstance(val, str) and not _URL.match(val):
                raise ValueError(f"service_endpoints.{k} must be an http(s) URL")
            if isinstance(val, int | float) and val <= 0:
                raise ValueError(f"rates.{k} must be positive")
        return v

    def endpoint_for(self, service: str) -> str | None:
        """The base URL override for `service`, or None for Google's own endpoint."""
        url = self.service_endpoints.get(service, self.endpoint)
        return url.rstrip("/") if url else None

    def rate_for(self, service: str) -> float:
        """Requests per second allowed for `service`."""
        return float(self.rates.get(service, DEFAULT_RATES[service]))
