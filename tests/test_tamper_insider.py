"""More insider moves (write access to the index, the blob store, the seal store and the
index's folder, not the key), each found by scripting it against a real store: verify must
exit non-zero and name what was done, and never hang on what the insider left in a folder."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select

from collector.cli import cli
from collector.config import load
from collector.errors import IntegrityError
from collector.runner import Collector, Selection
from storage.access import log_access
from storage.index import access_log, records, runs, seals
from storage.ledger import record_hash
from storage.store import EvidenceStore
from storage.verify import VerifyReport, verify
from tests.test_tamper import _store, forge_append, forge_seal_row


def _verify_within(st: EvidenceStore, seconds: float = 60, **kw: Any) -> VerifyReport:
    """verify(), failing the test instead of hanging when it does not return in time."""
    out: list[VerifyReport | BaseException] = []

    def run() -> None:
        try:
            out.append(verify(st, write_checkpoint=False, **kw))
        except BaseException as e:  # handed to the test
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"verify did not return within {seconds} s (hung)"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def _forge_at(st: EvidenceStore, seq: int) -> dict[str, Any]:
    """A well-hashed record row at `seq`, without the key and without moving the head."""
    with st.engine.begin() as c:
        last = dict(c.execute(select(records).order_by(records.c.seq.desc()).limit(1))
                    .mappings().one())
        row = dict(last, seq=seq, id=f"below{abs(seq):015d}", prev_hash=f"{abs(seq) + 7:064x}")
        row["record_hash"] = record_hash(row)
        c.execute(insert(records).values(**row))
    return row


def test_rows_below_record_one_are_outside_the_chain(config_file: Callable[..., Path]) -> None:
    """A row at seq 0 or below is no part of the chain (#1..head) either: full and incremental
    verify name it like a row beyond the head (they walked #1..head and never saw it), and
    appends refuse to go on while it is there."""
    st = _store(config_file)
    verify(st, write_checkpoint=True)
    _forge_at(st, 0)
    _forge_at(st, -3)
    for kw in ({}, {"since_last": True}):
        rep = _verify_within(st, **kw)
        assert [(p.kind, p.subject) for p in rep.problems] == [("chain", "#-3..#0")], kw
        assert "2 record(s) outside the chain, before record #1" in rep.problems[0].detail
    with pytest.raises(IntegrityError, match="before record #1"):
        st.append_rows([{k: v for k, v in _last(st).items()
                         if k not in ("seq", "prev_hash", "record_hash")} | {"id": "n" * 20}])


def _last(st: EvidenceStore) -> dict[str, Any]:
    with st.engine.connect() as c:
        return dict(c.execute(select(records).order_by(records.c.seq.desc()).limit(1))
                    .mappings().one())


def test_access_log_entry_below_one_is_named(config_file: Callable[..., Path]) -> None:
    """An access-log entry at seq 0 or below lies outside the log's chain (#1..): named."""
    st = _store(config_file)
    for i in range(3):
        log_access(st.engine, at=datetime.now(UTC), who=f"auditor{i}", token_id=None,
                   role="auditor", method="GET", path="/x", query="", status=200, client="c")
    Collector(load(config_file()), st).run(Selection(snapshots=("items",)))
    assert verify(st, write_checkpoint=False).ok
    with st.engine.begin() as c:
        first = dict(c.execute(select(access_log).where(access_log.c.seq == 1))
                     .mappings().one())
        c.execute(insert(access_log).values(**dict(first, seq=0, who="mallory",
                                                   prev_hash="d" * 64, entry_hash="e" * 64)))
    rep = _verify_within(st)
    assert [p.kind for p in rep.problems] == ["access-log"]
    assert "#0" in rep.problems[0].subject and "before entry #1" in rep.problems[0].detail


def _fake_running(st: EvidenceStore) -> dict[str, Any]:
    now = datetime.now(UTC)
    with st.engine.begin() as c:
        c.execute(insert(runs).values(id="forgedrun00000000000", trigger="manual", host="h",
                                      pid=os.getpid(), started_at=now, status="running",
                                      summary={}))
    return forge_append(st, run_id="forgedrun00000000000", collected_started_at=now,
                        collected_finished_at=now)


def test_run_lock_symlinked_to_a_file_someone_else_locks_is_no_live_run(
        config_file: Callable[..., Path], tmp_path: Path) -> None:
    """The run lock proves a run alive only if it is the run's own lock file: a symlink (or a
    second hard link) from a forged run's lock name to a file some other process holds a
    flock on (a daemon's pid file) must not keep a forged record pending."""
    st = _store(config_file)
    forged = _fake_running(st)
    elsewhere = tmp_path / "daemon.pid"
    elsewhere.write_text("1\n")
    fd = os.open(elsewhere, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held by "a daemon" for the whole check
    try:
        lock_dir = tmp_path / ".evidence-runs"
        lock_dir.mkdir(exist_ok=True)
        name = lock_dir / "forgedrun00000000000.lock"
        for how in ("symlink", "hardlink"):
            if how == "symlink":
                name.symlink_to(elsewhere)
            else:
                os.link(elsewhere, name)
            rep = _verify_within(st)
            assert [(p.kind, p.subject) for p in rep.problems] == \
                [("unsealed", f"#{forged['seq']}")], how
            assert rep.pending == [], how
            r = CliRunner().invoke(cli, ["-c", str(config_file()), "runs", "--json"])
            assert '"status": "interrupted"' in r.stdout, how
            name.unlink()
    finally:
        os.close(fd)


def test_fifo_as_run_lock_does_not_hang_verify(config_file: Callable[..., Path],
                                               tmp_path: Path) -> None:
    """A FIFO where a forged run's lock file would be: verify neither blocks opening it nor
    takes it for a live run."""
    st = _store(config_file)
    forged = _fake_running(st)
    lock_dir = tmp_path / ".evidence-runs"
    lock_dir.mkdir(exist_ok=True)
    os.mkfifo(lock_dir / "forgedrun00000000000.lock")
    rep = _verify_within(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{forged['seq']}")]


@pytest.mark.parametrize("what", ["fifo", "folder"])
@pytest.mark.parametrize("parallel", [False, True])
def test_blob_replaced_by_a_fifo_or_folder_is_named(
        config_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, what: str,
        parallel: bool) -> None:
    """A blob file replaced by a FIFO (verify used to block opening it for ever) or by a
    folder (verify used to end in a traceback) is named, with the records that name it, by
    in-process and worker-process verify alike."""
    import storage.verify as v

    st = _store(config_file)
    sha = _last(st)["ipe_sha256"]
    path = st.blobs.path(sha)  # type: ignore[attr-defined]
    path.unlink()
    if what == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    if parallel:
        monkeypatch.setattr(v, "PARALLEL_MIN", 1)
        monkeypatch.setattr(v, "CHUNK", 2)
    rep = _verify_within(st, workers=2 if parallel else 1)
    blob = [p for p in rep.problems if p.kind == "blob"]
    assert [p.subject for p in blob] == [sha], rep.problems
    recs = [p for p in rep.problems if p.kind == "record"]
    assert recs and all(sha in p.detail for p in recs), rep.problems


def test_misnamed_seal_file_is_named_and_no_other_seal_is_accused(
        config_file: Callable[..., Path]) -> None:
    """A seal file renamed to sort as an older seq (seal files are read in name order) used to
    make verify accuse every other index seal of having no file; now the file is named for
    what it is, and only the seal it belongs to lacks its file."""
    st = _store(config_file, runs=3)
    seal_dir: Path = st.blobs.seal_dir  # type: ignore[attr-defined]
    newest = sorted(seal_dir.iterdir())[-1]
    seq = json.loads(newest.read_text())["seq"]
    moved = seal_dir / ("000000000001-" + newest.name.split("-", 1)[1])
    newest.rename(moved)
    for kw in ({}, {"since_last": True}):
        rep = _verify_within(st, **kw)
        got = sorted((p.kind, p.subject.split(" (")[0], p.detail) for p in rep.problems)
        assert got == sorted([
            ("seal", f"seal file {moved.name}", f"seal file named for #1 holds the seal of #{seq} "
                                 "(renamed?)"),
            ("seal", f"index seal at #{seq}", "has no matching file in the seal store "
                                              "(deleted, or never written)")]), kw


def test_altered_copy_of_a_seal_file_is_reported(config_file: Callable[..., Path]) -> None:
    """A copy of a genuine seal file with its head (and covers) changed, named beside the
    original: it matches no index seal, and verify says so (it used to be skipped silently as
    a seal written while verify ran)."""
    st = _store(config_file)
    seal_dir: Path = st.blobs.seal_dir  # type: ignore[attr-defined]
    orig = sorted(seal_dir.iterdir())[-1]
    d = json.loads(orig.read_text())
    d["head_hash"], d["covers"] = "b" * 64, [[1, d["seq"]]]
    copy = seal_dir / (orig.name[:13] + "20300101T000000000000Z-" + d["key_id"] + ".json")
    copy.write_text(json.dumps(d))
    rep = _verify_within(st)
    assert [(p.kind, p.subject) for p in rep.problems if "index" in p.detail] == \
        [("seal", f"seal file {copy.name}")]
    assert not rep.ok


def test_since_last_notices_records_deleted_before_its_checkpoint(
        config_file: Callable[..., Path]) -> None:
    """Records deleted at or before the checkpoint (and their seals with them) used to leave
    `verify --since-last` saying intact; it now counts the records the checkpoint vouched for
    and names the shortfall."""
    cfg = load(config_file())
    st = _store(config_file, runs=3)
    rep = verify(st, write_checkpoint=True)
    assert rep.ok and rep.checkpoint is not None
    upto = rep.checkpoint
    Collector(cfg, st).run(Selection(snapshots=("items",)))
    with st.engine.begin() as c:
        c.execute(delete(records).where(records.c.seq == 4))
    assert not _verify_within(st).ok  # full verify names it: chain #4
    rep = _verify_within(st, since_last=True)
    assert [(p.kind, p.subject) for p in rep.problems] == [("chain", f"#1..#{upto}")]
    assert "1 record(s) of the" in rep.problems[0].detail


def test_cli_names_a_folder_blob_and_exits_1(config_file: Callable[..., Path]) -> None:
    """The same through the CLI: exit 1, the blob named, no traceback."""
    cfg_path = config_file()
    st = _store(config_file)
    sha = _last(st)["ipe_sha256"]
    path = st.blobs.path(sha)  # type: ignore[attr-defined]
    path.unlink()
    path.mkdir()
    r = CliRunner().invoke(cli, ["-c", str(cfg_path), "verify", "--no-checkpoint"])
    assert r.exit_code == 1, r.output
    assert f"PROBLEM blob {sha}: unreadable" in r.stdout
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_replayed_copies_of_a_genuine_seal_are_reported(config_file: Callable[..., Path]
                                                        ) -> None:
    """A genuine seal copied a second time into the index, or its file copied under another
    name of the same seq: a seal is written once to each, so a copy is named (verify used to
    pass both)."""
    st = _store(config_file)
    seal_dir: Path = st.blobs.seal_dir  # type: ignore[attr-defined]
    first = sorted(seal_dir.iterdir())[0]
    seq = json.loads(first.read_text())["seq"]
    copy = seal_dir / (first.name[:13] + "20300101T000000000000Z-copy.json")
    copy.write_bytes(first.read_bytes())
    rep = _verify_within(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("seal", f"seal files at #{seq}")]
    assert copy.name in rep.problems[0].detail and first.name in rep.problems[0].detail
    copy.unlink()
    with st.engine.begin() as c:
        row = dict(c.execute(select(seals).where(seals.c.seq == seq)).mappings().first() or {})
        del row["id"]
        c.execute(insert(seals).values(**row))
    rep = _verify_within(st)
    assert [(p.kind, p.subject) for p in rep.problems] == [("seal", f"index seals at #{seq}")]


def test_seal_file_not_named_for_its_seq_is_named(config_file: Callable[..., Path]) -> None:
    """A seal file renamed to a name with no seq (it sorts after every other file) is named
    as such; only its own index seal lacks a file."""
    st = _store(config_file, runs=3)
    seal_dir: Path = st.blobs.seal_dir  # type: ignore[attr-defined]
    f = sorted(seal_dir.iterdir())[0]
    seq = json.loads(f.read_text())["seq"]
    f.rename(seal_dir / "zz.json")
    rep = _verify_within(st)
    got = sorted((p.subject.split(" (")[0], p.detail) for p in rep.problems)
    assert got == [("index seal at #" + str(seq), "has no matching file in the seal store "
                    "(deleted, or never written)"),
                   ("seal file zz.json", f"seal file not named for its seq holds the seal of "
                                         f"#{seq} (renamed?)")]


def test_checkpoint_never_covers_records_appended_while_verify_ran(
        config_file: Callable[..., Path]) -> None:
    """A full verify reads the head first, then checks up to it, then seals its checkpoint.
    The checkpoint used to seal the head as it was then: records an insider appended while
    verify ran (a 1M-record verify leaves half a minute) lay under it unchecked, and every
    `--since-last` after started beyond them. Now no checkpoint is written when the head has
    moved, and --since-last still reports the forged record."""
    from storage.verify import _write_checkpoint

    st = _store(config_file)
    rep = verify(st, write_checkpoint=False)
    assert rep.ok
    forged = forge_append(st)  # appended after verify read the head
    _write_checkpoint(st, st.key_chain(st.public_key()), rep, rep.head_seq)
    assert rep.checkpoint_error is not None and "while verifying" in rep.checkpoint_error
    for kw in ({}, {"since_last": True}):
        got = _verify_within(st, **kw)
        assert [(p.kind, p.subject) for p in got.problems] == \
            [("unsealed", f"#{forged['seq']}")], kw


def test_since_last_distrusts_a_checkpoint_beyond_what_it_verified(
        config_file: Callable[..., Path]) -> None:
    """A checkpoint written by the earlier code, sealing a head beyond the `verified_upto`
    its note states, is not used as the base of --since-last (it would skip records no
    verify checked)."""
    st = _store(config_file)
    rep = verify(st, write_checkpoint=False)
    forged = forge_append(st)
    st.seal(None, purpose="checkpoint", note=json.dumps({"verified_upto": rep.head_seq,
                                                         "records": rep.records, "blobs": 0}))
    got = _verify_within(st, since_last=True)
    assert got.since_seq == 0
    assert [(p.kind, p.subject) for p in got.problems] == [("unsealed", f"#{forged['seq']}")]


def test_since_last_notices_seals_removed_or_added_before_its_checkpoint(
        config_file: Callable[..., Path]) -> None:
    """The checkpoint counts the index seals before it (none can be written there later):
    deleting a run's seal from the index and the seal store (its records become unsealed)
    or replaying one is seen by --since-last, which used to say intact."""
    cfg = load(config_file())
    st = _store(config_file, runs=3)
    assert verify(st, write_checkpoint=True).checkpoint is not None
    Collector(cfg, st).run(Selection(snapshots=("items",)))
    seal_dir: Path = st.blobs.seal_dir  # type: ignore[attr-defined]
    victim = sorted(seal_dir.iterdir())[1]
    seq = json.loads(victim.read_text())["seq"]
    victim.unlink()
    with st.engine.begin() as c:
        c.execute(delete(seals).where(seals.c.seq == seq))
    rep = _verify_within(st, since_last=True)
    assert [p.kind for p in rep.problems] == ["seal"], rep.problems
    assert "1 index seal(s) before the checkpoint" in rep.problems[0].detail
    assert "missing" in rep.problems[0].detail


def test_postgres_rows_below_one_and_checkpoint_race(config_file: Callable[..., Path],
                                                     pg_url: str) -> None:
    """The same on PostgreSQL (a BIGINT key takes 0 and negatives as well): a row below #1
    is named and blocks appends, and a checkpoint is never sealed beyond the head its verify
    checked."""
    from storage.verify import _write_checkpoint

    cfg = load(config_file(index_url=pg_url))
    st = EvidenceStore.open(cfg)
    try:
        for _ in range(2):
            Collector(cfg, st).run(Selection(snapshots=("items", "settings")))
        rep = verify(st, write_checkpoint=False)
        assert rep.ok
        forged = forge_append(st)
        _write_checkpoint(st, st.key_chain(st.public_key()), rep, rep.head_seq)
        assert rep.checkpoint is None and rep.checkpoint_error
        _forge_at(st, 0)
        got = _verify_within(st, since_last=True)
        assert sorted((p.kind, p.subject) for p in got.problems) == \
            [("chain", "#0..#0"), ("unsealed", f"#{forged['seq']}")]
        with pytest.raises(IntegrityError, match="before record #1"):
            st.append_rows([{k: v for k, v in _last(st).items()
                             if k not in ("seq", "prev_hash", "record_hash")} | {"id": "p" * 20}])
    finally:
        st.close()


def test_export_refuses_a_record_vouched_for_only_by_a_forged_seal_row(
        config_file: Callable[..., Path], tmp_path: Path) -> None:
    """A forged record, newest of its series (so it answers the query), with an index seal
    row claiming to vouch for it (any signature): export trusted the row's covers and signed
    a bundle carrying the forged record; now only seals the store's keys signed vouch, and
    export refuses, naming the record."""
    from fieldwork.bundle import export_bundle
    from storage.queries import parse_time

    st = _store(config_file)
    forged = forge_append(st)
    forge_seal_row(st, forged)
    with pytest.raises(Exception, match=f"#{forged['seq']} answer the query but no seal"):
        export_bundle(st, tmp_path / "b.zip", list(forged["controls"]), parse_time("now"),
                      None, {})
    assert not (tmp_path / "b.zip").exists()
