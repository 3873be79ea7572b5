"""Issue 8, the pending gap: unsealed records count as pending only while their run provably
lives (it holds its run lock), never because a row in `runs` says `running`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from storage import runlock
from storage.index import runs
from storage.store import EvidenceStore, NewRecord
from storage.verify import RUN_MAX, verify
from tests.conftest import subprocess_env
from tests.test_tamper import forge_append


def _new(run_id: str, t: datetime, i: int = 0) -> NewRecord:
    return NewRecord(run_id, "synthetic", "one", "items", "posture", ["CC6.1"], 86400, t, t,
                     "complete", {"calls": [], "i": i}, content={"i": i}, has_content=True,
                     effective_at=t)


def _store(config_file: Callable[..., Path], **kw: str) -> EvidenceStore:
    cfg = load(config_file(**kw))
    st = EvidenceStore.open(cfg)
    Collector(cfg, st).run(Selection(snapshots=("items",)))
    return st


def test_forged_running_row_does_not_hide_a_forged_record(config_file: Callable[..., Path]
                                                          ) -> None:
    """An insider appends a record and a `runs` row saying `running` (started now, this host,
    a live pid: what the old check trusted): no process holds that run's lock, so verify
    reports the record unsealed at once, and `runs` shows the run as interrupted."""
    st = _store(config_file)
    now = datetime.now(UTC)
    with st.engine.begin() as c:
        c.execute(insert(runs).values(id="forgedrun00000000000", trigger="manual",
                                      host=socket.gethostname(), pid=os.getpid(),
                                      started_at=now, status="running", summary={}))
    forged = forge_append(st, run_id="forgedrun00000000000", collected_started_at=now,
                          collected_finished_at=now)
    rep = verify(st, write_checkpoint=False)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{forged['seq']}")]
    assert rep.pending == []
    r = CliRunner().invoke(cli, ["-c", str(config_file()), "runs", "--json"])
    assert '"status": "interrupted"' in r.stdout


def test_live_run_is_pending_until_its_lock_is_gone(config_file: Callable[..., Path]) -> None:
    """A run holding its lock: its unsealed records are pending (verify passes); when the
    lock goes (the process died) they are reported, without waiting 12 hours."""
    st = _store(config_file)
    run_id = st.start_run("manual")
    assert runlock.held(st.engine, run_id)
    rows = st.append([_new(run_id, datetime.now(UTC), i) for i in range(3)])
    rep = verify(st, write_checkpoint=False)
    assert rep.ok and rep.pending and rep.pending[0].startswith(f"#{rows[0]['seq']}..")
    st._run_locks.pop(run_id).release()  # what the kernel does when the process dies
    assert not runlock.held(st.engine, run_id)
    rep = verify(st, write_checkpoint=False)
    assert [(p.kind, p.subject) for p in rep.problems] == [
        ("unsealed", f"#{rows[0]['seq']}..#{rows[-1]['seq']}")]


def test_a_held_lock_does_not_cover_old_records(config_file: Callable[..., Path]) -> None:
    """Even under a held lock, a record collected more than RUN_MAX ago is reported (its
    collection time is hashed: it cannot be freshened)."""
    st = _store(config_file)
    run_id = st.start_run("manual")
    old = datetime.now(UTC) - RUN_MAX - timedelta(minutes=5)
    row = st.append([_new(run_id, old)])[0]
    rep = verify(st, write_checkpoint=False)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{row['seq']}")]
    st.finish_run(run_id, "ok", {})


def test_a_killed_process_releases_its_run_lock(config_file: Callable[..., Path]) -> None:
    """A run in another process holds its lock while alive; SIGKILL drops it (the kernel)."""
    cfg_path = config_file()
    st = _store(config_file)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = {[str(Path(__file__).parent.parent)]!r}
        from collector.config import load
        from storage.store import EvidenceStore
        st = EvidenceStore.open(load({str(cfg_path)!r}))
        print(st.start_run("manual"), flush=True)
        time.sleep(600)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                         env=subprocess_env())
    try:
        assert p.stdout is not None
        run_id = p.stdout.readline().strip()
        assert run_id and runlock.held(st.engine, run_id)
    finally:
        p.kill()
        p.wait()
    assert not runlock.held(st.engine, run_id)


@pytest.mark.usefixtures("pg_url")
def test_postgres_run_lock_is_an_advisory_lock(config_file: Callable[..., Path],
                                               pg_url: str) -> None:
    """On PostgreSQL the run lock is a session advisory lock that any verifier (any host)
    can test; pending while held, reported once released."""
    st = _store(config_file, index_url=pg_url)
    run_id = st.start_run("manual")
    other = EvidenceStore.open(load(config_file(index_url=pg_url)))
    assert runlock.held(other.engine, run_id)
    rows = st.append([_new(run_id, datetime.now(UTC))])
    assert verify(other, write_checkpoint=False).pending
    st._run_locks.pop(run_id).release()
    assert not runlock.held(other.engine, run_id)
    rep = verify(other, write_checkpoint=False)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{rows[0]['seq']}")]
    other.close()
    st.close()
