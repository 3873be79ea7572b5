"""The conformance suite: what every connector must do, checked through the real run loop
into a real store, against the connector's simulator. A connector's tests are a fixture plus
one subclass:

    class TestOktaConformance(Conformance):
        @pytest.fixture
        def target(self, okta_sim) -> Target:
            return Target(type="okta", config={"org_url": okta_sim.url, ...},
                          permission=okta_scope_for, inject=okta_sim.faults.inject_kind,
                          clear=okta_sim.faults.clear, paged=("users_mfa_status",))

Each check is a test method. Faults are injected in the simulator (no mocks): the target's
`inject(kind, snapshot, operation)` puts a fault of `kind` ("denied", "throttled",
"middle_page") in front of that snapshot's `operation` (or its second page). The operation
is the first call of the snapshot that needs a permission, or for "denied" the one
`primary` names (the call whose refusal fails the snapshot, not just one resource of it).

It lives in `collector/` because it drives the collector's run loop; connectors/ stays
below it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from collector.config import Config, load
from collector.runner import Collector, Outcome, Selection
from connectors.registry import get as get_connector
from storage.store import EvidenceStore

FaultKind = Literal["denied", "throttled", "middle_page"]
log = logging.getLogger("evidence.conformance")


@dataclass
class Target:
    """A connector under test, pointed at its simulator, and that simulator's fault hooks."""

    type: str
    config: Mapping[str, Any]
    inject: Callable[[FaultKind, str, str], None]
    clear: Callable[[], None]
    permission: Callable[[str], str | None]
    factory: Any = None
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    snapshots: Sequence[str] | None = None
    denied: Sequence[str] | None = None
    throttled: Sequence[str] | None = None
    paged: Sequence[str] = ()
    retry_after: float = 1.0
    primary: Mapping[str, str] = field(default_factory=dict)

    def names(self, which: Sequence[str] | None = None) -> list[str]:
        """The snapshots a check runs (`which`, else `snapshots`, else every one)."""
        chosen = which if which is not None else self.snapshots
        return list(chosen) if chosen is not None else list(get_connector(self.type).snapshots())


def _toml(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return json.dumps(v)


class Harness:
    """Runs a target's snapshots through the collector into a fresh store in `directory`."""

    def __init__(self, target: Target, directory: Path) -> None:
        self.target = target
        directory.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"{k} = {_toml(v)}" for k, v in target.config.items())
        path = directory / "evidence.toml"
        path.write_text(
            '[store]\nindex_url = "sqlite:///index.db"\nblob_dir = "blobs"\n\n'
            '[signing]\nkey_file = "signing.key"\n\n'
            "[collector]\nconcurrency = 2\nbackoff_seconds = 0\nmax_attempts = 1\n\n"
            f'[[connectors]]\ntype = "{target.type}"\ninstance = "conformance"\n{body}\n')
        self.config: Config = load(path)
        self.store = EvidenceStore.open(self.config)

    def collect(self, snapshots: Sequence[str]) -> list[Outcome]:
        """One collection of `snapshots` with the clock fixed at the target's `now`."""
        factories = {self.target.type: self.target.factory} if self.target.factory else {}
        col = Collector(self.config, self.store, factories=factories,
                        clock=lambda: self.target.now, sleep=lambda s: None)
        return col.run(Selection(snapshots=tuple(snapshots))).outcomes

    def records(self, outcome: Outcome) -> list[dict[str, Any]]:
        """The stored records of one outcome, with their provenance loaded."""
        out = []
        for rid in outcome.record_ids:
            rec = self.store.record(rid)
            assert rec is not None
            rec["ipe"] = self.store.blob_json(rec["ipe_sha256"])
            out.append(rec)
        return out

    def content(self, rec: Mapping[str, Any]) -> Any:
        return self.store.blob_json(str(rec["content_sha256"]))

    def close(self) -> None:
        self.store.close()


def _first_permissioned(target: Target, rec: Mapping[str, Any]) -> tuple[str, str]:
    """The first call (in the record's sorted provenance) that needs a permission."""
    for call in rec["ipe"]["calls"]:
        perm = target.permission(call["operation"])
        if perm is not None:
            return call["operation"], perm
    raise AssertionError(f"{rec['snapshot']}: no call that needs a permission")


@dataclass
class Collected:
    """One collection's outcome with its stored records (provenance and content loaded)."""

    outcome: Outcome
    records: list[dict[str, Any]]
    contents: list[Any]


def collect_fresh(target: Target, directory: Path, snapshots: Sequence[str]) -> list[Collected]:
    """Collect `snapshots` into a new store (populations start from no watermark)."""
    h = Harness(target, directory)
    try:
        out = []
        for o in h.collect(snapshots):
            recs = h.records(o)
            out.append(Collected(o, recs, [h.content(r) for r in recs if r["content_sha256"]]))
        return out
    finally:
        h.close()


class Conformance:
    """Subclass in a connector's tests and provide the `target` fixture."""

    @pytest.fixture
    def target(self) -> Target:
        raise NotImplementedError("provide a `target` fixture returning a conformance Target")

    def _faulted(self, target: Target, tmp_path: Path, kind: FaultKind,
                 name: str) -> tuple[Collected, str, str]:
        (clean,) = collect_fresh(target, tmp_path / f"{kind}-{name}-clean", [name])
        assert clean.outcome.status == "complete", (name, clean.outcome.error)
        operation, perm = _first_permissioned(target, clean.records[-1])
        if kind == "denied" and name in target.primary:
            operation = target.primary[name]
            perm = target.permission(operation) or perm
        target.inject(kind, name, operation)
        try:
            (got,) = collect_fresh(target, tmp_path / f"{kind}-{name}", [name])
        finally:
            target.clear()
        return got, operation, perm

    def test_an_unchanged_source_stores_the_same_content_hash(
            self, target: Target, tmp_path: Path) -> None:
        """Two collections of an unchanged source store the same content hash per record."""
        hashes = []
        for n in (1, 2):
            got = collect_fresh(target, tmp_path / f"run{n}", target.names())
            hashes.append({(r["snapshot"], str(r["period_start"])): r["content_sha256"]
                           for c in got for r in c.records})
        assert hashes[0] and hashes[0] == hashes[1]

    def test_every_call_is_covered_by_its_snapshots_permissions(
            self, target: Target, tmp_path: Path) -> None:
        """Each call a snapshot makes needs only permissions that snapshot declares."""
        spec = get_connector(target.type).snapshots()
        missing = []
        for c in collect_fresh(target, tmp_path / "perm", target.names()):
            assert c.outcome.status == "complete", (c.outcome.snapshot, c.outcome.error)
            for rec in c.records:
                for call in rec["ipe"]["calls"]:
                    perm = target.permission(call["operation"])
                    if perm is not None and perm not in spec[c.outcome.snapshot].permissions:
                        missing.append((c.outcome.snapshot, call["operation"], perm))
        assert missing == []

    def test_content_and_example_have_the_declared_shape(
            self, target: Target, tmp_path: Path) -> None:
        """The snapshot's JSON Schema accepts both its declared example and real content."""
        import jsonschema

        spec = get_connector(target.type).snapshots()
        for c in collect_fresh(target, tmp_path / "shape", target.names()):
            name = c.outcome.snapshot
            schema = spec[name].content_schema()
            jsonschema.validate(spec[name].example, schema)
            assert c.contents, f"{name}: nothing stored"
            for content in c.contents:
                try:
                    jsonschema.validate(content, schema)
                except jsonschema.ValidationError as e:
                    raise AssertionError(f"{name}: content at {list(e.absolute_path)}: "
                                         f"{e.message}") from None

    def test_a_denied_call_fails_the_record_with_a_hint_naming_the_permission(
            self, target: Target, tmp_path: Path) -> None:
        """A 401/403 on a snapshot's call gives a failed record whose error names the
        permission to grant."""
        for name in target.names(target.denied):
            got, _op, perm = self._faulted(target, tmp_path, "denied", name)
            o = got.outcome
            assert o.status == "failed", (name, o.status, o.error)
            assert o.error is not None and perm in o.error, (name, perm, o.error)
            assert got.records[-1]["status"] == "failed"

    def test_a_throttled_call_is_waited_out_retried_and_recorded(
            self, target: Target, tmp_path: Path) -> None:
        """A 429 with Retry-After is waited out and retried within the call; the record is
        complete and its provenance counts the retry on that call."""
        for name in target.names(target.throttled):
            got, operation, _perm = self._faulted(target, tmp_path, "throttled", name)
            o = got.outcome
            assert o.status == "complete", (name, o.error)
            assert o.attempts == len(got.records), (name, "retried the whole snapshot")
            retried = [c for r in got.records for c in r["ipe"]["calls"] if c.get("retries")]
            assert [c["operation"] for c in retried] == [operation], (name, retried)
            assert sum(r["ipe"]["retries"] for r in got.records) == 1, name
            assert o.seconds >= target.retry_after * 0.9, (name, o.seconds)

    def test_a_failing_middle_page_gives_a_partial_record_never_a_pass(
            self, target: Target, tmp_path: Path) -> None:
        """A 500 on a middle page (after its retries) stores a partial record with an
        inconclusive finding."""
        assert target.paged, "name at least one snapshot that pages in `paged`"
        for name in target.paged:
            got, _op, _perm = self._faulted(target, tmp_path, "middle_page", name)
            o, rec = got.outcome, got.records[-1]
            assert o.status == "partial", (name, o.status, o.error)
            assert rec["status"] == "partial" and not rec["ipe"]["pagination_exhausted"]
            assert o.assessment.get("inconclusive", 0) >= 1, (name, o.assessment)
