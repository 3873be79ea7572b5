"""Clocks and population windows: a window never ends after its collection finished nor
after the source's own clock (its `Date` header); a watermark ahead of now is reported and
collected again; `population` names every hole. Real clients over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import requests
from azure.core import PipelineClient
from azure.core.rest import HttpRequest
from botocore.config import Config as BotoConfig
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from sqlalchemy import select

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from connectors.base import Provenance
from connectors.kit import CallRecorder, RetryPolicy
from connectors.kit.aio import trace_config
from connectors.kit.azure import RecordingPolicy
from connectors.kit.boto import instrument
from connectors.kit.http import new_retrier, record_session
from connectors.kit.record import http_date
from fieldwork.coverage import coverage
from fieldwork.sample import freeze_population
from simulators.cloudtrail import CloudTrailSimulator
from simulators.faults import Served
from storage.canonical import iso
from storage.index import runs
from storage.store import EvidenceStore
from storage.windows import holes, resume_point
from tests.clock import Clock
from tests.conftest import write_config
from tests.listapi import ListApi

TOKEN = "clock-test-token-0123456789"
SOURCE_T = datetime(2026, 6, 1, 12, 0, 7, tzinfo=UTC)


def hourly_events(until: datetime, days: int = 12) -> list[dict[str, Any]]:
    """One change event per hour, in the ListApi's shape, for `days` days up to `until`."""
    out = []
    for h in range(days * 24, 0, -1):
        t = (until - timedelta(hours=h)).replace(minute=30, second=0, microsecond=0)
        out.append({"at": t.isoformat(), "change": f"chg-{int(t.timestamp())}"})
    return out


@pytest.fixture
def source() -> Iterator[tuple[ListApi, Clock, str]]:
    """A list API keeping its own settable clock, served on 127.0.0.1."""
    clock = Clock(SOURCE_T)
    api = ListApi(25, TOKEN, events=[], clock=clock)
    with Served(api) as srv:
        yield api, clock, srv.url


# --- the kit reads the source's clock --------------------------------------------------------

def test_every_transport_notes_the_sources_date(source: tuple[ListApi, Clock, str]) -> None:
    """requests, aiohttp and azure-core answers each put the API's Date on the provenance,
    earliest and latest, outside the provenance JSON (which stays identical run to run)."""
    _api, clock, url = source
    auth = {"Authorization": f"Bearer {TOKEN}"}

    ipe = Provenance()
    s = record_session(requests.Session(), CallRecorder(ipe),
                       new_retrier(RetryPolicy(max_attempts=1)), target="t")
    s.get(f"{url}/link", headers=auth, timeout=10).raise_for_status()
    clock.t += timedelta(seconds=30)
    s.get(f"{url}/settings", headers=auth, timeout=10).raise_for_status()
    assert ipe.source_clock == (SOURCE_T, SOURCE_T + timedelta(seconds=30))
    assert "source_clock" not in ipe.to_json()

    ipe = Provenance()

    async def go() -> None:
        tc = trace_config(CallRecorder(ipe))
        async with aiohttp.ClientSession(trace_configs=[tc]) as a, \
                a.get(f"{url}/link", headers=auth) as r:
            assert r.status == 200
    asyncio.run(go())
    assert ipe.source_clock == (clock.t, clock.t)

    ipe = Provenance()
    clock.t -= timedelta(hours=3)
    client: PipelineClient[HttpRequest, Any] = PipelineClient(
        url, policies=[RecordingPolicy(CallRecorder(ipe))])
    assert client.send_request(HttpRequest("GET", f"{url}/nextlink", headers=auth)
                               ).status_code == 200
    assert ipe.source_clock == (clock.t, clock.t)


def test_botocore_answers_carry_the_sources_clock() -> None:
    """A boto3 client instrumented by the kit notes the Date of the CloudTrail simulator."""
    clock = Clock(SOURCE_T)
    with CloudTrailSimulator(clock=clock) as sim:
        raw = boto3.client("cloudtrail", endpoint_url=sim.url, region_name="us-east-1",
                           aws_access_key_id="AKIATESTTESTTEST0000",
                           aws_secret_access_key="not-a-secret",
                           config=BotoConfig(retries={"total_max_attempts": 1}))
        ipe = Provenance()
        instrument(raw, CallRecorder(ipe), new_retrier(RetryPolicy(max_attempts=1)),
                   target="123456789012/us-east-1")
        raw.lookup_events(MaxResults=5)
    assert ipe.source_clock == (SOURCE_T, SOURCE_T)


def test_unreadable_dates_are_ignored() -> None:
    """A missing or garbled Date leaves the window to this machine's clock."""
    assert http_date(None) is None and http_date("") is None
    assert http_date("yesterday-ish") is None
    assert http_date("Mon, 01 Jun 2026 12:00:07 GMT") == SOURCE_T
    assert http_date("Monday, 01-Jun-26 12:00:07 GMT") == SOURCE_T  # RFC 850, obsolete


# --- windows end no later than the source's clock ---------------------------------------------

def _collector(config_file: Callable[..., Path], url: str, clock: Clock,
               index_url: str | None = None) -> tuple[Collector, EvidenceStore]:
    conns = (f'[[connectors]]\ntype = "synthetic"\ninstance = "one"\nurl = "{url}"\n'
             f'token = {{ env = "SYNTHETIC_TOKEN" }}\n')
    cfg = load(config_file(connectors=conns, index_url=index_url))
    st = EvidenceStore.open(cfg, clock=clock)
    return Collector(cfg, st, clock=clock, sleep=lambda s: None), st


def runs_summary(st: EvidenceStore, run_id: str) -> dict[str, Any]:
    with st.engine.connect() as conn:
        summary: dict[str, Any] = conn.execute(
            select(runs.c.summary).where(runs.c.id == run_id)).scalar_one()
    return summary


def _events(st: EvidenceStore) -> list[dict[str, Any]]:
    return [r for r in st.iter_records() if r["snapshot"] == "events"]


def test_a_lagging_source_clock_ends_the_window_at_the_sources_time(
        source: tuple[ListApi, Clock, str], config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the source's Date 40 minutes behind ours, the stored window ends at the source's
    time (its events after that did not exist yet), the run says so, and the next run starts
    from there: no gap, no event counted twice."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    api, src, url = source
    here = Clock(SOURCE_T + timedelta(minutes=40))
    api.events = hourly_events(here.t + timedelta(days=2))
    col, st = _collector(config_file, url, here)
    first = col.run(Selection(snapshots=("events",)))
    recs = _events(st)
    assert [r["status"] for r in recs] == ["complete"] * 3
    assert recs[-1]["period_end"] == SOURCE_T  # not here.t
    assert recs[-1]["collected_finished_at"] == here.t
    window = st.blob_json(recs[-1]["ipe_sha256"])["window"]
    assert window["requested_end"] == here.t.isoformat()
    assert window["bounded_by"] == "the source's clock (its Date header)"
    assert window["source_clock"]["first"] == SOURCE_T.isoformat()
    assert any("clock is ahead of the source's by 0h40m" in w for w in first.warnings), \
        first.warnings
    assert first.to_json()["warnings"] == first.warnings

    src.t += timedelta(hours=3)
    here.t += timedelta(hours=3)
    col.run(Selection(snapshots=("events",)))
    recs = _events(st)
    for a, b in itertools.pairwise(recs):
        assert b["period_start"] == a["period_end"]
    assert recs[-1]["period_end"] == src.t
    seen = [e["change"] for r in recs for e in st.blob_json(r["content_sha256"])["events"]]
    assert len(seen) == len(set(seen))
    expected = [e["change"] for e in api.events
                if recs[0]["period_start"] <= datetime.fromisoformat(e["at"]) < src.t]
    assert sorted(seen) == sorted(expected) and expected


def test_a_source_clock_before_the_window_start_makes_it_partial(
        source: tuple[ListApi, Clock, str], config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the source's clock reads earlier than where the window starts, nothing in the
    window can be complete: the record is partial, ends where it starts, and says why."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    api, src, url = source
    here = Clock(SOURCE_T)
    api.events = hourly_events(SOURCE_T + timedelta(days=5))
    col, st = _collector(config_file, url, here)
    col.run(Selection(snapshots=("events",)))
    here.t += timedelta(hours=2)
    src.t -= timedelta(hours=1)  # the source's clock stepped back
    out = col.run(Selection(snapshots=("events",))).outcomes[0]
    rec = _events(st)[-1]
    assert out.status == "partial" and rec["status"] == "partial"
    assert rec["period_start"] == rec["period_end"] == SOURCE_T
    assert "nothing in it can be complete yet" in (rec["error"] or "")


# --- a clock two days ahead, then fixed --------------------------------------------------------

def _changes(st: EvidenceStore, since: datetime, until: datetime) -> list[str]:
    pop = freeze_population(st, ["CC8.1"], since, until)
    return sorted(i["id"] for i in pop.items)


def _due(api: ListApi, since: datetime, until: datetime) -> list[str]:
    return sorted(e["change"] for e in api.events
                  if since <= datetime.fromisoformat(e["at"]) < until)


def test_two_days_ahead_then_fixed_the_sources_date_bounds_every_window(
        source: tuple[ListApi, Clock, str], config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with this machine's clock two days ahead stores windows ending at the source's
    time, says the clocks disagree, and once the clock is fixed the next run goes on from
    there: the population has every event and no hole."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    api, src, url = source
    t = SOURCE_T
    here = Clock(t)
    api.events = hourly_events(t + timedelta(days=5), days=10)
    col, st = _collector(config_file, url, here)
    col.run(Selection(snapshots=("events",)))

    src.t, here.t = t + timedelta(minutes=5), t + timedelta(days=2)
    ahead = col.run(Selection(snapshots=("events",)))
    assert all(r["period_end"] <= src.t for r in _events(st))
    assert any("ahead of the source's by 1d 23h55m" in w for w in ahead.warnings)

    src.t = here.t = t + timedelta(hours=3)
    fixed = col.run(Selection(snapshots=("events",)))
    assert not any("watermark" in w for w in fixed.warnings), fixed.warnings
    recs = _events(st)
    for a, b in itertools.pairwise(recs):
        assert b["period_start"] == a["period_end"]
    since = t - timedelta(days=3)
    pop = freeze_population(st, ["CC8.1"], since, here.t)
    assert pop.gaps == [] and pop.complete
    assert _changes(st, since, here.t) == _due(api, since, here.t)


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest) -> str | None:
    """The index on SQLite, then on the real PostgreSQL server."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def test_two_days_ahead_then_fixed_without_the_sources_clock_refills_the_hole(
        config_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
        index_url: str | None) -> None:
    """Where the source's Date cannot bound the window (here the source sends none, as a
    window stored before the bound existed), the run two days ahead stores windows ending in
    the future. After the fix
    the watermark ahead of now is reported, recorded in the run and in the first window's
    provenance, and does not stop collection: the next runs collect again from where the
    trusted windows end, and `population` names the hole, with why, until it is filled."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    t = SOURCE_T
    src, here = Clock(t), Clock(t)
    api = ListApi(25, TOKEN, events=hourly_events(t + timedelta(days=5), days=10), clock=src,
                  date_clock=lambda: None)
    with Served(api) as srv:
        col, st = _collector(config_file, srv.url, here, index_url)
        col.run(Selection(snapshots=("events",)))

        src.t, here.t = t + timedelta(minutes=5), t + timedelta(days=2)
        col.run(Selection(snapshots=("events",)))
        assert max(r["period_end"] for r in _events(st)) == t + timedelta(days=2)

        src.t = here.t = t + timedelta(hours=1)
        fixed = col.run(Selection(snapshots=("events",)))
        (out,) = fixed.outcomes
        assert out.status == "complete"
        assert any("the watermark 2026-06-03T12:00:07" in w and "ahead of now" in w
                   and "by 1d 23h00m" in w for w in fixed.warnings), fixed.warnings
        assert f"collecting from {iso(t)}" in out.warnings
        run_row = runs_summary(st, fixed.run_id)
        assert run_row["warnings"] == fixed.warnings
        first = st.record(out.record_ids[0])
        assert first is not None and first["period_start"] == t
        resumed = st.blob_json(first["ipe_sha256"])["window"]["resumed"]
        assert resumed == out.warnings and resumed[-1] == f"collecting from {iso(t)}"

        # an audit period up to now is whole again: the events the future windows missed
        since = t - timedelta(days=3)
        assert freeze_population(st, ["CC8.1"], since, here.t).gaps == []
        assert _changes(st, since, here.t) == _due(api, since, here.t)

        # beyond now, the future windows vouch for nothing: a hole, named with why
        later = t + timedelta(days=2)
        pop = freeze_population(st, ["CC8.1"], since, later)
        assert [(g["start"], g["end"]) for g in pop.gaps] == [(iso(here.t), iso(later))]
        assert "collected while a clock was ahead" in pop.gaps[0]["reason"]

        # once time has passed them, a seal written after them still gives them away
        src.t = here.t = t + timedelta(days=2, hours=12)
        assert [g["start"] for g in
                freeze_population(st, ["CC8.1"], since, t + timedelta(days=2)).gaps] == \
            [iso(t + timedelta(hours=1))]
        cfg = str(col.config.path)
        r = CliRunner().invoke(cli, ["-c", cfg, "population", "--control", "CC8.1",
                                     "--since", iso(since) or "", "--until", iso(later) or ""])
        assert r.exit_code == 3, r.output
        assert (f"GAP synthetic/one:events: {iso(t + timedelta(hours=1))}..{iso(later)}: only "
                "windows collected while a clock was ahead cover it") in r.stdout
        assert "after a seal written after it" in r.stdout
        cov = coverage(st, {"CC8.1": ("CC8.1",)}, t - timedelta(days=2), later)
        (events_series,) = [x for x in cov["controls"][0]["series"]
                            if x["series"] == "synthetic/one:events"]
        # days from midnight: the hole begins on June 1st at 13:00, after the last trusted end
        assert events_series["states"] == ["pass", "pass", "gap", "gap", "gap"]

        # the next run fills the hole from its start, not from the future watermark
        refill = col.run(Selection(snapshots=("events",))).outcomes[0]
        rec = st.record(refill.record_ids[0])
        assert rec is not None and rec["period_start"] == t + timedelta(hours=1)
        whole = freeze_population(st, ["CC8.1"], since, here.t)
        assert whole.gaps == [] and _changes(st, since, here.t) == _due(api, since, here.t)
        assert f"collecting from {iso(t + timedelta(hours=1))}" in refill.warnings
        again = col.run(Selection(snapshots=("events",))).outcomes[0]
        assert again.warnings == []  # filled: nothing left to report


def test_status_and_collect_report_a_watermark_ahead_of_now(
        config_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose windows end two days from now: `evidence status` names the series and
    the watermark, and `evidence collect` says so, collects from the last trusted end, and
    exits 0 (the warning does not stop collection)."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    now = datetime.now(UTC)
    src, here = Clock(now), Clock(now + timedelta(days=2))
    api = ListApi(25, TOKEN, events=hourly_events(now + timedelta(days=3)), clock=src,
                  date_clock=lambda: None)
    with Served(api) as srv:
        col, st = _collector(config_file, srv.url, here)
        col.run(Selection(snapshots=("events",)))
        cfg = str(col.config.path)
        r = CliRunner().invoke(cli, ["-c", cfg, "status"])
        assert "window synthetic/one:events: WARNING the watermark" in r.output, r.output
        assert "ahead of now" in r.output
        r = CliRunner().invoke(cli, ["-c", cfg, "status", "--json"])
        assert any("ahead of now" in w["warning"]
                   for w in json.loads(r.stdout)["window_warnings"])

        src.t = here.t = datetime.now(UTC)
        r = CliRunner().invoke(cli, ["-c", cfg, "collect", "--snapshot", "events"])
        assert r.exit_code == 0, r.output
        assert "WARNING the watermark" in r.output and "collecting from" in r.output
        r = CliRunner().invoke(cli, ["-c", cfg, "runs"])
        assert r.exit_code == 0 and "WARNING synthetic/one:events: the watermark" in r.output
        newest = max(_events(st), key=lambda x: x["seq"])
        assert newest["status"] == "complete"
        assert newest["period_start"] == now  # the end of the last trusted window
        assert newest["period_end"] <= datetime.now(UTC)


# --- the same through the AWS connector, moto and the CloudTrail simulator ---------------------

@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    from tests.test_aws_connector import Aws

    a = Aws()
    yield a
    a.stop()


def _cloudtrail_collector(aws: Any, config_file: Callable[..., Path], src: Clock,
                          here: Clock) -> tuple[Any, EvidenceStore, Callable[[], Any]]:
    """The AWS front on CloudTrail's clock `src`, a store and collector on this machine's
    clock `here`, and a run of iam_change_events that must complete."""
    from simulators.aws_front import AwsFront
    from tests.test_aws_connector import base_session

    front = AwsFront(upstream=aws.moto_url, clock=src).start()
    conns = (f'[[connectors]]\ntype = "aws"\ninstance = "demo"\nregions = ["us-east-1"]\n'
             f'endpoint_url = "{front.url}"\nmax_attempts = 2\n')
    cfg = load(config_file(connectors=conns))
    st = EvidenceStore.open(cfg, clock=here)
    col = Collector(cfg, st, factories={"aws": base_session}, clock=here, sleep=lambda s: None)

    def run() -> Any:
        s = col.run(Selection(snapshots=("iam_change_events",)))
        assert [o.status for o in s.outcomes] == ["complete"], s.outcomes
        return s

    return front, st, run


def test_cloudtrail_two_days_ahead_then_fixed_leaves_no_hole(
        aws: Any, config_file: Callable[..., Path]) -> None:
    """boto3 through the kit against CloudTrail's LookupEvents: a run with this machine's
    clock two days ahead ends its window at CloudTrail's Date (less CloudTrail's delivery
    time), so IAM changes made after it are collected by the next run once the clock is
    fixed, and the population has them all."""
    from connectors.aws.connector import CLOUDTRAIL_DELIVERY
    from simulators.cloudtrail import iam_event

    t = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    src, here = Clock(t), Clock(t)
    front, st, run = _cloudtrail_collector(aws, config_file, src, here)
    try:
        made = [iam_event("CreateUser", t + timedelta(minutes=m), user="alice",
                          request_parameters={"userName": f"u{m}"})
                for m in (-600, -30, 10, 50, 100, 170)]
        front.add_events(made)
        run()
        src.t, here.t = t + timedelta(minutes=20), t + timedelta(days=2)
        ahead = run()
        assert any("ahead of the source's by 1d 23h40m" in w for w in ahead.warnings)
        recs = [r for r in st.iter_records() if r["snapshot"] == "iam_change_events"]
        assert recs[-1]["period_end"] == src.t - CLOUDTRAIL_DELIVERY

        src.t = here.t = t + timedelta(hours=3)
        fixed = run()
        assert fixed.warnings == []
        recs = [r for r in st.iter_records() if r["snapshot"] == "iam_change_events"]
        for a, b in itertools.pairwise(recs):
            assert b["period_start"] == a["period_end"]
        since, until = t - timedelta(days=1), here.t - CLOUDTRAIL_DELIVERY
        pop = freeze_population(st, ["CC6.2"], since, until, "iam_change_events")
        assert pop.gaps == []
        assert sorted(i["id"] for i in pop.items) == sorted(
            f"123456789012:{e.event_id}" for e in made if since <= e.event_time < until)
    finally:
        front.stop()


def test_cloudtrail_event_delivered_late_is_read_by_the_next_window(
        aws: Any, config_file: Callable[..., Path]) -> None:
    """CloudTrail User Guide ("Getting and viewing your CloudTrail log files"): CloudTrail
    "typically delivers logs within an average of about 5 minutes of an API call. This time
    is not guaranteed." A window that ended at the run's own time lost for good an IAM change
    made two minutes before it and delivered after it: the next window started after it. A
    window now ends CLOUDTRAIL_DELIVERY before now (and before CloudTrail's Date), so the
    next run reads the late event and the population has it, with no gap."""
    from connectors.aws.connector import CLOUDTRAIL_DELIVERY
    from simulators.cloudtrail import iam_event

    t = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    src, here = Clock(t), Clock(t)
    front, st, run = _cloudtrail_collector(aws, config_file, src, here)
    try:
        first = run()
        assert first.warnings == []
        recs = [r for r in st.iter_records() if r["snapshot"] == "iam_change_events"]
        assert recs[-1]["period_end"] == t - CLOUDTRAIL_DELIVERY
        late = iam_event("CreateUser", t - timedelta(minutes=2), user="alice",
                         request_parameters={"userName": "delivered-late"})
        front.add_events([late])  # delivered after the first run read its window
        src.t = here.t = t + timedelta(hours=1)
        run()
        pop = freeze_population(st, ["CC6.2"], t - timedelta(days=1),
                                here.t - CLOUDTRAIL_DELIVERY, "iam_change_events")
        assert pop.gaps == []
        assert f"123456789012:{late.event_id}" in {i["id"] for i in pop.items}
    finally:
        front.stop()


# --- holes, against a minute-by-minute oracle ------------------------------------------------

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _m(i: int) -> datetime:
    return BASE + timedelta(minutes=i)


@settings(max_examples=300, deadline=None)
@given(windows=hs.lists(hs.tuples(hs.integers(0, 90), hs.integers(1, 30), hs.booleans()),
                        max_size=8),
       known=hs.lists(hs.tuples(hs.integers(0, 15), hs.integers(1, 15)), max_size=3),
       span=hs.tuples(hs.integers(0, 60), hs.integers(1, 80)))
def test_every_minute_of_a_hole_is_named_with_the_right_reason(
        windows: list[tuple[int, int, bool]], known: list[tuple[int, int]],
        span: tuple[int, int]) -> None:
    """Each minute of the period is in a hole exactly when no trusted window covers it; its
    reason is the known span's, else the ahead windows', else "no complete window"; holes
    are disjoint, ordered and inside the period."""
    rows = [{"id": f"r{k}", "period_start": _m(a), "period_end": _m(a + n)}
            for k, (a, n, _) in enumerate(windows)]
    ahead = {f"r{k}": "ahead" for k, (_, _, bad) in enumerate(windows) if bad}
    told, at = [], 0
    for j, (gap, n) in enumerate(known):  # disjoint by construction
        told.append((_m(at + gap), _m(at + gap + n), f"known {j}"))
        at += gap + n
    lo, hi = span[0], span[0] + span[1]
    got = holes((_m(lo), _m(hi)), rows, ahead, told)
    for (a, b, _), (c, _, _) in itertools.pairwise(got):
        assert a < b <= c
    assert all(_m(lo) <= a and b <= _m(hi) for a, b, _ in got)
    for i in range(lo, hi):
        inside = [w for w in got if w[0] <= _m(i) < w[1]]
        trusted = any(a <= i < a + n for a, n, bad in windows if not bad)
        assert len(inside) == (0 if trusted else 1), (i, got)
        if trusted:
            continue
        why = inside[0][2]
        k = [r for a, b, r in told if a <= _m(i) < b]
        if k:
            assert why == k[0]
        elif any(a <= i < a + n for a, n, bad in windows if bad):
            assert why.startswith("only windows collected while a clock was ahead")
        else:
            assert why == "no complete window"


def test_a_settled_span_moves_the_start_but_covers_no_hole(
        config_file: Callable[..., Path]) -> None:
    """A span the series will never collect (e.g. past the source's retention) counts as
    done for where the next window starts, and a hole over it carries its own reason."""
    st = EvidenceStore.open(load(config_file()))
    now = SOURCE_T
    gone = (now - timedelta(days=3), now - timedelta(days=1))
    assert resume_point(st, "synthetic", "one", "events", now, timedelta(days=3)) == \
        (now - timedelta(days=3), [])
    assert resume_point(st, "synthetic", "one", "events", now, timedelta(days=3),
                        settled=[gone]) == (gone[1], [])
    assert holes((gone[0], now), [], {}, [(*gone, "past retention")]) == [
        (gone[0], gone[1], "past retention"), (gone[1], now, "no complete window")]


# --- any sequence of wrong local clocks, with a source that keeps true time --------------------

@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=hs.lists(hs.tuples(hs.integers(1, 2880),        # real minutes passing
                                hs.integers(-2880, 2880),    # this machine's clock error
                                hs.integers(0, 90)),         # the source's Date lagging
                      min_size=1, max_size=5))
@example(steps=[(10, 2880, 0), (30, 0, 0)])      # two days ahead, then fixed
@example(steps=[(10, 0, 0), (60, -1380, 0)])     # right, then 23 hours behind
@example(steps=[(10, 1380, 30), (60, -1380, 0)])  # ahead with a lagging source, then behind
def test_whatever_our_clock_says_windows_never_outrun_the_source(
        steps: list[tuple[int, int, int]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs with this machine's clock ahead or behind by up to two days, against a source
    whose Date is true or lags (but never runs backwards): no complete window ends after the
    real time it was collected at, and once the clock is right again the population from
    the first window on holds every event that happened, once, with no hole."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    truth = Clock(SOURCE_T)
    lag = [timedelta(0)]
    api = ListApi(25, TOKEN, events=hourly_events(SOURCE_T + timedelta(days=12), days=20),
                  clock=truth, date_clock=lambda: truth.t - lag[0])
    here = Clock(SOURCE_T)
    with Served(api) as srv, tempfile.TemporaryDirectory(dir=tmp_path) as d:
        conns = (f'[[connectors]]\ntype = "synthetic"\ninstance = "one"\nurl = "{srv.url}"\n'
                 'token = { env = "SYNTHETIC_TOKEN" }\n')
        cfg = load(write_config(Path(d), connectors=conns))
        st = EvidenceStore.open(cfg, clock=here)
        col = Collector(cfg, st, clock=here, sleep=lambda s: None)
        for minutes, error, lag_minutes in [*steps, (60, 0, 0)]:  # last: the clock is fixed
            truth.t += timedelta(minutes=minutes)
            here.t = truth.t + timedelta(minutes=error)
            lag[0] = min(timedelta(minutes=lag_minutes), lag[0] + timedelta(minutes=minutes))
            summary = col.run(Selection(snapshots=("events",)))
            assert summary.outcomes[0].status == "complete", summary.outcomes
            for rid in summary.outcomes[0].record_ids:
                rec = st.record(rid)
                assert rec is not None and rec["period_end"] <= truth.t - lag[0]
        recs = _events(st)
        since = min(r["period_start"] for r in recs)
        pop = freeze_population(st, ["CC8.1"], since, truth.t)
        assert pop.gaps == []
        assert sorted(i["id"] for i in pop.items) == _due(api, since, truth.t)
        st.close()


def test_a_clock_behind_the_watermark_waits_and_says_so(
        source: tuple[ListApi, Clock, str], config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows the source's Date vouched for stand when this machine's clock later reads a
    day earlier: the run says its clock is behind, collects nothing, leaves no hole, and
    goes on from the watermark once the clock is right."""
    monkeypatch.setenv("SYNTHETIC_TOKEN", TOKEN)
    api, src, url = source
    here = Clock(SOURCE_T)
    api.events = hourly_events(SOURCE_T + timedelta(days=3), days=8)
    col, st = _collector(config_file, url, here)
    col.run(Selection(snapshots=("events",)))
    before = len(_events(st))

    src.t += timedelta(hours=2)
    here.t = src.t - timedelta(days=1)
    behind = col.run(Selection(snapshots=("events",))).outcomes[0]
    assert behind.status == "complete" and behind.record_ids == []
    assert any("this machine's clock is behind" in w for w in behind.warnings), behind.warnings
    assert behind.warnings[-1] == (f"nothing to collect until this machine's clock passes "
                                   f"{iso(SOURCE_T)}")
    assert len(_events(st)) == before
    since = SOURCE_T - timedelta(days=3)
    assert freeze_population(st, ["CC8.1"], since, SOURCE_T).gaps == []

    here.t = src.t
    col.run(Selection(snapshots=("events",)))
    assert freeze_population(st, ["CC8.1"], since, src.t).gaps == []
    assert _changes(st, since, src.t) == _due(api, since, src.t)
