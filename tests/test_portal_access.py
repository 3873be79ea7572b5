"""The portal's access log under concurrency (group commit, answered only once logged), what
happens when it cannot be written, and the cached exception register agreeing with the
register in the store."""

from __future__ import annotations

import threading
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
