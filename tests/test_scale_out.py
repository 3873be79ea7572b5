"""Scale-out: many `evidence collect` processes, one per shard, on one PostgreSQL and one bucket."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from tests.aws_moto import fresh_moto
from tests.conftest import subprocess_env, write_config

EVIDENCE = str(Path(sys.executable).parent / "evidence")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
SHARDS = 6


@pytest.fixture
def locked_bucket() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket): a moto server on 127.0.0.1 with an Object Lock bucket."""
    server, endpoint = fresh_moto()
    name = f"evidence-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing",
                 ).create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    try:
        yield endpoint, name
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_shards_in_parallel_keep_one_chain(tmp_path: Path, pg_url: str,
                                           locked_bucket: tuple[str, str]) -> None:
    """Six collectors at once, one per shard, leave one valid chain holding every record."""
    endpoint, bucket = locked_bucket
    conns = "".join(f'[[connectors]]\ntype = "synthetic"\ninstance = "shard{i}"\n'
                    f'items = 40\nseed = "s{i % 3}"\npayload_bytes = 64\ndelay_seconds = 0.2\n\n'
                    for i in range(SHARDS))
    s3 = (f'[store.s3]\nbucket = "{bucket}"\nprefix = "ev/"\nregion = "us-east-1"\n'
          f'endpoint_url = "{endpoint}"\nretention_days = 1\n')
    cfg = write_config(tmp_path, s3, index_url=pg_url, connectors=conns)
    env = subprocess_env(**AWS_ENV)
    # no index yet: the six first collections race to create it (migrate holds an advisory
    # lock on PostgreSQL) and then on appends; read commands never create an index
    runs = subprocess.run([EVIDENCE, "-c", str(cfg), "runs"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert runs.returncode == 1 and "holds no evidence index" in runs.stderr, runs.stderr

    procs = [subprocess.Popen([EVIDENCE, "-c", str(cfg), "collect", "--json",
                               "--connector", f"synthetic/shard{i}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(SHARDS)]
    summaries = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        summaries.append(json.loads(out))
    expected = {rid for s in summaries for o in s["snapshots"] for rid in o["record_ids"]}
    assert len(expected) >= SHARDS * 3

    verify = subprocess.run([EVIDENCE, "-c", str(cfg), "verify", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    rep = json.loads(verify.stdout)
    assert rep["ok"] and rep["records"] == len(expected) and rep["head_seq"] == len(expected)
    # one index seal plus one locked seal object per process
    assert rep["seals"] == 2 * SHARDS

    # shards share content (seeds repeat): each blob is still one locked object version
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    keys: list[str] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                     Prefix="ev/blobs/"):
        keys.extend(v["Key"] for v in page.get("Versions", []))
    assert keys and len(keys) == len(set(keys)) == rep["blobs"]

    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT seq, id, run_id FROM records ORDER BY seq")).all()
    finally:
        engine.dispose()
    assert [r.seq for r in rows] == list(range(1, len(expected) + 1))
    assert {r.id for r in rows} == expected
    assert len({r.run_id for r in rows}) == SHARDS
    # the shards really ran at once: their appends interleave in the one chain
    switches = sum(1 for a, b in pairwise(rows) if a.run_id != b.run_id)
    print(f"{len(rows)} records from {SHARDS} processes; run changes along the chain: {switches}")
    assert switches > SHARDS - 1
