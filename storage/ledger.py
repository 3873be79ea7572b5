"""The ledger: records appended in one hash-chained sequence, and signed seals of its head.

Each record carries `prev_hash` (the previous record's hash, or 64 zeros) and
`record_hash = sha256(canonical(record without record_hash))`. Appends are serialized by the
database (BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL), so concurrent writers in any
number of processes or containers still build one chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage import keys
from storage.canonical import canonical, iso, sha256_hex
from storage.index import ledger_head, records, seals, series

RECORD_VERSION = 1
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
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(series).values(values).on_conflict_do_nothing())
    return out


@dataclass(frozen=True)
class Seal:
    """A signed statement of the ledger's head at one moment."""

    seq: int
    head_hash: str
    sealed_at: datetime
    run_id: str | None
    key_id: str
    signature: str

    def payload(self) -> bytes:
        """The bytes the signature covers: the seal without its signature."""
        return canonical({k: v for k, v in self.to_json().items() if k != "signature"})

    def to_json(self) -> dict[str, Any]:
        return {"type": "evidence-agent.seal", "v": 1, "seq": self.seq,
                "head_hash": self.head_hash, "sealed_at": iso(self.sealed_at),
                "run_id": self.run_id, "key_id": self.key_id, "signature": self.signature}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Seal:
        from storage.queries import parse_time

        return cls(int(d["seq"]), str(d["head_hash"]), parse_time(str(d["sealed_at"])),
                   d.get("run_id"), str(d["key_id"]), str(d["signature"]))

    def valid(self, public: Ed25519PublicKey) -> bool:
        return keys.key_id(public) == self.key_id and keys.verify(public, self.payload(),
                                                                    self.signature)


def make_seal(conn: Connection, key: Ed25519PrivateKey, now: datetime,
              run_id: str | None) -> Seal:
    """Sign the current head and record the seal, in this transaction."""
    seq, head = lock_head(conn)
    unsigned = Seal(seq, head, now, run_id, keys.key_id(key.public_key()), "")
    seal = Seal(seq, head, now, run_id, unsigned.key_id, keys.sign(key, unsigned.payload()))
    conn.execute(insert(seals).values(seq=seal.seq, head_hash=seal.head_hash,
                                      sealed_at=seal.sealed_at, run_id=seal.run_id,
                                      key_id=seal.key_id, signature=seal.signature))
    return seal
