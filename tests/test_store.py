"""The store: content-addressed blobs, the hash chain, seals, and what verify catches."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from collector.config import load
from collector.runner import Collector, Selection
from storage.blobs import FileBlobStore
from storage.index import ledger_head, records, seals
from storage.keys import key_id, load_public_pem, public_pem
from storage.ledger import Seal, record_hash
from storage.queries import as_of, newest_complete
from storage.store import EvidenceStore, NewRecord
from storage.verify import verify


def _new(i: int, content: object, **kw: object) -> NewRecord:
    t = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=i)
    base: dict[str, object] = dict(
        run_id="r1", connector="synthetic", instance="one", snapshot="items", kind="posture",
        controls=["CC6.1"], max_age_seconds=86400, collected_started_at=t,
        collected_finished_at=t + timedelta(seconds=2), status="complete",
        ipe={"principal": "p", "source": "s", "calls": [], "api_calls": 1, "pages": 1},
        content=content, has_content=True, record_count=1, effective_at=t)
    base.update(kw)
    return NewRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(config_file: Callable[..., Path]) -> EvidenceStore:
    return EvidenceStore.open(load(config_file()))


def test_blobs_are_content_addressed_and_deduplicated(store: EvidenceStore) -> None:
    """The same content stored twice costs one blob; a blob file is read-only."""
    store.append([_new(0, {"a": 1})])
    size1 = store.blobs.size()
    store.append([_new(1, {"a": 1})])
    rows = list(store.iter_records())
    assert rows[0]["content_sha256"] == rows[1]["content_sha256"]
    ipe_and_content = {r["ipe_sha256"] for r in rows} | {rows[0]["content_sha256"]}
    assert len(ipe_and_content) == 2  # identical IPE too: nothing new at all
    assert store.blobs.size() == size1
    assert isinstance(store.blobs, FileBlobStore)
    path = store.blobs.path(rows[0]["content_sha256"])
    assert path.stat().st_mode & 0o222 == 0


def test_chain_links_every_record(store: EvidenceStore) -> None:
    """Each record's prev_hash is the previous record's hash and its hash covers its fields."""
    store.append([_new(i, {"i": i}) for i in range(5)])
    rows = list(store.iter_records())
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == "0" * 64
    for a, b in itertools.pairwise(rows):
        assert b["prev_hash"] == a["record_hash"]
    assert all(record_hash(r) == r["record_hash"] for r in rows)


def test_collection_time_kept_apart_from_described_time(store: EvidenceStore) -> None:
    """A record keeps when it was collected apart from the time the evidence describes."""
    described = datetime(2026, 2, 27, 8, 0, tzinfo=UTC)
    store.append([_new(0, {"x": 1}, effective_at=described)])
    r = next(store.iter_records())
    assert r["effective_at"] == described
    assert r["collected_finished_at"] > described
    assert r["collected_finished_at"].tzinfo is not None


def test_old_evidence_freshly_collected_is_stale(store: EvidenceStore) -> None:
    """`query` and `status` judge staleness by the time the evidence describes: a record
    collected just now whose effective_at is two days old (max age one day) is stale."""
    collected = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    store.append([_new(0, {"x": 1}, collected_finished_at=collected,
                       effective_at=collected - timedelta(days=2))])
    rec = as_of(store.engine, ["CC6.1"], collected + timedelta(minutes=1))["records"][0]
    assert rec["stale"] is True
    newest = newest_complete(store.engine, "synthetic", "one", "items")
    assert newest == collected - timedelta(days=2)
    store.append([_new(1, {"x": 2}, collected_finished_at=collected + timedelta(hours=1),
                       effective_at=collected)])
    rec = as_of(store.engine, ["CC6.1"], collected + timedelta(hours=2))["records"][0]
    assert rec["stale"] is False


def test_seal_signature_verifies_with_exported_key(store: EvidenceStore) -> None:
    """A seal is signed with Ed25519 over the head; the exported public key verifies it."""
    rows = store.append([_new(0, {"x": 1})])
    seal = store.seal("r1", [rows[0]["seq"]])
    pub = load_public_pem(public_pem(store.public_key()))
    assert seal.key_id == key_id(pub) and seal.valid(pub)
    forged = Seal(seal.seq, "f" * 64, seal.sealed_at, seal.run_id, seal.key_id, seal.signature)
    assert not forged.valid(pub)
    assert store.key_path is not None and oct(store.key_path.stat().st_mode & 0o777) == "0o600"


def test_verify_intact_store(store: EvidenceStore) -> None:
    """An untouched store verifies with no problems."""
    rows = store.append([_new(i, {"i": i}) for i in range(3)])
    store.seal("r1", [r["seq"] for r in rows])
    rep = verify(store)
    assert rep.ok, rep.problems
    assert rep.records == 3 and rep.blobs == 4 and rep.seals == 2


def _collect(config_file: Callable[..., Path]) -> EvidenceStore:
    cfg = load(config_file())
    st = EvidenceStore.open(cfg)
    Collector(cfg, st).run(Selection(snapshots=("items", "settings")))
    Collector(cfg, st).run(Selection(snapshots=("items", "settings")))
    return st


def test_verify_reports_flipped_blob_byte(config_file: Callable[..., Path]) -> None:
    """Flipping one byte of a blob is reported as that blob's content having changed."""
    st = _collect(config_file)
    r = next(x for x in st.iter_records() if x["snapshot"] == "items")
    assert isinstance(st.blobs, FileBlobStore)
    p = st.blobs.path(r["content_sha256"])
    os.chmod(p, 0o644)
    data = bytearray(p.read_bytes())
    data[10] ^= 0x01
    p.write_bytes(bytes(data))
    rep = verify(st)
    blob_problems = [x for x in rep.problems if x.kind == "blob"]
    assert len(blob_problems) == 1
    assert blob_problems[0].subject == r["content_sha256"]
    assert "content changed" in blob_problems[0].detail
    # every record that references it is named too (both runs stored the same content)
    refs = [x for x in rep.problems if x.kind == "record"]
    assert len(refs) >= 1 and all("content_sha256" in x.detail for x in refs)
    assert {x.kind for x in rep.problems} == {"blob", "record"}


def test_verify_reports_edited_row(config_file: Callable[..., Path]) -> None:
    """Editing one index row (a failed status made complete) is reported for that record only."""
    st = _collect(config_file)
    target = list(st.iter_records())[1]
    with st.engine.begin() as c:
        c.execute(update(records).where(records.c.seq == target["seq"]).values(record_count=999))
    rep = verify(st)
    assert len(rep.problems) == 1
    p = rep.problems[0]
    assert p.kind == "record" and p.subject.startswith(f"#{target['seq']} ({target['id']}")
    assert "edited" in p.detail


def test_verify_reports_rehashed_edit_as_chain_break(config_file: Callable[..., Path]) -> None:
    """An edit whose record_hash was recomputed still breaks the next link and the seal."""
    st = _collect(config_file)
    rows = list(st.iter_records())
    t = dict(rows[0])
    t["record_count"] = 0
    with st.engine.begin() as c:
        c.execute(update(records).where(records.c.seq == 1).values(
            record_count=0, record_hash=record_hash(t)))
    rep = verify(st)
    assert any(p.kind == "chain" and p.subject.startswith("#2 ") for p in rep.problems)


def test_verify_reports_deleted_record(config_file: Callable[..., Path]) -> None:
    """Deleting a record in the middle is reported as that sequence number missing."""
    st = _collect(config_file)
    with st.engine.begin() as c:
        c.execute(delete(records).where(records.c.seq == 3))  # seals cover #2 and #4
    rep = verify(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("chain", "#3")]
    assert "missing" in rep.problems[0].detail


def test_verify_reports_truncated_tail(config_file: Callable[..., Path]) -> None:
    """Cutting off the newest records is caught by the ledger head and by the seals."""
    st = _collect(config_file)
    with st.engine.begin() as c:
        c.execute(delete(records).where(records.c.seq >= 3))
    rep = verify(st)
    kinds = {(p.kind, p.subject) for p in rep.problems}
    assert ("chain", "#3..#4") in kinds
    assert any(p.kind == "seal" and "missing from the chain" in p.detail for p in rep.problems)


def test_verify_against_kept_seal_catches_rewritten_history(
        config_file: Callable[..., Path], tmp_path: Path) -> None:
    """A seal kept by the auditor catches a truncation even when the index was made consistent."""
    st = _collect(config_file)
    with st.engine.connect() as c:
        s = c.execute(select(seals).order_by(seals.c.id.desc())).first()
    assert s is not None
    kept = Seal.from_row(s)
    assert verify(st, against=kept).ok
    # the operator cuts the last run off and makes head, seals and seal files agree again
    last = list(st.iter_records())[-3]
    with st.engine.begin() as c:
        c.execute(delete(records).where(records.c.seq > last["seq"]))
        c.execute(delete(seals).where(seals.c.seq > last["seq"]))
        c.execute(update(ledger_head).values(seq=last["seq"], hash=last["record_hash"]))
    assert isinstance(st.blobs, FileBlobStore)
    for f in st.blobs.seal_dir.iterdir():
        if int(f.name.split("-")[0]) > last["seq"]:
            f.unlink()
    assert verify(st).ok  # without the kept seal, a consistent truncation looks intact
    rep = verify(st, against=kept)
    assert not rep.ok
    assert any("kept seal" in p.subject for p in rep.problems)


def test_verify_reports_bad_seal_signature(config_file: Callable[..., Path]) -> None:
    """A seal whose signature was altered is reported."""
    st = _collect(config_file)
    with st.engine.begin() as c:
        first = c.execute(select(seals.c.id).order_by(seals.c.id)).scalar()
        c.execute(update(seals).where(seals.c.id == first).values(signature="AAAA" * 22))
    rep = verify(st)
    assert any(p.kind == "seal" and "signature does not verify" in p.detail
               for p in rep.problems)


def test_seal_files_are_written_and_checked(config_file: Callable[..., Path]) -> None:
    """Each run writes a seal file outside the index; removing index seals is detected."""
    st = _collect(config_file)
    assert isinstance(st.blobs, FileBlobStore)
    files = sorted(st.blobs.seal_dir.iterdir())
    assert len(files) == 2
    assert json.loads(files[0].read_text())["type"] == "evidence-agent.seal"
    with st.engine.begin() as c:
        c.execute(delete(seals))
    rep = verify(st)
    assert sum("has no matching seal in the index" in p.detail for p in rep.problems) == 2


def test_crash_leftovers_are_swept(store: EvidenceStore) -> None:
    """Temporary files older than an hour (a crashed writer's) are removed; fresh ones stay."""
    import time

    assert isinstance(store.blobs, FileBlobStore)
    tmp = store.blobs.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    old, new = tmp / "old.1.abc", tmp / "new.1.def"
    old.write_bytes(b"half")
    new.write_bytes(b"in progress")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert store.blobs.sweep_tmp() == 1
    assert not old.exists() and new.exists()
