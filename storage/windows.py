"""Population windows against the clocks: which complete windows a later clock reading
contradicts, where a series' next window starts, and every hole in a period.

A complete window vouches for [period_start, period_end) only if that end had passed when it
was collected. The runner bounds each new window by its own collection and by the source's
clock (the API's `Date`). A window stored without that bound (before it existed, or from a
source that sends no `Date`) while this machine's clock was ahead is caught by a later
reading of the clock: the time now, or any seal written after the window (a seal is signed
on its writer's clock when its run ends). A window ending after such a reading, by more than
CLOCK_TOLERANCE, is "ahead": it is no evidence for anything after its start (when it really
ran is unknown), so its span is a hole until trusted windows cover it, and the runner
collects again from the start of that hole. Unless the window's provenance shows the
source's clock at or past its end: then the later reading was the wrong clock (ours,
behind), and the window stands.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, select

from connectors.errors import EvidenceError
from storage.canonical import iso, sha256_hex
from storage.index import records, seals

if TYPE_CHECKING:
    from storage.store import EvidenceStore
    from storage.vouched import Vouched

# Clocks of the hosts writing one store differ a little; a window is judged ahead only past it.
CLOCK_TOLERANCE = timedelta(minutes=5)


class SealClock:
    """The earliest seal time among seals written at or after a ledger position."""

    def __init__(self, engine: Engine, from_seq: int = 0) -> None:
        with engine.connect() as conn:
            rows = conn.execute(select(seals.c.seq, seals.c.sealed_at)
                                .where(seals.c.seq >= from_seq)
                                .order_by(seals.c.seq, seals.c.id)).all()
        self._seqs = [int(r.seq) for r in rows]
        self._min: list[datetime] = []
        low: datetime | None = None
        for r in reversed(rows):
            low = r.sealed_at if low is None or r.sealed_at < low else low
            self._min.append(low)
        self._min.reverse()

    def after(self, seq: int) -> datetime | None:
        """The earliest time a seal covering ledger position `seq` or later was signed."""
        i = bisect.bisect_left(self._seqs, seq)
        return self._min[i] if i < len(self._min) else None


def ahead_windows(store: EvidenceStore, rows: Sequence[Mapping[str, Any]], now: datetime
                  ) -> dict[str, str]:
    """Of complete window records `rows` (with `ipe_sha256`): record id -> why its end lies
    after a later clock reading (now, or a seal signed after it). A window whose end the
    source's own clock vouched for when it was collected is never ahead: then the later
    reading is the wrong clock (this machine's, behind), not the window."""
    out: dict[str, str] = {}
    clock: SealClock | None = None
    for r in rows:
        end = r["period_end"]
        if end is None or r["period_start"] is None:
            continue
        why = None
        if end > now + CLOCK_TOLERANCE:
            why = f"it ends {span_text(end - now)} after now ({iso(now)})"
        else:
            clock = clock or SealClock(store.engine, min(int(x["seq"]) for x in rows))
            sealed = clock.after(int(r["seq"]))
            if sealed is not None and end > sealed + CLOCK_TOLERANCE:
                why = (f"it ends {span_text(end - sealed)} after a seal written after it "
                       f"({iso(sealed)})")
        if why is not None and not source_vouches(store, r):
            out[str(r["id"])] = why
    return out


def source_vouches(store: EvidenceStore, row: Mapping[str, Any]) -> bool:
    """Whether the window's provenance shows the source's clock (its `Date`) at or past the
    window's end when it was read. Read only for windows a later clock contradicts (rare);
    a blob that is missing or does not match its hash vouches for nothing."""
    sha = row.get("ipe_sha256")
    if not sha:
        return False
    try:
        data = store.blobs.get(str(sha))
        if sha256_hex(data) != sha:
            return False
        first = json.loads(data)["window"]["source_clock"]["first"]
        return bool(row["period_end"] <= datetime.fromisoformat(str(first)))
    except (EvidenceError, OSError, ValueError, KeyError, TypeError):
        return False


def holes(span: tuple[datetime, datetime], rows: Sequence[Mapping[str, Any]],
          ahead: Mapping[str, str], known: Sequence[tuple[datetime, datetime, str]] = ()
          ) -> list[tuple[datetime, datetime, str]]:
    """The parts of `span` no trusted complete window covers, each with why; the parts of
    them in a `known` span (e.g. one the source no longer keeps) with that span's reason."""
    trusted = [(r["period_start"], r["period_end"]) for r in rows
               if str(r["id"]) not in ahead and r["period_start"] is not None
               and r["period_end"] is not None]
    out = []
    for x, y in subtract(span, trusted):
        told = [(max(x, a), min(y, b), why) for a, b, why in known if a < y and b > x]
        out += told
        for a, b in subtract((x, y), [(a, b) for a, b, _ in told]):
            out += _explained(a, b, [r for r in rows if str(r["id"]) in ahead], ahead)
    return sorted(out)


def unsealed_holes(gaps: Sequence[tuple[datetime, datetime, str]],
                   left: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, datetime, str]]:
    """`gaps` with the windows left out as unsealed or pending (storage/vouched.py) named in
    the reason of each gap they fall in, so a hole a forged window would have filled says so."""
    if not left:
        return list(gaps)
    names = ", ".join(f"#{x['seq']} ({x['id']}, {x['state']})" for x in left[:10])
    more = f" and {len(left) - 10} more" if len(left) > 10 else ""
    return [(a, b, f"{why}; window(s) no seal by the store's key vouches for were left out: "
             f"{names}{more}") for a, b, why in gaps]


def _explained(a: datetime, b: datetime, rows: Sequence[Mapping[str, Any]],
               ahead: Mapping[str, str]) -> list[tuple[datetime, datetime, str]]:
    """[a, b) split into the parts no window covers and those only ahead windows cover."""
    bare = subtract((a, b), [(r["period_start"], r["period_end"]) for r in rows])
    out = [(x, y, "no complete window") for x, y in bare]
    for x, y in subtract((a, b), bare):
        why = [f"{iso(r['period_start'])}..{iso(r['period_end'])} (record {r['id']}): "
               f"{ahead[str(r['id'])]}" for r in rows
               if r["period_start"] < y and r["period_end"] > x]
        out.append((x, y, "only windows collected while a clock was ahead cover it: "
                    + "; ".join(why)))
    return out


def subtract(span: tuple[datetime, datetime],
             covered: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of `span` that no interval in `covered` covers, in order."""
    start, end = span
    gaps: list[tuple[datetime, datetime]] = []
    cur = start
    for a, b in sorted(covered):
        if b <= cur:
            continue
        if a > cur:
            gaps.append((cur, min(a, end)))
        cur = max(cur, b)
        if cur >= end:
            break
    if cur < end:
        gaps.append((cur, end))
    return [g for g in gaps if g[0] < g[1]]


def series_windows(engine: Engine, connector: str, instance: str, snapshot: str,
                   ending_after: datetime | None = None) -> list[dict[str, Any]]:
    """The complete windows of a population series (ending after `ending_after`, when
    given), in ledger order."""
    cols = [records.c[n] for n in ("seq", "id", "period_start", "period_end",
                                   "collected_finished_at", "ipe_sha256", "run_id",
                                   "collected_started_at")]
    where = [records.c.connector == connector, records.c.instance == instance,
             records.c.snapshot == snapshot, records.c.status == "complete",
             records.c.period_start.is_not(None), records.c.period_end.is_not(None)]
    if ending_after is not None:
        where.append(records.c.period_end > ending_after)
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(and_(*where))
                            .order_by(records.c.seq)).mappings().all()
    return [dict(r) for r in rows]


def _older_mark(engine: Engine, connector: str, instance: str, snapshot: str,
                upto: datetime, vouched: Vouched | None = None) -> datetime | None:
    """The end of the newest complete window ending by `upto` (with `vouched`, of the newest
    a seal by the store's key vouches for: the first such one, newest first)."""
    q = (select(records.c.period_end, records.c.seq, records.c.run_id,
                records.c.collected_started_at)
         .where(records.c.connector == connector, records.c.instance == instance,
                records.c.snapshot == snapshot, records.c.status == "complete",
                records.c.period_end <= upto)
         .order_by(records.c.period_end.desc(), records.c.seq.desc()))
    with engine.connect() as conn:
        if vouched is None:
            mark: datetime | None = conn.execute(q.limit(1)).scalar()
            return mark
        for r in conn.execute(q.execution_options(yield_per=100)):
            if vouched.presented(r):
                found: datetime = r.period_end
                return found
    return None


def resume_point(store: EvidenceStore, connector: str, instance: str, snapshot: str,
                 now: datetime, lookback: timedelta,
                 settled: Sequence[tuple[datetime, datetime]] = ()
                 ) -> tuple[datetime, list[str]]:
    """Where a series' next window starts, and warnings for the run.

    After the end of its last trusted window (or `settled` span: one never to be collected,
    such as a span the source no longer keeps); but where a window collected while a clock
    was ahead leaves a hole, from the start of that hole (never before `now - lookback`:
    older windows count only through the newest end among them), so it is collected again
    rather than skipped."""
    floor = now - lookback
    # only windows reaching into the lookback can leave a hole this run may fill; older
    # ones count for the watermark through one aggregate
    rows = series_windows(store.engine, connector, instance, snapshot, ending_after=floor)
    # only windows a seal by the store's key vouches for count as collected: a forged window
    # (or a crashed run's) must not move the watermark past events never collected
    vouched = store.vouched()
    unvouched = [r for r in rows if not vouched.presented(r)]
    rows = [r for r in rows if vouched.presented(r)]
    older = _older_mark(store.engine, connector, instance, snapshot, floor, vouched)
    if not rows and not settled and older is None:
        return floor, []
    ahead = ahead_windows(store, rows, now)
    trusted = [r for r in rows if str(r["id"]) not in ahead]
    mark = max([r["period_end"] for r in trusted] + [b for _, b in settled]
               + ([older] if older is not None else []), default=None)
    start = mark if mark is not None else floor
    notes: list[str] = []
    if unvouched:
        notes.append(f"{len(unvouched)} window(s) no seal by the store's key vouches for are "
                     "not taken as collected: " + ", ".join(
                         f"#{r['seq']} ({r['id']})" for r in unvouched[:5]))
    newest = max((r["period_end"] for r in rows), default=start)
    if newest > now + CLOCK_TOLERANCE:
        notes.append(f"the watermark {iso(newest)} is ahead of now ({iso(now)}) by "
                     f"{span_text(newest - now)}")
        if mark is not None and mark > now + CLOCK_TOLERANCE:
            notes.append("the source's clock vouched for it when it was collected: this "
                         "machine's clock is behind; collection goes on when it catches up")
    covered = [(r["period_start"], r["period_end"]) for r in trusted] + list(settled)
    open_, first = [], None
    for r in rows:
        # before the floor nothing is collected again (`population` still names that part)
        left = subtract((max(r["period_start"], floor), r["period_end"]), covered) \
            if str(r["id"]) in ahead else []
        if left:
            open_.append(r)
            first = left[0][0] if first is None else min(first, left[0][0])
    if first is not None:
        shown = "; ".join(f"{iso(r['period_start'])}..{iso(r['period_end'])} (record "
                          f"{r['id']}): {ahead[str(r['id'])]}" for r in open_[:3])
        more = f" and {len(open_) - 3} more" if len(open_) > 3 else ""
        notes.append(f"{len(open_)} complete window(s) were collected while a clock was ahead "
                     f"and vouch for nothing after their start: {shown}{more}")
        start = min(start, first)  # never past a hole a failed window left before it
    if notes:
        notes.append(f"collecting from {iso(start)}" if start < now else
                     f"nothing to collect until this machine's clock passes {iso(start)}")
    return start, notes


def span_text(d: timedelta) -> str:
    """A duration as `1d 23h55m` (whole minutes)."""
    s = int(d.total_seconds())
    days, rest = divmod(s, 86400)
    return (f"{days}d " if days else "") + f"{rest // 3600}h{rest % 3600 // 60:02d}m"
