"""`evidence schedule`: APScheduler in the foreground, jobs kept in the index database.

Missed runs are coalesced into one, a job never overlaps itself, a run later than its
misfire grace is skipped (and `evidence status` reports the schedule as missed). One
scheduler holds the `scheduler` lease per index: APScheduler would run every job once per
scheduler sharing a job store, so a second scheduler waits as a standby.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from collector.config import Config, ScheduleConfig
from schedules import jobs
from storage.locks import LockTimeout, lease
from storage.store import EvidenceStore, utcnow

log = logging.getLogger("evidence.schedule")
JOBS_TABLE = "apscheduler_jobs"
SCHEDULER_LEASE = "scheduler"


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


def serve(config: Config, store: EvidenceStore, stop: threading.Event,
          echo: Callable[[str], None] = print, standby_poll: float = 5.0) -> int:
    """Run the scheduler until `stop` is set; returns the process exit code."""
    jobs.reset()
    holder_wait = 0.0
    while not stop.is_set():
        try:
            with lease(store.engine, SCHEDULER_LEASE, wait=holder_wait, clock=utcnow,
                       ttl=timedelta(seconds=60)):
                return _serve_leader(config, store, stop, echo)
        except LockTimeout as e:
            echo(f"standby: {e}; retrying every {standby_poll:g}s")
            stop.wait(standby_poll)
    return 0


def _serve_leader(config: Config, store: EvidenceStore, stop: threading.Event,
                  echo: Callable[[str], None]) -> int:
    sched = build(config, store)
    for job in sched.get_jobs():
        nrt = getattr(job, "next_run_time", None)
        echo(f"schedule {job.id}: {job.trigger}; next run {nrt.isoformat() if nrt else '-'}")
    if not config.schedules:
        echo("no [[schedule]] entries in the config: nothing will run")
    sched.resume()
    echo("scheduler running; SIGTERM stops it (a running collection finishes its snapshots)")
    stop.wait()
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
