"""RFC 8785 (JCS) canonical JSON and the hashes built on it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import rfc8785

from collector.errors import StorageError


def iso(dt: datetime | None) -> str | None:
    """A UTC timestamp as ISO 8601 with microseconds and a Z; naive values are taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, bytes):
        raise StorageError("bytes cannot be stored as JSON evidence; decode them first")
    return obj


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical serialization of `obj` (datetimes become UTC ISO strings)."""
    try:
        return bytes(rfc8785.dumps(_plain(obj)))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise StorageError(f"value cannot be canonicalized as JSON: {e}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
