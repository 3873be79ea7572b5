"""Canonical JSON (RFC 8785) and hashing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from collector.errors import StorageError
from storage.canonical import canonical, iso, sha256_hex


def test_keys_sorted_and_no_whitespace() -> None:
    """Object keys are sorted by UTF-16 code units and no insignificant whitespace is written."""
    assert canonical({"b": 1, "a": [1, 2], "\u20ac": 0, "\U0001f600": 1}) == \
        '{"a":[1,2],"b":1,"\u20ac":0,"\U0001f600":1}'.encode()


def test_numbers_follow_ecmascript() -> None:
    """Numbers are serialized as ECMAScript does (RFC 8785 section 3.2.2.3)."""
    assert canonical([1.0, 1e21, 1e-7, 0.1, -0.0]) == b"[1,1e+21,1e-7,0.1,0]"


def test_datetimes_become_utc_iso() -> None:
    """Datetimes are converted to UTC with microseconds and a Z."""
    t = datetime(2026, 3, 15, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert canonical({"t": t}) == b'{"t":"2026-03-15T12:00:00.000000Z"}'
    assert iso(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000000Z"
    assert iso(None) is None


def test_same_value_same_hash() -> None:
    """Equal values hash equally whatever their key order."""
    assert sha256_hex(canonical({"a": 1, "b": 2})) == sha256_hex(canonical({"b": 2, "a": 1}))


def test_unrepresentable_values_are_refused() -> None:
    """NaN and bytes cannot be evidence: a StorageError says so."""
    with pytest.raises(StorageError):
        canonical({"x": float("nan")})
    with pytest.raises(StorageError):
        canonical({"x": b"raw"})


def test_iso_keeps_utc() -> None:
    """An aware UTC time is printed unchanged."""
    assert iso(datetime(2026, 5, 1, 1, 2, 3, 4, tzinfo=UTC)) == "2026-05-01T01:02:03.000004Z"
