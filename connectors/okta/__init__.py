"""The `okta` connector: evidence from an Okta org through the okta SDK (see connector.py)."""

from connectors.okta.config import OktaConfig, OktaOAuth
from connectors.okta.connector import OktaConnector

__all__ = ["OktaConfig", "OktaConnector", "OktaOAuth"]
