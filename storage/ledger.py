"""The ledger: records appended in one hash-chained sequence, and signed seals of its head.

Each record carries `prev_hash` (the previous record's hash, or 64 zeros) and
`record_hash = sha256(canonical(record without record_hash))`. Appends are serialized by the
database (BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL), so concurrent writers in any
number of processes or containers still build one chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, func, insert, select, update

from connectors.errors import IntegrityError
from storage import keys
from storage.canonical import canonical, iso, sha256_hex
from storage.index import ledger_head, records, seals, series

RECORD_VERSION = 1


class LedgerTampered(IntegrityError):
    """The index no longer holds one chain that ends at its head."""

HASHED = tuple(str(c.name) for c in records.columns if c.name != "record_hash")


def record_hash(row: Mapping[str, Any]) -> str:
    """The hash of a record's fields (everything but `record_hash` itself); times hash as
    their canonical UTC strings, so a row from the index and one read back from a bundle's
    JSON give the same hash."""
    return sha256_hex(canonical({"v": RECORD_VERSION, **{n: row[n] for n in HASHED}}))


def lock_head(conn: Connection) -> tuple[int, str]:
    """Take the ledger's write lock for this transaction and return (head seq, head hash)."""
    q = select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).one()
    return int(row.seq), str(row.hash)


def append_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chain `rows` (without seq/prev_hash/record_hash) after the head, in this transaction."""
    seq, head = lock_head(conn)
    # two statements: SQLite answers a lone max() or min() from the key, both at once by a scan
    top = conn.execute(select(func.max(records.c.seq))).scalar()
    bottom = conn.execute(select(func.min(records.c.seq))).scalar()
    if top is not None and int(top) > seq:
        raise LedgerTampered(
            f"the index holds record(s) #{seq + 1}..#{int(top)} beyond the ledger head #{seq}: "
            "rows outside the chain (inserted or a rewound head); refusing to extend the "
            "ledger over them. Run `evidence verify` and restore the index")
    if bottom is not None and int(bottom) < 1:
        raise LedgerTampered(
            f"the index holds record(s) from #{int(bottom)}, before record #1: rows outside "
            "the chain (inserted); refusing to extend the ledger. Run `evidence verify` and "
            "restore the index")
    out: list[dict[str, Any]] = []
    pairs: set[tuple[str, str, str, str, str]] = set()
    for r in rows:
        seq += 1
        row = dict(r, seq=seq, prev_hash=head)
        row["record_hash"] = head = record_hash(row)
        out.append(row)
        for cid in row["controls"]:
            pairs.add((cid, row["connector"], row["instance"], row["snapshot"], row["kind"]))
    if out:
        conn.execute(insert(records), out)
        conn.execute(update(ledger_head).where(ledger_head.c.id == 1).values(seq=seq, hash=head))
    if pairs:
        values = [dict(zip(("control_id", "connector", "instance", "snapshot", "kind"), p,
                           strict=True)) for p in sorted(pairs)]
        # the dialect's module only when used: importing PostgreSQL's costs SQLite runs ~0.1 s
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            conn.execute(postgresql.insert(series).values(values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects import sqlite

            conn.execute(sqlite.insert(series).values(values).on_conflict_do_nothing())
    return out


Ranges = tuple[tuple[int, int], ...]


def to_ranges(seqs: Iterable[int]) -> Ranges:
    """Sorted sequence numbers folded into inclusive (first, last) ranges."""
    out: list[tuple[int, int]] = []
    for q in sorted(set(seqs)):
        if out and out[-1][1] == q - 1:
            out[-1] = (out[-1][0], q)
        else:
            out.append((q, q))
    return tuple(out)


def fmt_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    return ", ".join(f"#{a}" if a == b else f"#{a}..#{b}" for a, b in ranges)


@dataclass(frozen=True)
class Seal:
    """A signed statement of the ledger's head at one moment, and of which records the
    signer vouches for (`covers`: the records its run wrote, or that an operator adopted).

    The head commits to every record before it (the chain); `covers` says who wrote them. A
    record no seal covers was not written by anyone holding the key (see docs/DESIGN-notes.md).
    Version 1 seals (before run-scoped sealing) had no `covers` and vouched for the whole
    chain up to their head."""

    seq: int
    head_hash: str
    sealed_at: datetime
    run_id: str | None
    key_id: str
    signature: str
    covers: Ranges = ()
    purpose: str = "run"  # run | adopt | export | checkpoint | rotate
    note: str | None = None
    v: int = 2

    def payload(self) -> bytes:
        """The bytes the signature covers: the seal without its signature (computed once per
        seal: its fields are immutable, and a verify asks for it several times per seal)."""
        cached: bytes | None = self.__dict__.get("_payload")
        if cached is None:
            cached = canonical({k: v for k, v in self.to_json().items() if k != "signature"})
            object.__setattr__(self, "_payload", cached)
        return cached

    @property
    def vouches(self) -> Ranges:
        """The records this seal vouches for."""
        if self.v == 1:
            return ((1, self.seq),) if self.seq > 0 else ()
        return self.covers

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "evidence-agent.seal", "v": self.v, "seq": self.seq,
            "head_hash": self.head_hash, "sealed_at": iso(self.sealed_at),
            "run_id": self.run_id, "key_id": self.key_id, "signature": self.signature}
        if self.v >= 2:
            out.update(covers=[list(r) for r in self.covers], purpose=self.purpose,
                       note=self.note)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Seal:
        """A seal from its JSON form; ValueError when it is not one."""
        from storage.queries import parse_time

        if not isinstance(d, Mapping) or d.get("type", "evidence-agent.seal") != \
                "evidence-agent.seal":
            raise ValueError("not a seal object")
        v = int(d.get("v", 1))
        covers: list[tuple[int, int]] = []
        for r in d.get("covers") or []:
            a, b = (int(x) for x in r)
            if not 1 <= a <= b:
                raise ValueError(f"bad covered range {r!r}")
            covers.append((a, b))
        return cls(int(d["seq"]), str(d["head_hash"]), parse_time(str(d["sealed_at"])),
                   d.get("run_id"), str(d["key_id"]), str(d["signature"]), tuple(covers),
                   str(d.get("purpose", "run")), d.get("note"), v)

    @classmethod
    def from_row(cls, s: Any) -> Seal:
        """A seal from its row in the index."""
        return cls(int(s.seq), s.head_hash, s.sealed_at, s.run_id, s.key_id, s.signature,
                   tuple((int(a), int(b)) for a, b in (s.covers or [])),
                   s.purpose or "run", s.note, int(s.v or 1))

    def valid(self, public: Ed25519PublicKey) -> bool:
        return keys.key_id(public) == self.key_id and keys.verify(public, self.payload(),
                                                                    self.signature)


def make_seal(conn: Connection, key: Ed25519PrivateKey, now: datetime, run_id: str | None,
              covers: Iterable[int] = (), purpose: str = "run",
              note: str | Callable[[int, str], str | None] | None = None,
              adopt: Ranges = ()) -> Seal:
    """Sign the current head and the records vouched for, and record the seal, in this
    transaction. A run vouches only for the records it wrote (`covers`); `adopt` ranges are
    an operator's explicit adoption of records no seal covers. `note` may be a function of
    the head (seq, hash) it seals (a key rotation's statement signs the head)."""
    seq, head = lock_head(conn)
    if callable(note):
        note = note(seq, head)
    ranges = to_ranges([*covers, *(q for a, b in adopt for q in range(a, b + 1))])
    if ranges and ranges[-1][1] > seq:
        raise ValueError(f"cannot vouch for #{ranges[-1][1]}: beyond the ledger head #{seq}")
    unsigned = Seal(seq, head, now, run_id, keys.key_id(key.public_key()), "", ranges,
                    purpose, note)
    seal = Seal(seq, head, now, run_id, unsigned.key_id, keys.sign(key, unsigned.payload()),
                ranges, purpose, note)
    conn.execute(insert(seals).values(seq=seal.seq, head_hash=seal.head_hash,
                                      sealed_at=seal.sealed_at, run_id=seal.run_id,
                                      key_id=seal.key_id, signature=seal.signature,
                                      v=seal.v, covers=[list(r) for r in seal.covers],
                                      purpose=seal.purpose, note=seal.note))
    return seal
