"""An insider with write access to the index, the blobs and bundles, but not the key (issue 8)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from collector.cli import cli
from collector.config import load
from collector.errors import IntegrityError
from collector.runner import Collector, Selection
from fieldwork.bundle import export_bundle, verify_bundle
from storage.canonical import canonical
from storage.index import ledger_head, records, seals
from storage.ledger import record_hash
from storage.queries import parse_time
from storage.store import EvidenceStore
from storage.verify import verify


def _store(config_file: Callable[..., Path], runs: int = 2) -> EvidenceStore:
    cfg = load(config_file())
    st = EvidenceStore.open(cfg)
    for _ in range(runs):
        Collector(cfg, st).run(Selection(snapshots=("items", "settings")))
    return st


def forge_append(st: EvidenceStore, **changes: Any) -> dict[str, Any]:
    """Append a well-chained record without the key, as an insider could."""
    with st.engine.begin() as c:
        head = c.execute(select(ledger_head)).one()
        last = dict(c.execute(select(records).where(records.c.seq == head.seq)).mappings().one())
        row = dict(last, seq=int(head.seq) + 1, id=f"forged{int(head.seq):014d}",
                   prev_hash=head.hash, status="complete", **changes)
        row["record_hash"] = record_hash(row)
        c.execute(insert(records).values(**row))
        c.execute(update(ledger_head).values(seq=row["seq"], hash=row["record_hash"]))
    return row


def forge_seal_row(st: EvidenceStore, rec: dict[str, Any]) -> None:
    """An index seal row, a copy of the newest real one, claiming to seal record `rec` and
    vouch for it (its signature no longer fits what it says)."""
    with st.engine.begin() as c:
        good = dict(c.execute(select(seals).order_by(seals.c.id.desc()).limit(1))
                    .mappings().one())
        del good["id"]
        c.execute(insert(seals).values(**dict(good, seq=rec["seq"], head_hash=rec["record_hash"],
                                              covers=[[rec["seq"], rec["seq"]]])))


def test_forged_record_after_the_seal_is_reported_and_never_sealed(
        config_file: Callable[..., Path]) -> None:
    """Item 1: a record appended without the key is reported as unsealed, and stays so after
    the next run seals (a run vouches only for what it wrote)."""
    cfg = load(config_file())
    st = _store(config_file)
    forged = forge_append(st)
    rep = verify(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{forged['seq']}")]
    Collector(cfg, st).run(Selection(snapshots=("items",)))
    rep = verify(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{forged['seq']}")]
    # and no bundle can carry it as evidence
    with pytest.raises(Exception, match="no seal vouches"):
        export_bundle(st, config_file().parent / "b.zip", list(forged["controls"]),
                      forged["collected_finished_at"] + timedelta(microseconds=1), None, {})


def test_adopting_a_crashed_runs_records_needs_an_explicit_command(
        config_file: Callable[..., Path]) -> None:
    """Item 1: unsealed records are adopted only by `seal adopt`, which names them exactly."""
    cfg_path = config_file()
    st = _store(config_file)
    forged = forge_append(st)  # stands in for a crashed run's record
    r = CliRunner().invoke(cli, ["-c", str(cfg_path), "seal", "adopt", f"{forged['seq'] - 1}",
                                 "--reason", "x"])
    assert r.exit_code == 2 and "not unsealed" in r.stderr
    r = CliRunner().invoke(cli, ["-c", str(cfg_path), "seal", "adopt", f"{forged['seq']}",
                                 "--reason", "checked by hand"])
    assert r.exit_code == 0, r.output
    assert verify(st).ok
    with st.engine.connect() as c:
        s = c.execute(select(seals).order_by(seals.c.id.desc())).first()
    assert s is not None and s.purpose == "adopt" and s.note == "checked by hand"


def test_row_beyond_the_head_is_reported_and_blocks_appends_clearly(
        config_file: Callable[..., Path]) -> None:
    """Item 2: a row outside the chain (future timestamp) is reported, and appends refuse to
    extend over it with a clear error instead of a UNIQUE failure."""
    cfg = load(config_file())
    st = _store(config_file)
    with st.engine.begin() as c:
        head = c.execute(select(ledger_head)).one()
        last = dict(c.execute(select(records).where(records.c.seq == head.seq)).mappings().one())
        future = datetime.now(UTC) + timedelta(days=30)
        row = dict(last, seq=int(head.seq) + 1, id="beyondhead0000000000",
                   prev_hash="1" * 64, record_hash="2" * 64, collected_finished_at=future)
        c.execute(insert(records).values(**row))
    rep = verify(st)
    assert any(p.kind == "chain" and "outside the chain" in p.detail and
               p.subject == f"#{row['seq']}..#{row['seq']}" for p in rep.problems)
    with pytest.raises(IntegrityError, match="beyond the ledger head"):
        st.append_rows([{k: v for k, v in last.items()
                         if k not in ("seq", "prev_hash", "record_hash")} | {"id": "n" * 20}])
    summary = Collector(cfg, st).run(Selection(snapshots=("items",)))
    assert not summary.ok
    assert all("beyond the ledger head" in (o.error or "") for o in summary.outcomes)


def test_deleted_seal_file_and_unwritable_seal_store(config_file: Callable[..., Path]) -> None:
    """Item 3: an index seal without its file is reported; a seal that cannot reach the seal
    store fails the run and leaves no index seal."""
    st = _store(config_file)
    files = sorted(st.blobs.seal_dir.iterdir())  # type: ignore[attr-defined]
    files[0].unlink()
    rep = verify(st)
    assert any(p.kind == "seal" and "no matching file in the seal store" in p.detail
               for p in rep.problems)
    cfg = load(config_file())
    with st.engine.connect() as c:
        before = c.execute(select(seals.c.id)).all()
    seal_dir = st.blobs.seal_dir  # type: ignore[attr-defined]
    moved = seal_dir.with_name("seals.moved")
    seal_dir.rename(moved)
    seal_dir.write_text("not a folder: the seal store cannot be written")
    try:
        summary = Collector(cfg, st).run(Selection(snapshots=("items",)))
    finally:
        seal_dir.unlink()
        moved.rename(seal_dir)
    assert summary.status == "unsealed" and not summary.ok and summary.seal_error
    with st.engine.connect() as c:
        assert c.execute(select(seals.c.id)).all() == before


@pytest.fixture
def bundle(config_file: Callable[..., Path], tmp_path: Path) -> tuple[Path, EvidenceStore]:
    st = _store(config_file, runs=3)
    out = tmp_path / "b.zip"
    export_bundle(st, out, ["CC6.1"], parse_time("now"), None, {"controls": ["CC6.1"]})
    return out, st


def _files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(dst: Path, files: dict[str, bytes], fix_sums: bool = True) -> Path:
    if fix_sums:
        body = {n: d for n, d in files.items() if n not in ("SHA256SUMS", "SHA256SUMS.sig")}
        files["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                                      for n, d in sorted(body.items())).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return dst


def test_bundle_record_beyond_the_sealed_head_is_refused(
        bundle: tuple[Path, EvidenceStore], tmp_path: Path) -> None:
    """Item 4: a record added past the sealed head, with the manifest pointing at it, fails
    even with the key pinned."""
    path, st = bundle
    f = _files(path)
    lines = f["ledger.jsonl"].splitlines()
    last = json.loads(lines[-1])
    extra = dict(last, seq=last["seq"] + 1, id="forgedforgedforged00",
                 prev_hash=last["record_hash"])
    extra["record_hash"] = record_hash(extra)
    f["ledger.jsonl"] += canonical(extra) + b"\n"
    m = json.loads(f["manifest.json"])
    m["records"].append(extra["id"])
    f["manifest.json"] = json.dumps(m).encode()
    rep = verify_bundle(_write(tmp_path / "x.zip", f), pinned=st.public_key())
    assert any("beyond the sealed head" in p for p in rep.problems)
    assert any("forgedforgedforged00" in p for p in rep.problems)


def test_bundle_manifest_is_authenticated(bundle: tuple[Path, EvidenceStore],
                                          tmp_path: Path) -> None:
    """Item 5: dropping a record from the manifest or relabelling its query, with SHA256SUMS
    recomputed, fails the signature over SHA256SUMS."""
    path, st = bundle
    assert verify_bundle(path, pinned=st.public_key()).ok
    for change in ("drop", "relabel"):
        f = _files(path)
        m = json.loads(f["manifest.json"])
        if change == "drop":
            m["records"] = m["records"][1:]
        else:
            m["query"] = {"controls": ["CC9.9"]}
        f["manifest.json"] = json.dumps(m).encode()
        rep = verify_bundle(_write(tmp_path / f"{change}.zip", f), pinned=st.public_key())
        assert rep.problems[0] == ("SHA256SUMS does not match its signature: the manifest or "
                                   "checksums were changed after export"), change
    f = _files(path)
    del f["SHA256SUMS.sig"]
    rep = verify_bundle(_write(tmp_path / "nosig.zip", f, fix_sums=False), pinned=st.public_key())
    assert any("SHA256SUMS.sig is missing" in p for p in rep.problems)


def test_seal_vouching_is_checked_against_the_index_seal_rows(
        config_file: Callable[..., Path]) -> None:
    """Item 1: widening a seal's covered ranges breaks its signature; removing every seal
    leaves every record unsealed."""
    st = _store(config_file)
    forged = forge_append(st)
    with st.engine.begin() as c:
        sid = c.execute(select(seals.c.id).order_by(seals.c.id.desc())).scalar()
        c.execute(update(seals).where(seals.c.id == sid).values(covers=[[1, forged["seq"]]]))
    rep = verify(st)
    kinds = {p.kind for p in rep.problems}
    assert "unsealed" in kinds and "seal" in kinds
    with st.engine.begin() as c:
        c.execute(delete(seals))
    rep = verify(st)
    assert any("has no matching seal in the index" in p.detail for p in rep.problems)
    for f in st.blobs.seal_dir.iterdir():  # type: ignore[attr-defined]
        f.unlink()
    rep = verify(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#1..#{forged['seq']}")]


def test_password_in_url_query_is_refused_and_urls_are_redacted(tmp_path: Path) -> None:
    """Item 10: `?password=` in index_url is refused like `user:pass@`, a non-numeric port
    is one clear line, and every error message has URL credentials redacted."""
    from collector.cli.common import redact
    from collector.errors import ConfigError
    from tests.conftest import write_config

    for url, why in (("postgresql://u@db.example/ev?password=hunter2", "holds a password"),
                     ("postgresql://u@db.example:abc/ev", "not an SQLAlchemy URL")):
        with pytest.raises(ConfigError, match=why) as e:
            load(write_config(tmp_path, index_url=url))
        assert "hunter2" not in str(e.value)
    assert redact("cannot reach postgresql://ann:s3cret@h:5432/db?sslpassword=p2&x=1") == \
        "cannot reach postgresql://ann:***@h:5432/db?sslpassword=***&x=1"


def test_errors_under_json_are_json_objects(tmp_path: Path) -> None:
    """Item 11: with --json, an error is a JSON object on stdout (and one line on stderr)."""
    r = CliRunner().invoke(cli, ["-c", str(tmp_path / "missing.toml"), "query", "--control",
                                 "CC6.1", "--json"])
    assert r.exit_code == 2
    obj = json.loads(r.stdout)
    assert obj["ok"] is False and obj["exit"] == 2 and "missing.toml" in obj["error"]
    assert len(r.stderr.strip().splitlines()) == 1


def test_parallel_verify_finds_what_the_serial_one_finds(
        config_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify on worker processes (chain cut into ranges, blobs re-hashed by workers) reports
    the same problems as in-process verify."""
    import storage.verify as v

    st = _store(config_file, runs=3)
    rows = list(st.iter_records())
    with st.engine.begin() as c:
        c.execute(update(records).where(records.c.seq == rows[1]["seq"]).values(status="x"))
        c.execute(delete(records).where(records.c.seq == rows[3]["seq"]))
    blob = st.blobs.path(rows[4]["content_sha256"])  # type: ignore[attr-defined]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b" ")
    serial = sorted((p.kind, p.subject) for p in verify(st, workers=1).problems)
    monkeypatch.setattr(v, "PARALLEL_MIN", 1)
    monkeypatch.setattr(v, "CHUNK", 2)
    parallel = sorted((p.kind, p.subject) for p in verify(st, workers=2).problems)
    assert parallel == serial and len(serial) >= 3


@pytest.mark.parametrize("value", ["zz/../x", "../" * 3 + "etc/hostname", "A" * 64])
def test_a_blob_column_that_is_no_digest_is_named_not_followed(
        config_file: Callable[..., Path], value: str) -> None:
    """A record whose blob column holds something other than a SHA-256 hex digest (a path
    climbing out of the blob store, upper case) is named by full and incremental verify
    alike, and never looked up as a file."""
    cfg = load(config_file())
    st = _store(config_file)
    verify(st, write_checkpoint=True)
    Collector(cfg, st).run(Selection(snapshots=("items",)))
    with st.engine.begin() as c:
        seq = c.execute(select(records.c.seq).order_by(records.c.seq.desc())).scalars().first()
        c.execute(update(records).where(records.c.seq == seq).values(content_sha256=value))
    for kw in ({}, {"since_last": True}):
        rep = verify(st, **kw)
        named = [p.detail for p in rep.problems if p.kind == "record"]
        assert f"content_sha256 {value!r}: not a SHA-256 hex digest" in named, (kw, named)
        assert not any("blob missing" in d for d in named), (kw, named)
