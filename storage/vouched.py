"""Sealed evidence as the read and derivation paths see it: which records a seal signed by
the store's keys vouches for.

`verify` names every record no valid seal vouches for; this is the same test made cheap
enough for every query. The set of vouched sequence numbers is a union of ranges (each run
seal covers its run's records, mostly contiguous), built from the seals whose signature
verifies under the store's key chain, whose head matches the record at its seq and whose
covered ranges lie at or below that head. Only seals at or after a record's seq can vouch
for it, so the seals are checked lazily from the newest down, as far as the oldest record
asked about (in steps that double, so a walk down the ledger checks each seal once): a
query about recent evidence checks a handful of signatures, not every seal of a
million-record store. It is cached per index (engine) and trust anchor, and refreshed by one
`count`/`max(id)` read of the seals table: seals are only appended (one per run), so new
ones are checked incrementally; a seal removed or replayed, or a new key rotation, starts it
again. A lookup is a binary search over the ranges.

A record outside them is either *pending* (its run still holds its run lock, the run row
says `running`, and its hashed collection time is under `RUN_MAX` old: verify's rule) or
*unsealed* (forged, or left by a crashed run). Neither is ever presented as sealed evidence:
answers leave them out and name them; derivations that write a record leave them out and
name them in the record's provenance. Without any key to check against (no key file and no
public key given) nothing can be told apart: every record is `unchecked` and answers say so.
See docs/DESIGN-notes.md ("Reading sealed evidence").
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from storage import keys, runlock
from storage.index import records, runs, seals
from storage.ledger import Seal

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from storage.store import EvidenceStore

SEALED, PENDING, UNSEALED, UNCHECKED = "sealed", "pending", "unsealed", "unchecked"
# as in storage/verify.py: a record this long after its (hashed) collection time is unsealed
# even while its run holds its run lock
RUN_MAX = timedelta(hours=12)
CONCURRENT_SLACK = timedelta(seconds=5)
# how many excluded records an answer names one by one (the rest are counted)
NAMED = 50
_ROTATE = "rotate"


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


_STEP = 1000  # the first step down the ledger, in records; each later step doubles


@dataclass
class _Entry:
    """What the seals of one index vouch for, under one trust anchor, as far down as `low`:
    every seal (id at most `max_id`) whose seq is `low` or more has been checked."""

    engine: Engine
    count: int
    max_id: int
    chain: Any  # storage.rotation.KeyChain
    ranges: list[tuple[int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    low: int | None = None  # None: no seal checked yet
    top: int = 0  # the highest seq `low` started from
    # every seal checked when the entry is made (a server's many threads then never read
    # seals while holding a pooled connection: that could exhaust the pool)
    eager: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, got: Iterable[tuple[int, int]]) -> None:
        self.ranges = _merge([*self.ranges, *got])
        self.starts = [a for a, _ in self.ranges]

    def covers(self, seq: int) -> bool:
        """Whether a checked seal vouches for record #seq, checking the seals down to it
        first (a seal vouches only for records at or below its own seq)."""
        with self.lock:
            if self.low is None or seq < self.low:
                self._down_to(seq)
            i = bisect_right(self.starts, seq) - 1
            return i >= 0 and self.ranges[i][1] >= seq

    def _down_to(self, seq: int) -> None:
        if self.low is None:
            with self.engine.connect() as conn:
                top = conn.execute(select(func.max(seals.c.seq))
                                   .where(seals.c.id <= self.max_id)).scalar()
            self.top = self.low = int(top or 0) + 1
        assert self.low is not None
        new_low = max(0, min(seq, self.low - max(self.top - self.low, _STEP)))
        got: list[tuple[int, int]] = []
        last = 0
        while True:  # streamed in batches: one signature check per seal
            with self.engine.connect() as conn:
                rows = conn.execute(select(seals).where(
                    seals.c.id > last, seals.c.id <= self.max_id, seals.c.seq >= new_low,
                    seals.c.seq < self.low).order_by(seals.c.id).limit(2000)).all()
            if not rows:
                break
            last = int(rows[-1].id)
            got += _vouched_by(self.engine, self.chain, [Seal.from_row(r) for r in rows])
        self.add(got)
        self.low = new_low


_CACHE: weakref.WeakKeyDictionary[Engine, dict[str, _Entry]] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@dataclass
class Vouched:
    """A snapshot of which records are sealed evidence; `state()` says what one record is."""

    engine: Engine
    entry: _Entry | None  # None: unchecked
    checked: bool = True
    why_unchecked: str | None = None
    stamp: tuple[int, int] = (0, 0)  # (seals, newest seal id) it was built from
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _alive: dict[str, bool] = field(default_factory=dict, repr=False)

    def covers(self, seq: int) -> bool:
        """Whether a valid seal vouches for record #seq."""
        return self.entry is not None and self.entry.covers(seq)

    def state(self, row: Mapping[str, Any] | Any) -> str:
        """sealed | pending | unsealed (| unchecked without a key) for a record row (a
        mapping or a row with `seq`, `run_id` and `collected_started_at`)."""
        if not self.checked:
            return UNCHECKED
        if self.covers(int(_get(row, "seq"))):
            return SEALED
        return PENDING if self._live(_get(row, "run_id"), _get(row, "collected_started_at")) \
            else UNSEALED

    def presented(self, row: Mapping[str, Any] | Any) -> bool:
        """Whether a record may stand as evidence: sealed (or unchecked, marked so)."""
        return self.state(row) in (SEALED, UNCHECKED)

    def _live(self, run_id: Any, collected: datetime | None) -> bool:
        """verify's pending rule: the run row says running, the run holds its run lock now,
        and the record's own collection time is recent (a row read without that column is
        never pending: left out as unsealed)."""
        if run_id is None:
            return False
        rid = str(run_id)
        if collected is None or not (self.now - RUN_MAX < collected
                                     <= self.now + CONCURRENT_SLACK):
            return False
        if rid not in self._alive:
            with self.engine.connect() as conn:
                status = conn.execute(select(runs.c.status).where(runs.c.id == rid)).scalar()
            self._alive[rid] = status == "running" and runlock.held(self.engine, rid)
        return self._alive[rid]

    def split(self, rows: Sequence[Mapping[str, Any]]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the rows that may stand as evidence, a note naming each one left out)."""
        kept: list[dict[str, Any]] = []
        left: list[dict[str, Any]] = []
        for r in rows:
            st = self.state(r)
            if st in (SEALED, UNCHECKED):
                kept.append(dict(r))
            else:
                left.append(excluded(r, st))
        return kept, left

    @property
    def marker(self) -> bool | None:
        """What a presented record's `sealed` field says: True, or None when unchecked."""
        return True if self.checked else None


def excluded(r: Mapping[str, Any] | Any, state: str) -> dict[str, Any]:
    """How an answer or a provenance names a record it left out."""
    return {"id": _get(r, "id"), "seq": int(_get(r, "seq")), "state": state,
            "series": f"{_get(r, 'connector')}/{_get(r, 'instance')}:{_get(r, 'snapshot')}"}


def _get(row: Mapping[str, Any] | Any, key: str) -> Any:
    """A column of a record given as a mapping or as a row."""
    return row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)


def warnings(left: Sequence[Mapping[str, Any]], v: Vouched | None) -> list[str]:
    """One line per kind of record left out of an answer (and one when nothing was checked)."""
    out: list[str] = []
    if v is not None and not v.checked:
        out.append(f"seal coverage NOT checked ({v.why_unchecked}): records below are shown "
                   "with sealed: null; run `evidence verify` with the store's public key")
    bad = sorted({int(x["seq"]) for x in left if x["state"] == UNSEALED})
    if bad:
        out.append(f"{len(bad)} record(s) left out, no seal by the store's key vouches for "
                   f"them (forged, or left by a crashed run): {_seqs(bad)}; run `evidence "
                   "verify`")
    pend = sorted({int(x["seq"]) for x in left if x["state"] == PENDING})
    if pend:
        out.append(f"{len(pend)} record(s) of a run still in progress left out until it "
                   f"seals them: {_seqs(pend)}")
    return out


def named(left: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The excluded records, at most NAMED of them, deduplicated, in ledger order."""
    seen: dict[int, dict[str, Any]] = {}
    for x in left:
        seen.setdefault(int(x["seq"]), x)
    return [seen[k] for k in sorted(seen)][:NAMED]


def _seqs(seqs: Sequence[int]) -> str:
    shown = ", ".join(f"#{q}" for q in seqs[:20])
    return shown + (f" and {len(seqs) - 20} more" if len(seqs) > 20 else "")


# building and caching the ranges -----------------------------------------------------------
def vouched(store: EvidenceStore, anchor: Ed25519PublicKey | None = None, *,
            full: bool = False) -> Vouched:
    """The store's vouched view as of now. The trust anchor is `anchor`, else the key file's
    public key; with neither, an `unchecked` view. With `full` (a server, at start), every
    seal is checked now and, for this index and anchor, whenever the view is made again."""
    from connectors.errors import EvidenceError

    engine = store.engine
    if anchor is None:
        try:
            anchor = store.public_key()
        except EvidenceError as e:
            return Vouched(engine, None, checked=False, why_unchecked=str(e).split(":")[0])
    kid = keys.key_id(anchor)
    with engine.connect() as conn:
        # two statements: SQLite answers a lone max() from the key, both at once by a scan
        max_id = int(conn.execute(select(func.max(seals.c.id))).scalar() or 0)
        count = int(conn.execute(select(func.count()).select_from(seals)).scalar() or 0)
    with _GUARD:
        entry = _CACHE.get(engine, {}).get(kid)
    if entry is None or (entry.count, entry.max_id) != (count, max_id):
        entry = _refresh(store, anchor, entry, count, max_id)
        with _GUARD:
            _CACHE.setdefault(engine, {})[kid] = entry
    entry.eager = entry.eager or full
    if entry.eager:
        entry.covers(0)  # down to the first seal (once: then `low` is 0)
    return Vouched(engine, entry, stamp=(count, max_id))


def _refresh(store: EvidenceStore, anchor: Ed25519PublicKey, old: _Entry | None,
             count: int, max_id: int) -> _Entry:
    """`old` extended by the seals appended since (when that is all that changed), else a
    new entry that checks seals lazily (`_Entry.covers`)."""
    engine = store.engine
    if old is not None and max_id > old.max_id:
        with engine.connect() as conn:
            new = [Seal.from_row(r) for r in conn.execute(
                select(seals).where(seals.c.id > old.max_id, seals.c.id <= max_id)
                .order_by(seals.c.id))]
        if old.count + len(new) == count and not any(s.purpose == _ROTATE for s in new):
            with old.lock:
                entry = _Entry(engine, count, max_id, old.chain, old.ranges, old.starts,
                               old.low, old.top, old.eager)
            # new seals are checked whatever their seq: a seal below `low` only adds ranges
            entry.add(_vouched_by(engine, old.chain, new))
            return entry
    # the count/max read before the seals: a seal appended meanwhile is read next time
    return _Entry(engine, count, max_id, store.key_chain(anchor),
                  eager=old is not None and old.eager)


def _vouched_by(engine: Engine, chain: Any, batch: Sequence[Seal]) -> list[tuple[int, int]]:
    """The ranges the seals of `batch` vouch for that count: signed under `chain`, sealing
    the record at their seq as it is, covering nothing beyond it."""
    valid = [s for s in batch if s.seq > 0 and chain.valid(s)]
    if not valid:
        return []
    want = sorted({s.seq for s in valid})
    at: dict[int, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(want), 500):
            at.update((int(q), str(h)) for q, h in conn.execute(
                select(records.c.seq, records.c.record_hash)
                .where(records.c.seq.in_(want[i:i + 500]))))
    out: list[tuple[int, int]] = []
    for s in valid:
        if at.get(s.seq) != s.head_hash:
            continue
        out.extend((a, b) for a, b in s.vouches if b <= s.seq)
    return out


def forget(engine: Engine) -> None:
    """Drop the cached view of `engine` (tests; a store whose key file changed)."""
    with _GUARD:
        _CACHE.pop(engine, None)
