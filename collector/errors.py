"""Errors live in `connectors.errors` (below `collector/`); re-exported here for old imports."""

from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    EvidenceError,
    IntegrityError,
    PermissionDenied,
    StorageError,
    TransientError,
    UnexpectedResponse,
)

__all__ = ["AuthError", "ConfigError", "ConnectorError", "EvidenceError", "IntegrityError",
           "PermissionDenied", "StorageError", "TransientError", "UnexpectedResponse"]
