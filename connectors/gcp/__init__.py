"""The `gcp` connector: IAM, audit logging, KMS, Cloud Storage and organization policies."""

from connectors.gcp.connector import GcpConnector

__all__ = ["GcpConnector"]
