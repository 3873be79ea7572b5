"""What changed between two instants: per snapshot, the items whose verdict changed.

The evidence as of T1 and as of T2 is what `query --as-of` answers for each instant: the
newest record of each series mapped to the control. Each series' findings (one verdict per
resource) are compared resource by resource. Every change names the two records it came
from, so an operator after a drift alert, or an auditor looking at a change in the period,
can open both.

Kinds of change, in the order they are reported:
- `newly_failing`: fail at T2, anything else at T1, or a new resource that fails;
- `fixed`: fail at T1, pass at T2;
- `newly_inconclusive`: inconclusive at T2, pass or absent at T1;
- `changed`: any other change of verdict (e.g. inconclusive -> pass);
- `appeared` / `gone`: a resource (not failing) only in T2's / only in T1's findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.canonical import iso
from storage.queries import as_of
from storage.store import EvidenceStore
from storage.vouched import named

KINDS = ("newly_failing", "fixed", "newly_inconclusive", "changed", "appeared", "gone")


@dataclass(frozen=True)
class Change:
    """One resource whose verdict differs between the evidence as of T1 and as of T2."""

    series: str
    resource: str
    kind: str
    before: str | None
    after: str | None
    reason: str
    record_before: str | None
    record_after: str | None

    def to_json(self) -> dict[str, Any]:
        return {"series": self.series, "resource": self.resource, "kind": self.kind,
                "before": self.before, "after": self.after, "reason": self.reason,
                "record_before": self.record_before, "record_after": self.record_after}


def classify(before: str | None, after: str | None) -> str | None:
    """The kind of change from verdict `before` to `after` (None: no change)."""
    if before == after:
        return None
    if after == "fail":
        return "newly_failing"
    if after is None:
        return "gone"
    if before is None:
        return "appeared"
    if before == "fail" and after == "pass":
        return "fixed"
    if after == "inconclusive" and before == "pass":
        return "newly_inconclusive"
    return "changed"


def compare_findings(series: str, old: list[dict[str, Any]] | None,
                     new: list[dict[str, Any]] | None, record_before: str | None,
                     record_after: str | None) -> list[Change]:
    """Resource-by-resource changes between two findings lists of one series (pure)."""
    a = {f["resource"]: f for f in old or []}
    b = {f["resource"]: f for f in new or []}
    out: list[Change] = []
    for res in sorted(a.keys() | b.keys()):
        fa, fb = a.get(res), b.get(res)
        before = fa["status"] if fa else None
        after = fb["status"] if fb else None
        kind = classify(before, after)
        if kind is None:
            continue
        reason = str((fb or fa or {}).get("reason", ""))
        out.append(Change(series, res, kind, before, after, reason, record_before,
                          record_after))
    return out


def _series_key(e: dict[str, Any]) -> str:
    return f"{e['connector']}/{e['instance']}:{e['snapshot']}"


def _newest_posture(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in answer["records"]:
        if e["kind"] != "posture":
            continue
        k = _series_key(e)
        if k not in out or e["seq"] > out[k]["seq"]:
            out[k] = e
    return out


def findings_of(store: EvidenceStore, record_id: str) -> list[dict[str, Any]] | None:
    """A record's findings, or None when it has none (e.g. a failed collection)."""
    r = store.record(record_id)
    if r is None or not r["findings_sha256"]:
        return None
    found: list[dict[str, Any]] = store.blob_json(r["findings_sha256"])
    return found


def diff(store: EvidenceStore, criteria: Sequence[str], t1: datetime,
         t2: datetime) -> dict[str, Any]:
    """Per posture snapshot mapped to `criteria`: the items whose verdict changed from the
    evidence as of `t1` to the evidence as of `t2`."""
    # sealed evidence only on both sides (storage/vouched.py); what was left out is named
    vouched = store.vouched()
    a1 = as_of(store.engine, criteria, t1, vouched=vouched)
    a2 = as_of(store.engine, criteria, t2, vouched=vouched)
    before = _newest_posture(a1)
    after = _newest_posture(a2)
    changes: list[Change] = []
    snapshots: list[dict[str, Any]] = []
    for key in sorted(before.keys() | after.keys()):
        rb, ra = before.get(key), after.get(key)
        idb = rb["id"] if rb else None
        ida = ra["id"] if ra else None
        fb = findings_of(store, idb) if idb else None
        fa = findings_of(store, ida) if ida else None
        found = [] if idb == ida else compare_findings(key, fb, fa, idb, ida)
        changes.extend(found)
        snapshots.append({"series": key, "record_before": idb, "record_after": ida,
                          "status_before": rb["status"] if rb else None,
                          "status_after": ra["status"] if ra else None,
                          "changes": len(found)})
    counts = {k: sum(1 for c in changes if c.kind == k) for k in KINDS}
    return {"criteria": list(criteria), "from": iso(t1), "to": iso(t2),
            "snapshots": snapshots, "counts": counts,
            "changes": [c.to_json() for c in changes],
            "unsealed": named(a1["unsealed"] + a2["unsealed"]),
            "warnings": list(dict.fromkeys(a1["warnings"] + a2["warnings"]))}
