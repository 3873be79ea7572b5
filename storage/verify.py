"""`evidence verify`: re-hash every blob, walk the chain, check every seal.

Streams records in batches and hashes blobs on a small thread pool, so memory stays flat
however large the store grows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from storage import keys
from storage.index import GENESIS, ledger_head, records, seals
from storage.ledger import Seal, record_hash
from storage.store import EvidenceStore

# Seals and records stamped within this of verify's start are taken as written concurrently.
CONCURRENT_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class Problem:
    """One thing that does not match."""

    kind: str  # blob | record | chain | seal | access-log
    subject: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"


@dataclass
class VerifyReport:
    """What `verify` checked and what it found wrong."""

    records: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    seals: int = 0
    head_seq: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "blobs": self.blobs,
                "blob_bytes": self.blob_bytes, "seals": self.seals, "head_seq": self.head_seq,
                "problems": [p.to_json() for p in self.problems]}


def _chunks(it: Iterable[str], n: int) -> Iterator[list[str]]:
    buf: list[str] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


def verify(store: EvidenceStore, *, public: Ed25519PublicKey | None = None,
           against: Seal | None = None, workers: int = 2) -> VerifyReport:
    """Check every blob, record and seal of `store`; `against` is a seal kept from earlier."""
    rep = VerifyReport()
    bad: dict[str, str] = {}
    blobs = store.blobs

    def check(sha: str) -> tuple[str, tuple[str, int] | None]:
        return sha, blobs.rehash(sha)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in _chunks(blobs.shas(), 256):
            for sha, got in pool.map(check, chunk):
                rep.blobs += 1
                if got is not None:
                    rep.blob_bytes += got[1]
                if got is None or got[0] != sha:
                    bad[sha] = "missing" if got is None else \
                        f"content changed (now hashes to {got[0]})"
                    rep.problems.append(Problem("blob", sha, bad[sha]))

    if public is None:
        public = store.public_key()
    pub_id = keys.key_id(public)
    with store.engine.connect() as conn:
        # The head is read once, first: records and seals that other collectors append
        # while we verify lie beyond it and are left for the next verify.
        head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    started = datetime.now(UTC)
    concurrent = started - CONCURRENT_SLACK

    def check_group(seq: int, index_seals: list[Seal],
                    files: list[tuple[str, Seal]]) -> list[tuple[str, Seal]]:
        """Check signatures and index/file agreement of the seals at one seq."""
        entries = [(f"index seal at #{s.seq} ({s.sealed_at:%Y-%m-%dT%H:%M:%SZ})", s)
                   for s in index_seals] + [(f"seal file {n}", fs) for n, fs in files]
        if against is not None and against.seq == seq:
            entries.append((f"kept seal at #{against.seq}", against))
        for label, seal in entries:
            rep.seals += 1
            if seal.key_id != pub_id:
                rep.problems.append(Problem("seal", label, f"signed by unknown key {seal.key_id}"))
            elif not seal.valid(public):
                rep.problems.append(Problem("seal", label, "signature does not verify"))
        in_index = {(x.head_hash, x.signature) for x in index_seals}
        for name, fs in files:
            if (fs.head_hash, fs.signature) not in in_index:
                rep.problems.append(Problem("seal", f"seal file {name}", "has no matching "
                                            "seal in the index (index seals removed?)"))
        return entries

    groups = _seal_groups(store, rep)
    if against is not None:
        groups = _with_kept(groups, against.seq)
    pending = next(groups, None)

    expected, prev = 1, GENESIS
    exists = lru_cache(maxsize=50_000)(blobs.exists)  # bounded: memory stays flat
    last_seq = 0
    for r in store.iter_records(upto=int(head.seq)):
        rep.records += 1
        seq = int(r["seq"])
        subject = f"#{seq} ({r['id']}, {r['connector']}/{r['instance']}/{r['snapshot']})"
        if seq != expected:
            span = f"#{expected}" if seq == expected + 1 else f"#{expected}..#{seq - 1}"
            rep.problems.append(Problem(
                "chain", span, "record(s) missing from the chain "
                f"(deleted: sequence jumps from #{expected - 1} to #{seq})"))
        elif r["prev_hash"] != prev:
            rep.problems.append(Problem("chain", subject, f"prev_hash does not match record "
                                        f"#{seq - 1}: the chain was rewritten"))
        if record_hash(r) != r["record_hash"]:
            rep.problems.append(Problem("record", subject,
                                        "edited: its fields no longer match its record_hash"))
        for col in ("content_sha256", "ipe_sha256", "findings_sha256"):
            sha = r[col]
            if not sha:
                continue
            if sha in bad:
                rep.problems.append(Problem("record", subject, f"{col} {sha}: blob {bad[sha]}"))
            elif not exists(sha):
                bad[sha] = "missing"
                rep.problems.append(Problem("record", subject, f"{col} {sha}: blob missing"))
        while pending is not None and pending[0] <= seq:
            gseq, idx, files = pending
            for label, seal in check_group(gseq, idx, files):
                if gseq == 0:
                    continue  # sealed an empty ledger
                if gseq < seq:
                    rep.problems.append(Problem("seal", label, f"seals record #{gseq}, which "
                                                "is missing from the chain"))
                elif seal.head_hash != r["record_hash"]:
                    rep.problems.append(Problem(
                        "seal", label, f"head hash does not match record #{seq}: the chain "
                        "was rewritten after it was sealed"))
            pending = next(groups, None)
        prev = r["record_hash"]
        expected = seq + 1
        last_seq = seq
    rep.head_seq = int(head.seq)
    if int(head.seq) > last_seq:
        rep.problems.append(Problem("chain", f"#{last_seq + 1}..#{head.seq}",
                                    "newest record(s) missing: the ledger head says "
                                    f"#{head.seq} but the chain ends at #{last_seq}"))
    elif last_seq and head.hash != prev:
        rep.problems.append(Problem("chain", "head", "ledger head does not match the last record"))
    with store.engine.connect() as conn:
        beyond = conn.execute(select(func.count()).select_from(records).where(
            records.c.seq > int(head.seq), records.c.collected_finished_at < concurrent)).scalar()
    if beyond:
        rep.problems.append(Problem("chain", f"#{int(head.seq) + 1}..", f"{beyond} record(s) "
                                    "beyond the ledger head: the head was rewound"))
    while pending is not None:
        gseq, idx, files = pending
        if gseq > int(head.seq):
            idx = [s for s in idx if s.sealed_at < concurrent]
            files = [(n, s) for n, s in files if s.sealed_at < concurrent]
            if not idx and not files and not (against is not None and against.seq == gseq):
                pending = next(groups, None)
                continue  # sealed while we were verifying
        for label, _seal in check_group(gseq, idx, files):
            if gseq != 0:
                rep.problems.append(Problem("seal", label, f"seals record #{gseq}, which is "
                                            "missing from the chain (records were cut off or "
                                            "deleted)"))
        pending = next(groups, None)
    _check_access_log(store, rep)
    return rep


def _check_access_log(store: EvidenceStore, rep: VerifyReport) -> None:
    """The portal's access log is chained like the ledger: name every broken entry."""
    from storage.access import verify_access_log

    _, problems = verify_access_log(store.engine)
    rep.problems.extend(Problem("access-log", p.split(":", 1)[1].split()[1], p)
                        for p in problems)


SealGroup = tuple[int, list[Seal], list[tuple[str, Seal]]]


def _index_seals(store: EvidenceStore, batch: int = 2000) -> Iterator[Seal]:
    last = (-1, -1)
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(seals).where((seals.c.seq > last[0]) |
                                    ((seals.c.seq == last[0]) & (seals.c.id > last[1])))
                .order_by(seals.c.seq, seals.c.id).limit(batch)).all()
        if not rows:
            return
        for s in rows:
            yield Seal(int(s.seq), s.head_hash, s.sealed_at, s.run_id, s.key_id, s.signature)
        last = (int(rows[-1].seq), int(rows[-1].id))


def _file_seals(store: EvidenceStore, rep: VerifyReport) -> Iterator[tuple[int, str, Seal]]:
    for name, data in store.blobs.seals():  # names start with the zero-padded seq: in order
        try:
            seal = Seal.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError):
            rep.problems.append(Problem("seal", name, "seal file is not a valid seal"))
            continue
        yield seal.seq, name, seal


def _seal_groups(store: EvidenceStore, rep: VerifyReport) -> Iterator[SealGroup]:
    """Index seals and seal files merged by seq, one group per seq, in ascending order:
    streamed, so memory does not grow with the number of runs."""
    idx = _index_seals(store)
    files = _file_seals(store, rep)
    a = next(idx, None)
    b = next(files, None)
    while a is not None or b is not None:
        seq = min(x for x in (a.seq if a else None, b[0] if b else None) if x is not None)
        ga: list[Seal] = []
        gb: list[tuple[str, Seal]] = []
        while a is not None and a.seq == seq:
            ga.append(a)
            a = next(idx, None)
        while b is not None and b[0] == seq:
            gb.append((b[1], b[2]))
            b = next(files, None)
        yield seq, ga, gb


def _with_kept(groups: Iterator[SealGroup], seq: int) -> Iterator[SealGroup]:
    """Make sure a group exists at `seq`, for a kept seal no stored seal matches."""
    done = False
    for g in groups:
        if not done and g[0] > seq:
            yield seq, [], []
            done = True
        if g[0] == seq:
            done = True
        yield g
    if not done:
        yield seq, [], []
