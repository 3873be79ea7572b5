"""The `github` connector's config: organizations, scope, credentials by indirection only.

    [[connectors]]
    type = "github"
    instance = "acme"
    base_url = "https://api.github.com"        # GHES: "https://ghe.example.com/api/v3"
    organizations = ["acme"]
    repositories = "all"                        # or ["acme/api", "web"] (names in the orgs)
    token = { env = "GITHUB_TOKEN" }            # a fine-grained token, read-only
    # or a GitHub App:
    # app = { app_id = 123456, installation_id = 7890123,
    #         private_key = { file = "/run/secrets/github-app.pem" } }
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef


class GitHubApp(ConnectorConfig):
    """A GitHub App installation: the app's ID, its private key (PEM) and the installation."""

    app_id: int = Field(gt=0)
    installation_id: int = Field(gt=0)
    private_key: SecretRef


class BranchPolicy(ConnectorConfig):
    """What `branch_protection` requires of each in-scope default branch."""

    min_approvals: int = Field(default=1, ge=0, le=10)
    require_review_for_admins: bool = True
    require_force_push_block: bool = True
    require_deletion_block: bool = True
    require_dismiss_stale_reviews: bool = False
    require_code_owner_review: bool = False
    require_status_checks: bool = False


class GitHubConfig(ConnectorConfig):
    """One GitHub (github.com or Enterprise Server) account: which orgs, which repositories."""

    base_url: str = "https://api.github.com"
    organizations: list[str] = Field(min_length=1)
    repositories: Literal["all"] | list[str] = "all"
    include_archived: bool = False
    token: SecretRef | None = None
    app: GitHubApp | None = None
    policy: BranchPolicy = BranchPolicy()
    ticket_projects: list[str] | None = None
    merged_by: bool = Field(default=True, description="from pr_merge activity, else the pull")
    required_checks: bool = Field(default=True, description="check runs + statuses per change")
    direct_pushes: bool = True
    rate_limit_wait_seconds: float = Field(default=900.0, ge=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    per_page: int = Field(default=100, ge=1, le=100)
    concurrency: int = Field(default=1, ge=1, le=32, description="GitHub asks for serial "
                             "requests to avoid secondary rate limits")
    seconds_between_requests: float = Field(default=0.25, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// (or http:// for a local "
                             "simulator)")
        return v.rstrip("/")

    @field_validator("organizations")
    @classmethod
    def _orgs(cls, v: list[str]) -> list[str]:
        for o in v:
            if not o or "/" in o or " " in o:
                raise ValueError(f"organization {o!r} is not an organization login")
        return v

    @model_validator(mode="after")
    def _one_credential(self) -> GitHubConfig:
        if (self.token is None) == (self.app is None):
            raise ValueError("github takes exactly one of token = {...} or app = {...}")
        if isinstance(self.repositories, list):
            for r in self.repositories:
                org = r.split("/", 1)[0] if "/" in r else None
                if org is not None and org not in self.organizations:
                    raise ValueError(f"repository {r!r} is outside organizations "
                                     f"{self.organizations}")
        return self

    def in_scope(self, org: str, name: str) -> bool:
        """Whether repository `org/name` is in scope."""
        if self.repositories == "all":
            return True
        return any(r == name or r == f"{org}/{name}" for r in self.repositories)
