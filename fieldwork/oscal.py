"""The evidence for controls as an OSCAL assessment-results document (OSCAL 1.1).

One result covers the query (controls as of an instant, optionally with populations since a
start). Each record becomes an observation: its collection method (automated, through the
platform's API, with the calls in its provenance), when it was collected and which time it
describes, and relevant evidence pointing at the hashed blobs (`blobs/<sha256>` in an export
bundle made with the same query, and listed with their SHA-256 in back-matter). Each
criterion gets one finding: satisfied only when every mapped snapshot has fresh, complete
evidence without a failing item. UUIDs are derived (UUID v5) from record IDs and the query,
so exporting the same evidence twice gives the same document.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fieldwork.coverage import record_verdict, worst
from storage.canonical import iso
from storage.queries import as_of
from storage.store import EvidenceStore

OSCAL_VERSION = "1.1.2"
NS = "urn:evidence-agent:oscal"
_UUID_NS = uuid.UUID("6f1d3c2e-7a51-4b8e-9a52-0c7f1e2d3b4a")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_UUID_NS, "\x1f".join(parts)))


def _prop(name: str, value: Any) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value)}


def _ts(dt: datetime | str | None) -> str:
    s = dt if isinstance(dt, str) else iso(dt)
    return (s or "").replace("+00:00", "Z")


def assessment_results(store: EvidenceStore, controls: Mapping[str, Sequence[str]],
                       when: datetime, since: datetime | None = None,
                       titles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The OSCAL document for `controls` (your ID -> criteria) as of `when`."""
    criteria = sorted({c for crit in controls.values() for c in crit})
    from fieldwork.exceptions import apply_to_answer

    # sealed evidence only (storage/vouched.py), as in `query`
    vouched = store.vouched()
    res = apply_to_answer(store, as_of(store.engine, criteria, when, since, vouched), when)
    qid = f"{','.join(sorted(controls))}@{iso(when)}/{iso(since)}"
    observations: list[dict[str, Any]] = []
    resources: dict[str, dict[str, Any]] = {}
    per_criterion: dict[str, list[tuple[str, str]]] = {c: [] for c in criteria}
    for e in res["records"]:
        rec = store.record(e["id"])
        assert rec is not None
        ipe = store.blob_json(rec["ipe_sha256"])
        ob_uuid = _uuid("observation", e["id"])
        evidence = []
        for label, sha in (("content", rec["content_sha256"]), ("provenance", rec["ipe_sha256"]),
                           ("findings", rec["findings_sha256"])):
            if not sha:
                continue
            r_uuid = _uuid("resource", sha)
            resources.setdefault(sha, {
                "uuid": r_uuid, "title": f"evidence blob {sha[:12]}",
                "rlinks": [{"href": f"blobs/{sha}", "media-type": "application/json",
                            "hashes": [{"algorithm": "SHA-256", "value": sha}]}]})
            evidence.append({"href": f"#{r_uuid}",
                             "description": f"{label} of record {e['id']} (SHA-256 {sha})"})
        verdict = "stale" if e["stale"] else record_verdict(e["status"], e["assessment"])
        calls = ", ".join(sorted({str(c.get("operation")) for c in ipe.get("calls", [])}))
        excepted = [_prop("exception", x) for x in e.get("exceptions", [])]
        props = [_prop("record-id", e["id"]), _prop("ledger-seq", e["seq"]),
                 _prop("record-hash", rec["record_hash"]), _prop("status", e["status"]),
                 _prop("verdict", verdict), _prop("collection-method", "automated-api"),
                 _prop("pagination-exhausted", str(bool(ipe.get("pagination_exhausted")))
                       .lower()),
                 _prop("api-calls", ipe.get("api_calls", 0)), *excepted]
        if e["kind"] == "population":
            props += [_prop("period-start", _ts(e["period_start"])),
                      _prop("period-end", _ts(e["period_end"]))]
        else:
            props.append(_prop("effective-at", _ts(e["effective_at"])))
        counts = ", ".join(f"{v} {k}" for k, v in sorted(e["assessment"].items())) or "none"
        observations.append({
            "uuid": ob_uuid,
            "title": f"{e['connector']}/{e['instance']} {e['snapshot']}",
            "description": (f"Collected automatically through the platform API by "
                            f"{ipe.get('principal') or 'unknown principal'} from "
                            f"{ipe.get('source') or 'unknown source'}; calls: "
                            f"{calls or 'none'}; status {e['status']}; findings: {counts}."),
            "props": props,
            "methods": ["EXAMINE", "TEST"],
            "types": ["finding"] if verdict != "pass" else ["control-objective"],
            "collected": _ts(e["collected_at"]),
            "relevant-evidence": evidence,
        })
        for c in e["controls"]:
            if c in per_criterion:
                per_criterion[c].append((ob_uuid, verdict))
    missing = {c: len(as_of(store.engine, [c], when, vouched=vouched)["no_evidence_yet"])
               for c in criteria}
    findings = []
    for c in criteria:
        obs = per_criterion[c]
        state = worst([v for _, v in obs]) if obs else "no_evidence"
        satisfied = state == "pass" and not missing.get(c)
        target: dict[str, Any] = {
            "type": "objective-id", "target-id": c.lower(),
            "status": {"state": "satisfied" if satisfied else "not-satisfied"}}
        if not satisfied:
            if state == "excepted":
                target["status"]["reason"] = "other"
            target["status"]["remarks"] = (f"worst evidence state: {state}"
                                           + (f"; {missing[c]} mapped snapshot(s) without "
                                              "evidence" if missing.get(c) else ""))
        findings.append({
            "uuid": _uuid("finding", qid, c),
            "title": f"{c}: {(titles or {}).get(c, c)}"[:200],
            "description": f"Evidence for SOC 2 criterion {c} as of {_ts(when)}: "
                           f"{len(obs)} record(s), worst state {state}.",
            "target": target,
            **({"related-observations": [{"observation-uuid": u} for u, _ in obs]}
               if obs else {}),
        })
    now = _ts(store.clock())
    result: dict[str, Any] = {
        "uuid": _uuid("result", qid),
        "title": f"Evidence for {', '.join(sorted(controls))} as of {_ts(when)}",
        "description": "Automated SOC 2 evidence collection by evidence-agent; every record "
                       "is hash-chained in the ledger and covered by an Ed25519 seal.",
        "start": _ts(since or when),
        "end": _ts(when),
        "reviewed-controls": {"control-selections": [{"include-controls": [
            {"control-id": c.lower()} for c in criteria]}]},
        "findings": findings,
    }
    if since is not None and since > when:
        result["start"] = _ts(when)
    if observations:
        result["observations"] = observations
    doc: dict[str, Any] = {
        "uuid": _uuid("document", qid),
        "metadata": {"title": result["title"], "last-modified": now, "version": "1",
                     "oscal-version": OSCAL_VERSION},
        "import-ap": {"href": "#assessment-plan-not-provided"},
        "results": [result],
    }
    if resources:
        doc["back-matter"] = {"resources": [resources[k] for k in sorted(resources)]}
    return {"assessment-results": doc}
