"""Errors, grouped by what the caller should do.

    EvidenceError
    ├── ConfigError          stop before collecting anything; fix the config
    ├── ConnectorError       one snapshot failed; record it and go on
    │   ├── AuthError            credentials missing, wrong or expired
    │   ├── PermissionDenied     authenticated, but a read permission is missing
    │   ├── TransientError       retry with backoff (honours retry_after)
    │   ├── DataUnavailable      the source no longer keeps part of a window: a permanent gap
    │   └── UnexpectedResponse   the platform answered something we do not understand
    └── StorageError         the store could not be read or written
        └── IntegrityError       stored evidence does not match its hashes or signatures

Every error carries a one-line `hint` for the operator. Messages never contain secrets.
"""

from __future__ import annotations

from datetime import datetime


class EvidenceError(Exception):
    """Base of every error this project raises on purpose."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ConfigError(EvidenceError):
    """The configuration is invalid: nothing is collected."""


class ConnectorError(EvidenceError):
    """A connector could not produce a snapshot."""


class AuthError(ConnectorError):
    """The platform refused the credentials."""


class PermissionDenied(ConnectorError):
    """The credentials lack a read permission the snapshot needs."""


class TransientError(ConnectorError):
    """A failure worth retrying (throttling, 5xx, timeouts)."""

    def __init__(self, message: str, *, hint: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class DataUnavailable(ConnectorError):
    """The source no longer keeps the start of a population window (e.g. past a log's
    retention): no retry can ever fill [window start, available_from). The runner records
    that span once as a permanent gap, moves the watermark past it and collects the rest;
    `available_from` should lie a little inside what the source keeps, so the next window,
    asked for moments later, is not past the retention again."""

    def __init__(self, message: str, *, available_from: datetime, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.available_from = available_from


class UnexpectedResponse(ConnectorError):
    """The platform's answer does not have the documented shape."""


class StorageError(EvidenceError):
    """The evidence store could not be read or written."""


class IntegrityError(StorageError):
    """Stored evidence does not match its hashes, chain or signatures."""
