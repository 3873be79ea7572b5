"""The `azure` connector: evidence from an Azure tenant through azure-identity and the
azure-mgmt-* clients, and from Entra ID through Microsoft Graph (see connector.py)."""

from connectors.azure.config import AzureConfig
from connectors.azure.connector import AzureConnector

__all__ = ["AzureConfig", "AzureConnector"]
