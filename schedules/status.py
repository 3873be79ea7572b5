"""`evidence status`: per schedule the last run, its outcome, the next run, whether it missed
its window; per control whether its evidence is fresh; per population series a watermark
ahead of now or a hole left by windows collected while a clock was ahead (the next run
collects it again). Serves as the container health check."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from collector.config import Config
from schedules.scheduler import SCHEDULER_LEASE, next_runs, trigger_for
from storage.canonical import iso
from storage.queries import last_run, lease_row, newest_complete
from storage.store import EvidenceStore
from storage.windows import resume_point, span_text


def status(config: Config, store: EvidenceStore, now: datetime) -> dict[str, Any]:
    """The status report; `healthy` is False when a schedule missed its window."""
    lease = lease_row(store.engine, SCHEDULER_LEASE)
    scheduler = {"running": bool(lease and lease.expires_at > now),
                 "holder": lease.holder if lease else None,
                 "since": iso(lease.acquired_at) if lease else None}
    nexts = next_runs(store)
    out_s: list[dict[str, Any]] = []
    for s in config.schedules:
        # the run recorded last, whatever the clocks said when it was stamped
        last = last_run(store.engine, f"schedule:{s.name}")
        trig = trigger_for(s)
        warnings: list[str] = []
        believed = last
        acquired = lease.acquired_at if lease is not None and lease.acquired_at <= now \
            else None
        if last is not None and last.started_at > now:
            # stamped by a clock that was ahead (or this one is behind): it ran, at a time
            # we do not know; the window is judged from the newest run with a believable
            # start, so a schedule that stopped running is still reported as missed
            believed = last_run(store.engine, f"schedule:{s.name}", started_by=now)
            judged = (f"run {believed.id} ({iso(believed.started_at)})" if believed is not None
                      else f"when the scheduler started ({iso(acquired)})" if acquired
                      else "nothing (no run with a believable start, no scheduler)")
            warnings.append(f"its last run {last.id} says it started at "
                            f"{iso(last.started_at)}, {span_text(last.started_at - now)} ahead "
                            "of now: the clock was ahead when it ran (or is behind now); its "
                            f"window is judged from {judged}")
        stored = nexts.get(s.name)
        natural = trig.get_next_fire_time(None, now)
        if stored is not None and natural is not None and stored > natural:
            warnings.append(f"the scheduler's stored next run {iso(stored)} is later than the "
                            f"schedule's next time {iso(natural)}: it was timed while the "
                            "clock was ahead (a running `evidence schedule` re-times it)")
        reference = believed.started_at if believed is not None else acquired
        missed = False
        due = None
        if reference is not None:
            due = trig.get_next_fire_time(None, reference + timedelta(seconds=1))
            grace = timedelta(seconds=s.misfire_grace_seconds)
            missed = due is not None and now > due + grace and not (
                last is not None and last.status == "running")
        out_s.append({
            "name": s.name, "cron": s.cron, "timezone": s.timezone,
            "last_run": None if last is None else {
                "id": last.id, "started_at": iso(last.started_at),
                "finished_at": iso(last.finished_at), "status": last.status},
            "next_run": iso(nexts.get(s.name)) if nexts.get(s.name) else
            (iso(due) if due else None),
            "missed": missed,
            "warnings": warnings,
        })
    controls: dict[str, dict[str, Any]] = {}
    windows: list[dict[str, str]] = []
    vouched = store.vouched()
    for inst in config.connectors:
        for spec in inst.specs():
            if spec.kind == "population":  # a watermark ahead of now, a hole left by it
                _start, notes = resume_point(store, inst.type, inst.instance,
                                             spec.name, now, spec.lookback)
                windows += [{"series": f"{inst.key}:{spec.name}", "warning": n} for n in notes]
            # sealed evidence only: a forged complete record makes nothing fresh
            newest = newest_complete(store.engine, inst.type, inst.instance, spec.name,
                                     vouched)
            fresh = newest is not None and now - newest <= spec.max_age
            for cid in spec.controls:
                c = controls.setdefault(cid, {"control": cid, "fresh": True,
                                              "stale": [], "never": []})
                key = f"{inst.key}:{spec.name}"
                if newest is None:
                    c["never"].append(key)
                    c["fresh"] = False
                elif not fresh:
                    c["stale"].append(key)
                    c["fresh"] = False
    from collector.controls import criterion_sort_key
    from fieldwork.exceptions import stale as stale_exceptions
    from storage.queries import last_deliveries

    healthy = not any(s["missed"] for s in out_s)
    sent = last_deliveries(store.engine)
    return {"now": iso(now), "healthy": healthy, "scheduler": scheduler, "schedules": out_s,
            "controls": [controls[k] for k in sorted(controls, key=criterion_sort_key)],
            "stale_exceptions": stale_exceptions(store, now), "window_warnings": windows,
            "alert_sinks": [{"name": a.name, "type": a.type, "last_delivery": sent.get(a.name)}
                            for a in config.alerts]}
