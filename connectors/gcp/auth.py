"""Credentials for the `gcp` connector, built from the config's reference and passed explicitly.

Three kinds: a service-account key file (its JSON read through a SecretRef, never stored),
workload identity federation (an external-account config file; google-auth exchanges the
workload's own token at STS and may impersonate a service account), and application default
credentials (google-auth's documented lookup, done once here so that no client looks on its
own). The principal named in records is the service account or federated identity used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import google.auth
from google.auth import exceptions as auth_exc
from google.auth.credentials import Credentials
from google.oauth2 import service_account

from connectors.errors import AuthError, ConfigError
from connectors.gcp.config import GcpConfig
from connectors.secrets import resolve_secret

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

CredentialFactory = Callable[[GcpConfig], tuple[Credentials, str]]


def external_account_credentials(info: dict[str, Any], quota_project: str | None = None
                                 ) -> Credentials:
    """Workload identity federation credentials of the class the config's credential source
    needs (as Google recommends over the generic loader, which also calls Resource Manager to
    look the project up)."""
    from google.auth import aws, identity_pool, pluggable

    source = info.get("credential_source") or {}
    cls: Any
    if str(source.get("environment_id", "")).startswith("aws"):
        cls = aws.Credentials
    elif "executable" in source:
        cls = pluggable.Credentials
    else:
        cls = identity_pool.Credentials
    creds: Any = cls.from_info(info, scopes=list(SCOPES))
    if quota_project:
        creds = creds.with_quota_project(quota_project)
    return creds  # type: ignore[no-any-return]


def default_credentials(config: GcpConfig) -> tuple[Credentials, str]:
    """The credentials `config` names, and the principal they act as."""
    c = config.credentials
    if c.kind == "service_account_key":
        assert c.key is not None
        raw = resolve_secret(c.key)
        try:
            info = json.loads(raw)
        except ValueError:
            raise ConfigError(f"gcp credentials {c.key.describe()}: not a JSON key file") \
                from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigError(f"gcp credentials {c.key.describe()}: not a service-account "
                              "key file (type must be service_account)")
        try:
            sa: Any = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(SCOPES))
        except (ValueError, KeyError):
            raise ConfigError(f"gcp credentials {c.key.describe()}: the key file is "
                              "incomplete or its private key unreadable") from None
        if c.quota_project:
            sa = sa.with_quota_project(c.quota_project)
        return sa, f"serviceAccount:{sa.service_account_email}"
    if c.kind == "external_account":
        assert c.config_file is not None
        try:
            with open(c.config_file, encoding="utf-8") as f:
                info = json.load(f)
        except OSError as e:
            raise ConfigError(f"gcp credentials: {c.config_file} cannot be read: "
                              f"{e.strerror}") from None
        except ValueError:
            raise ConfigError(f"gcp credentials: {c.config_file} is not JSON") from None
        if not isinstance(info, dict) or info.get("type") != "external_account":
            raise ConfigError(f"gcp credentials: {c.config_file} is not an external_account "
                              "(workload identity federation) config")
        try:
            creds = external_account_credentials(info, c.quota_project)
        except (ValueError, auth_exc.GoogleAuthError) as e:
            raise ConfigError(f"gcp credentials: {c.config_file}: {e}") from None
        email = getattr(creds, "service_account_email", None)
        principal = f"serviceAccount:{email}" if email else \
            f"external_account:{info.get('audience', '?')}"
        return creds, principal
    try:
        creds, _project = google.auth.default(scopes=list(SCOPES),
                                              quota_project_id=c.quota_project)
    except auth_exc.DefaultCredentialsError:
        raise AuthError("gcp: no application default credentials found",
                        hint="set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth "
                             "application-default login`, or run on Google Cloud") from None
    email = getattr(creds, "service_account_email", None)
    if email and email != "default":
        return creds, f"serviceAccount:{email}"
    return creds, f"application_default:{type(creds).__module__.rsplit('.', 1)[-1]}"
