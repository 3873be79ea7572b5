"""The `aws` connector through the collector's run loop into the evidence store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collector.config import load
from collector.runner import Collector, Selection
from connectors.aws import AwsConnector
from simulators.cloudtrail import Fault
from storage.store import EvidenceStore
from tests.test_aws_connector import Aws, base_session, module_aws

aws_fixture = module_aws()


def _collector(config_file: Callable[..., Path], url: str) -> tuple[Collector, EvidenceStore]:
    conns = (f'[[connectors]]\ntype = "aws"\ninstance = "demo"\nregions = ["us-east-1"]\n'
             f'endpoint_url = "{url}"\nmax_attempts = 2\n')
    cfg = load(config_file(connectors=conns))
    st = EvidenceStore.open(cfg)
    return Collector(cfg, st, factories={"aws": base_session}, sleep=lambda s: None), st


def test_a_full_aws_collection_is_stored_and_deduplicated(
        aws: Aws, config_file: Callable[..., Path]) -> None:
    """Every aws snapshot completes through the runner with its principal and findings, and
    collecting an unchanged account again stores the same content hash."""
    col, st = _collector(config_file, aws.url)
    first = col.run(Selection(connectors=("aws",)))
    by = {o.snapshot: o for o in first.outcomes}
    assert set(by) == set(AwsConnector.snapshots())
    assert {o.status for o in first.outcomes} == {"complete"}, [
        (o.snapshot, o.error) for o in first.outcomes if o.status != "complete"]
    rec = st.record(by["s3_buckets"].record_ids[0])
    assert rec is not None
    assert rec["principal"].startswith("arn:aws:sts::") and rec["source"] == "123456789012"
    assert rec["assessment"]["fail"] > 0
    again = col.run(Selection(snapshots=("s3_buckets",)))
    rec2 = st.record(again.outcomes[0].record_ids[0])
    assert rec2 is not None and rec2["content_sha256"] == rec["content_sha256"]


def test_a_denied_region_makes_the_record_partial(
        aws: Aws, config_file: Callable[..., Path]) -> None:
    """A bucket setting AWS refused is stored as a partial record with an inconclusive part."""
    aws.sim.inject(Fault(service="s3", path_contains="?versioning"))
    try:
        col, st = _collector(config_file, aws.url)
        out = col.run(Selection(snapshots=("s3_buckets",))).outcomes[0]
    finally:
        aws.sim.clear()
    assert out.status == "partial" and out.assessment.get("inconclusive", 0) > 0
    rec = st.record(out.record_ids[0])
    assert rec is not None and rec["status"] == "partial"


def test_recollecting_an_unchanged_account_adds_no_blob_bytes(
        aws: Aws, config_file: Callable[..., Path]) -> None:
    """A second run of every posture snapshot stores no new blob: content, provenance and
    findings are byte-identical (credential-report polls are folded into one call)."""
    col, st = _collector(config_file, aws.url)
    posture = tuple(n for n, s in AwsConnector.snapshots().items() if s.kind == "posture")
    first = col.run(Selection(snapshots=posture))
    size = st.blobs.size()
    second = col.run(Selection(snapshots=posture))
    assert st.blobs.size() == size
    for a, b in zip(first.outcomes, second.outcomes, strict=True):
        ra, rb = st.record(a.record_ids[0]), st.record(b.record_ids[0])
        assert ra is not None and rb is not None
        for col_name in ("content_sha256", "ipe_sha256", "findings_sha256"):
            assert ra[col_name] == rb[col_name], (a.snapshot, col_name)
