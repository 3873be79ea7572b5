"""RFC 8785 (JCS) canonical JSON and the hashes built on it.

Most evidence holds only strings, integers, booleans, null, lists and objects with keys in
the Basic Multilingual Plane. For those values the standard library's `json.dumps` (sorted
keys, no whitespace, no ASCII escaping) writes exactly the JCS bytes, many times faster
than a pure-Python JCS serializer; `canonical` checks that a value qualifies and otherwise
(floats, huge integers, astral-plane keys, lone surrogates) uses the `rfc8785` package.
tests/test_canonical.py compares both on generated values.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

from connectors.errors import StorageError

_MAX_SAFE = 2**53 - 1


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return iso(o)
    raise TypeError(f"{type(o).__name__} is not JSON")


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True,
                          separators=(",", ":"), default=_default).encode


def iso(dt: datetime | None) -> str | None:
    """A UTC timestamp as ISO 8601 with microseconds and a Z; naive values are taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.utcoffset():
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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


def _simple(obj: Any) -> bool:
    """Whether json.dumps writes `obj` exactly as RFC 8785 would."""
    stack = [obj]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or v is None or t is bool or t is datetime:
            continue
        if t is int:
            if -_MAX_SAFE <= v <= _MAX_SAFE:
                continue
            return False
        if t is dict:
            for k in v:
                # JCS sorts keys by UTF-16 code units, Python by code points: they agree
                # unless a key holds a character beyond the BMP
                if type(k) is not str or (not k.isascii() and any(ord(c) > 0xFFFF for c in k)):
                    return False
            stack.extend(v.values())
            continue
        if t is list or t is tuple:
            stack.extend(v)
            continue
        return False  # floats, tuples, subclasses, anything else: take the careful path
    return True


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical serialization of `obj` (datetimes become UTC ISO strings)."""
    if _simple(obj):
        try:
            return _dumps(obj).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let rfc8785 refuse it with its own message
    plain = _plain(obj)
    try:
        return bytes(rfc8785.dumps(plain))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise StorageError(f"value cannot be canonicalized as JSON: {e}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
