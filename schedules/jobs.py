"""What a scheduled job runs. Importable by reference, as APScheduler's job store needs."""

from __future__ import annotations

import logging
import threading

from collector.config import load
from collector.runner import Collector, Selection

log = logging.getLogger("evidence.schedule")

_active: set[Collector] = set()
_lock = threading.Lock()
_stopping = threading.Event()


def run_schedule(config_path: str, name: str) -> str:
    """Run the collection that schedule `name` of the config at `config_path` selects."""
    if _stopping.is_set():
        return "skipped: stopping"
    from storage.store import EvidenceStore

    config = load(config_path)
    sched = next((s for s in config.schedules if s.name == name), None)
    if sched is None:
        log.error("schedule %s is no longer in %s; skipping", name, config_path)
        return "skipped: unknown schedule"
    store = EvidenceStore.open(config, create=False)
    collector = Collector(config, store)
    with _lock:
        _active.add(collector)
    try:
        if _stopping.is_set():
            collector.stop()
        summary = collector.run(Selection(sched.connectors, sched.snapshots, sched.controls),
                                trigger=f"schedule:{name}")
        counts = summary.to_json()["counts"]
        log.warning("schedule %s: run %s %s %s", name, summary.run_id, summary.status, counts)
        return summary.status
    finally:
        with _lock:
            _active.discard(collector)
        store.close()


def stop_all() -> None:
    """Ask every running collection to start nothing new (used on SIGTERM)."""
    _stopping.set()
    with _lock:
        for c in list(_active):
            c.stop()


def reset() -> None:
    """Forget a previous stop (a new scheduler in the same process)."""
    _stopping.clear()
