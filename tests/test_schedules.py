"""Schedules: persistence, coalesced missed runs, clean SIGTERM, manual runs, status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from click.testing import CliRunner
from sqlalchemy import insert, select, text

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from schedules.scheduler import JOBS_TABLE, build
from storage.index import runs
from storage.locks import lease
from storage.store import EvidenceStore, utcnow
from storage.verify import verify
from tests.conftest import subprocess_env

EVIDENCE = [sys.executable, "-c", "from collector.cli import main; main()"]
DAILY = '[[schedule]]\nname = "daily"\ncron = "0 0 * * *"\nmisfire_grace_seconds = 604800\n'
YEARLY = '[[schedule]]\nname = "yearly"\ncron = "0 0 1 1 *"\nmisfire_grace_seconds = 86400\n'


def _runs(st: EvidenceStore, trigger: str) -> list[dict[str, object]]:
    with st.engine.connect() as c:
        return [dict(r) for r in c.execute(select(runs).where(runs.c.trigger == trigger)
                                           .order_by(runs.c.started_at)).mappings()]


def _set_next_run(st: EvidenceStore, sched: Any, job_id: str, when: datetime) -> None:
    """Rewrite a stored job's next run time, as a scheduler that was down would leave it."""
    js = SQLAlchemyJobStore(engine=st.engine, tablename=JOBS_TABLE)
    js.start(sched, "default")
    job = js.lookup_job(job_id)
    assert job is not None
    job._modify(next_run_time=when)
    js.update_job(job)


def test_jobs_persist_and_reconcile(config_file: Callable[..., Path]) -> None:
    """Jobs live in the index; a restart keeps their next run; removed schedules go away."""
    cfg = load(config_file(YEARLY + '[[schedule]]\nname = "h"\ncron = "5 * * * *"\n'))
    st = EvidenceStore.open(cfg)
    s1 = build(cfg, st)
    assert sorted(j.id for j in s1.get_jobs()) == ["h", "yearly"]
    s1.shutdown(wait=True)
    past = time.time() - 3600
    _set_next_run(st, s1, "yearly", datetime.fromtimestamp(past, UTC))
    cfg2 = load(config_file(YEARLY))
    s2 = build(cfg2, st)
    jobs = {j.id: j for j in s2.get_jobs()}
    assert list(jobs) == ["yearly"]
    # unchanged schedule: the stored (missed) next run time survives the restart
    assert abs(jobs["yearly"].next_run_time.timestamp() - past) < 1
    s2.shutdown(wait=False)


def test_scheduler_runs_missed_job_once_and_stops_cleanly_on_sigterm(
        config_file: Callable[..., Path]) -> None:
    """Missed runs coalesce into one run at start-up; SIGTERM exits 0 within 10 seconds."""
    cfg_path = config_file(DAILY)
    cfg = load(cfg_path)
    st = EvidenceStore.open(cfg)
    s = build(cfg, st)
    s.shutdown(wait=True)
    # as if the scheduler had been down three days: three missed runs, all within the grace
    started_day = datetime.now(UTC).date()
    _set_next_run(st, s, "daily", datetime.now(UTC) - timedelta(days=3))
    with st.engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {JOBS_TABLE}")).scalar() == 1
    proc = subprocess.Popen([*EVIDENCE, "-c", str(cfg_path), "schedule"], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [r for r in _runs(st, "schedule:daily") if r["finished_at"]]
            if done:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        n = len(_runs(st, "schedule:daily"))
        if datetime.now(UTC).date() == started_day:  # no natural run at midnight meanwhile
            assert n == 1
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
    assert verify(st).ok


def test_sigterm_during_collection_records_interrupted_run(
        config_file: Callable[..., Path]) -> None:
    """SIGTERM mid-collection: started snapshots finish, the rest are skipped, run interrupted."""
    conns = "".join(f'[[connectors]]\ntype = "synthetic"\ninstance = "s{i}"\n'
                    f'delay_seconds = 0.7\n' for i in range(10))
    cfg_path = config_file(conns)
    proc = subprocess.Popen([*EVIDENCE, "-c", str(cfg_path), "collect", "--json"],
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    st = EvidenceStore.open(load(cfg_path))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(True for _ in st.iter_records()):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 3, err
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    assert summary["counts"].get("skipped", 0) > 0
    assert _runs(st, "manual")[0]["status"] == "interrupted"
    assert verify(st).ok


def test_manual_collect_waits_for_running_snapshot(config_file: Callable[..., Path]) -> None:
    """A manual run does not collect a snapshot another run holds; it says a run is in progress."""
    cfg_path = config_file("").read_text().replace("lock_wait_seconds = 30",
                                                   "lock_wait_seconds = 0.5")
    p = Path(config_file("")).with_name("e2.toml")
    p.write_text(cfg_path)
    cfg = load(p)
    st = EvidenceStore.open(cfg)
    held = threading.Event()
    release = threading.Event()

    def scheduler_run() -> None:
        with lease(st.engine, "snapshot:synthetic/one:items", holder="sched-host:1:1",
                   wait=5, clock=utcnow):
            held.set()
            release.wait(10)

    t = threading.Thread(target=scheduler_run)
    t.start()
    held.wait(5)
    try:
        s = Collector(cfg, st).run(Selection(snapshots=("items", "settings")))
    finally:
        release.set()
        t.join()
    by = {o.snapshot: o for o in s.outcomes}
    assert by["settings"].status == "complete"
    assert by["items"].status == "skipped"
    assert "a run is in progress" in (by["items"].error or "")
    assert "sched-host:1:1" in (by["items"].error or "")
    assert not s.ok
    # once released, the same snapshot runs
    assert Collector(cfg, st).run(Selection(snapshots=("items",))).ok


def _status(cfg: Path) -> tuple[int, dict[str, object]]:
    r = CliRunner().invoke(cli, ["-c", str(cfg), "status", "--json"])
    return r.exit_code, json.loads(r.stdout)


def test_status_reports_missed_window_and_freshness(config_file: Callable[..., Path]) -> None:
    """status exits 1 when a schedule missed its window and says which controls are stale."""
    cfg_path = config_file('[[schedule]]\nname = "hourly"\ncron = "0 * * * *"\n'
                           'misfire_grace_seconds = 60\n')
    cfg = load(cfg_path)
    st = EvidenceStore.open(cfg)
    code, rep = _status(cfg_path)
    assert code == 0  # never ran and no scheduler: nothing is overdue yet
    controls = {c["control"]: c for c in rep["controls"]}  # type: ignore[attr-defined]
    assert controls["CC6.1"]["fresh"] is False and controls["CC6.1"]["never"]
    Collector(cfg, st).run(Selection())
    with st.engine.begin() as c:
        c.execute(insert(runs).values(
            id="old", trigger="schedule:hourly", host="h", pid=1,
            started_at=datetime.now(UTC) - timedelta(hours=3),
            finished_at=datetime.now(UTC) - timedelta(hours=3), status="ok", summary={}))
    code, rep = _status(cfg_path)
    assert code == 1
    sched = rep["schedules"][0]  # type: ignore[index]
    assert sched["missed"] is True and sched["last_run"]["id"] == "old"
    controls = {c["control"]: c for c in rep["controls"]}  # type: ignore[attr-defined]
    assert controls["CC6.1"]["fresh"] is True
    with st.engine.begin() as c:
        c.execute(insert(runs).values(
            id="new", trigger="schedule:hourly", host="h", pid=1,
            started_at=datetime.now(UTC), finished_at=datetime.now(UTC), status="ok",
            summary={}))
    code, _ = _status(cfg_path)
    assert code == 0
