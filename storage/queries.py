"""Point-in-time queries: what evidence supported a control at a given moment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from collector.errors import ConfigError
from storage.canonical import iso
from storage.index import records, series

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A population window ends no later than its record's collection (the runner fixes the
# window's end before the snapshot starts), so a record whose period ends after `since` was
# collected after `since`: that bounds the index range scan. The slack covers a wall clock
# stepped back during a run.
CLOCK_SLACK = timedelta(hours=1)


def parse_time(value: str, *, now: datetime | None = None, end_of_day: bool = True) -> datetime:
    """ISO 8601 date or datetime (UTC unless it says otherwise), or `now`.

    A bare date means the end of that day (UTC) when `end_of_day`, else its start."""
    v = value.strip()
    if v.lower() == "now":
        return now or datetime.now(UTC)
    try:
        if _DATE.match(v):
            d = date.fromisoformat(v)
            if end_of_day:
                return datetime.combine(d, time.max, tzinfo=UTC)
            return datetime.combine(d, time.min, tzinfo=UTC)
        dt = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"bad date/time {value!r}: expected ISO 8601 such as 2026-03-15 or "
                          "2026-03-15T12:00:00Z, or 'now'") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# the columns an answer shows: decoding only these keeps large --since answers cheap
_COLS = [records.c[n] for n in (
    "seq", "id", "connector", "instance", "snapshot", "kind", "content_sha256",
    "collected_finished_at", "effective_at", "period_start", "period_end", "status",
    "max_age_seconds", "assessment", "controls")]


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
    age = as_of - r.collected_finished_at
    out["stale"] = age > timedelta(seconds=r.max_age_seconds)
    out["assessment"] = r.assessment
    out["controls"] = list(r.controls)
    return out


def as_of(engine: Engine, criteria_ids: Sequence[str], when: datetime,
          since: datetime | None = None) -> dict[str, Any]:
    """For each series mapped to the criteria: the newest record collected at or before
    `when` (stale when older than its max age); with `since`, also every population record
    whose period overlaps [since, when)."""
    r2 = records.alias("r2")
    newest = (select(r2.c.seq)
              .where(r2.c.connector == series.c.connector,
                     r2.c.instance == series.c.instance,
                     r2.c.snapshot == series.c.snapshot,
                     r2.c.collected_finished_at <= when)
              .order_by(r2.c.collected_finished_at.desc(), r2.c.seq.desc())
              .limit(1).correlate(series).scalar_subquery())
    q = (select(*_COLS).select_from(series).join(records, records.c.seq == newest)
         .where(series.c.control_id.in_(list(criteria_ids)))
         .order_by(records.c.connector, records.c.instance, records.c.snapshot))
    found: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            if set(r.controls) & set(criteria_ids):
                found[r.seq] = _entry(r, when)
        mapped = conn.execute(select(series.c.connector, series.c.instance, series.c.snapshot)
                              .where(series.c.control_id.in_(list(criteria_ids)))
                              .distinct()).all()
        if since is not None:
            pop = (select(*_COLS).select_from(records).join(series, and_(
                        records.c.connector == series.c.connector,
                        records.c.instance == series.c.instance,
                        records.c.snapshot == series.c.snapshot))
                   .where(series.c.control_id.in_(list(criteria_ids)),
                          series.c.kind == "population",
                          records.c.collected_finished_at <= when,
                          records.c.collected_finished_at > since - CLOCK_SLACK,
                          records.c.period_start < when,
                          or_(records.c.period_end > since, records.c.period_end.is_(None)))
                   .order_by(records.c.seq))
            for r in conn.execute(pop):
                if set(r.controls) & set(criteria_ids):
                    found[r.seq] = _entry(r, when)
    have = {(e["connector"], e["instance"], e["snapshot"]) for e in found.values()}
    missing = [{"connector": c, "instance": i, "snapshot": s}
               for c, i, s in sorted(mapped) if (c, i, s) not in have]
    return {"as_of": iso(when), "since": iso(since),
            "records": sorted(found.values(), key=lambda e: (e["connector"], e["instance"],
                                                             e["snapshot"], e["seq"])),
            "no_evidence_yet": missing}
