"""The `okta` connector's config: the org URL and credentials, only by indirection.

    [[connectors]]
    type = "okta"
    instance = "workforce"
    org_url = "https://example.okta.com"
    api_token = { env = "OKTA_API_TOKEN" }             # SSWS token of a read-only admin
    [connectors.oauth]                                 # or (Okta's recommendation) a service app
    client_id = "0oa1serviceapp00001"
    private_key = { file = "/run/secrets/okta-key.pem" }  # PEM or JWK JSON
    key_id = "evidence-agent-1"

With both set, snapshots use the OAuth service app and `connectors check` tries each.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef


class OktaOAuth(ConnectorConfig):
    """An OAuth 2.0 service app that authenticates with a private-key JWT (private_key_jwt)."""

    client_id: str = Field(pattern=r"^[\w-]{5,64}$")
    private_key: SecretRef
    key_id: str | None = Field(default=None, pattern=r"^[\w.:-]{1,128}$")


class OktaConfig(ConnectorConfig):
    """Where and how the `okta` connector collects."""

    org_url: str
    api_token: SecretRef | None = None
    oauth: OktaOAuth | None = None
    # Only for local simulators: let the SDK talk plain http.
    allow_http: bool = False
    concurrency: int = Field(default=8, ge=1, le=64)
    # How long one snapshot may wait on Okta's rate limits (x-rate-limit-reset) in total
    # before it stops and is recorded as incomplete.
    rate_limit_wait_seconds: float = Field(default=300.0, ge=0, le=3600)
    max_attempts: int = Field(default=4, ge=1, le=10)  # per call: 429, 5xx, network errors
    page_limit: int = Field(default=200, ge=1, le=200)
    log_page_limit: int = Field(default=1000, ge=1, le=1000)

    @field_validator("org_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/@\s]+$", v.rstrip("/")):
            raise ValueError("org_url is the org's base URL, like https://example.okta.com "
                             "(no path, no credentials)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _creds(self) -> OktaConfig:
        if self.api_token is None and self.oauth is None:
            raise ValueError("okta needs api_token = { env = ... } or an [oauth] service app")
        if self.org_url.startswith("http://") and not self.allow_http:
            raise ValueError("org_url must be https (allow_http = true is for local "
                             "simulators only)")
        return self
