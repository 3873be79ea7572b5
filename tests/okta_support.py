"""Shared helpers for the Okta tests: a service-app key pair and connector configs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import Provenance, SnapshotContext
from connectors.okta import OktaConfig

TOKEN = "00abcdefghijklmnopqrstuvwxyz0123456789ABCD"  # what an Okta API token looks like
CLIENT_ID = "0oa1evidenceagent001"


@cache
def keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of the test service app's RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return priv, pub


def token_config(url: str, **extra: object) -> OktaConfig:
    """A config using the API token from $OKTA_TEST_TOKEN."""
    return OktaConfig.model_validate({"org_url": url, "allow_http": True,
                                      "api_token": {"env": "OKTA_TEST_TOKEN"}, **extra})


def oauth_config(url: str, key_file: Path, **extra: object) -> OktaConfig:
    """A config using the service app with the private key in `key_file`."""
    return OktaConfig.model_validate({"org_url": url, "allow_http": True, "oauth": {
        "client_id": CLIENT_ID, "private_key": {"file": str(key_file)}}, **extra})


def ctx(snapshot: str, start: datetime | None = None, end: datetime | None = None
        ) -> SnapshotContext:
    """A snapshot context (a window for populations)."""
    now = datetime.now(UTC)
    return SnapshotContext("test", snapshot, now, Provenance(), logging.getLogger("test"),
                           start, end)


def window(days: int) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=days), now
