"""The `aws` connector's config: accounts, regions, endpoints; credentials only by indirection.

    [[connectors]]
    type = "aws"
    instance = "prod"
    profile = "audit"                       # base session (omit: the default credential chain)
    regions = ["us-east-1", "eu-west-1"]    # or "all": every region enabled for the account
    accounts = [
      { profile = "prod-readonly" },
      { role_arn = "arn:aws:iam::111122223333:role/EvidenceAgent", external_id = { env = "X" } },
    ]
    organizations_discovery = { role_name = "EvidenceAgentReadOnly" }
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
# IAM's `[\w+=,.@-]` means ASCII letters, digits and `_` (the STS and IAM API references:
# "upper- and lower-case alphanumeric characters with no spaces", plus `_+=,.@-`). Written
# out, not as `\w`: pydantic's regex engine compiles a Unicode `\w` under a bounded repeat
# into a large automaton, ~25 ms of every start-up per pattern.
_IAM_NAME = "A-Za-z0-9_+=,.@-"


class AwsAccount(ConnectorConfig):
    """One account, reached by a named profile or by a role assumed from the base session."""

    label: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: SecretRef | None = None
    session_name: str = Field(default="evidence-agent", pattern=rf"^[{_IAM_NAME}]{{2,64}}$")

    @model_validator(mode="after")
    def _one_way_in(self) -> AwsAccount:
        if (self.profile is None) == (self.role_arn is None):
            raise ValueError("an account takes exactly one of profile or role_arn")
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id goes with role_arn")
        if self.role_arn is not None and not _ROLE_ARN.match(self.role_arn):
            raise ValueError("role_arn must look like arn:aws:iam::123456789012:role/NAME")
        return self

    def describe(self) -> str:
        """How this account is named in logs and records (never a secret)."""
        if self.label:
            return self.label
        return f"profile:{self.profile}" if self.profile else str(self.role_arn)


class OrganizationsDiscovery(ConnectorConfig):
    """List the organization's active member accounts and assume `role_name` in each."""

    role_name: str = Field(default="EvidenceAgentReadOnly", pattern=rf"^[/{_IAM_NAME}]{{1,64}}$")
    external_id: SecretRef | None = None
    exclude: tuple[str, ...] = ()

    @field_validator("exclude")
    @classmethod
    def _ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if not _ACCOUNT_ID.match(a):
                raise ValueError(f"exclude takes 12-digit account IDs (got {a!r})")
        return v


class AwsConfig(ConnectorConfig):
    """Where and how the `aws` connector collects."""

    profile: str | None = None
    accounts: tuple[AwsAccount, ...] = ()
    organizations_discovery: OrganizationsDiscovery | None = None
    regions: tuple[str, ...] | Literal["all"] = ("us-east-1",)
    home_region: str = "us-east-1"
    endpoint_url: str | None = None
    service_endpoints: dict[str, str] = Field(default_factory=dict)
    retry_mode: Literal["standard", "adaptive"] = "adaptive"
    max_attempts: int = Field(default=6, ge=1, le=20)  # total, the first try included
    workers: int = Field(default=16, ge=1, le=64)
    credential_report_wait_seconds: float = Field(default=120.0, gt=0, le=900)
    # Seconds one snapshot run may spend waiting between retries, over all its calls.
    retry_budget_seconds: float = Field(default=300.0, ge=0, le=3600)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: tuple[str, ...] | str) -> tuple[str, ...] | str:
        if isinstance(v, str):
            return v
        if not v:
            raise ValueError('regions is a non-empty list, or "all"')
        for r in v:
            if not _REGION.match(r):
                raise ValueError(f"not an AWS region name: {r!r}")
        return tuple(sorted(set(v)))

    @field_validator("home_region")
    @classmethod
    def _home(cls, v: str) -> str:
        if not _REGION.match(v):
            raise ValueError(f"not an AWS region name: {v!r}")
        return v

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/@]+(/.*)?$", v):
            raise ValueError("endpoint_url must be an http(s) URL without credentials")
        return v

    @field_validator("service_endpoints")
    @classmethod
    def _urls(cls, v: dict[str, str]) -> dict[str, str]:
        for svc, url in v.items():
            if not re.match(r"^https?://[^/@]+(/.*)?$", url):
                raise ValueError(f"service_endpoints.{svc} must be an http(s) URL")
        return v

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint override for `service` (a local server), or None for AWS itself."""
        return self.service_endpoints.get(service, self.endpoint_url)
