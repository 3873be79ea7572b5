"""The portal's access log under concurrency (group commit, answered only once logged), what
happens when it cannot be written, and the cached exception register agreeing with the
register in the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from collector.config import load
from collector.runner import Collector, Selection
from fieldwork import exceptions as exc
from fieldwork.portal import create_app
from storage import access
from storage.store import EvidenceStore
from storage.verify import verify
from tests.clock import Clock
from tests.portal_server import serving

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SERIES = "synthetic/one:items"


@pytest.fixture
def served(config_file: Callable[..., Path]) -> Iterator[tuple[str, EvidenceStore, str, Any,
                                                                Clock]]:
    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, st, clock=clock).run(Selection())
    clock.t = T0 + timedelta(hours=1)
    tok = access.create_token(st.engine, "Ann Auditor", "auditor", clock.t)[0]
    app = create_app(cfg, st, clock=clock)
    with serving(app) as base:
        yield base, st, tok, app.state.portal, clock


def _logged_queries(st: EvidenceStore) -> set[str]:
    return {str(r["query"]) for r in access.iter_access(st.engine)}


def test_concurrent_requests_are_each_logged_before_they_are_answered(served: Any) -> None:
    """Twenty clients at once: when a client holds its answer, its own entry is already in
    the access log; the entries share commits (group commit) and the chain verifies."""
    base, st, tok, portal, _ = served
    errors: list[str] = []
    gate = threading.Barrier(20)

    def client(i: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tok}"}) as c:
            gate.wait()
            for j in range(10):
                q = f"control=CC6.1&as_of=2026-03-10T12:{i:02d}:{j:02d}Z"
                r = c.get(f"/api/evidence?{q}")
                if r.status_code != 200:
                    errors.append(f"{q}: {r.status_code}")
                elif q not in _logged_queries(st):
                    errors.append(f"{q}: answered before it was logged")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    n, problems = access.verify_access_log(st.engine)
    assert problems == [] and n == 200
    w = portal.access_log
    assert w.entries == 200 and w.batches < 200  # some commits carried several entries


def test_an_answer_that_cannot_be_logged_is_withheld(served: Any) -> None:
    """While the index refuses access-log inserts, requests get a JSON 503 and no evidence;
    once it accepts them again, requests are answered and logged."""
    base, st, tok, _, _ = served
    h = {"Authorization": f"Bearer {tok}"}
    with st.engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER refuse_log BEFORE INSERT ON access_log "
                          "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"))
    r = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1"}, headers=h)
    assert r.status_code == 503
    assert r.json()["error"]["status"] == 503 and "records" not in r.text
    assert "quota" not in r.text and "Traceback" not in r.text
    with st.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_log"))
    r = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1"}, headers=h)
    assert r.status_code == 200 and r.json()["records"]
    assert access.verify_access_log(st.engine)[1] == []


def test_cached_register_answers_as_the_store_does_and_sees_new_exceptions(served: Any
                                                                           ) -> None:
    """RegisterCache.active(t) equals exceptions.active(store, t) at instants around every
    change of the register, including changes made after the cache was first read; the
    portal's evidence answer shows an exception added while it is running."""
    base, st, tok, portal, clock = served
    cache = portal.register
    rec = st.record(next(r["id"] for r in httpx.get(
        f"{base}/api/evidence", params={"control": "CC6.1"},
        headers={"Authorization": f"Bearer {tok}"}).json()["records"]
        if r["connector"] == "synthetic"))
    assert rec is not None
    failing = [f["resource"] for f in st.blob_json(rec["findings_sha256"])
               if f["status"] == "fail"]
    assert len(failing) >= 2
    assert cache.active(clock.t) == [] == exc.active(st, clock.t)
    changes = []
    for i, res in enumerate(failing[:2]):
        clock.t = T0 + timedelta(hours=2 + i)
        changes.append(clock.t)
        e = exc.add(st, series=SERIES, resource=res, reason="accepted", approved_by="CISO",
                    expires_at=T0 + timedelta(days=1 + i))
    clock.t = T0 + timedelta(hours=5)
    changes.append(clock.t)
    exc.revoke(st, e.id, who="CISO")
    probes = [t + d for t in changes for d in (-timedelta(seconds=1), timedelta(0),
                                                timedelta(seconds=1))]
    probes += [T0 + timedelta(days=1, seconds=1), T0 + timedelta(days=3)]
    for t in probes:
        assert [x.id for x in cache.active(t)] == [x.id for x in exc.active(st, t)], t
    clock.t = T0 + timedelta(hours=4)
    ans = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1",
                                                    "as_of": "2026-03-10T16:00:00Z"},
                    headers={"Authorization": f"Bearer {tok}"}).json()
    (items,) = [r for r in ans["records"] if r["connector"] == "synthetic"]
    assert items["assessment"].get("excepted") == 2


# the access log's tail, anchored by seals ------------------------------------------------
def _requests(base: str, tok: str, n: int) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tok}"}) as c:
        for i in range(n):
            assert c.get("/api/whoami", params={"i": i}).status_code == 200


def _cut(st: EvidenceStore, after: int) -> None:
    with st.engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq > :s"), {"s": after})


def _access_problems(st: EvidenceStore) -> list[str]:
    return [str(p) for p in verify(st).problems if p.kind == "access-log"]


def test_cutting_off_the_access_logs_tail_is_caught_after_a_checkpoint(served: Any) -> None:
    """Entries up to the portal's access-log checkpoint are anchored: deleting the newest of
    them (a consistent truncation the chain alone cannot show) is named by verify, even
    when the index seal is deleted too (its file in the seal store still says so)."""
    base, st, tok, portal, _ = served
    _requests(base, tok, 6)
    seal = portal.checkpoint_access_log()
    assert seal is not None and seal.purpose == "access-log"
    assert portal.checkpoint_access_log() is None  # nothing new: no second seal
    rep = verify(st)
    assert rep.ok, rep.problems
    assert rep.access_entries == rep.access_anchored == 6
    _cut(st, 3)
    assert access.verify_access_log(st.engine)[1] == []  # the chain alone looks fine
    (p,) = _access_problems(st)
    assert "#6 is missing" in p and "#4..#6" in p and "cut off" in p
    with st.engine.begin() as conn:
        conn.execute(text("DELETE FROM seals WHERE purpose = 'access-log'"))
    probs = [str(x) for x in verify(st).problems]
    assert any("cut off" in x and "seal file" in x for x in probs), probs
    assert any("no matching seal in the index" in x for x in probs), probs


def test_a_rewritten_anchored_tail_is_caught(served: Any) -> None:
    """Replacing anchored entries with a freshly chained tail (hashes recomputed, so the
    chain links) is named: the entry a seal saw is not there any more."""
    base, st, tok, portal, clock = served
    _requests(base, tok, 4)
    assert portal.checkpoint_access_log() is not None
    _cut(st, 2)
    access.log_access(st.engine, at=clock.t, who="someone else", token_id=None, role=None,
                      method="GET", path="/api/whoami", query="", status=200, client="x")
    access.log_access(st.engine, at=clock.t, who="someone else", token_id=None, role=None,
                      method="GET", path="/api/whoami", query="", status=200, client="x")
    assert access.verify_access_log(st.engine)[1] == []
    (p,) = _access_problems(st)
    assert "entry #4 is not the entry" in p and "rewritten" in p


def test_every_run_seal_anchors_the_access_log(served: Any, config_file: Any) -> None:
    """A collection run's seal commits to the access log's head too, so the tail is anchored
    at each run even with no portal checkpoint; entries after the newest seal are the
    window verify cannot see yet (reported as not anchored)."""
    base, st, tok, _, clock = served
    _requests(base, tok, 5)
    cfg = load(config_file())
    clock.t += timedelta(hours=1)
    Collector(cfg, st, clock=clock).run(Selection())
    _requests(base, tok, 2)
    rep = verify(st)
    assert rep.ok and rep.access_entries == 7 and rep.access_anchored == 5
    _cut(st, 5)  # inside the window: not caught, and said so by the numbers
    rep = verify(st)
    assert rep.ok and rep.access_entries == rep.access_anchored == 5
    _cut(st, 4)
    (p,) = _access_problems(st)
    assert "#5 is missing" in p and "#5..#5" in p


def test_the_served_portal_checkpoints_while_running_and_at_shutdown(
        config_file: Callable[..., Path]) -> None:
    """Served with its lifespan, the portal seals the access log's head periodically while
    it grows, and once more when it shuts down."""
    cfg = load(config_file())
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, st, clock=clock).run(Selection())
    st.clock = lambda: datetime.now(UTC)  # seal files are named by seq and time: let it run
    tok = access.create_token(st.engine, "Ann Auditor", "auditor", clock.t)[0]
    app = create_app(cfg, st, checkpoint_every_s=0.2)
    with serving(app, lifespan="on") as base:
        _requests(base, tok, 3)
        for _ in range(100):
            if verify(st).access_anchored == 3:
                break
            time.sleep(0.05)
        assert verify(st).access_anchored == 3
        app.state.portal._stop.set()  # no more periodic checkpoints: shutdown must do it
        app.state.portal._checkpointer.join(5)
        _requests(base, tok, 2)
        assert verify(st).access_anchored == 3
    rep = verify(st)
    assert rep.ok and rep.access_entries == rep.access_anchored == 5


@pytest.mark.postgres
def test_access_log_group_commit_and_anchoring_on_postgres(config_file: Callable[..., Path],
                                                           pg_url: str) -> None:
    """On PostgreSQL: two group-commit writers (as two server processes would have) build
    one chain, a run's seal anchors its head, and a cut tail is named by verify."""
    cfg = load(config_file(index_url=pg_url))
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    writers = [access.AccessLogWriter(st.engine), access.AccessLogWriter(st.engine)]
    futs = [writers[i % 2].submit(access.entry(
        at=T0, who=f"w{i}", token_id=None, role=None, method="GET", path="/api/whoami",
        query=f"i={i}", status=200, client="127.0.0.1")) for i in range(40)]
    assert sorted(f.result(30) for f in futs) == list(range(1, 41))
    for w in writers:
        w.close()
    Collector(cfg, st, clock=clock).run(Selection())
    rep = verify(st)
    assert rep.ok and rep.access_entries == rep.access_anchored == 40
    with st.engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq > 30"))
    assert any("#31..#40" in str(p) for p in verify(st).problems)
