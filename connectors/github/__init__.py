"""The `github` connector: evidence from GitHub organizations through PyGithub."""

from connectors.github.config import BranchPolicy, GitHubApp, GitHubConfig
from connectors.github.connector import GitHubConnector

__all__ = ["BranchPolicy", "GitHubApp", "GitHubConfig", "GitHubConnector"]
