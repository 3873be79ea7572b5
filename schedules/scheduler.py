"""`evidence schedule`: APScheduler in the foreground, jobs kept in the index database.

Missed runs are coalesced into one, a job never overlaps itself, a run later than its
misfire grace is skipped (and `evidence status` reports the schedule as missed). One
scheduler holds the `scheduler` lease per index: APScheduler would run every job once per
scheduler sharing a job store, so a second scheduler waits as a standby. A job whose stored
next run was timed by a clock that was ahead is brought back to the schedule's next time (at
start and every minute), so fixing the clock never stops a schedule for the skew's length.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from collector.config import Config, ScheduleConfig
from schedules import jobs
from storage.canonical import iso
from storage.locks import LockTimeout, lease
from storage.store import EvidenceStore, utcnow

log = logging.getLogger("evidence.schedule")
JOBS_TABLE = "apscheduler_jobs"
SCHEDULER_LEASE = "scheduler"
RETIME_EVERY = 60.0  # seconds between checks for jobs timed by a clock that was ahead


def trigger_for(s: ScheduleConfig) -> CronTrigger:
    return CronTrigger.from_crontab(s.cron, timezone=s.timezone)


def build(config: Config, store: EvidenceStore) -> BackgroundScheduler:
    """A scheduler whose jobs are the config's schedules, reconciled with the job store."""
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(config.schedules)))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone="UTC")
    sched.start(paused=True)
    wanted = {s.name: s for s in config.schedules}
    assert config.path is not None
    for job in sched.get_jobs():
        if job.id not in wanted:
            log.warning("removing job %s: no longer in the config", job.id)
            job.remove()
    for name, s in wanted.items():
        trig = trigger_for(s)
        args = [str(config.path), name]
        job = sched.get_job(name)
        if job is not None and str(job.trigger) == str(trig) and list(job.args) == args \
                and job.misfire_grace_time == s.misfire_grace_seconds:
            continue  # keep its stored next run time, so a run missed while down still fires
        sched.add_job(jobs.run_schedule, trig, args=args, id=name, name=name,
                      replace_existing=True, misfire_grace_time=s.misfire_grace_seconds,
                      coalesce=True, max_instances=1)
    return sched


def retime(config: Config, sched: BackgroundScheduler, now: datetime | None = None
           ) -> list[str]:
    """Bring back jobs timed by a clock that was ahead. APScheduler stores a job's next run
    as computed from its last run's wall-clock time: a run made while the clock was two days
    ahead leaves it two days ahead, and once the clock is fixed the schedule would not run
    for two days. A stored next run later than the schedule's next time from now can only
    come from such a clock: it becomes that time. One note per job re-timed."""
    now = now or utcnow()
    notes = []
    for s in config.schedules:
        job = sched.get_job(s.name)
        stored = getattr(job, "next_run_time", None)
        if job is None or stored is None:  # unknown or paused
            continue
        natural = trigger_for(s).get_next_fire_time(None, now)
        if natural is not None and stored > natural:
            job.modify(next_run_time=natural)
            notes.append(f"schedule {s.name}: its stored next run {iso(stored)} is later than "
                         f"the schedule's next time {iso(natural)} (timed while this machine's "
                         f"clock was ahead): re-timed to {iso(natural)}")
    return notes


def serve(config: Config, store: EvidenceStore, stop: threading.Event,
          echo: Callable[[str], None] = print, standby_poll: float = 5.0,
          retime_every: float = RETIME_EVERY) -> int:
    """Run the scheduler until `stop` is set; returns the process exit code."""
    jobs.reset()
    holder_wait = 0.0
    while not stop.is_set():
        try:
            with lease(store.engine, SCHEDULER_LEASE, wait=holder_wait, clock=utcnow,
                       ttl=timedelta(seconds=60)):
                return _serve_leader(config, store, stop, echo, retime_every)
        except LockTimeout as e:
            echo(f"standby: {e}; retrying every {standby_poll:g}s")
            stop.wait(standby_poll)
    return 0


def _serve_leader(config: Config, store: EvidenceStore, stop: threading.Event,
                  echo: Callable[[str], None], retime_every: float) -> int:
    sched = build(config, store)
    for note in retime(config, sched):
        echo(f"WARNING {note}")
    for job in sched.get_jobs():
        nrt = getattr(job, "next_run_time", None)
        echo(f"schedule {job.id}: {job.trigger}; next run {nrt.isoformat() if nrt else '-'}")
    if not config.schedules:
        echo("no [[schedule]] entries in the config: nothing will run")
    sched.resume()
    echo("scheduler running; SIGTERM stops it (a running collection finishes its snapshots)")
    while not stop.wait(retime_every):  # a clock stepped back while we run
        for note in retime(config, sched):
            echo(f"WARNING {note}")
    t0 = time.monotonic()
    jobs.stop_all()
    sched.shutdown(wait=True)
    echo(f"scheduler stopped cleanly in {time.monotonic() - t0:.1f}s")
    return 0


def next_runs(store: EvidenceStore) -> dict[str, Any]:
    """Next run time of each job in the job store (empty if no scheduler ever ran)."""
    from datetime import UTC, datetime

    from storage.queries import job_next_run_times

    return {k: None if v is None else datetime.fromtimestamp(v, UTC)
            for k, v in job_next_run_times(store.engine, JOBS_TABLE).items()}
