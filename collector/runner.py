"""The run loop: select snapshots, run them with bounded concurrency, store, seal.

One collection, from trigger to sealed record:
  plan()   -> (instance, snapshot) tasks the filters select
  _task()  -> lease lock -> population window from the watermark -> connector snapshot,
              retried on TransientError -> assess() -> blobs, then a ledgered record
  run()    -> every task on a thread pool; one failure never stops the others; then the
              ledger head is sealed and the run record written.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collector.config import Config, ConnectorInstance
from collector.errors import (
    ConfigError,
    ConnectorError,
    EvidenceError,
    StorageError,
    TransientError,
)
from connectors.base import Connector, Finding, Provenance, SnapshotContext, SnapshotSpec
from connectors.errors import DataUnavailable
from connectors.kit.redact import guard_loggers, redact_text
from connectors.registry import get as get_connector
from storage.locks import LockTimeout, lease
from storage.queries import PERMANENT_GAP, permanent_gaps
from storage.store import EvidenceStore, NewRecord, utcnow
from storage.windows import CLOCK_TOLERANCE, resume_point, span_text

log = logging.getLogger("evidence.collector")


@dataclass(frozen=True)
class Selection:
    """Which snapshots to run: empty filters select everything configured."""

    connectors: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What happened to one (instance, snapshot) task."""

    connector: str
    instance: str
    snapshot: str
    status: str  # complete | partial | failed | skipped
    record_ids: list[str] = field(default_factory=list)
    record_count: int = 0
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None
    assessment: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # clocks disagreeing, windows redone

    def to_json(self) -> dict[str, Any]:
        out = {"connector": self.connector, "instance": self.instance,
               "snapshot": self.snapshot, "status": self.status,
               "record_ids": self.record_ids, "record_count": self.record_count,
               "attempts": self.attempts, "seconds": round(self.seconds, 3),
               "error": self.error, "assessment": self.assessment}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


@dataclass
class RunSummary:
    """A whole run's outcome."""

    run_id: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    outcomes: list[Outcome]
    seal_seq: int | None
    interrupted: bool = False
    seal_error: str | None = None

    @property
    def ok(self) -> bool:
        return (not self.interrupted and self.seal_error is None
                and all(o.status == "complete" for o in self.outcomes))

    @property
    def status(self) -> str:
        if self.seal_error is not None:
            return "unsealed"
        if self.interrupted:
            return "interrupted"
        return "ok" if self.ok else "failed-snapshots"

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return {"run_id": self.run_id, "trigger": self.trigger, "status": self.status,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
                "counts": counts, "seal_seq": self.seal_seq, "seal_error": self.seal_error,
                "warnings": self.warnings, "snapshots": [o.to_json() for o in self.outcomes]}

    @property
    def warnings(self) -> list[str]:
        """Every snapshot's warnings, each naming its snapshot."""
        return [f"{o.connector}/{o.instance}:{o.snapshot}: {w}"
                for o in self.outcomes for w in o.warnings]


Task = tuple[ConnectorInstance, type[Connector], SnapshotSpec]


class Collector:
    """Runs the configured connectors into the store."""

    def __init__(self, config: Config, store: EvidenceStore, *,
                 factories: Mapping[str, Any] | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[Outcome, int, int], None] | None = None,
                 holder: str | None = None) -> None:
        self.config = config
        self.store = store
        self.factories = dict(factories or {})
        self.clock = clock
        self.sleep = sleep
        self.progress = progress
        self.holder = holder
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._written: dict[str, list[int]] = {}  # run id -> seqs it appended

    def stop(self) -> None:
        """Start no new snapshot; running ones finish and are recorded."""
        self._stop.set()

    def plan(self, sel: Selection) -> list[Task]:
        """The (instance, snapshot) tasks `sel` selects; ConfigError for unknown names."""
        criteria: set[str] = set()
        for c in sel.controls:
            criteria.update(self.config.catalog.resolve(c))
        instances = self.config.connectors
        for name in sel.connectors:
            if not any(name in (i.type, i.key) for i in instances):
                get_connector(name.split("/")[0])  # unknown type -> clear error
                raise ConfigError(f"connector {name!r} is not configured "
                                  f"(configured: {', '.join(i.key for i in instances) or 'none'})")
        tasks: list[Task] = []
        for inst in instances:
            if sel.connectors and not any(n in (inst.type, inst.key) for n in sel.connectors):
                continue
            cls = get_connector(inst.type)
            for spec in inst.specs():
                if sel.snapshots and spec.name not in sel.snapshots:
                    continue
                if criteria and not criteria & set(spec.controls):
                    continue
                tasks.append((inst, cls, spec))
        for s in sel.snapshots:
            if not any(s in get_connector(i.type).snapshots() for i in instances):
                raise ConfigError(f"unknown snapshot {s!r} for the configured connectors")
        return tasks

    def run(self, sel: Selection = Selection(), trigger: str = "manual") -> RunSummary:
        """Collect everything `sel` selects, then seal the ledger head."""
        guard_loggers()  # every log line from here on is redacted, SDK debug lines included
        tasks = self.plan(sel)
        self._sync_exceptions()
        started = self.clock()
        run_id = self.store.start_run(trigger)
        self._written[run_id] = []
        outcomes: list[Outcome] = []
        done = 0
        workers = max(1, min(self.config.collector.concurrency, len(tasks) or 1))
        log.info("run %s (%s): %d snapshot(s) on %d worker(s)", run_id, trigger, len(tasks),
                 workers)
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="snap") as pool:
                futures = {pool.submit(self._task, run_id, t): t for t in tasks}
                for fut in as_completed(futures):
                    inst, _cls, spec = futures[fut]
                    try:
                        out = fut.result()
                    except Exception as e:  # a bug in our own code: record, never pass
                        log.exception("snapshot task crashed")
                        out = Outcome(inst.type, inst.instance, spec.name, "failed",
                                      error=f"internal error: {type(e).__name__}: {e}")
                    outcomes.append(out)
                    done += 1
                    # at -v the progress callback already shows this line; -vv logs it too
                    log.log(logging.DEBUG if self.progress else logging.INFO,
                            "[%d/%d] %s/%s %s: %s, %d records, %d attempt(s), %.1fs%s", done,
                            len(tasks), out.connector, out.instance, out.snapshot, out.status,
                            out.record_count, out.attempts, out.seconds,
                            f": {redact_text(out.error)}" if out.error else "")
                    if self.progress:
                        self.progress(out, done, len(tasks))
        finally:
            interrupted = self._stop.is_set()
            seal = None
            seal_error = None
            with self._lock:
                written = self._written.pop(run_id)
            try:
                # the run vouches for what it wrote itself, never for others' records
                seal = self.store.seal(run_id, written)
                log.info("run %s sealed at #%d by key %s, vouching for %d record(s)", run_id,
                         seal.seq, seal.key_id, len(written))
            except EvidenceError as e:
                seal_error = str(e)
                log.error("could not seal run %s: %s", run_id, e)
            outcomes.sort(key=lambda o: (o.connector, o.instance, o.snapshot))
            summary = RunSummary(run_id, trigger, started, self.clock(), outcomes,
                                 seal.seq if seal else None, interrupted, seal_error)
            self.store.finish_run(run_id, summary.status, summary.to_json())
        self._alert(run_id)
        return summary

    def _sync_exceptions(self) -> None:
        """Write changed `[[exceptions]]` declarations to the ledger (never stops a run)."""
        if not self.config.exceptions and not self._config_exceptions_recorded():
            return
        from fieldwork.exceptions import sync_config

        try:
            for line in sync_config(self.store, [d.model_dump() for d in self.config.exceptions],
                                    self.config.exception_policy.max_days):
                log.warning("exceptions: %s", line)
        except EvidenceError as e:
            log.error("exceptions from the config not recorded: %s", e)

    def _config_exceptions_recorded(self) -> bool:
        from fieldwork.exceptions import register

        return any(e.source == "config" and e.revoked_at is None for e in register(self.store))

    def _alert(self, run_id: str) -> None:
        """Send the run's drift to the alert sinks; sealed already, so never blocks it."""
        if not self.config.alerts:
            return
        from fieldwork.alerts import after_run
        from storage.queries import last_run_before

        try:
            after_run(self.config, self.store, run_id, last_run_before(self.store.engine, run_id))
        except Exception as e:  # alerts must never fail a collection
            log.error("drift alerts failed: %s: %s", type(e).__name__, str(e)[:200])

    # one task -----------------------------------------------------------------------------
    def _task(self, run_id: str, task: Task) -> Outcome:
        inst, cls, spec = task
        out = Outcome(inst.type, inst.instance, spec.name, "skipped")
        if self._stop.is_set():
            out.error = "not started: the collector was asked to stop"
            return out
        t0 = time.monotonic()
        name = f"snapshot:{inst.key}:{spec.name}"
        try:
            with lease(self.store.engine, name, holder=self.holder,
                       wait=self.config.collector.lock_wait_seconds, clock=self.clock,
                       sleep=self.sleep):
                log.debug("%s %s: lease %s taken, collecting", inst.key, spec.name, name)
                if spec.kind == "population":
                    self._population(run_id, inst, cls, spec, out)
                else:
                    self._one(run_id, inst, cls, spec, out, None, None)
        except LockTimeout as e:
            out.status, out.error = "skipped", str(e)
        out.seconds = time.monotonic() - t0
        return out

    def _population(self, run_id: str, inst: ConnectorInstance, cls: type[Connector],
                    spec: SnapshotSpec, out: Outcome) -> None:
        now = self.clock()
        # after the last trusted window; a window stored while a clock was ahead is
        # reported and collected again, never taken as done (storage/windows.py)
        # spans the source no longer keeps were recorded once as permanent gaps: never again
        # (only those a seal by the store's key vouches for: a forged one skips nothing)
        settled = [(r["period_start"], r["period_end"]) for r in self.store.vouched().split(
            permanent_gaps(self.store.engine, inst.type, inst.instance, spec.name))[0]]
        start, notes = resume_point(self.store, inst.type, inst.instance, spec.name,
                                    now, spec.lookback, settled)
        for note in notes:
            log.warning("%s %s: %s", inst.key, spec.name, note)
        out.warnings += notes
        out.status = "complete"  # nothing to do yet also counts; each window overrides it
        # a source that delivers events late (spec.settle) is read only up to that long
        # ago: what it may still add falls in the next window, never between two
        horizon = now - spec.settle
        while start < horizon and not self._stop.is_set():
            end = min(horizon, start + spec.max_window)
            status, stored_end = self._one(run_id, inst, cls, spec, out, start, end, notes)
            notes = []  # the first window's provenance says why it starts where it does
            if status == "gap" and stored_end is not None and stored_end > start:
                start = stored_end  # recorded once; the source keeps what comes after it
                continue
            if status != "complete":
                break  # the window stays a visible gap; the next run starts here again
            if stored_end is not None and stored_end < end:
                break  # the source's clock is behind ours: it has nothing later yet
            start = end

    def _one(self, run_id: str, inst: ConnectorInstance, cls: type[Connector],
             spec: SnapshotSpec, out: Outcome, period_start: datetime | None,
             period_end: datetime | None, resumed: list[str] | None = None
             ) -> tuple[str, datetime | None]:
        """Run one snapshot (one window of a population) and store its record; returns its
        status ("gap" for a span recorded as a permanent gap) and the window end it was
        stored with."""
        started = self.clock()
        factory = self.factories.get(inst.key, self.factories.get(inst.type))
        result = None
        error: str | None = None
        attempts = 0
        earlier: list[dict[str, Any]] = []
        gap = False
        cfg = self.config.collector
        # Calls retry themselves (the kit: 429, 5xx, resets, within the connector's budget).
        # A TransientError escaping a snapshot is a whole-snapshot condition (a report still
        # being generated, per-call retries spent): the snapshot is run again, up to
        # collector.max_attempts, each attempt with its own provenance so that a partial
        # first attempt never marks a complete second one partial.
        while True:
            attempts += 1
            ipe = Provenance()
            ctx = SnapshotContext(inst.instance, spec.name, started, ipe,
                                  logging.getLogger(f"evidence.{inst.type}"), period_start,
                                  period_end)
            connector = cls(inst.instance, inst.config, factory=factory)
            try:
                result = connector.run(spec.name, ctx)
                break
            except DataUnavailable as e:
                if period_start is not None and period_end is not None and \
                        period_start < e.available_from:
                    # Recorded once, as failed, for [start, available_from): the watermark
                    # moves past it and populations show the hole with this reason.
                    period_end = min(period_end, e.available_from)
                    error, gap = f"{PERMANENT_GAP}{e}", True
                else:
                    error = f"{type(e).__name__}: {e}"
                break
            except TransientError as e:
                if attempts >= cfg.max_attempts or self._stop.is_set():
                    error = f"{type(e).__name__}: {e} (after {attempts} attempts)"
                    break
                earlier.append({"attempt": attempts, "error": f"{type(e).__name__}: {e}",
                                **ipe.to_json()})
                delay = e.retry_after if e.retry_after is not None else \
                    cfg.backoff_seconds * (2 ** (attempts - 1)) * (0.5 + random.random())
                self.sleep(min(delay, 300.0))
            except ConnectorError as e:
                error = f"{type(e).__name__}: {e}"
                break
            except Exception as e:
                error = f"{type(e).__name__}: {_one_line(e)}"
                log.warning("snapshot %s %s failed: %s", inst.key, spec.name, error,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                break
            finally:
                connector.close()
        if error is not None:
            error = redact_text(error)
        out.attempts += attempts
        finished = self.clock()
        ipe_json = ipe.to_json()
        ipe_json["attempts"] = attempts
        ipe_json["retries"] += attempts - 1  # the snapshot's re-runs, beside its calls' retries
        if earlier:
            ipe_json["earlier_attempts"] = earlier
        findings: list[Finding] | None = None
        if period_start is not None and period_end is not None:
            period_end, window, late = _bound_window(period_start, period_end, started,
                                                     finished, ipe.source_clock, spec.settle)
            if resumed:
                window["resumed"] = resumed
            ipe_json["window"] = window
            out.warnings += [w for w in window.get("warnings", []) if w not in out.warnings]
            if late is not None and result is not None:
                error = late  # nothing in this window can be vouched for yet
                ipe_json["errors"] = [*ipe_json["errors"], late]
        if result is None:
            status = "failed"
            ipe_json["pagination_exhausted"] = False  # nothing read to the end
            findings = [Finding(f"{inst.key}:{spec.name}", "inconclusive",
                                f"collection failed: {error}")] if spec.assess else None
        else:
            status = "complete" if ipe.pagination_exhausted and not ipe.errors and \
                error is None else "partial"
            if spec.assess is not None:
                try:
                    findings = list(spec.assess(result.content))
                except Exception as e:
                    findings = [Finding(f"{inst.key}:{spec.name}", "inconclusive",
                                        f"assess failed: {type(e).__name__}: {_one_line(e)}")]
                if status == "partial":
                    findings.append(Finding(f"{inst.key}:{spec.name}", "inconclusive",
                                            "evidence is partial: " +
                                            "; ".join(ipe_json["errors"])[:500]))
            if status == "partial" and error is None:
                error = "; ".join(ipe.errors)[:2000] or "pagination not exhausted"
        new = NewRecord(
            run_id=run_id, connector=inst.type, instance=inst.instance, snapshot=spec.name,
            kind=spec.kind, controls=spec.controls,
            max_age_seconds=int(spec.max_age.total_seconds()),
            collected_started_at=started, collected_finished_at=finished, status=status,
            ipe=ipe_json, content=result.content if result else None,
            has_content=result is not None,
            record_count=result.record_count if result else 0,
            effective_at=(result.effective_at or finished) if result and spec.kind == "posture"
            else None,
            period_start=period_start, period_end=period_end,
            findings=[f.to_json() for f in findings] if findings is not None else None,
            error=error)
        try:
            stored = self.store.append([new])[0]
        except StorageError as e:  # blob store read-only or full, index refusing: recorded in
            # the run's summary as this snapshot's failure; the run goes on and is finished
            out.status, out.error = "failed", redact_text(f"evidence not stored: {e}")
            log.error("%s %s: %s", inst.key, spec.name, out.error)
            return "failed", period_end
        with self._lock:
            self._written[run_id].append(int(stored["seq"]))
        out.record_ids.append(stored["id"])
        out.record_count += new.record_count
        for k, v in stored["assessment"].items():
            out.assessment[k] = out.assessment.get(k, 0) + v
        out.status = status
        out.error = error
        return ("gap" if gap else status), period_end


def _bound_window(start: datetime, end: datetime, started: datetime, finished: datetime,
                  source: tuple[datetime, datetime] | None,
                  settle: timedelta = timedelta(0)
                  ) -> tuple[datetime, dict[str, Any], str | None]:
    """(stored end, the provenance's window, why nothing can be vouched for or None).

    A window never ends after its collection finished, nor after the source's own clock
    when the source first answered (its `Date`): events later than that did not exist there
    yet, whatever this machine's clock said when the window was planned. Clocks that differ
    by less than CLOCK_TOLERANCE get no warning (a `Date` has whole seconds; hosts drift),
    but bound the window all the same. A source that delivers events up to `settle` late
    bounds it that much earlier still."""
    window: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    warnings: list[str] = []
    bound, by = finished, "the collection finished"
    if source is not None:
        first, last = source
        window["source_clock"] = {"first": first.isoformat(), "last": last.isoformat()}
        if first < bound:
            bound, by = first, "the source's clock (its Date header)"
        if started - first > CLOCK_TOLERANCE:
            warnings.append(f"this machine's clock is ahead of the source's by "
                            f"{span_text(started - first)} (source {first.isoformat()}, here "
                            f"{started.isoformat()}): the window ends at the source's time")
        elif last - finished > CLOCK_TOLERANCE:
            warnings.append(f"this machine's clock is behind the source's by "
                            f"{span_text(last - finished)} (source {last.isoformat()}, here "
                            f"{finished.isoformat()})")
    if settle:
        bound, by = bound - settle, f"{by}, less the {span_text(settle)} the source may " \
            "take to deliver an event"
        window["settle_seconds"] = int(settle.total_seconds())
    late = None
    if end > bound:
        window["requested_end"] = end.isoformat()
        window["bounded_by"] = by
        if bound <= start - CLOCK_TOLERANCE:
            late = (f"the window starts at {start.isoformat()}, after {by} "
                    f"({bound.isoformat()}): nothing in it can be complete yet")
            warnings.append(late)
        end = max(bound, start)  # a Date has whole seconds: a moment behind is nothing yet
        window["end"] = end.isoformat()
    if warnings:
        window["warnings"] = warnings
    return end, window, late


def _one_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:500] if s else type(e).__name__

