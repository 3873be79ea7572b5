"""Runs are ordered by the order they were recorded in (`runs.seq`), never by the collector
host's wall clock: a run made while the clock was two days ahead does not stay "newest" once
the clock is fixed, in `evidence runs`, `evidence status`, the portal or drift alerts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

import storage.index
from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.portal import create_app
from storage import access
from storage.index import make_engine, migrate, runs, writer
from storage.queries import last_run, last_run_before, newest_runs
from storage.store import EvidenceStore
from tests.clock import Clock
from tests.portal_server import serving

HOURLY = ('[[schedule]]\nname = "hourly"\ncron = "0 * * * *"\n'
          'misfire_grace_seconds = 600\n')


def _ahead_then_fixed(config_file: Callable[..., Path], body: str = "",
                      index_url: str | None = None
                      ) -> tuple[Path, EvidenceStore, str, str]:
    """A scheduled run with this machine's clock two days ahead, then (clock fixed) one more:
    returns the config, the store and the two run ids."""
    path = config_file(body, index_url=index_url)
    cfg = load(path)
    clock = Clock(datetime.now(UTC) + timedelta(days=2))
    st = EvidenceStore.open(cfg, clock=clock)
    col = Collector(cfg, st, clock=clock, sleep=lambda s: None)
    ahead = col.run(Selection(snapshots=("items",)), trigger="schedule:hourly").run_id
    clock.t = datetime.now(UTC)  # the clock is fixed
    fixed = col.run(Selection(snapshots=("items",)), trigger="schedule:hourly").run_id
    return path, st, ahead, fixed


def test_a_run_made_with_the_clock_ahead_is_not_newest_once_it_is_fixed(
        config_file: Callable[..., Path]) -> None:
    """After a run stamped two days ahead, the run made once the clock is fixed is the newest
    for last_run, newest_runs, `evidence runs` (text and JSON) and the portal's /api/runs;
    the ahead run keeps the start it was stamped with."""
    path, st, ahead, fixed = _ahead_then_fixed(config_file, HOURLY)
    starts = {r["id"]: r["started_at"] for r in newest_runs(st.engine, 10)}
    assert starts[ahead] > starts[fixed]  # the clocks say the ahead run is the later one
    assert last_run(st.engine, "schedule:hourly").id == fixed
    assert [r["id"] for r in newest_runs(st.engine, 10)] == [fixed, ahead]

    r = CliRunner().invoke(cli, ["-c", str(path), "runs", "--json"])
    assert r.exit_code == 0, r.output
    assert [d["id"] for d in json.loads(r.stdout)] == [fixed, ahead]
    r = CliRunner().invoke(cli, ["-c", str(path), "runs", "--limit", "1"])
    assert r.exit_code == 0 and r.output.startswith(fixed) and ahead not in r.output

    tok = access.create_token(st.engine, "Ann Auditor", "auditor", datetime.now(UTC))[0]
    with serving(create_app(load(path), st)) as base:
        got = httpx.get(f"{base}/api/runs", headers={"Authorization": f"Bearer {tok}"})
    assert got.status_code == 200, got.text
    assert [d["id"] for d in got.json()] == [fixed, ahead]

    r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    sched = json.loads(r.stdout)["schedules"][0]
    assert sched["last_run"]["id"] == fixed
    assert sched["warnings"] == [] and sched["missed"] is False
    assert r.exit_code == 0, r.output
    st.close()


def test_status_reports_a_last_run_stamped_ahead_and_still_sees_a_missed_window(
        config_file: Callable[..., Path]) -> None:
    """When the run recorded last says it started in the future, `status` names it as
    stamped by a clock that was ahead, and judges the window from the newest run with a
    believable start: a schedule that stopped running after it is reported as missed, not
    healthy until the clock catches up two days later."""
    path = config_file(HOURLY)
    cfg = load(path)
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(hours=3))
    st = EvidenceStore.open(cfg, clock=clock)
    col = Collector(cfg, st, clock=clock, sleep=lambda s: None)
    before = col.run(Selection(snapshots=("items",)), trigger="schedule:hourly").run_id
    clock.t = now + timedelta(days=2)  # the next run, with the clock two days ahead
    ahead = col.run(Selection(snapshots=("items",)), trigger="schedule:hourly").run_id
    # the clock is fixed, and no scheduled run has happened since

    r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    sched = json.loads(r.stdout)["schedules"][0]
    assert sched["last_run"]["id"] == ahead  # it ran: it is the last run recorded
    [warning] = sched["warnings"]
    assert ahead in warning and "ahead of now" in warning
    assert f"judged from run {before}" in warning
    assert sched["missed"] is True  # three hours since the last believable start, hourly
    assert r.exit_code == 1
    r = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert f"WARNING its last run {ahead} says it started at" in r.output
    assert "1d 23h" in r.output  # how far ahead, rounded down to the minute
    assert "MISSED its window" in r.output

    # the schedule runs again with the right clock: healthy, no warning
    clock.t = datetime.now(UTC)
    col.run(Selection(snapshots=("items",)), trigger="schedule:hourly")
    r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    sched = json.loads(r.stdout)["schedules"][0]
    assert sched["warnings"] == [] and sched["missed"] is False, sched
    assert r.exit_code == 0
    st.close()


def test_status_with_only_a_run_stamped_ahead_and_no_scheduler(
        config_file: Callable[..., Path]) -> None:
    """With no believable run and no scheduler lease there is nothing to judge the window
    from: the run is still reported as stamped ahead (not silently taken as current)."""
    path = config_file(HOURLY)
    cfg = load(path)
    clock = Clock(datetime.now(UTC) + timedelta(days=2))
    st = EvidenceStore.open(cfg, clock=clock)
    ahead = Collector(cfg, st, clock=clock).run(Selection(snapshots=("items",)),
                                                trigger="schedule:hourly").run_id
    r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    sched = json.loads(r.stdout)["schedules"][0]
    assert sched["last_run"]["id"] == ahead
    [warning] = sched["warnings"]
    assert "ahead of now" in warning and "judged from nothing (no run with a believable " \
        "start, no scheduler)" in warning
    st.close()


def test_drift_alerts_do_not_take_a_finish_stamped_ahead_as_the_previous_run(
        config_file: Callable[..., Path]) -> None:
    """The 'since the previous run' of drift alerts comes from runs recorded before this one
    whose finish is not after this run's: a run stamped two days ahead does not push it into
    the future (which would hide everything that went stale meanwhile)."""
    path = config_file()
    cfg = load(path)
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(hours=5))
    st = EvidenceStore.open(cfg, clock=clock)
    col = Collector(cfg, st, clock=clock, sleep=lambda s: None)
    first = col.run(Selection(snapshots=("items",))).run_id
    clock.t = now + timedelta(days=2)
    col.run(Selection(snapshots=("items",)))
    clock.t = now
    third = col.run(Selection(snapshots=("items",))).run_id
    with st.engine.connect() as c:
        first_end = c.execute(select(runs.c.finished_at).where(runs.c.id == first)).scalar()
    assert last_run_before(st.engine, third) == first_end
    assert last_run_before(st.engine, first) is None
    st.close()


def _upgrade_to(eng: Any, rev: str) -> None:
    acfg = AlembicConfig()
    acfg.set_main_option("script_location",
                         str(Path(storage.index.__file__).parent / "migrations"))
    with writer(eng).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        acfg.attributes["connection"] = conn
        command.upgrade(acfg, rev)


def _old_runs(eng: Any) -> list[str]:
    """Runs as a store at revision 0005 held them (no seq), in the order they were
    inserted: one stamped two days ahead, two with the same start, then a normal one.
    Returns the ids in started_at, id order."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [("r-ahead", now + timedelta(days=2)), ("r-b", now - timedelta(hours=2)),
            ("r-a", now - timedelta(hours=2)), ("r-early", now - timedelta(hours=5)),
            ("r-now", now)]
    with writer(eng).begin() as c:
        for rid, t in rows:
            c.execute(text("INSERT INTO runs (id, trigger, host, pid, started_at, finished_at, "
                           "status, summary) VALUES (:i, 'manual', 'h', 1, :t, :t, 'ok', "
                           "'{}')"),
                      {"i": rid, "t": t.replace(tzinfo=None) if eng.dialect.name == "sqlite"
                       else t})
    return ["r-early", "r-a", "r-b", "r-now", "r-ahead"]


def _check_upgrade(url: str) -> None:
    eng = make_engine(url)
    _upgrade_to(eng, "0005")
    order = _old_runs(eng)
    migrate(eng)  # to head, as a writing command does
    with eng.connect() as c:
        got = [(str(r.id), int(r.seq)) for r in c.execute(
            select(runs.c.id, runs.c.seq).order_by(runs.c.seq))]
    # existing runs keep the only order they had: started_at, ties broken by id
    assert got == [(rid, n) for n, rid in enumerate(order, 1)]
    # a run recorded after the upgrade is newer than all of them, the ahead one included
    with writer(eng).begin() as c:
        c.execute(insert(runs).values(id="r-new", trigger="manual", host="h", pid=1,
                                      started_at=datetime.now(UTC), status="ok", summary={}))
    assert [r["id"] for r in newest_runs(eng, 2)] == ["r-new", "r-ahead"]
    assert last_run(eng, "manual").id == "r-new"
    raw = text("INSERT INTO runs (id, trigger, host, pid, started_at, status, summary) "
               "VALUES ('r-raw', 'manual', 'h', 1, :t, 'ok', '{}')")
    if eng.dialect.name == "postgresql":  # a raw INSERT naming no seq gets one as well
        with writer(eng).begin() as c:
            c.execute(raw, {"t": datetime(2000, 1, 1, tzinfo=UTC)})
        assert last_run(eng, "manual").id == "r-raw"
    else:  # SQLite can compute it only in INSERTs made through storage.index: else refused
        with pytest.raises(IntegrityError, match=r"NOT NULL constraint failed: runs\.seq"), \
                writer(eng).begin() as c:
            c.execute(raw, {"t": datetime(2000, 1, 1)})
    eng.dispose()


def test_upgrade_from_0005_numbers_existing_runs_sqlite(tmp_path: Path) -> None:
    """Migration 0006 on an SQLite store with runs keeps their order and orders new ones
    after them."""
    _check_upgrade(f"sqlite:///{tmp_path}/u.db")


def _concurrent_runs(st: EvidenceStore, n: int) -> list[str]:
    """`n` threads recording a run each, all at once."""
    barrier = threading.Barrier(n)
    ids: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            rid = st.start_run("manual")
            ids.append(rid)
            st.finish_run(rid, "ok", {})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return ids


def test_concurrent_runs_get_distinct_increasing_numbers_sqlite(
        config_file: Callable[..., Path]) -> None:
    st = EvidenceStore.open(load(config_file()))
    ids = _concurrent_runs(st, 8)
    with st.engine.connect() as c:
        seqs = [int(s) for s in c.execute(select(runs.c.seq).order_by(runs.c.seq)).scalars()]
    assert len(ids) == 8 and seqs == list(range(1, 9))
    st.close()


@pytest.mark.postgres
def test_upgrade_from_0005_numbers_existing_runs_postgres(pg_url: str) -> None:
    _check_upgrade(pg_url)


@pytest.mark.postgres
def test_concurrent_runs_get_distinct_numbers_postgres(config_file: Callable[..., Path],
                                                       pg_url: str) -> None:
    """Writers on several connections at once never draw the same number; each new run is
    newer than every one before it."""
    st = EvidenceStore.open(load(config_file(index_url=pg_url)))
    ids = _concurrent_runs(st, 12)
    with st.engine.connect() as c:
        seqs = [int(s) for s in c.execute(select(runs.c.seq)).scalars()]
    assert len(ids) == 12 and len(set(seqs)) == 12
    late = st.start_run("manual")
    assert newest_runs(st.engine, 1)[0]["id"] == late
    st.finish_run(late, "ok", {})
    st.close()


@pytest.mark.postgres
def test_a_run_made_with_the_clock_ahead_is_not_newest_postgres(
        config_file: Callable[..., Path], pg_url: str) -> None:
    path, st, ahead, fixed = _ahead_then_fixed(config_file, HOURLY, index_url=pg_url)
    assert last_run(st.engine, "schedule:hourly").id == fixed
    r = CliRunner().invoke(cli, ["-c", str(path), "runs", "--json"])
    assert [d["id"] for d in json.loads(r.stdout)] == [fixed, ahead]
    st.close()


YEARLY = ('[[schedule]]\nname = "yearly"\ncron = "0 0 1 1 *"\n'
          'misfire_grace_seconds = 86400\n')


def _stored_next(st: EvidenceStore) -> datetime | None:
    from schedules.scheduler import next_runs

    got: datetime | None = next_runs(st)["yearly"]
    return got


def test_the_scheduler_brings_back_a_job_timed_by_a_clock_that_was_ahead(
        config_file: Callable[..., Path]) -> None:
    """A job whose stored next run lies beyond the schedule's next time from now (what a run
    made while the clock was ahead leaves in APScheduler's job store) is re-timed to the
    schedule's next time, with a warning: at start, and while the scheduler runs."""
    from schedules.scheduler import build, serve, trigger_for
    from tests.test_schedules import _set_next_run

    path = config_file(YEARLY)
    cfg = load(path)
    st = EvidenceStore.open(cfg)
    s = build(cfg, st)
    s.shutdown(wait=True)
    natural = trigger_for(cfg.schedules[0]).get_next_fire_time(None, datetime.now(UTC))
    assert natural is not None
    ahead = natural + timedelta(days=2, hours=1)
    _set_next_run(st, s, "yearly", ahead)
    assert _stored_next(st) == ahead
    r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    [warning] = json.loads(r.stdout)["schedules"][0]["warnings"]
    assert "stored next run" in warning and "timed while the clock was ahead" in warning

    said: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=serve, args=(cfg, st, stop, said.append),
                         kwargs={"retime_every": 0.1})
    t.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not any("scheduler running" in x for x in said) and datetime.now(UTC) < deadline:
            stop.wait(0.05)
        notes = [x for x in said if "re-timed" in x]
        assert len(notes) == 1 and notes[0].startswith("WARNING schedule yearly:"), said
        assert _stored_next(st) == natural
        # the clock was ahead again while the scheduler ran: brought back within a check
        _set_next_run(st, s, "yearly", ahead)
        while len([x for x in said if "re-timed" in x]) < 2 and datetime.now(UTC) < deadline:
            stop.wait(0.05)
        assert len([x for x in said if "re-timed" in x]) == 2, said
        assert _stored_next(st) == natural
        r = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
        assert json.loads(r.stdout)["schedules"][0]["warnings"] == []
    finally:
        stop.set()
        t.join(timeout=20)
    assert not t.is_alive()
    st.close()


def test_the_scheduler_leaves_a_missed_or_due_job_alone(config_file: Callable[..., Path]
                                                        ) -> None:
    """A stored next run in the past (missed while down: it runs once, coalesced) or at the
    schedule's next time is not touched."""
    from schedules.scheduler import build, retime, trigger_for
    from tests.test_schedules import _set_next_run

    cfg = load(config_file(YEARLY))
    st = EvidenceStore.open(cfg)
    s = build(cfg, st)
    now = datetime.now(UTC)
    natural = trigger_for(cfg.schedules[0]).get_next_fire_time(None, now)
    assert natural is not None
    assert retime(cfg, s, now) == []  # as built: the schedule's next time
    s.shutdown(wait=True)
    past = now - timedelta(days=3)
    _set_next_run(st, s, "yearly", past)
    s = build(cfg, st)
    assert retime(cfg, s, now) == []
    assert s.get_job("yearly").next_run_time == past  # still due: it runs once at start
    s.remove_all_jobs()  # (not run by this test)
    s.shutdown(wait=True)
    st.close()
