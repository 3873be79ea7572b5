"""Point-in-time queries: what evidence supported a control at a given moment."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, inspect, or_, select, text

from connectors.errors import ConfigError
from storage.canonical import iso
from storage.index import ledger_head, locks, records, runs, seals, series
from storage.vouched import Vouched, excluded, named
from storage.vouched import warnings as seal_warnings

# a bare date: 2026-11-30 or 20261130 (ISO 8601 basic), or a week date 2026-W48-1 / 2026W481
_DATE = re.compile(r"^\d{4}-?(\d{2}-?\d{2}|W\d{2}-?\d)$")
_WEEK = re.compile(r"^\d{4}-?W\d{2}$")

# A population window ends no later than its record's collection (the runner fixes the
# window's end before the snapshot starts), so a record whose period ends after `since` was
# collected after `since`: that bounds the index range scan. The slack covers a wall clock
# stepped back during a run.
CLOCK_SLACK = timedelta(hours=1)

# Times outside this range are refused: nothing was collected before 1970, and window and
# staleness arithmetic near datetime's own limits would overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def parse_time(value: str, *, now: datetime | None = None, end_of_day: bool = True) -> datetime:
    """ISO 8601 date or datetime (UTC unless it says otherwise), or `now`.

    A bare date, extended (2026-11-30) or basic (20261130), means the end of that day (UTC)
    when `end_of_day`, else its start: both spellings always mean the same moment."""
    v = value.strip()
    if v.lower() == "now":
        return now or datetime.now(UTC)
    if _WEEK.match(v):
        raise ConfigError(f"bad date/time {value!r}: {value!r} names a week, not a day (give "
                          "its day, e.g. 2026-W48-1, or a date such as 2026-11-23)")
    try:
        if _DATE.match(v):
            d = date.fromisoformat(v)
            dt = datetime.combine(d, time.max if end_of_day else time.min, tzinfo=UTC)
        else:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
            dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except ValueError:
        raise ConfigError(f"bad date/time {value!r}: expected ISO 8601 such as 2026-03-15 or "
                          "2026-03-15T12:00:00Z, or 'now'") from None
    except OverflowError:  # a valid local time whose UTC is before year 1
        dt = datetime.min.replace(tzinfo=UTC)
    if not EARLIEST <= dt < LATEST:
        raise ConfigError(f"date/time {value!r} is out of range: give a time between "
                          f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return dt


def check_order(since: datetime | None, until: datetime, since_text: str | None,
                until_text: str, until_name: str = "--as-of") -> None:
    """A period must start before it ends: `--since` after `--as-of`/`--until` is refused."""
    if since is not None and since >= until:
        raise ConfigError(f"--since {since_text} is not before {until_name} {until_text}: "
                          f"the period [{iso(since)}, {iso(until)}) is empty")


# the columns an answer shows: decoding only these keeps large --since answers cheap
_COLS = [records.c[n] for n in (
    "seq", "id", "connector", "instance", "snapshot", "kind", "content_sha256",
    "collected_finished_at", "effective_at", "period_start", "period_end", "status",
    "max_age_seconds", "assessment", "controls", "run_id", "collected_started_at")]


def _entry(r: Any, as_of: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "seq": r.seq, "connector": r.connector, "instance": r.instance,
        "snapshot": r.snapshot, "kind": r.kind, "sha256": r.content_sha256,
        "collected_at": iso(r.collected_finished_at), "status": r.status,
    }
    if r.kind == "population":
        out["period_start"] = iso(r.period_start)
        out["period_end"] = iso(r.period_end)
    else:
        out["effective_at"] = iso(r.effective_at or r.collected_finished_at)
    # stale by the time the evidence describes (a posture's effective_at), not only by when
    # it was collected: a fresh collection of an old report is old evidence
    described = r.effective_at if r.kind != "population" and r.effective_at is not None \
        else r.collected_finished_at
    age = as_of - described
    out["stale"] = age > timedelta(seconds=r.max_age_seconds)
    out["assessment"] = r.assessment
    out["controls"] = list(r.controls)
    return out


@cache
def _as_of_statements() -> tuple[Any, Any, Any]:
    """The as-of statements, built once: constructing them (the records alias, its column
    proxies, the cache key) costs ~2 ms of Python, executing them ~0.05 ms."""
    crit: Any = bindparam("criteria", expanding=True)
    when = bindparam("when", type_=records.c.collected_finished_at.type)
    r2 = records.alias("r2")
    newest = (select(r2.c.seq)
              .where(r2.c.connector == series.c.connector,
                     r2.c.instance == series.c.instance,
                     r2.c.snapshot == series.c.snapshot,
                     r2.c.collected_finished_at <= when)
              .order_by(r2.c.collected_finished_at.desc(), r2.c.seq.desc())
              .limit(1).correlate(series).scalar_subquery())
    newest_q = (select(*_COLS).select_from(series).join(records, records.c.seq == newest)
                .where(series.c.control_id.in_(crit))
                .order_by(records.c.connector, records.c.instance, records.c.snapshot))
    mapped_q = (select(series.c.connector, series.c.instance, series.c.snapshot)
                .where(series.c.control_id.in_(crit)).distinct())
    since = bindparam("since", type_=records.c.collected_finished_at.type)
    since_slack = bindparam("since_slack", type_=records.c.collected_finished_at.type)
    pop_q = (select(*_COLS).select_from(records).join(series, and_(
                records.c.connector == series.c.connector,
                records.c.instance == series.c.instance,
                records.c.snapshot == series.c.snapshot))
             .where(series.c.control_id.in_(crit),
                    series.c.kind == "population",
                    records.c.collected_finished_at <= when,
                    records.c.collected_finished_at > since_slack,
                    records.c.period_start < when,
                    or_(records.c.period_end > since, records.c.period_end.is_(None)))
             .order_by(records.c.seq))
    return newest_q, mapped_q, pop_q


def as_of(engine: Engine, criteria_ids: Sequence[str], when: datetime,
          since: datetime | None = None, vouched: Vouched | None = None) -> dict[str, Any]:
    """For each series mapped to the criteria: the newest record collected at or before
    `when` (stale when older than its max age); with `since`, also every population record
    whose period overlaps [since, when).

    With `vouched` (storage/vouched.py), only sealed evidence answers: a record no valid seal
    vouches for (forged, a crashed run's, or a live run's still pending) never stands as a
    series' newest evidence; the newest sealed one does, and the records left out are named
    (`unsealed`) with a warning line each (`warnings`). Each record says `sealed`."""
    newest_q, mapped_q, pop_q = _as_of_statements()
    wanted = set(criteria_ids)
    params: dict[str, Any] = {"criteria": list(criteria_ids), "when": when}
    found: dict[int, dict[str, Any]] = {}
    left: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for r in conn.execute(newest_q, params).all():
            if vouched is not None and not vouched.presented(r):
                left.append(excluded(r, vouched.state(r)))
                r = _newest_presented(conn, r, when, vouched, left)
                if r is None:
                    continue
            if set(r.controls) & wanted:
                found[r.seq] = _entry(r, when)
        mapped = conn.execute(mapped_q, params).all()
        if since is not None:
            for r in conn.execute(pop_q, {**params, "since": since,
                                          "since_slack": since - CLOCK_SLACK}):
                if vouched is not None and not vouched.presented(r):
                    left.append(excluded(r, vouched.state(r)))
                    continue
                if set(r.controls) & wanted:
                    found[r.seq] = _entry(r, when)
    have = {(e["connector"], e["instance"], e["snapshot"]) for e in found.values()}
    missing = [{"connector": c, "instance": i, "snapshot": s}
               for c, i, s in sorted(mapped) if (c, i, s) not in have]
    out: dict[str, Any] = {
        "as_of": iso(when), "since": iso(since),
        "records": sorted(found.values(), key=lambda e: (e["connector"], e["instance"],
                                                         e["snapshot"], e["seq"])),
        "no_evidence_yet": missing}
    if vouched is not None:
        for e in out["records"]:
            e["sealed"] = vouched.marker
        out["unsealed"] = named(left)
        out["warnings"] = seal_warnings(left, vouched)
    return out


def _newest_presented(conn: Any, r: Any, when: datetime, vouched: Vouched,
                      left: list[dict[str, Any]]) -> Any:
    """The newest record of `r`'s series collected at or before `when` that may stand as
    evidence, older than `r` (which may not); those skipped on the way are added to `left`."""
    t = records.c.collected_finished_at
    q = select(*_COLS).where(records.c.connector == r.connector,
                             records.c.instance == r.instance, records.c.snapshot == r.snapshot,
                             t <= when, _older(r.collected_finished_at, r.seq))
    return _first_presented_row(conn, q, vouched, left)


def _older(finished: Any, seq: Any) -> Any:
    """Records before (finished, seq) in newest-first order."""
    t = records.c.collected_finished_at
    return or_(t < finished, and_(t == finished, records.c.seq < seq))


def _first_presented_row(conn: Any, q: Any, vouched: Vouched,
                         left: list[dict[str, Any]] | None = None) -> Any:
    """The first row of `q` (one series' records, newest first) that may stand as evidence,
    read 100 at a time; rows passed over are added to `left` when given."""
    order = (records.c.collected_finished_at.desc(), records.c.seq.desc())
    page = q
    while True:
        rows = conn.execute(page.order_by(*order).limit(100)).all()
        for x in rows:
            if vouched.presented(x):
                return x
            if left is not None:
                left.append(excluded(x, vouched.state(x)))
        if len(rows) < 100:
            return None
        page = q.where(_older(rows[-1].collected_finished_at, rows[-1].seq))


# Reads the rest of the code needs: every SQL statement lives in storage/. ----------------
def lease_row(engine: Engine, name: str) -> Any:
    """The lease called `name` (holder, acquired_at, expires_at), or None."""
    with engine.connect() as conn:
        return conn.execute(select(locks).where(locks.c.name == name)).first()


# "Newest" run means the one recorded last (runs.seq, assigned by the database), never the
# latest started_at: that is the collector host's wall clock, and a run made while it was
# ahead would otherwise stay "newest" after the clock is fixed.
def last_run(engine: Engine, trigger: str, *, started_by: datetime | None = None) -> Any:
    """The run started by `trigger` that was recorded last, or None; with `started_by`, only
    among runs whose start is not after it (a start ahead of now was stamped by a clock
    running ahead)."""
    q = select(runs).where(runs.c.trigger == trigger)
    if started_by is not None:
        q = q.where(runs.c.started_at <= started_by)
    with engine.connect() as conn:
        return conn.execute(q.order_by(runs.c.seq.desc()).limit(1)).first()


def newest_runs(engine: Engine, limit: int) -> list[Any]:
    """The `limit` runs recorded last, newest first."""
    with engine.connect() as conn:
        return list(conn.execute(select(runs).order_by(runs.c.seq.desc())
                                 .limit(limit)).mappings().all())


def newest_complete(engine: Engine, connector: str, instance: str, snapshot: str,
                    vouched: Vouched | None = None) -> datetime | None:
    """The time the newest complete record of a series describes (a posture's effective_at,
    else when it finished collecting), or None; with `vouched`, of the newest that may stand
    as evidence (storage/vouched.py)."""
    described = func.coalesce(records.c.effective_at, records.c.collected_finished_at)
    where = and_(records.c.connector == connector, records.c.instance == instance,
                 records.c.snapshot == snapshot, records.c.status == "complete")
    with engine.connect() as conn:
        if vouched is None:
            newest: datetime | None = conn.execute(select(func.max(described))
                                                   .where(where)).scalar()
            return newest
        q = (select(described.label("described"), records.c.seq, records.c.run_id,
                    records.c.collected_started_at).where(where)
             .order_by(described.desc(), records.c.seq.desc())
             .execution_options(yield_per=100))
        for r in conn.execute(q):
            if vouched.presented(r):
                got: datetime | None = r.described
                if got is not None and got.tzinfo is None:
                    got = got.replace(tzinfo=UTC)
                return got
    return None


def population_series(engine: Engine, criteria: Sequence[str],
                      snapshot: str | None = None) -> list[tuple[str, str, str]]:
    """The collected (connector, instance, snapshot) population series mapped to `criteria`."""
    q = (select(series.c.connector, series.c.instance, series.c.snapshot).distinct()
         .where(series.c.control_id.in_(list(criteria)), series.c.kind == "population",
                series.c.connector != "fieldwork"))
    if snapshot:
        q = q.where(series.c.snapshot == snapshot)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(series.c.connector, series.c.instance,
                                       series.c.snapshot)).all()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


# The `error` of a failed population record whose window the source no longer keeps (past
# its retention): that span can never be collected, so the watermark moves past it and
# populations list it as a gap with this reason (see Collector._population).
PERMANENT_GAP = "permanent gap: "


def permanent_gaps(engine: Engine, connector: str, instance: str, snapshot: str,
                   since: datetime | None = None, until: datetime | None = None
                   ) -> list[dict[str, Any]]:
    """Permanent-gap records of a series (whose window overlaps [since, until) if given)."""
    q = and_(records.c.connector == connector, records.c.instance == instance,
             records.c.snapshot == snapshot, records.c.status == "failed",
             records.c.error.like(PERMANENT_GAP + "%"), records.c.period_start.is_not(None),
             records.c.period_end.is_not(None))
    if until is not None:
        q = and_(q, records.c.period_start < until)
    if since is not None:
        q = and_(q, records.c.period_end > since)
    with engine.connect() as conn:
        rows = conn.execute(select(records).where(q).order_by(records.c.seq)).mappings().all()
    return [dict(r) for r in rows]


def complete_windows(engine: Engine, connector: str, instance: str, snapshot: str,
                     since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Complete population records of a series whose window overlaps [since, until)."""
    with engine.connect() as conn:
        rows = conn.execute(select(records).where(and_(
            records.c.connector == connector, records.c.instance == instance,
            records.c.snapshot == snapshot, records.c.status == "complete",
            records.c.period_start < until,
            or_(records.c.period_end > since, records.c.period_end.is_(None))))
            .order_by(records.c.seq)).mappings().all()
    return [dict(r) for r in rows]


def ledger_segment(engine: Engine, first: int, last: int) -> Iterator[dict[str, Any]]:
    """Records #first..#last in chain order, streamed."""
    lo = first
    while lo <= last:
        with engine.connect() as conn:
            rows = conn.execute(select(records).where(records.c.seq >= lo, records.c.seq <= last)
                                .order_by(records.c.seq).limit(5000)).mappings().all()
        if not rows:
            return
        for r in rows:
            yield dict(r)
        lo = int(rows[-1]["seq"]) + 1


def newest_seal_row(engine: Engine) -> Any:
    """The most recently written seal row, or None."""
    with engine.connect() as conn:
        return conn.execute(select(seals).order_by(seals.c.id.desc()).limit(1)).first()


def job_next_run_times(engine: Engine, table: str) -> dict[str, float | None]:
    """APScheduler's job store: each job's next run time (epoch seconds); {} without one."""
    if not inspect(engine).has_table(table):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {table}")).all()
    return {str(r.id): None if r.next_run_time is None else float(r.next_run_time)
            for r in rows}


def mapped_series_counts(engine: Engine) -> dict[str, int]:
    """How many snapshot series (connector instance and snapshot) map to each criterion."""
    with engine.connect() as conn:
        rows = conn.execute(select(series.c.control_id, func.count())
                            .where(series.c.connector != "fieldwork")
                            .group_by(series.c.control_id)).all()
    return {str(c): int(n) for c, n in rows}


def series_by_criterion(engine: Engine) -> dict[str, set[tuple[str, str, str]]]:
    """Each criterion's collected (connector, instance, snapshot) series (fieldwork aside)."""
    out: dict[str, set[tuple[str, str, str]]] = {}
    with engine.connect() as conn:
        for cid, c, i, s in conn.execute(
                select(series.c.control_id, series.c.connector, series.c.instance,
                       series.c.snapshot).where(series.c.connector != "fieldwork")):
            out.setdefault(str(cid), set()).add((str(c), str(i), str(s)))
    return out


def series_kinds(engine: Engine) -> list[tuple[str, str, str, str, str]]:
    """Every (criterion, connector, instance, snapshot, kind) series row, fieldwork aside."""
    with engine.connect() as conn:
        rows = conn.execute(select(series.c.control_id, series.c.connector, series.c.instance,
                                   series.c.snapshot, series.c.kind)
                            .where(series.c.connector != "fieldwork")).all()
    return [(str(cid), str(c), str(i), str(s), str(k)) for cid, c, i, s, k in rows]


def records_describing(engine: Engine, keys: Sequence[tuple[str, str, str]], since: datetime,
                       until: datetime) -> dict[tuple[str, str, str], list[Any]]:
    """Per (connector, instance, snapshot) series, the records collected by `until` that
    can still describe a moment from `since` on (collected within the series' longest max
    age, plus a day, before it), oldest first."""
    cols = (records.c.id, records.c.collected_finished_at, records.c.effective_at,
            records.c.period_start, records.c.period_end, records.c.status,
            records.c.assessment, records.c.max_age_seconds, records.c.seq,
            records.c.ipe_sha256, records.c.run_id, records.c.collected_started_at,
            records.c.connector, records.c.instance, records.c.snapshot)
    out: dict[tuple[str, str, str], list[Any]] = {}
    with engine.connect() as conn:
        for c, i, s in sorted(keys):
            where = (records.c.connector == c, records.c.instance == i, records.c.snapshot == s)
            longest = conn.execute(select(func.max(records.c.max_age_seconds))
                                   .where(*where)).scalar() or 0
            lo = since - timedelta(seconds=int(longest)) - timedelta(days=1)
            q = (select(*cols).where(*where, records.c.collected_finished_at <= until,
                                     records.c.collected_finished_at > lo)
                 .order_by(records.c.collected_finished_at, records.c.seq))
            out[(c, i, s)] = list(conn.execute(q))
    return out


def newest_record_of(engine: Engine, connector: str, instance: str, snapshot: str,
                     at: datetime | None = None, vouched: Vouched | None = None
                     ) -> dict[str, Any] | None:
    """The newest record of one series collected at or before `at` (default: any time); with
    `vouched`, the newest that may stand as evidence (storage/vouched.py)."""
    q = select(records).where(records.c.connector == connector,
                              records.c.instance == instance, records.c.snapshot == snapshot)
    if at is not None:
        q = q.where(records.c.collected_finished_at <= at)
    return _first_presented(engine, q, vouched)


def _first_presented(engine: Engine, q: Any, vouched: Vouched | None) -> dict[str, Any] | None:
    """The first row of `q` (records, newest first) that may stand as evidence."""
    t = records.c.collected_finished_at
    with engine.connect() as conn:
        if vouched is None:
            row = conn.execute(q.order_by(t.desc(), records.c.seq.desc()).limit(1)) \
                .mappings().first()
            return dict(row) if row else None
        found = _first_presented_row(conn, q, vouched)
    return dict(found._mapping) if found is not None else None


def ledger_head_seq(engine: Engine) -> int:
    """The ledger head's sequence number (0 for an empty ledger): one primary-key read."""
    with engine.connect() as conn:
        return int(conn.execute(_head_seq_statement()).scalar() or 0)


@cache
def _head_seq_statement() -> Any:
    return select(ledger_head.c.seq).where(ledger_head.c.id == 1)


def series_timeline(engine: Engine, connector: str, instance: str, snapshot: str,
                    vouched: Vouched | None = None) -> list[tuple[datetime, int, str | None]]:
    """Every record of one series as (collected_finished_at, seq, content_sha256), in
    that order: newest_record_of(at) is the last entry collected at or before `at`. With
    `vouched`, only records that may stand as evidence."""
    q = (select(records.c.collected_finished_at, records.c.seq, records.c.content_sha256,
                records.c.run_id, records.c.collected_started_at)
         .where(records.c.connector == connector, records.c.instance == instance,
                records.c.snapshot == snapshot)
         .order_by(records.c.collected_finished_at, records.c.seq))
    with engine.connect() as conn:
        return [(r[0], int(r[1]), r[2]) for r in conn.execute(q)
                if vouched is None or vouched.presented(r)]


def records_of_series(engine: Engine, connector: str, instance_like: str, snapshot: str,
                      since: datetime, until: datetime, limit: int = 200
                      ) -> list[dict[str, Any]]:
    """Records of the series (instance as a LIKE pattern) collected in (since, until],
    newest first, at most `limit`."""
    q = (select(records).where(records.c.connector == connector,
                               records.c.instance.like(instance_like),
                               records.c.snapshot == snapshot,
                               records.c.collected_finished_at > since,
                               records.c.collected_finished_at <= until)
         .order_by(records.c.collected_finished_at.desc(), records.c.seq.desc()).limit(limit))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def run_records(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """The records one run wrote, in ledger order."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(records).where(records.c.run_id == run_id).order_by(records.c.seq))
            .mappings()]


def previous_record(engine: Engine, connector: str, instance: str, snapshot: str,
                    before_seq: int, vouched: Vouched | None = None) -> dict[str, Any] | None:
    """The record of the same series just before ledger position `before_seq` (with
    `vouched`, the nearest one that may stand as evidence)."""
    q = (select(records).where(records.c.connector == connector,
                               records.c.instance == instance, records.c.snapshot == snapshot,
                               records.c.seq < before_seq)
         .order_by(records.c.seq.desc()))
    with engine.connect() as conn:
        if vouched is None:
            row = conn.execute(q.limit(1)).mappings().first()
            return dict(row) if row else None
        for r in conn.execute(q.execution_options(yield_per=100)).mappings():
            if vouched.presented(r):
                return dict(r)
    return None


def newest_posture_records(engine: Engine, at: datetime, vouched: Vouched | None = None
                           ) -> list[dict[str, Any]]:
    """The newest record collected by `at` of every posture series (with `vouched`, the
    newest that may stand as evidence)."""
    with engine.connect() as conn:
        keys = conn.execute(select(series.c.connector, series.c.instance, series.c.snapshot)
                            .where(series.c.kind == "posture").distinct()).all()
    out = []
    for c, i, s in keys:
        r = newest_record_of(engine, str(c), str(i), str(s), at, vouched)
        if r is not None:
            out.append(r)
    return out


def record_delivery(engine: Engine, sink: str, at: datetime, ok: bool, attempts: int,
                    items: int, error: str | None) -> None:
    """Note one alert delivery (its outcome, never its content)."""
    from sqlalchemy import insert

    from storage.index import alert_deliveries, writer

    with writer(engine).begin() as conn:
        conn.execute(insert(alert_deliveries).values(sink=sink, at=at, ok=ok,
                                                     attempts=attempts, items=items,
                                                     error=error))


def last_deliveries(engine: Engine) -> dict[str, dict[str, Any]]:
    """The newest delivery per alert sink."""
    from storage.index import alert_deliveries

    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(alert_deliveries)
                              .order_by(alert_deliveries.c.at, alert_deliveries.c.id)).mappings():
            out[str(r["sink"])] = {"at": iso(r["at"]), "ok": bool(r["ok"]),
                                   "attempts": int(r["attempts"]), "items": int(r["items"]),
                                   "error": r["error"]}
    return out


def last_run_before(engine: Engine, run_id: str) -> datetime | None:
    """When the collections recorded before run `run_id` last finished (None for the first
    run). Runs count in the order they were recorded; a finish stamped after this run's own
    (a clock that was ahead) is not believed, so what changed since then is not skipped."""
    with engine.connect() as conn:
        me = conn.execute(select(runs.c.seq, runs.c.started_at, runs.c.finished_at)
                          .where(runs.c.id == run_id)).first()
        if me is None:
            return None
        prev: datetime | None = conn.execute(
            select(func.max(runs.c.finished_at)).where(
                runs.c.seq < me.seq, runs.c.finished_at <= (me.finished_at or me.started_at),
                runs.c.trigger.notin_(["sample", "exception"]))).scalar()
    return prev


def seals_between(engine: Engine, lo: int, hi: int) -> list[Any]:
    """Seal rows whose head lies in #lo..#hi, in order."""
    with engine.connect() as conn:
        return list(conn.execute(select(seals).where(seals.c.seq >= lo, seals.c.seq <= hi)
                                 .order_by(seals.c.seq, seals.c.id)).all())
