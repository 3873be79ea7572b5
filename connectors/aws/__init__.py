"""The `aws` connector: evidence from AWS accounts through boto3 (see connector.py)."""

from connectors.aws.config import AwsAccount, AwsConfig, OrganizationsDiscovery
from connectors.aws.connector import AwsConnector

__all__ = ["AwsAccount", "AwsConfig", "AwsConnector", "OrganizationsDiscovery"]
