"""The run loop: isolation, retries, partial results, population windows, filters."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.config import load
from collector.errors import ConfigError
from collector.runner import Collector, Selection
from storage.store import EvidenceStore

SYN = '[[connectors]]\ntype = "synthetic"\ninstance = "one"\nitems = 30\n'


class Clock:
    """A settable UTC clock."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def _setup(config_file: Callable[..., Path], conns: str = SYN,
           clock: Callable[[], datetime] | None = None) -> tuple[Collector, EvidenceStore]:
    cfg = load(config_file(connectors=conns))
    st = EvidenceStore.open(cfg)
    kw = {"clock": clock} if clock else {}
    return Collector(cfg, st, sleep=lambda s: None, **kw), st


def test_one_failure_does_not_stop_the_run(config_file: Callable[..., Path]) -> None:
    """A snapshot that fails is recorded as failed and inconclusive; the others complete."""
    col, st = _setup(config_file, SYN + 'fail = ["items"]\n')
    s = col.run(Selection(snapshots=("items", "settings")))
    by = {o.snapshot: o for o in s.outcomes}
    assert by["items"].status == "failed" and "UnexpectedResponse" in (by["items"].error or "")
    assert by["settings"].status == "complete"
    assert not s.ok and s.status == "failed-snapshots"
    rec = st.record(by["items"].record_ids[0])
    assert rec is not None
    assert rec["status"] == "failed" and rec["content_sha256"] is None
    assert rec["assessment"] == {"inconclusive": 1}  # a failure is never a pass
    assert st.blob_json(rec["ipe_sha256"])["pagination_exhausted"] is False  # read no page
    assert s.seal_seq == 2


def test_transient_errors_are_retried_and_counted(config_file: Callable[..., Path]) -> None:
    """Throttling is retried with backoff; the record counts the retries."""
    col, st = _setup(config_file, '[[connectors]]\ntype = "synthetic"\ninstance = "flaky"\n'
                                  'transient = 2\n')
    s = col.run(Selection(snapshots=("settings",)))
    o = s.outcomes[0]
    assert o.status == "complete" and o.attempts == 3
    rec = st.record(o.record_ids[0])
    assert rec is not None and rec["retries"] == 2
    prov = st.blob_json(rec["ipe_sha256"])
    assert prov["attempts"] == 3
    assert [c["ok"] for c in prov["calls"]] == [True]
    assert [[c["ok"] for c in a["calls"]] for a in prov["earlier_attempts"]] == [[False]] * 2


def test_a_partial_first_attempt_does_not_taint_a_complete_retry(
        config_file: Callable[..., Path]) -> None:
    """A first attempt cut short then throttled, and a second attempt that reads everything,
    give a complete record; the first attempt's provenance is kept under its own key."""
    col, st = _setup(config_file, '[[connectors]]\ntype = "synthetic"\ninstance = "cut"\n'
                                  'partial_then_transient = 1\n')
    o = col.run(Selection(snapshots=("items",))).outcomes[0]
    assert o.status == "complete" and o.attempts == 2, o.error
    rec = st.record(o.record_ids[0])
    assert rec is not None and rec["status"] == "complete" and rec["error"] is None
    prov = st.blob_json(rec["ipe_sha256"])
    assert prov["pagination_exhausted"] is True and prov["errors"] == []
    (first,) = prov["earlier_attempts"]
    assert first["attempt"] == 1 and first["pagination_exhausted"] is False
    assert "ThrottledOnPage2" in first["error"] or "throttled" in first["error"]


def test_retries_are_bounded(config_file: Callable[..., Path]) -> None:
    """After max_attempts the snapshot fails, saying how many attempts it took."""
    col, _ = _setup(config_file, '[[connectors]]\ntype = "synthetic"\ninstance = "down"\n'
                                 'transient = 99\n')
    o = col.run(Selection(snapshots=("settings",))).outcomes[0]
    assert o.status == "failed" and "after 4 attempts" in (o.error or "")


def test_partial_result_is_stored_as_partial(config_file: Callable[..., Path]) -> None:
    """Pagination cut short gives a partial record with an inconclusive finding, not a pass."""
    col, st = _setup(config_file, SYN + 'partial = ["items"]\n')
    o = col.run(Selection(snapshots=("items",))).outcomes[0]
    assert o.status == "partial"
    rec = st.record(o.record_ids[0])
    assert rec is not None and rec["status"] == "partial" and not rec["complete"]
    assert rec["assessment"]["inconclusive"] == 1
    assert st.blob_json(rec["ipe_sha256"])["pagination_exhausted"] is False


def test_ipe_is_recorded(config_file: Callable[..., Path]) -> None:
    """Each record carries principal, source, calls with parameters, counts and API totals."""
    col, st = _setup(config_file)
    o = col.run(Selection(snapshots=("items",))).outcomes[0]
    rec = st.record(o.record_ids[0])
    assert rec is not None
    assert rec["principal"] == "synthetic:tester" and rec["source"] == "seed:s"
    assert rec["record_count"] == 30 and rec["api_totals"] == {"items": 30}
    prov = st.blob_json(rec["ipe_sha256"])
    assert prov["calls"][0]["operation"] == "ListItems"
    assert prov["calls"][0]["params"] == {"limit": 100}
    assert prov["pagination_exhausted"] is True
    assert sum(rec["assessment"].values()) == 30


def test_population_windows_cover_the_period_without_gaps(
        config_file: Callable[..., Path]) -> None:
    """Each run starts where the last complete window ended: no gap, no double counting."""
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    col, st = _setup(config_file, clock=clock)
    col.run(Selection(snapshots=("events",)))
    clock.t += timedelta(hours=5)
    col.run(Selection(snapshots=("events",)))
    recs = [r for r in st.iter_records() if r["snapshot"] == "events"]
    assert len(recs) == 4  # 3 days of lookback in 1-day windows, then 5 hours
    assert recs[0]["period_start"] == datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    for a, b in itertools.pairwise(recs):
        assert b["period_start"] == a["period_end"]
    assert recs[-1]["period_end"] == clock.t
    total = sum(r["record_count"] for r in recs)
    assert total == 3 * 24 + 5  # one event per hour, each counted once


def test_failed_window_stays_a_gap_until_refilled(config_file: Callable[..., Path]) -> None:
    """A failed window is recorded; the next run collects from where the last success ended."""
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    ok, st = _setup(config_file, clock=clock)
    ok.run(Selection(snapshots=("events",)))
    assert ok.config.path is not None
    bad_file = ok.config.path.parent / "bad.toml"
    bad_file.write_text(ok.config.path.read_text() + 'fail = ["events"]\n')
    bad = Collector(load(bad_file), st, clock=clock, sleep=lambda s: None)
    clock.t += timedelta(hours=2)
    s = bad.run(Selection(snapshots=("events",)))
    assert s.outcomes[0].status == "failed"
    clock.t += timedelta(hours=2)
    ok.run(Selection(snapshots=("events",)))
    recs = [r for r in st.iter_records() if r["snapshot"] == "events"]
    failed = [r for r in recs if r["status"] == "failed"]
    assert len(failed) == 1
    refill = recs[-1]
    assert refill["status"] == "complete"
    assert refill["period_start"] == failed[0]["period_start"]
    assert refill["period_end"] == clock.t


def test_filters_select_snapshots(config_file: Callable[..., Path]) -> None:
    """--control selects the snapshots mapped to it, including custom control IDs."""
    cfg_path = config_file('[controls]\n"ACME-LOG" = ["CC7.2"]\n', connectors=SYN)
    cfg = load(cfg_path)
    col = Collector(cfg, EvidenceStore.open(cfg))
    assert [s.name for _, _, s in col.plan(Selection(controls=("CC6.2",)))] == ["items"]
    assert [s.name for _, _, s in col.plan(Selection(controls=("ACME-LOG",)))] == ["settings"]
    assert len(col.plan(Selection())) == 3
    with pytest.raises(ConfigError, match="unknown control ID"):
        col.plan(Selection(controls=("CC6.99",)))
    with pytest.raises(ConfigError, match="not configured"):
        col.plan(Selection(connectors=("synthetic/two",)))
    with pytest.raises(ConfigError, match="unknown snapshot"):
        col.plan(Selection(snapshots=("nope",)))


def test_stop_starts_nothing_new(config_file: Callable[..., Path]) -> None:
    """After stop(), tasks not yet started are skipped and the run is marked interrupted."""
    col, st = _setup(config_file)
    col.stop()
    s = col.run()
    assert s.status == "interrupted" and all(o.status == "skipped" for o in s.outcomes)
    assert list(st.iter_records()) == []
