"""Drift alerts: after each run, what changed since the previous evidence, sent to sinks.

What a run's alert holds (one item each, with resource names and reasons, never content or
secrets):
- `newly_failing`, `fixed`, `newly_inconclusive`: per resource, between each record the run
  wrote and the previous record of the same snapshot (the item diff of `evidence diff`,
  with the exceptions active at each record's time applied: an excepted failure is not
  newly failing);
- `collection_failed`: a snapshot that failed or was cut short where its previous record
  was complete (or where there was none);
- `stale`: a snapshot whose newest evidence crossed its max age since the previous run;
- `exception_expiring`: an active exception whose expiry came within 7 days since the
  previous run.
Severities: high (newly failing, collection failed), medium (newly inconclusive, stale),
low (fixed, exception expiring). A sink's filters (controls, connectors, minimum severity)
choose its items; a sink with no item gets nothing.

Sinks: a generic webhook (JSON body; `X-Evidence-Timestamp: <unix seconds>` and
`X-Evidence-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the sink's
secret>`), a Slack incoming webhook, and email over SMTP (STARTTLS, login by secret
reference). A sink that fails is retried with backoff (tenacity), logged, and never fails
or blocks the collection, which is sealed before alerts are sent; every delivery is recorded
(`evidence status` shows the last per sink).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from collector.config import AlertSink, Config, resolve_secret
from storage.canonical import iso
from storage.store import EvidenceStore

log = logging.getLogger("evidence.alerts")
SEVERITY = {"newly_failing": "high", "collection_failed": "high",
            "newly_inconclusive": "medium", "stale": "medium",
            "fixed": "low", "exception_expiring": "low"}
_LEVEL = {"low": 0, "medium": 1, "high": 2}
EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class Item:
    """One thing an operator should hear about."""

    kind: str
    series: str
    resource: str
    reason: str
    controls: tuple[str, ...] = ()
    record_before: str | None = None
    record_after: str | None = None

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    @property
    def connector(self) -> str:
        return self.series.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "series": self.series,
                "resource": self.resource, "reason": self.reason,
                "controls": list(self.controls), "record_before": self.record_before,
                "record_after": self.record_after}


@dataclass
class Drift:
    """What changed in one run."""

    run_id: str
    at: datetime
    items: list[Item] = field(default_factory=list)

    def payload(self, items: Sequence[Item]) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for i in items:
            counts[i.kind] = counts.get(i.kind, 0) + 1
        return {"event": "evidence.drift", "run_id": self.run_id, "at": iso(self.at),
                "counts": counts, "items": [i.to_json() for i in items]}


def drift(store: EvidenceStore, run_id: str, since: datetime | None, now: datetime) -> Drift:
    """What run `run_id` changed, and what went stale or near expiry since `since`."""
    from fieldwork import exceptions as exc
    from fieldwork.diff import compare_findings, findings_of
    from storage.queries import newest_posture_records, previous_record, run_records

    out = Drift(run_id, now)
    vouched = store.vouched()
    register = exc.register(store)
    for r in run_records(store.engine, run_id):
        if r["connector"] == "fieldwork":
            continue
        key = f"{r['connector']}/{r['instance']}:{r['snapshot']}"
        ctl = tuple(r["controls"])
        # compared with sealed evidence only: a forged record between is never the baseline
        prev = previous_record(store.engine, r["connector"], r["instance"], r["snapshot"],
                               int(r["seq"]), vouched)
        if r["status"] != "complete":
            if prev is None or prev["status"] == "complete":
                out.items.append(Item("collection_failed", key, key,
                                      f"{r['status']}: {(r['error'] or '')[:300]}", ctl,
                                      prev["id"] if prev else None, r["id"]))
            continue
        if prev is None or prev["status"] != "complete" or r["kind"] != "posture":
            continue

        def judged(rec: dict[str, Any]) -> list[dict[str, Any]] | None:
            return exc.apply(findings_of(store, rec["id"]), rec["connector"], rec["instance"],
                             rec["snapshot"], register, rec["collected_finished_at"])

        for ch in compare_findings(key, judged(prev), judged(r), prev["id"], r["id"]):
            if ch.kind in ("newly_failing", "fixed", "newly_inconclusive"):
                out.items.append(Item(ch.kind, key, ch.resource, ch.reason, ctl,
                                      ch.record_before, ch.record_after))
    if since is not None:
        for r in newest_posture_records(store.engine, now, vouched):
            if r["connector"] == "fieldwork":
                continue
            deadline = (r["effective_at"] or r["collected_finished_at"]) + \
                timedelta(seconds=int(r["max_age_seconds"]))
            if since < deadline <= now:
                key = f"{r['connector']}/{r['instance']}:{r['snapshot']}"
                out.items.append(Item("stale", key, key, f"newest evidence ({r['id']}) "
                                      f"passed its max age at {iso(deadline)}",
                                      tuple(r["controls"]), r["id"], None))
        for e in register:
            warn = e.expires_at - EXPIRY_WARNING
            if e.active(now) and since < warn <= now:
                out.items.append(Item("exception_expiring", e.series, e.resource,
                                      f"exception {e.id} expires {iso(e.expires_at)} "
                                      f"(approved by {e.approved_by}: {e.reason})"[:400]))
    return out


def select_items(sink: AlertSink, items: Iterable[Item], config: Config) -> list[Item]:
    """The items a sink's filters let through."""
    wanted: set[str] = set()
    for c in sink.controls:
        wanted.update(config.catalog.resolve(c))
    out = []
    for i in items:
        if _LEVEL[i.severity] < _LEVEL[sink.min_severity]:
            continue
        if wanted and not wanted & set(i.controls):
            continue
        if sink.connectors and not any(i.series.startswith(c + "/") or
                                       i.series.startswith(c + ":") for c in sink.connectors):
            continue
        out.append(i)
    return out


# delivery ---------------------------------------------------------------------------------
def _summary(payload: dict[str, Any]) -> str:
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(payload["counts"].items()))
    return f"evidence-agent run {payload['run_id']}: {counts or 'test alert'}"


def _lines(payload: dict[str, Any], limit: int = 50) -> list[str]:
    out = [f"[{i['severity']}] {i['kind'].replace('_', ' ')}: {i['series']} {i['resource']}"
           f" - {i['reason']}" for i in payload["items"][:limit]]
    if len(payload["items"]) > limit:
        out.append(f"... and {len(payload['items']) - limit} more")
    return out


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature header value: sha256=<HMAC-SHA256 of "<ts>.<body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        if resp.status >= 300:
            raise OSError(f"HTTP {resp.status}")


def _send_once(sink: AlertSink, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, sort_keys=True).encode()
    if sink.type == "webhook":
        assert sink.url is not None and sink.hmac_secret is not None
        ts = str(int(time.time()))
        _post(sink.url, body, {"X-Evidence-Timestamp": ts,
                               "X-Evidence-Signature": sign(resolve_secret(sink.hmac_secret),
                                                            ts, body)}, sink.timeout_seconds)
    elif sink.type == "slack":
        assert sink.url_secret is not None
        text = _summary(payload) + "\n" + "\n".join(_lines(payload, 20))
        _post(resolve_secret(sink.url_secret), json.dumps({"text": text}).encode(), {},
              sink.timeout_seconds)
    else:
        import smtplib

        assert sink.smtp_host is not None and sink.from_addr is not None
        msg = EmailMessage()
        msg["Subject"] = _summary(payload)
        msg["From"] = sink.from_addr
        msg["To"] = ", ".join(sink.to)
        msg.set_content("\n".join(_lines(payload, 200)) + "\n")
        ctx = ssl.create_default_context(cafile=sink.tls_ca_file) if sink.tls_ca_file else \
            ssl.create_default_context()
        with smtplib.SMTP(sink.smtp_host, sink.smtp_port, timeout=sink.timeout_seconds) as s:
            if sink.starttls:
                s.starttls(context=ctx)
            if sink.username and sink.password:
                s.login(sink.username, resolve_secret(sink.password))
            s.send_message(msg)


def _safe_error(e: BaseException) -> str:
    """An error line without URLs (a Slack URL is a secret) or credentials."""
    import re

    text = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return re.sub(r"https?://\S+", "<url>", text)[:300]


def deliver(sink: AlertSink, payload: dict[str, Any], store: EvidenceStore | None = None,
            sleep: Any = time.sleep) -> tuple[bool, int, str | None]:
    """Send with retries and backoff; record the delivery; (ok, attempts, error)."""
    from tenacity import RetryError, Retrying, stop_after_attempt, wait_exponential

    attempts = 0
    err: str | None = None
    ok = False
    try:
        for attempt in Retrying(stop=stop_after_attempt(sink.attempts),
                                wait=wait_exponential(multiplier=0.5, max=10), sleep=sleep,
                                reraise=False):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                try:
                    _send_once(sink, payload)
                except Exception as e:
                    err = _safe_error(e)
                    log.warning("alert sink %s: attempt %d failed: %s", sink.name, attempts, err)
                    raise
        ok, err = True, None
    except RetryError:
        log.error("alert sink %s: gave up after %d attempts: %s", sink.name, attempts, err)
    if store is not None:
        from storage.queries import record_delivery

        try:
            record_delivery(store.engine, sink.name, store.clock(), ok, attempts,
                            len(payload["items"]), err)
        except Exception as e:  # the delivery log must never break a run
            log.error("alert sink %s: delivery not recorded: %s", sink.name, _safe_error(e))
    return ok, attempts, err


def after_run(config: Config, store: EvidenceStore, run_id: str, since: datetime | None
              ) -> dict[str, Any]:
    """Compute the run's drift and send it to each configured sink (never raises)."""
    report: dict[str, Any] = {"items": 0, "sinks": {}}
    if not config.alerts:
        return report
    try:
        d = drift(store, run_id, since, store.clock())
    except Exception as e:
        log.error("drift alerts: could not compute what changed: %s", _safe_error(e))
        return report
    report["items"] = len(d.items)
    for sink in config.alerts:
        items = select_items(sink, d.items, config)
        if not items:
            continue  # nothing changed that this sink wants
        ok, attempts, err = deliver(sink, d.payload(items), store)
        report["sinks"][sink.name] = {"ok": ok, "attempts": attempts, "items": len(items),
                                      "error": err}
    return report


def test_payload(run_id: str = "test") -> dict[str, Any]:
    """A sample alert for `evidence alerts test`."""
    item = Item("newly_failing", "example/instance:snapshot", "example-resource",
                "this is a test alert from `evidence alerts test`", ("CC6.1",))
    return Drift(run_id, datetime.now().astimezone()).payload([item])
