"""The `okta` connector through the collector's run loop, the store and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from simulators.okta import OktaSimulator
from simulators.okta_seed import generate_org
from storage.store import EvidenceStore
from tests.okta_support import TOKEN

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[OktaSimulator]:
    org = generate_org(250, now=NOW)
    with OktaSimulator(org, api_tokens={TOKEN: org.users[0]["id"]}) as s:
        yield s


def _conns(url: str) -> str:
    return (f'[[connectors]]\ntype = "okta"\ninstance = "wf"\norg_url = "{url}"\n'
            'allow_http = true\napi_token = { env = "OKTA_TEST_TOKEN" }\n')


def test_population_windows_chain_and_cover_the_log(
        sim: OktaSimulator, config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One run stores every snapshot complete; the lifecycle windows start 89 days back, chain
    end to start, and together hold exactly the org's lifecycle events in that span; a second
    run starts at the watermark and adds no event twice."""
    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)
    cfg = load(config_file(connectors=_conns(sim.url)))
    st = EvidenceStore.open(cfg)
    col = Collector(cfg, st, sleep=lambda s: None)
    out = col.run(Selection(connectors=("okta",)))
    assert {o.snapshot: o.status for o in out.outcomes} == {
        "users": "complete", "admin_roles": "complete", "policies": "complete",
        "user_lifecycle_events": "complete"}, [(o.snapshot, o.error) for o in out.outcomes]
    pop = next(o for o in out.outcomes if o.snapshot == "user_lifecycle_events")
    recs = [st.record(r) for r in pop.record_ids]
    assert all(r is not None for r in recs)
    spans = [(r["period_start"], r["period_end"]) for r in recs if r]
    assert len(spans) == 13
    for (_, end), (start, _) in pairwise(spans):
        assert end == start
    got = [e["uuid"] for r in recs if r for e in st.blob_json(r["content_sha256"])["events"]]
    first = spans[0][0].replace(tzinfo=UTC)
    lo = (first.isoformat()[:23])
    want = [e["uuid"] for e in sim.org.events if e["eventType"].startswith("user.lifecycle.")
            and e["published"][:23] >= lo]
    assert first < NOW - timedelta(days=88) and len(got) == len(set(got))
    assert set(want) <= set(got) and set(got) <= {e["uuid"] for e in sim.org.events}
    users = st.record(next(o for o in out.outcomes if o.snapshot == "users").record_ids[0])
    assert users is not None and users["principal"].startswith("API token of ")
    assert users["assessment"].get("fail", 0) > 0
    again = col.run(Selection(snapshots=("user_lifecycle_events",))).outcomes[0]
    later = [st.record(r) for r in again.record_ids]
    assert all(r and r["period_start"] >= spans[-1][1] for r in later)
    st.close()


def test_cli_check_and_permissions(sim: OktaSimulator, config_file: Callable[..., Path],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`connectors check` says the token works as whom; `connectors permissions okta` prints
    the read-only scopes; a wrong token is reported without its value."""
    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)
    cfg = config_file(connectors=_conns(sim.url))
    r = CliRunner().invoke(cli, ["-c", str(cfg), "connectors", "check"])
    assert r.exit_code == 0, r.output
    assert "okta/wf: ok as API token of user00000" in r.output
    r = CliRunner().invoke(cli, ["connectors", "permissions", "okta"])
    assert r.output.split() == ["okta.groups.read", "okta.logs.read", "okta.policies.read",
                                "okta.roles.read", "okta.users.read"]
    monkeypatch.setenv("OKTA_TEST_TOKEN", "wrong-token-value-123")
    r = CliRunner().invoke(cli, ["-c", str(cfg), "connectors", "check"])
    assert r.exit_code == 1 and "E0000011" in r.output and "wrong-token-value" not in r.output


def test_windows_past_retention_are_one_permanent_gap_each(
        sim: OktaSimulator, config_file: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A watermark older than Okta's 90 days: the span the log no longer keeps is recorded
    once as a failed permanent gap with the reason, the watermark moves past it, the rest is
    collected, a later run records nothing again, and the population lists the hole."""
    from fieldwork.sample import freeze_population
    from storage.canonical import iso
    from tests.clock import Clock

    monkeypatch.setenv("OKTA_TEST_TOKEN", TOKEN)
    cfg = load(config_file(connectors=_conns(sim.url)))
    st = EvidenceStore.open(cfg)
    clock = Clock(NOW - timedelta(days=100))  # a collector that last ran 100 days ago
    sel = Selection(snapshots=("user_lifecycle_events",))
    first = Collector(cfg, st, clock=clock, sleep=lambda s: None).run(sel).outcomes[0]
    old = [st.record(r) for r in first.record_ids]
    assert old and all(r and r["status"] == "failed" for r in old)
    assert all(r and str(r["error"]).startswith("permanent gap: Okta keeps System Log events")
               for r in old)
    assert st.watermark("okta", "wf", "user_lifecycle_events") == clock.t

    clock.t = datetime.now(UTC)
    second = Collector(cfg, st, clock=clock, sleep=lambda s: None).run(sel).outcomes[0]
    recs = [r for r in (st.record(x) for x in second.record_ids) if r]
    gaps = [r for r in recs if r["status"] == "failed"]
    done = [r for r in recs if r["status"] == "complete"]
    assert second.status == "complete" and len(gaps) == 2 and done
    floor = clock.t - timedelta(days=90)
    assert floor < gaps[-1]["period_end"].replace(tzinfo=UTC) < floor + timedelta(minutes=10)
    assert gaps[-1]["period_end"] == done[0]["period_start"]  # collected from where it is kept
    # the last window ends at the source's clock (its Date, whole seconds) at the latest
    assert clock.t - timedelta(minutes=1) < done[-1]["period_end"].replace(tzinfo=UTC) <= clock.t

    third = Collector(cfg, st, clock=clock, sleep=lambda s: None).run(sel).outcomes[0]
    assert all(r and r["status"] != "failed" for r in (st.record(x) for x in third.record_ids))

    pop = freeze_population(st, ["CC6.2"], clock.t - timedelta(days=120),
                            done[-1]["period_end"].replace(tzinfo=UTC),
                            snapshot="user_lifecycle_events")
    holes = [g for g in pop.gaps if g["reason"].startswith("permanent gap: ")]
    assert holes and all("no longer available at the source" in g["reason"] for g in holes)
    assert not pop.complete
    assert max(g["end"] for g in pop.gaps) <= str(iso(done[0]["period_start"]))
    st.close()
