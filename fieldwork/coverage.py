"""Coverage over an audit period: was each control evidenced on every day of it?

For each day of [since, until) (UTC days; the last one may be partial) and each series
(connector instance and snapshot) mapped to a control, the state at the end of the day:

- posture series: the newest record collected by then; `no_evidence` when there is none,
  `stale` when the time it describes (`effective_at`, else its collection) is older than the
  snapshot's max age, else the record's verdict;
- population series: `gap` unless complete windows cover the whole day, else the verdict of
  the complete windows overlapping it.

A record's verdict is `inconclusive` when its collection failed or was cut short, `fail` when
any finding fails, `inconclusive` when any finding is inconclusive, `excepted` when its only
failures are accepted by exceptions active at that moment (fieldwork/exceptions.py), else
`pass`. A control's state on a day is the worst of its series' states, in the order of
`STATES`. Days with fresh evidence are those whose state is `pass`, `excepted` or `fail`: a
failure is evidence too, of a control that did not operate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from storage.canonical import iso
from storage.queries import records_describing, series_kinds
from storage.store import EvidenceStore

# worst first: a control's state on a day is the first of these any of its series has
STATES = ("fail", "inconclusive", "stale", "gap", "no_evidence", "excepted", "pass")
_RANK = {s: i for i, s in enumerate(STATES)}


def record_verdict(status: str, assessment: Mapping[str, int] | None) -> str:
    """pass / fail / inconclusive for one record, from its status and finding counts."""
    if status != "complete":
        return "inconclusive"
    a = assessment or {}
    if a.get("fail", 0):
        return "fail"
    if a.get("inconclusive", 0):
        return "inconclusive"
    if a.get("excepted", 0):
        return "excepted"  # failures accepted by approved exceptions: never a pass
    return "pass"


def worst(states: Iterable[str]) -> str:
    """The worst of `states` (pass when there are none)."""
    return min(states, key=_RANK.__getitem__, default="pass")


def days(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) of each UTC day from `since` to `until`; the first and last may be partial."""
    out: list[tuple[datetime, datetime]] = []
    cur = since
    while cur < until:
        nxt = datetime.combine(cur.date() + timedelta(days=1), time.min, tzinfo=cur.tzinfo)
        out.append((cur, min(nxt, until)))
        cur = nxt
    return out


@dataclass(frozen=True)
class Rec:
    """The columns of a record that coverage needs."""

    id: str
    collected: datetime
    describes: datetime
    period_start: datetime | None
    period_end: datetime | None
    status: str
    verdict: str
    max_age: timedelta
    seq: int = 0
    ipe_sha256: str | None = None


def posture_states(recs: Sequence[Rec], spans: Sequence[tuple[datetime, datetime]],
                   verdict_at: Callable[[Rec, datetime], str] | None = None) -> list[str]:
    """One state per day for a posture series (records sorted by collection time);
    `verdict_at` re-judges a record at a day's end (exceptions active then)."""
    out: list[str] = []
    i, newest = 0, None
    for _, end in spans:
        while i < len(recs) and recs[i].collected <= end:
            newest = recs[i]
            i += 1
        if newest is None:
            out.append("no_evidence")
        elif end - newest.describes > newest.max_age:
            out.append("stale")
        elif verdict_at is not None and newest.verdict == "fail":
            out.append(verdict_at(newest, end))
        else:
            out.append(newest.verdict)
    return out


def population_states(recs: Sequence[Rec], spans: Sequence[tuple[datetime, datetime]]
                      ) -> list[str]:
    """One state per day for a population series: gap unless complete windows cover it."""
    windows = sorted((r for r in recs if r.status == "complete" and r.period_start
                      and r.period_end), key=lambda r: r.period_start or r.collected)
    out: list[str] = []
    for start, end in spans:
        cur, verdicts = start, []
        for w in windows:
            assert w.period_start is not None and w.period_end is not None
            if w.period_end <= start or w.period_start >= end:
                continue
            verdicts.append(w.verdict)
            if w.period_start <= cur:
                cur = max(cur, w.period_end)
        out.append(worst(verdicts) if cur >= end else "gap")
    return out


def stretches(spans: Sequence[tuple[datetime, datetime]], states: Sequence[str]
              ) -> list[dict[str, Any]]:
    """Runs of consecutive days in the same state, as {state, start, end, days}."""
    out: list[dict[str, Any]] = []
    for (start, end), st in zip(spans, states, strict=True):
        if out and out[-1]["state"] == st:
            out[-1]["end"] = iso(end)
            out[-1]["days"] += 1
        else:
            out.append({"state": st, "start": iso(start), "end": iso(end), "days": 1})
    return out


def _records(store: EvidenceStore, keys: set[tuple[str, str, str]], since: datetime,
             until: datetime, left: list[dict[str, Any]] | None = None
             ) -> dict[tuple[str, str, str], list[Rec]]:
    """Per series, the records that can describe the period and may stand as evidence (a
    seal by the store's key vouches for them); those left out are added to `left`."""
    from storage.vouched import excluded

    vouched = store.vouched()
    out: dict[tuple[str, str, str], list[Rec]] = {}
    for key, rows in records_describing(store.engine, sorted(keys), since, until).items():
        out[key] = []
        for r in rows:
            st = vouched.state(r)
            if not vouched.presented(r):
                if left is not None:
                    left.append(excluded(r, st))
                continue
            out[key].append(Rec(r.id, r.collected_finished_at,
                                r.effective_at or r.collected_finished_at, r.period_start,
                                r.period_end, r.status, record_verdict(r.status, r.assessment),
                                timedelta(seconds=r.max_age_seconds), r.seq, r.ipe_sha256))
    return out


def _trusted(store: EvidenceStore, recs: Sequence[Rec]) -> list[Rec]:
    """The windows no later clock reading contradicts (storage/windows.py)."""
    from storage.windows import ahead_windows

    ahead = ahead_windows(store, [
        {"id": r.id, "seq": r.seq, "period_start": r.period_start, "period_end": r.period_end,
         "ipe_sha256": r.ipe_sha256} for r in recs if r.status == "complete"], store.clock())
    return [r for r in recs if r.id not in ahead]


def coverage(store: EvidenceStore, controls: Mapping[str, Sequence[str]], since: datetime,
             until: datetime) -> dict[str, Any]:
    """Per control (its ID -> the criteria it stands for): a state per day of the period,
    the stretches of each state and a summary."""
    spans = days(since, until)
    rows = series_kinds(store.engine)
    by_criterion: dict[str, set[tuple[str, str, str, str]]] = {}
    for cid, c, i, s, k in rows:
        by_criterion.setdefault(cid, set()).add((c, i, s, k))
    wanted = {(c, i, s) for crit in controls.values() for cid in crit
              for c, i, s, _ in by_criterion.get(cid, ())}
    left: list[dict[str, Any]] = []
    recs = _records(store, wanted, since, until, left)
    from fieldwork import exceptions as exc

    register = exc.register(store)
    findings_cache: dict[str, list[dict[str, Any]] | None] = {}

    def judge(key: tuple[str, str, str]) -> Callable[[Rec, datetime], str] | None:
        if not any(e.covers_series(*key) for e in register):
            return None

        def at(rec: Rec, end: datetime) -> str:
            if rec.id not in findings_cache:
                from fieldwork.diff import findings_of

                findings_cache[rec.id] = findings_of(store, rec.id)
            applied = exc.apply(findings_cache[rec.id], *key, register, end)
            return record_verdict(rec.status, exc.counts(applied or []))

        return at
    per_series: dict[tuple[str, str, str, str], list[str]] = {}
    out_controls: list[dict[str, Any]] = []
    for control, crit in controls.items():
        mapped = sorted({t for cid in crit for t in by_criterion.get(cid, ())})
        series_out = []
        for key in mapped:
            if key not in per_series:
                c, i, s, k = key
                if k == "population":
                    per_series[key] = population_states(_trusted(store, recs[(c, i, s)]),
                                                        spans)
                else:
                    per_series[key] = posture_states(recs[(c, i, s)], spans, judge((c, i, s)))
            series_out.append({"series": f"{key[0]}/{key[1]}:{key[2]}", "kind": key[3],
                               "states": per_series[key]})
        day_states = [worst(col) for col in zip(*(x["states"] for x in series_out),
                                                strict=True)] if series_out else \
            ["no_evidence"] * len(spans)
        counts = {st: day_states.count(st) for st in STATES}
        fresh = counts["pass"] + counts["fail"] + counts["excepted"]
        out_controls.append({
            "control": control, "criteria": list(crit), "days": day_states,
            "series": series_out, "stretches": stretches(spans, day_states),
            "summary": {"days": len(spans), "fresh_days": fresh, **counts,
                        "covered_whole_period": fresh == len(spans) and bool(spans)}})
    from storage.vouched import named
    from storage.vouched import warnings as seal_warnings

    # records no seal by the store's key vouches for count as no evidence, and are named
    return {"since": iso(since), "until": iso(until),
            "day_starts": [iso(a) for a, _ in spans], "states": list(STATES),
            "controls": out_controls, "unsealed": named(left),
            "warnings": seal_warnings(left, store.vouched())}


def render_html(cov: Mapping[str, Any]) -> str:
    """A self-contained HTML timeline of `coverage()`'s answer (one row per control)."""
    import html

    colors = {"pass": "#2e7d32", "excepted": "#1565c0", "fail": "#c62828",
              "inconclusive": "#ef6c00", "stale": "#9e9d24", "gap": "#6d4c41",
              "no_evidence": "#bdbdbd"}
    rows = []
    for c in cov["controls"]:
        cells = "".join(
            f'<td title="{html.escape(str(d))}: {st}" style="background:{colors[st]}"></td>'
            for d, st in zip(cov["day_starts"], c["days"], strict=True))
        s = c["summary"]
        rows.append(f"<tr><th>{html.escape(c['control'])}</th>{cells}"
                    f"<td class=s>{s['fresh_days']}/{s['days']} days fresh</td></tr>")
    legend = " ".join(f'<span style="background:{v};padding:0 .5em;color:#fff">{k}</span>'
                      for k, v in colors.items())
    return ("<!doctype html><meta charset=utf-8><title>Evidence coverage</title>"
            "<style>body{font:14px sans-serif}table{border-collapse:collapse}"
            "td{width:6px;height:18px;padding:0}th{text-align:left;padding-right:1em}"
            "td.s{width:auto;padding-left:1em}</style>"
            f"<h1>Coverage {html.escape(cov['since'])} .. {html.escape(cov['until'])}</h1>"
            f"<p>{legend}</p><table>{''.join(rows)}</table>")
