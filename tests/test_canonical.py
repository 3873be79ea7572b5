"""Canonical JSON (RFC 8785) and hashing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from collector.errors import StorageError
from storage.canonical import _simple, canonical, iso, sha256_hex


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


def _gen(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value with the awkward parts: escapes, non-ASCII, astral keys, big ints."""
    alphabet = ['a', 'Z', '"', '\\', '\n', '\t', '\x01', '\x7f', '/', 'é', '\u2028', '€',
                '\U0001f600', '\ufb33', ' ', '0']
    def s() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
    kind = rng.randint(0, 9 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 7, 2**53 - 1, -(2**53 - 1), rng.randint(-10**6, 10**6)])
    if kind == 3:
        return rng.choice([0.5, 1.0, 1e21, 1e-7, -2.5e-3, 123456.789])
    if kind in (4, 5):
        return s()
    if kind in (6, 7):
        return [_gen(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {s(): _gen(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_fast_path_matches_rfc8785() -> None:
    """canonical() gives byte-identical output to the rfc8785 package on 3,000 random values."""
    import rfc8785

    rng = random.Random(8785)
    fast = 0
    for _ in range(3000):
        v = _gen(rng)
        assert canonical(v) == rfc8785.dumps(v), v
        fast += _simple(v)
    assert fast > 500  # the fast path was really exercised


def test_astral_keys_sort_by_utf16() -> None:
    """Keys beyond the BMP sort by UTF-16 code units, as RFC 8785 requires."""
    v = {"\U0001f600": 1, "\ufb33": 2}
    assert canonical(v) == '{"\U0001f600":1,"\ufb33":2}'.encode()
