"""The `jira` connector: change tickets and their approvals, Cloud or Server/DC (connector.py)."""

from connectors.jira.config import JiraConfig
from connectors.jira.connector import JiraConnector

__all__ = ["JiraConfig", "JiraConnector"]
