"""verify's untyped SQLite read (`_hashed_rows`) gives, for every row, the record_hash the
typed path gives, whatever an insider writes into the row's raw columns."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from collector.config import load
from collector.runner import Collector, Selection
from storage.index import records
from storage.ledger import HASHED, record_hash
from storage.store import EvidenceStore
from storage.verify import (
    _BOOLS,
    _JSONS,
    _RAW_SELECT,
    _TIMES,
    _fast_hash,
    _fast_hash_reference,
    _hashed_rows,
    verify,
)

# raw edits, as SQL on the row with seq = :s, and whether the typed path sees the same
# value (None: whatever it says, the untyped path must say the same)
EDITS: list[tuple[str, bool | None]] = [
    ("UPDATE records SET api_totals = json(api_totals) || ' ' WHERE seq = :s", True),
    ("UPDATE records SET controls = replace(controls, ', ', ',') WHERE seq = :s", True),
    ("UPDATE records SET complete = 2 WHERE seq = :s", None),
    ("UPDATE records SET complete = 1 - complete WHERE seq = :s", False),
    ("UPDATE records SET record_count = record_count + 0.0 WHERE seq = :s", None),
    ("UPDATE records SET record_count = 9007199254740993 WHERE seq = :s", False),
    ("UPDATE records SET collected_started_at = replace(collected_started_at, ' ', 'T') "
     "WHERE seq = :s", None),
    ("UPDATE records SET collected_started_at = substr(collected_started_at, 1, 19) "
     "WHERE seq = :s", None),
    ("UPDATE records SET principal = CAST('x' AS BLOB) WHERE seq = :s", None),
    ("UPDATE records SET assessment = '{\"pass\": 1.5}' WHERE seq = :s", False),
    ("UPDATE records SET error = 'caf\u00e9 \U0001f600' WHERE seq = :s", False),
]


@pytest.fixture
def store(config_file: Callable[..., Path]) -> EvidenceStore:
    cfg = load(config_file())
    st = EvidenceStore.open(cfg)
    for _ in range(3):
        Collector(cfg, st).run(Selection())
    return st


def _typed(st: EvidenceStore) -> dict[int, str | Exception]:
    out: dict[int, str | Exception] = {}
    with st.engine.connect() as c:
        for row in c.execute(select(records).order_by(records.c.seq)).mappings():
            try:
                out[int(row["seq"])] = record_hash(dict(row))
            except Exception as e:  # a value the typed path cannot even hash
                out[int(row["seq"])] = e
    return out


def test_fast_hash_matches_the_stored_hash_of_every_untouched_row(store: EvidenceStore) -> None:
    """On rows the index wrote (strings with quotes, backslashes, control characters and
    characters beyond the BMP included), the untyped hash itself is the stored record_hash:
    no row needs the typed path."""
    from datetime import UTC, datetime

    from storage.store import NewRecord
    from storage.verify import _RAW_SELECT

    t = datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    odd = 'q"uote \\ back\nline\x01\t caf\u00e9 \U0001f600 \u2028'
    store.append([NewRecord("odd", "synthetic", odd, "items", "population", ["CC6.1"], 0, t,
                            t, "partial", {"calls": []}, content={"k": odd}, has_content=True,
                            period_start=t, period_end=t, error=odd)])
    with store.engine.connect() as c:
        raw = c.exec_driver_sql(_RAW_SELECT, (1, 10**9, 10**6)).all()
    assert len(raw) > 10
    assert all(_fast_hash(r) == r[-1] for r in raw)
    rows = _hashed_rows(store.engine, 1, 10**9, 10**6)
    assert len(rows) == len(raw) and all(h == r["record_hash"] for r, h in rows)


@pytest.mark.parametrize(("sql", "same"), EDITS)
def test_untyped_and_typed_paths_agree_on_raw_edits(store: EvidenceStore, sql: str,
                                                    same: bool | None) -> None:
    """A raw edit the typed path sees as no change passes, any other is reported edited:
    `_hashed_rows` answers exactly as the typed path for every row."""
    seq = 3
    with store.engine.begin() as c:
        c.execute(text(sql), {"s": seq})
    typed = _typed(store)
    fast = {int(r["seq"]): (r["record_hash"], h)
            for r, h in _hashed_rows(store.engine, 1, 10**9, 10**6)}
    for s, (stored, h) in fast.items():
        want = typed[s]
        if isinstance(want, Exception):
            assert h != stored
        else:
            assert (h == stored) == (want == stored), (s, sql)
    unchanged = fast[seq][1] == fast[seq][0]
    with store.engine.connect() as c:  # the generated hash is the reference one, row by row
        raw = c.exec_driver_sql(_RAW_SELECT, (1, 10**9, 10**6)).all()
    assert all(_fast_hash(r) == _fast_hash_reference(r) for r in raw)
    if same is not None:
        assert unchanged == same, sql
    problems = [p for p in verify(store, write_checkpoint=False).problems
                if p.kind == "record" and p.subject.startswith(f"#{seq} ")]
    assert bool(problems) != unchanged


def test_fast_hash_refuses_forms_the_index_never_writes() -> None:
    """A time without microseconds or a boolean 2 is left to the typed path (None)."""
    from storage.ledger import HASHED

    base = ["x"] * len(HASHED)
    t = HASHED.index("collected_started_at")
    b = HASHED.index("complete")
    row = list(base)
    row[t] = "2026-01-01 00:00:00"
    assert _fast_hash(row) is None
    row = list(base)
    row[t] = "2026-01-01 00:00:00.000000"
    row[b] = 2
    assert _fast_hash(row) is None


_SQLITE_TIMES = st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f"))
_ANY = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.text(),
    st.sampled_from([2, -1, 0.0, 1.0, True, b"", "0", "1", "true", " ", "\\", '"']),
    st.from_regex(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,7})?Z?", fullmatch=True),
    _SQLITE_TIMES, st.floats(allow_nan=False), st.binary(max_size=4),
    st.sampled_from(['{"b": 1, "a": [1, "x"]}', '["CC1.1", "CC2.2"]', "{}", "{", "[1.5]",
                     '{"pass": 3, "fail": 0}', '"s"', "null", "1e400", "[[[[]]]]"]),
    st.recursive(st.none() | st.integers() | st.text(max_size=5),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c,
                                                                       max_size=3),
                 max_leaves=6).map(json.dumps))


def _good(i: int) -> st.SearchStrategy[object]:
    """A value in the form the index writes for column `i` (or NULL)."""
    if i in _TIMES:
        return st.none() | _SQLITE_TIMES
    if i in _BOOLS:
        return st.sampled_from([None, 0, 1])
    if i in _JSONS:
        return st.none() | st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c,
                                                                  max_size=3),
            max_leaves=8).map(json.dumps)
    return st.none() | st.text() | st.integers(-(2**63), 2**63 - 1)


@st.composite
def _rows(draw: st.DrawFn) -> list[object]:
    """A row in the index's forms with up to two columns replaced by anything."""
    row = [draw(_good(i)) for i in range(len(HASHED))] + ["0" * 64]
    special = sorted(_TIMES | _BOOLS | _JSONS)  # columns with a form of their own: oftener
    cols = st.one_of(st.integers(0, len(HASHED) - 1), st.sampled_from(special))
    for i in draw(st.lists(cols, max_size=2)):
        row[i] = draw(_ANY)
    return row


@given(_rows())
@settings(max_examples=500, deadline=None)
def test_generated_fast_hash_is_the_reference(row: list[object]) -> None:
    """The straight-line `_fast_hash` (generated from the member table) answers exactly as
    the member-by-member `_fast_hash_reference` on any raw row, forms the index never
    writes included: the same hash, or None (the typed path decides) for the same rows."""
    assert _fast_hash(row) == _fast_hash_reference(row)


_ODD = [None, 0, 1, 2, -1, 2**63 - 1, -(2**63), 0.0, 1.0, 1.5, True, b"", b"x", "", "0", "1",
        "true", "null", " ", "\\", '"', "\x00", "\n", "\u2028", "caf\u00e9 \U0001f600",
        "2026-03-01 12:00:00.000001", "2026-03-01 12:00:00", "2026-03-01T12:00:00.000001",
        "2026-03-01 12:00:00.000001Z", "\u0662026-03-01 12:00:00.000001", "{}", "[]", "{",
        '{"b": 1, "a": [1.5, "x"]}', '["CC1.1"]', "1e400", '"s"', "[[[[[[[[]]]]]]]]"]


def test_generated_fast_hash_is_the_reference_on_each_odd_value_in_each_column() -> None:
    """Every column of a row in the index's own forms, in turn, set to each odd value: the
    generated `_fast_hash` and `_fast_hash_reference` give the same answer every time."""
    base: list[object] = ["x" for _ in HASHED]
    base.append("0" * 64)
    for i in _TIMES:
        base[i] = "2026-03-01 12:00:00.000001"
    for i in _BOOLS:
        base[i] = 1
    for i in _JSONS:
        base[i] = '{"z": 1, "a": ["x"]}'
    assert _fast_hash(base) is not None
    for i in range(len(HASHED)):
        for v in _ODD:
            row = list(base)
            row[i] = v
            assert _fast_hash(row) == _fast_hash_reference(row), (HASHED[i], v)
