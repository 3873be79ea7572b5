"""Read and derivation paths use sealed evidence only (storage/vouched.py).

An insider who can write the index, the blob store and the seal folder, but does not hold
the key, chains a record after the head with a forged `runs` row. `verify` names it; these
tests show that `query`, as-of lookups, `population`, `sample`, coverage, diff, the portal
and the changes join no longer present it as sealed evidence, and that no later sealed
record (a sample, a join) is built from it. Real stores (SQLite and PostgreSQL), no mocks.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.coverage import coverage
from fieldwork.diff import diff
from fieldwork.portal import create_app
from fieldwork.sample import freeze_population, record_sample
from storage import access
from storage.index import ledger_head, records, runs, seals
from storage.ledger import record_hash
from storage.queries import as_of, newest_record_of
from storage.store import EvidenceStore
from storage.verify import verify
from storage.vouched import vouched
from tests.clock import Clock
from tests.portal_server import serving
from tests.test_tamper import forge_seal_row

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_N = itertools.count(1)


def forge(st: EvidenceStore, template: dict[str, Any], content: Any = None,
          run_status: str = "running", **changes: Any) -> dict[str, Any]:
    """Chain a record after the head as the insider can: its blob written, a forged `runs`
    row (claiming `running`, with no run lock behind it), the head moved; no seal."""
    n = next(_N)
    run_id = f"f{n:019d}"
    with st.engine.begin() as c:
        c.execute(insert(runs).values(id=run_id, trigger="schedule", host="h", pid=1,
                                      started_at=template["collected_started_at"],
                                      status=run_status, summary={}))
        head = c.execute(select(ledger_head)).one()
        row = dict(template, seq=int(head.seq) + 1, id=f"forged{n:014d}", run_id=run_id,
                   prev_hash=head.hash, **changes)
        if content is not None:
            row["content_sha256"] = st.put_json(content)[0]
        row["record_hash"] = record_hash(row)
        c.execute(insert(records).values(**row))
        c.execute(update(ledger_head).values(seq=row["seq"], hash=row["record_hash"]))
    return row


def _newest(st: EvidenceStore, connector: str, instance: str, snap: str) -> dict[str, Any]:
    r = newest_record_of(st.engine, connector, instance, snap)
    assert r is not None
    return r


def _events_store(cfg: Any, st: EvidenceStore, clock: Clock) -> None:
    col = Collector(cfg, st, clock=clock)
    col.run(Selection(snapshots=("events", "items")))  # 3 days of hourly events
    clock.t += timedelta(hours=6)
    col.run(Selection(snapshots=("events", "items")))


def _forge_window(st: EvidenceStore, clock: Clock) -> dict[str, Any]:
    """A complete events window [T0, T0+6h) holding one event no source ever had."""
    real = _newest(st, "synthetic", "one", "events")
    events = st.blob_json(real["content_sha256"])["events"]
    evil = {**events[0], "change": "chg-FORGED", "at": (T0 + timedelta(minutes=30)).isoformat()}
    return forge(st, real, {"events": [*events, evil]}, period_start=T0,
                 period_end=T0 + timedelta(hours=6),
                 collected_started_at=clock.t + timedelta(minutes=1),
                 collected_finished_at=clock.t + timedelta(minutes=2))


def _sealed_fieldwork_contents(st: EvidenceStore) -> list[str]:
    """The content of every sample record a seal by the store's key vouches for."""
    v = vouched(st)
    with st.engine.connect() as c:
        rows = c.execute(select(records).where(records.c.connector == "fieldwork",
                                               records.c.snapshot == "sample")).mappings().all()
    return [json.dumps(st.blob_json(r["content_sha256"])) + json.dumps(
        st.blob_json(r["ipe_sha256"])) for r in rows if v.state(r) == "sealed"]


def _laundering(cfg: Any, st: EvidenceStore, clock: Clock) -> None:
    """The audit's finding, end to end: a forged window, a sample, a real run, a sample."""
    _events_store(cfg, st, clock)
    forged = _forge_window(st, clock)
    since, until = T0 - timedelta(days=2), T0 + timedelta(hours=6)

    pop = freeze_population(st, ["CC8.1"], since, until)
    assert "chg-FORGED" not in {i["id"] for i in pop.items}
    assert forged["id"] not in pop.sources
    assert [(x["id"], x["state"]) for x in pop.unsealed] == [(forged["id"], "unsealed")]
    assert any(f"#{forged['seq']}" in w for w in pop.warnings)
    assert pop.complete  # the real windows cover the period: nothing is missing

    row, chosen = record_sample(st, pop, len(pop.items), seed="s")
    assert "chg-FORGED" not in {i["id"] for i in chosen}
    ipe = st.blob_json(row["ipe_sha256"])
    assert [x["id"] for x in ipe["excluded_unsealed"]] == [forged["id"]]

    # the next real run and the next sample seal with the real key: still nothing forged
    clock.t += timedelta(hours=1)
    Collector(cfg, st, clock=clock).run(Selection(snapshots=("events",)))
    pop = freeze_population(st, ["CC8.1"], since, until + timedelta(hours=1))
    record_sample(st, pop, len(pop.items), seed="t")
    sealed = _sealed_fieldwork_contents(st)
    assert len(sealed) == 2
    assert not any("chg-FORGED" in c for c in sealed)
    rep = verify(st, write_checkpoint=False)
    assert [(p.kind, p.subject) for p in rep.problems] == [("unsealed", f"#{forged['seq']}")]


def test_forged_window_never_enters_a_population_or_a_sealed_sample(
        config_file: Callable[..., Path]) -> None:
    """SQLite. Before: the forged window's event was in the population and in the sample
    the next run sealed."""
    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    try:
        _laundering(cfg, st, clock)
    finally:
        st.close()


def test_forged_window_never_laundered_on_postgres(config_file: Callable[..., Path],
                                                   pg_url: str) -> None:
    """The same on PostgreSQL (run locks are advisory locks there)."""
    cfg = load(config_file(index_url=pg_url))
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    try:
        _laundering(cfg, st, clock)
    finally:
        st.close()


def _posture_store(config_file: Callable[..., Path]) -> tuple[Path, EvidenceStore,
                                                              dict[str, Any], dict[str, Any]]:
    """Two runs of items; a forged items record, newest of its series; (config, store,
    the real newest record, the forged one)."""
    path = config_file()
    cfg = load(path)
    st = EvidenceStore.open(cfg)
    for _ in range(2):
        Collector(cfg, st).run(Selection(snapshots=("items",)))
    real = _newest(st, "synthetic", "one", "items")
    later = timedelta(seconds=1)
    fake = forge(st, real, collected_finished_at=real["collected_finished_at"] + later,
                 effective_at=(real["effective_at"] or real["collected_finished_at"]) + later,
                 assessment={"pass": 25})
    return path, st, real, fake


def test_as_of_answers_with_the_newest_sealed_record_and_names_the_forged_one(
        config_file: Callable[..., Path]) -> None:
    """Before: the forged record was the series' newest evidence, unmarked."""
    _, st, real, fake = _posture_store(config_file)
    now = datetime.now(UTC) + timedelta(minutes=1)
    crit = list(real["controls"])
    res = as_of(st.engine, crit, now, vouched=st.vouched())
    ids = [r["id"] for r in res["records"] if r["snapshot"] == "items"]
    assert ids == [real["id"]]
    assert all(r["sealed"] is True for r in res["records"])
    assert [(x["id"], x["state"]) for x in res["unsealed"]] == [(fake["id"], "unsealed")]
    assert len(res["warnings"]) == 1 and f"#{fake['seq']}" in res["warnings"][0]
    # the exception register, the drift baseline and diff read the same view
    assert newest_record_of(st.engine, "synthetic", "one", "items",
                            vouched=st.vouched())["id"] == real["id"]  # type: ignore[index]
    # `evidence status`: a forged complete record makes nothing fresh
    from storage.queries import newest_complete

    described = real["effective_at"] or real["collected_finished_at"]
    assert (fake["effective_at"] or fake["collected_finished_at"]) > described
    assert newest_complete(st.engine, "synthetic", "one", "items", st.vouched()) == described
    d = diff(st, crit, now - timedelta(days=1), now)
    assert [x["id"] for x in d["unsealed"]] == [fake["id"]]
    assert fake["id"] not in json.dumps(d["snapshots"])


def test_query_and_show_cli_leave_the_forged_record_out_and_warn(
        config_file: Callable[..., Path]) -> None:
    path, _, real, fake = _posture_store(config_file)
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    r = CliRunner().invoke(cli, ["-c", str(path), "query", "--control",
                                 real["controls"][0], "--as-of", later, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert fake["id"] not in [x["id"] for x in out["records"]]
    assert real["id"] in [x["id"] for x in out["records"]]
    assert "WARNING" in r.stderr and f"#{fake['seq']}" in r.stderr
    r = CliRunner().invoke(cli, ["-c", str(path), "show", fake["id"], "--json"])
    assert json.loads(r.stdout)["sealed"] == "unsealed"
    assert "not sealed evidence" in r.stderr
    r = CliRunner().invoke(cli, ["-c", str(path), "show", real["id"], "--json"])
    assert json.loads(r.stdout)["sealed"] == "sealed" and "WARNING" not in r.stderr


def test_coverage_counts_a_forged_record_as_no_evidence(
        config_file: Callable[..., Path]) -> None:
    """A forged passing record after the real ones does not make a day fresh."""
    _, st, real, fake = _posture_store(config_file)
    day = real["collected_finished_at"].replace(hour=0, minute=0, second=0, microsecond=0)
    cov = coverage(st, {"c": tuple(real["controls"])}, day, day + timedelta(days=1))
    assert [x["id"] for x in cov["unsealed"]] == [fake["id"]]
    assert cov["warnings"]


def test_a_live_runs_record_is_pending_until_its_run_seals(
        config_file: Callable[..., Path]) -> None:
    """A record of a run that holds its run lock is left out as pending (not as forged),
    and answers the query once the run has sealed it."""
    _, st, real, fake = _posture_store(config_file)
    run = st.start_run("test")
    try:
        row = st.append_rows([{k: v for k, v in real.items()
                               if k not in ("seq", "prev_hash", "record_hash")}
                              | {"id": "l" * 20, "run_id": run,
                                 "collected_started_at": datetime.now(UTC),
                                 "collected_finished_at": fake["collected_finished_at"]
                                 + timedelta(seconds=1)}])[0]
        now = datetime.now(UTC) + timedelta(minutes=1)
        res = as_of(st.engine, list(real["controls"]), now, vouched=st.vouched())
        assert {x["id"]: x["state"] for x in res["unsealed"]} == \
            {row["id"]: "pending", fake["id"]: "unsealed"}
        assert any("still in progress" in w for w in res["warnings"])
        st.seal(run, [int(row["seq"])])
        res = as_of(st.engine, list(real["controls"]), now, vouched=st.vouched())
        assert row["id"] in [r["id"] for r in res["records"]]
        assert [x["id"] for x in res["unsealed"]] == []  # the forged one is older now
    finally:
        st.finish_run(run, "ok", {})
        st.close()


def test_only_seals_the_key_signed_and_still_present_vouch(
        config_file: Callable[..., Path]) -> None:
    """A seal row with a forged signature vouches for nothing; deleting a real seal row
    takes its records out of the view (the cached view notices: the count changed)."""
    _, st, real, fake = _posture_store(config_file)
    v = st.vouched()
    assert v.covers(int(real["seq"])) and not v.covers(int(fake["seq"]))
    forge_seal_row(st, fake)
    assert not st.vouched().covers(int(fake["seq"]))
    with st.engine.begin() as c:
        c.execute(delete(seals).where(seals.c.seq == real["seq"]))  # the run that wrote it
    assert not st.vouched().covers(int(real["seq"]))


def test_portal_answers_with_sealed_evidence_and_marks_the_rest(
        config_file: Callable[..., Path]) -> None:
    """/api/evidence, /api/states, /api/records/{id}, /api/population and /api/samples."""
    path = config_file()
    cfg = load(path)
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    _events_store(cfg, st, clock)
    real = _newest(st, "synthetic", "one", "items")
    fake = forge(st, real, collected_finished_at=clock.t + timedelta(minutes=5),
                 collected_started_at=clock.t + timedelta(minutes=4), assessment={"pass": 25})
    window = _forge_window(st, clock)
    clock.t += timedelta(minutes=10)
    tok = access.create_token(st.engine, "Ann", "auditor", clock.t)[0]
    h = {"Authorization": f"Bearer {tok}"}
    ctl = real["controls"][0]
    with serving(create_app(cfg, st, clock=clock)) as base:
        ev = httpx.get(f"{base}/api/evidence", params={"control": ctl, "as_of": "now"},
                       headers=h).json()
        assert fake["id"] not in [r["id"] for r in ev["records"]]
        assert real["id"] in [r["id"] for r in ev["records"]]
        assert all(r["sealed"] is True for r in ev["records"])
        assert fake["id"] in [x["id"] for x in ev["unsealed"]] and ev["warnings"]
        states = httpx.get(f"{base}/api/states", headers=h).json()
        assert any(f"#{fake['seq']}" in w for w in states["warnings"])
        rec = httpx.get(f"{base}/api/records/{fake['id']}", headers=h).json()
        assert rec["sealed"] == "unsealed"
        got_content = httpx.get(f"{base}/api/records/{fake['id']}/content", headers=h)
        assert got_content.headers["X-Evidence-Sealed"] == "unsealed"
        got_content = httpx.get(f"{base}/api/records/{real['id']}/content", headers=h)
        assert got_content.headers["X-Evidence-Sealed"] == "sealed"
        q = {"control": "CC8.1", "since": (T0 - timedelta(days=2)).isoformat(),
             "until": (T0 + timedelta(hours=6)).isoformat(), "items": 5000}
        pop = httpx.get(f"{base}/api/population", params=q, headers=h).json()
        assert "chg-FORGED" not in {i["id"] for i in pop["items"]}
        assert [x["id"] for x in pop["unsealed"]] == [window["id"]]
        got = httpx.post(f"{base}/api/samples", headers=h, json={
            "control": "CC8.1", "since": q["since"], "until": q["until"], "size": 500}).json()
        assert "chg-FORGED" not in {i["id"] for i in got["selected"]}
        assert [x["id"] for x in got["unsealed"]] == [window["id"]]
    st.close()


def test_changes_join_leaves_a_forged_github_window_out(
        config_file: Callable[..., Path]) -> None:
    """A forged merged_changes window with a change nobody merged: the join record the
    next `changes join` seals does not carry it, and names the window it left out."""
    from fieldwork.changes import derive
    from tests.test_changes_join import (
        SINCE,
        UNTIL,
        _changes,
        _store_github,
        items_of,
        jira_collected,
    )

    store, data = jira_collected(config_file, 30)
    _store_github(store, _changes(data.tickets), SINCE, UNTIL)
    real = _newest(store, "github", "acme", "merged_changes")
    evil = {"id": "acme/evil#1", "kind": "pull_request", "repo": "acme/evil", "number": 1,
            "author": "mallory", "merged_by": "mallory",
            "merged_at": (UNTIL - timedelta(days=1)).isoformat(), "ticket_keys": [],
            "verdict": "pass", "reason": "approved"}
    fake = forge(store, real, {"changes": [evil]}, period_start=SINCE, period_end=UNTIL,
                 collected_finished_at=real["collected_finished_at"] + timedelta(seconds=1))
    row = derive(store, SINCE, UNTIL, items_of=items_of)
    content = store.blob_json(row["content_sha256"])
    assert "acme/evil#1" not in {c["id"] for c in content["changes"]}
    ipe = store.blob_json(row["ipe_sha256"])
    assert [x["id"] for x in ipe["excluded_unsealed"]] == [fake["id"]]
    assert fake["id"] not in [i["id"] for i in ipe["inputs"]]
    assert store.vouched().state(row) == "sealed"


def test_a_forged_exception_register_excuses_nothing_and_is_not_carried_on(
        config_file: Callable[..., Path]) -> None:
    """A forged register record adding an exception for every resource: the register reads
    the sealed one, and the next real change (sealed) does not carry the forged exception."""
    from fieldwork import exceptions as exc

    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, st, clock=clock).run(Selection(snapshots=("items",)))
    exc.add(st, series="synthetic/one:items", resource="item-0001", reason="r",
            approved_by="CISO", expires_at=T0 + timedelta(days=30))
    real = _newest(st, exc.CONNECTOR, exc.INSTANCE, exc.SNAPSHOT)
    content = st.blob_json(real["content_sha256"])
    evil = dict(content["exceptions"][0], id="EXC-evil", resource="*")
    clock.t += timedelta(minutes=5)
    forge(st, real, {**content, "exceptions": [*content["exceptions"], evil]},
          collected_started_at=clock.t, collected_finished_at=clock.t, effective_at=clock.t)
    clock.t += timedelta(minutes=5)
    assert [e.id for e in exc.register(st)] == [content["exceptions"][0]["id"]]
    assert "EXC-evil" not in [e.id for e in exc.RegisterCache(st).active(clock.t)]
    exc.add(st, series="synthetic/one:items", resource="item-0002", reason="r",
            approved_by="CISO", expires_at=T0 + timedelta(days=30))
    newest = _newest(st, exc.CONNECTOR, exc.INSTANCE, exc.SNAPSHOT)
    assert st.vouched().state(newest) == "sealed"
    assert "EXC-evil" not in json.dumps(st.blob_json(newest["content_sha256"]))


def test_a_forged_window_does_not_move_the_watermark(config_file: Callable[..., Path]) -> None:
    """A forged complete window reaching days ahead would have made the next runs skip
    every event until then; it is not taken as collected, and the run says so."""
    from storage.windows import resume_point

    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    _events_store(cfg, st, clock)
    real = _newest(st, "synthetic", "one", "events")
    fake = forge(st, real, period_start=real["period_end"],
                 period_end=real["period_end"] + timedelta(days=2),
                 collected_started_at=clock.t, collected_finished_at=clock.t)
    clock.t += timedelta(hours=3)
    start, notes = resume_point(st, "synthetic", "one", "events", clock.t, timedelta(days=3))
    assert start == real["period_end"]
    assert any(f"#{fake['seq']}" in n for n in notes)


def test_without_any_key_answers_say_seals_were_not_checked(
        config_file: Callable[..., Path]) -> None:
    """No key file and no public key: nothing can be told apart, and every answer says so
    (records carry sealed: null and a warning) instead of passing as checked."""
    path, st, real, fake = _posture_store(config_file)
    key = st.key_path
    assert key is not None
    st.close()
    key.rename(key.with_name("moved.key"))
    ro = EvidenceStore.open(load(path), create=False)
    v = ro.vouched()
    assert not v.checked and v.state(fake) == "unchecked"
    res = as_of(ro.engine, list(real["controls"]), datetime.now(UTC) + timedelta(minutes=1),
                vouched=v)
    assert all(r["sealed"] is None for r in res["records"])
    assert res["warnings"] and "NOT checked" in res["warnings"][0]
    ro.close()


def test_a_forged_window_before_the_lookback_does_not_move_the_watermark(
        config_file: Callable[..., Path]) -> None:
    """Windows ending before the lookback count through the newest end among them: a forged
    one ending later than every real one made the next run skip the days between."""
    from storage.windows import resume_point

    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    _events_store(cfg, st, clock)
    real = _newest(st, "synthetic", "one", "events")
    later = T0 + timedelta(days=10)  # the lookback (3 days) starts after every window
    fake = forge(st, real, period_start=real["period_end"],
                 period_end=later - timedelta(days=4),
                 collected_started_at=clock.t, collected_finished_at=clock.t)
    start, _ = resume_point(st, "synthetic", "one", "events", later, timedelta(days=3))
    assert start == real["period_end"] < fake["period_end"]


def test_lazy_view_agrees_with_checking_every_seal(config_file: Callable[..., Path],
                                                   monkeypatch: Any) -> None:
    """Seals are checked lazily, from the newest down as far as the oldest record asked
    about (in doubling steps, here from 1 record): whatever the order of the questions, the
    answer for every record is the one a view that checked every seal gives, with a seal
    deleted in the middle of the ledger, a forged seal row and a forged record at the head."""
    import random

    import storage.vouched as sv

    monkeypatch.setattr(sv, "_STEP", 1)
    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    col = Collector(cfg, st, clock=clock)
    for _ in range(24):
        col.run(Selection(snapshots=("items",)))
        clock.t += timedelta(hours=1)
    real = _newest(st, "synthetic", "one", "items")
    with st.engine.begin() as c:
        ids = [int(i) for i in c.execute(select(seals.c.id).order_by(seals.c.id)).scalars()]
        c.execute(delete(seals).where(seals.c.id == ids[len(ids) // 2]))
        good = dict(c.execute(select(seals).where(seals.c.id == ids[1])).mappings().one())
        del good["id"]
        c.execute(insert(seals).values(**dict(good, covers=[[1, 3]])))  # signature no longer fits
    fake = forge(st, real)
    head = int(fake["seq"])
    sv.forget(st.engine)
    truth = {q: st.vouched(full=True).covers(q) for q in range(1, head + 1)}
    assert truth[int(real["seq"])] and not truth[head]
    assert not all(truth.values()) and sum(truth.values()) > head // 2
    for order in (list(range(head, 0, -1)), list(range(1, head + 1)),
                  *(random.Random(seed).sample(range(1, head + 1), head) for seed in range(4))):
        sv.forget(st.engine)
        v = st.vouched()
        assert {q: v.covers(q) for q in order} == truth
    st.close()
