"""Exceptions: failing findings accepted on purpose, approved, expiring and ledgered.

The register of exceptions is itself evidence. Every change (an exception added, replaced or
revoked, from the CLI or from `[[exceptions]]` in the config) appends a new record of the
`fieldwork/exceptions:register` series whose content is the whole register after the change
plus the change itself; so the register as of any instant T is the newest such record
collected by T, it is sealed with the run that wrote it, and it travels in every bundle of
the controls it touches (as-of answers include it).

Reading evidence as of T applies the exceptions active at T: an exception is active from its
creation until it expires or is revoked. A finding whose raw verdict is `fail`, in the series
an exception names, with a resource matching its glob, becomes `excepted` (naming the
exception); its raw verdict stays beside it. Nothing is ever turned into `pass`, and an
inconclusive finding is never excepted (an exception accepts a known failure, not an unknown).
"""

from __future__ import annotations

import bisect
import fnmatch
import re
import secrets
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from collector.errors import ConfigError
from storage.canonical import iso
from storage.store import EvidenceStore, NewRecord
from storage.vouched import Vouched

CONNECTOR, INSTANCE, SNAPSHOT = "fieldwork", "exceptions", "register"
SERIES_RE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.*?-]+):([A-Za-z0-9_.-]+)$")
DEFAULT_MAX_DAYS = 365


@dataclass(frozen=True)
class Exception_:
    """One exception: which failing findings it accepts, why, who approved, until when."""

    id: str
    series: str  # CONNECTOR/INSTANCE:SNAPSHOT (the instance may be a glob)
    resource: str  # a resource ID or glob
    reason: str
    approved_by: str
    created_at: datetime
    expires_at: datetime
    ticket: str | None = None
    source: str = "cli"  # cli | config
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def active(self, t: datetime) -> bool:
        return (self.created_at <= t < self.expires_at
                and (self.revoked_at is None or t < self.revoked_at))

    def covers_series(self, connector: str, instance: str, snapshot: str) -> bool:
        m = SERIES_RE.match(self.series)
        return bool(m and m.group(1) == connector and fnmatch.fnmatchcase(instance, m.group(2))
                    and m.group(3) == snapshot)

    def matches(self, resource: str) -> bool:
        return fnmatch.fnmatchcase(resource, self.resource)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "series": self.series, "resource": self.resource,
                "reason": self.reason, "approved_by": self.approved_by,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "ticket": self.ticket, "source": self.source,
                "revoked_at": iso(self.revoked_at), "revoked_by": self.revoked_by}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Exception_:
        from storage.queries import parse_time

        def t(v: Any) -> datetime | None:
            return parse_time(str(v)) if v else None

        created, expires = t(d["created_at"]), t(d["expires_at"])
        assert created is not None and expires is not None
        return cls(str(d["id"]), str(d["series"]), str(d["resource"]), str(d["reason"]),
                   str(d["approved_by"]), created, expires, d.get("ticket"),
                   str(d.get("source", "cli")), t(d.get("revoked_at")), d.get("revoked_by"))

    def same_declaration(self, other: Exception_) -> bool:
        keys = ("series", "resource", "reason", "approved_by", "expires_at", "ticket")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def check_declaration(series: str, resource: str, reason: str, approved_by: str,
                      expires_at: datetime | None, now: datetime,
                      max_days: int = DEFAULT_MAX_DAYS, where: str = "exception") -> None:
    """ConfigError naming the first problem of a declared exception."""
    from connectors.registry import get

    m = SERIES_RE.match(series)
    if not m:
        raise ConfigError(f"{where}: snapshot {series!r}: expected CONNECTOR/INSTANCE:SNAPSHOT "
                          "(e.g. aws/prod:iam_users)")
    try:
        cls = get(m.group(1))
    except ConfigError as e:
        raise ConfigError(f"{where}: snapshot {series!r}: {e.message}") from None
    if m.group(3) not in cls.snapshots():
        raise ConfigError(f"{where}: snapshot {series!r}: {m.group(1)} has no snapshot "
                          f"{m.group(3)!r}")
    if not resource.strip():
        raise ConfigError(f"{where}: resource: empty (give a resource ID or glob)")
    if resource.strip() == "*":
        raise ConfigError(f"{where}: resource: '*' would except every finding; name the "
                          "resources")
    if not reason.strip():
        raise ConfigError(f"{where}: reason: empty (say why the risk is accepted)")
    if not approved_by.strip():
        raise ConfigError(f"{where}: approved_by: empty (name who approved it)")
    if expires_at is None:
        raise ConfigError(f"{where}: expires: missing (every exception expires)")
    if expires_at <= now:
        raise ConfigError(f"{where}: expires: {iso(expires_at)} is not in the future")
    if expires_at - now > timedelta(days=max_days):
        raise ConfigError(f"{where}: expires: {iso(expires_at)} is more than {max_days} days "
                          "away (the configured maximum)")


# the register ---------------------------------------------------------------------------
def register(store: EvidenceStore, at: datetime | None = None) -> list[Exception_]:
    """Every exception (active or not) in the register as of `at` (default: now)."""
    from storage.queries import newest_record_of

    # only a register record a seal by the store's key vouches for: a forged one would
    # excuse findings, and be carried into the next register change (which is sealed)
    r = newest_record_of(store.engine, CONNECTOR, INSTANCE, SNAPSHOT, at, store.vouched())
    if r is None or not r["content_sha256"]:
        return []
    return [Exception_.from_json(d) for d in store.blob_json(r["content_sha256"])["exceptions"]]


def active(store: EvidenceStore, at: datetime) -> list[Exception_]:
    """The exceptions active at `at`, as the register stood at `at`."""
    return [e for e in register(store, at) if e.active(at)]


class RegisterCache:
    """`active()` for a server answering many as-of questions: the register's history (its
    records' times and content hashes) is read again only when the ledger head has moved,
    and each register blob is parsed once. Same answers as `active()` for an untampered
    store: every register change appends a record, which moves the head."""

    def __init__(self, store: EvidenceStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._head: tuple[int, tuple[int, int]] | None = None
        self._timeline: list[tuple[datetime, int, str | None]] = []
        self._parsed: dict[str, list[Exception_]] = {}

    def active(self, at: datetime, vouched: Vouched | None = None) -> list[Exception_]:
        """The exceptions active at `at`, as the register stood at `at` (`vouched`: the
        answer's own view of sealed evidence, else the store's now)."""
        from storage.queries import ledger_head_seq, series_timeline

        vouched = vouched or self.store.vouched()
        # a seal changes what is vouched for without moving the head
        head = (ledger_head_seq(self.store.engine), vouched.stamp)
        with self._lock:
            if head != self._head:
                # read after the head: the timeline is at least as new as `head`
                self._timeline = series_timeline(self.store.engine, CONNECTOR, INSTANCE,
                                                 SNAPSHOT, vouched)
                self._head = head
            timeline = self._timeline
        i = bisect.bisect_right(timeline, (at, sys.maxsize, "")) - 1
        if i < 0 or not timeline[i][2]:
            return []
        sha = str(timeline[i][2])
        found = self._parsed.get(sha)
        if found is None:
            found = [Exception_.from_json(d) for d in self.store.blob_json(sha)["exceptions"]]
            with self._lock:
                if len(self._parsed) > 256:
                    self._parsed.clear()
                self._parsed[sha] = found
        return [e for e in found if e.active(at)]


def _criteria_of(series: str) -> set[str]:
    from connectors.registry import get

    m = SERIES_RE.match(series)
    if not m:
        return set()
    try:
        spec = get(m.group(1)).snapshots().get(m.group(3))
    except ConfigError:
        return set()
    return set(spec.controls) if spec else set()


def _write(store: EvidenceStore, exceptions: Sequence[Exception_], change: dict[str, Any],
           who: str) -> dict[str, Any]:
    now = store.clock()
    run_id = store.start_run("exception")
    controls: set[str] = set()
    for e in exceptions:
        controls |= _criteria_of(e.series)
    content = {"exceptions": [e.to_json() for e in sorted(exceptions, key=lambda e: e.id)],
               "change": change}
    ipe = {"principal": who, "source": "evidence exception", "api_calls": 0, "pages": 0,
           "calls": [{"operation": f"exception.{change['action']}", "ok": True, "pages": 0,
                      "params": {"id": change["id"]}}],
           "pagination_exhausted": True, "errors": []}
    row = store.append([NewRecord(
        run_id=run_id, connector=CONNECTOR, instance=INSTANCE, snapshot=SNAPSHOT,
        kind="posture", controls=sorted(controls), max_age_seconds=3650 * 86400,
        collected_started_at=now, collected_finished_at=now, status="complete", ipe=ipe,
        content=content, has_content=True, record_count=len(exceptions), effective_at=now)])[0]
    try:  # sealed while its run still holds its run lock: pending, never unsealed, till then
        store.seal(run_id, [int(row["seq"])])  # it vouches for the record it wrote
    finally:
        store.finish_run(run_id, "ok", {"exception_record": row["id"],
                                        "change": change["action"]})
    return row


def _who(default: str | None = None) -> str:
    import getpass
    import socket

    try:
        return default or f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return "unknown"


def add(store: EvidenceStore, *, series: str, resource: str, reason: str, approved_by: str,
        expires_at: datetime | None, ticket: str | None = None,
        max_days: int = DEFAULT_MAX_DAYS, source: str = "cli", exc_id: str | None = None,
        who: str | None = None) -> Exception_:
    """Declare an exception (refused without an expiry or beyond `max_days`); ledgered."""
    now = store.clock()
    check_declaration(series, resource, reason, approved_by, expires_at, now, max_days)
    assert expires_at is not None
    current = register(store)
    new = Exception_(exc_id or f"EXC-{secrets.token_hex(4)}", series, resource, reason,
                     approved_by, now, expires_at, ticket, source)
    kept = [e for e in current if e.id != new.id]
    if len(kept) != len(current) and source != "config":
        raise ConfigError(f"exception {new.id} already exists")
    _write(store, [*kept, new], {"action": "add", "id": new.id, **new.to_json()}, _who(who))
    return new


def revoke(store: EvidenceStore, exc_id: str, *, who: str | None = None,
           reason: str = "") -> Exception_:
    """Revoke an exception from now on; the findings it covered count again. Ledgered."""
    now = store.clock()
    current = register(store)
    found = [e for e in current if e.id == exc_id]
    if not found:
        raise ConfigError(f"no exception with ID {exc_id!r} (`evidence exception list`)")
    e = found[0]
    if e.revoked_at is not None:
        raise ConfigError(f"exception {exc_id} was already revoked at {iso(e.revoked_at)}")
    by = _who(who)
    done = replace(e, revoked_at=now, revoked_by=by)
    _write(store, [done if x.id == exc_id else x for x in current],
           {"action": "revoke", "id": exc_id, "reason": reason, "revoked_by": by}, by)
    return done


def sync_config(store: EvidenceStore, declared: Iterable[Mapping[str, Any]],
                max_days: int = DEFAULT_MAX_DAYS) -> list[str]:
    """Bring the register in line with `[[exceptions]]`: new or changed declarations are
    written, removed ones revoked. Returns what changed (one line each)."""
    from storage.queries import parse_time

    now = store.clock()
    current = {e.id: e for e in register(store) if e.source == "config"}
    changes: list[str] = []
    seen: set[str] = set()
    for d in declared:
        eid = f"cfg:{d['id']}"
        seen.add(eid)
        expires = parse_time(str(d["expires"])) if d.get("expires") else None
        want = Exception_(eid, d["snapshot"], d["resource"], d["reason"], d["approved_by"],
                          now, expires or now, d.get("ticket"), "config")
        have = current.get(eid)
        if have is not None and have.revoked_at is None and have.same_declaration(want):
            continue
        try:
            add(store, series=want.series, resource=want.resource, reason=want.reason,
                approved_by=want.approved_by, expires_at=expires, ticket=want.ticket,
                max_days=max_days, source="config", exc_id=eid, who="config")
        except ConfigError as err:  # e.g. expired: refused, the others still apply
            changes.append(f"refused {eid}: {err.message}")
            continue
        changes.append(f"{'changed' if have else 'added'} {eid}")
    for eid, e in current.items():
        if eid not in seen and e.revoked_at is None and e.active(now):
            revoke(store, eid, who="config", reason="removed from the config")
            changes.append(f"revoked {eid} (removed from the config)")
    return changes


# applying -------------------------------------------------------------------------------
def apply(findings: Sequence[Mapping[str, Any]] | None, connector: str, instance: str,
          snapshot: str, exceptions: Sequence[Exception_], at: datetime
          ) -> list[dict[str, Any]] | None:
    """Findings with the exceptions active at `at` applied: a raw `fail` matched by one
    becomes `excepted` (with `raw_status` and `exception`); nothing else changes (pure)."""
    if findings is None:
        return None
    mine = [e for e in exceptions if e.active(at) and e.covers_series(connector, instance,
                                                                     snapshot)]
    out: list[dict[str, Any]] = []
    for f in findings:
        g = dict(f)
        if g.get("status") == "fail":
            hit = next((e for e in mine if e.matches(str(g.get("resource", "")))), None)
            if hit is not None:
                g.update(status="excepted", raw_status="fail", exception=hit.id)
        out.append(g)
    return out


def counts(findings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[str(f["status"])] = out.get(str(f["status"]), 0) + 1
    return out


def apply_to_answer(store: EvidenceStore, answer: dict[str, Any], at: datetime,
                    exceptions: Sequence[Exception_] | None = None) -> dict[str, Any]:
    """An as-of answer with the exceptions active at `at` applied to each record's
    assessment (`raw_assessment` keeps the counts before them). `exceptions`: those active
    at `at`, when the caller already has them (e.g. from a RegisterCache)."""
    exc = active(store, at) if exceptions is None else exceptions
    if not exc:
        return answer
    for e in answer["records"]:
        if not any(x.covers_series(e["connector"], e["instance"], e["snapshot"]) for x in exc):
            continue
        r = store.record(e["id"])
        if r is None or not r["findings_sha256"]:
            continue
        applied = apply(store.blob_json(r["findings_sha256"]), e["connector"], e["instance"],
                        e["snapshot"], exc, at)
        if applied is not None and any(f["status"] == "excepted" for f in applied):
            e["raw_assessment"] = e["assessment"]
            e["assessment"] = counts(applied)
            e["exceptions"] = sorted({f["exception"] for f in applied if "exception" in f})
    return answer


def stale(store: EvidenceStore, at: datetime, idle: timedelta = timedelta(days=30)
          ) -> list[dict[str, str]]:
    """Active exceptions whose resource no longer exists in the newest evidence, or that
    matched no finding over the last `idle` (each with why)."""
    from storage.queries import records_of_series

    out: list[dict[str, str]] = []
    vouched = store.vouched()
    for e in active(store, at):
        m = SERIES_RE.match(e.series)
        if not m:
            continue
        recs = [r for r in records_of_series(store.engine, m.group(1), m.group(2)
                                             .replace("*", "%").replace("?", "_"), m.group(3),
                                             at - idle, at) if vouched.presented(r)]
        if not recs:
            out.append({"id": e.id, "why": f"no evidence of {e.series} in the last "
                                           f"{idle.days} days"})
            continue
        newest, matched = None, False
        for r in recs:
            if not r["findings_sha256"]:
                continue
            fs = store.blob_json(r["findings_sha256"])
            if newest is None:
                newest = [f for f in fs if e.matches(str(f["resource"]))]
            if any(e.matches(str(f["resource"])) and f["status"] == "fail" for f in fs):
                matched = True
                break
        if newest is not None and not newest:
            out.append({"id": e.id, "why": f"resource {e.resource!r} no longer exists in "
                                           f"the newest evidence of {e.series}"})
        elif not matched:
            out.append({"id": e.id, "why": f"matched no failing finding in the last "
                                           f"{idle.days} days"})
    return out


def apply_items(items: list[dict[str, Any]], exceptions: Sequence[Exception_]) -> None:
    """Population items in place: an item whose `verdict` is `fail` and whose ID an
    exception active at the item's time matches becomes `excepted` (raw verdict kept)."""
    from storage.queries import parse_time

    if not exceptions:
        return
    for it in items:
        if it.get("verdict") != "fail":
            continue
        m = re.match(r"^([^/]+)/([^:]+):(.+)$", str(it.get("series", "")))
        if not m:
            continue
        t = parse_time(str(it["time"]))
        hit = next((e for e in exceptions if e.active(t)
                    and e.covers_series(m.group(1), m.group(2), m.group(3))
                    and e.matches(str(it["id"]))), None)
        if hit is not None:
            it.update(verdict="excepted", raw_verdict="fail", exception=hit.id)
