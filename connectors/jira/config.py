"""The `jira` connector's config: one site, Cloud or Server/Data Center; secrets by reference.

    [[connectors]]
    type = "jira"
    instance = "acme"
    url = "https://acme.atlassian.net"
    email = "evidence-bot@acme.example"           # Cloud: account email + API token
    api_token = { env = "JIRA_API_TOKEN" }
    # pat = { env = "JIRA_PAT" }                  # Server / Data Center: personal access token
    jql = 'project = CHG AND issuetype = Change'
    approved_statuses = ["Approved"]
    period_field = "updated"
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef

_ORDER_BY = re.compile(r"\border\s+by\b", re.I)


class JiraConfig(ConnectorConfig):
    """One Jira site and the change-ticket population to collect from it."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    email: str | None = None
    api_token: SecretRef | None = None
    pat: SecretRef | None = None
    jql: str = Field(min_length=1)
    approved_statuses: tuple[str, ...] = ("Approved",)
    period_field: Literal["updated", "resolutiondate", "created"] = "updated"
    page_size: int = Field(default=100, ge=1, le=1000)
    workers: int = Field(default=4, ge=1, le=16)
    timeout_seconds: float = Field(default=30.0, gt=0)
    rate_limit_wait_seconds: float = Field(default=120.0, ge=0)
    verify_tls: bool | str = True

    @field_validator("jql")
    @classmethod
    def _no_order_by(cls, v: str) -> str:
        if _ORDER_BY.search(v):
            raise ValueError("jql must not contain ORDER BY (the connector adds its own)")
        return v.strip()

    @field_validator("approved_statuses")
    @classmethod
    def _some_status(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or any(not s.strip() for s in v):
            raise ValueError("approved_statuses needs at least one non-empty status name or id")
        return v

    @model_validator(mode="after")
    def _a_credential(self) -> JiraConfig:
        if (self.email is None) != (self.api_token is None):
            raise ValueError("Cloud credentials take both email and api_token")
        if self.api_token is None and self.pat is None:
            raise ValueError("give email + api_token (Cloud) or pat (Server / Data Center)")
        return self

    def credentials(self) -> list[Literal["cloud", "datacenter"]]:
        """The configured credential kinds, Cloud first."""
        out: list[Literal["cloud", "datacenter"]] = []
        if self.api_token is not None:
            out.append("cloud")
        if self.pat is not None:
            out.append("datacenter")
        return out
