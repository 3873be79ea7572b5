"""The S3 Object Lock blob store against moto's server over a real socket."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from collector.config import Config, load
from collector.errors import StorageError
from collector.runner import Collector
from storage.blobs import S3BlobStore
from storage.canonical import sha256_hex
from storage.store import EvidenceStore, open_blobs
from tests.aws_moto import fresh_moto
from tests.conftest import subprocess_env, write_config

EVIDENCE = str(Path(sys.executable).parent / "evidence")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 for this module, from an empty state."""
    server, url = fresh_moto()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials in the environment, as a container would get them."""
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A fresh bucket with Object Lock enabled."""
    name = f"evidence-{secrets.token_hex(4)}"
    s3_client(moto_endpoint).create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def s3_section(endpoint: str, bucket: str, extra: str = "") -> str:
    return (f'[store.s3]\nbucket = "{bucket}"\nprefix = "ev/"\nregion = "us-east-1"\n'
            f'endpoint_url = "{endpoint}"\n{extra}\n')


@pytest.fixture
def s3_config(tmp_path: Path, moto_endpoint: str, bucket: str,
              aws_env: None) -> Callable[..., Config]:
    def make(extra: str = "", **kw: Any) -> Config:
        return load(write_config(tmp_path, s3_section(moto_endpoint, bucket, extra), **kw))

    return make


def _lock(client: Any, bucket: str, key: str) -> tuple[str, datetime]:
    h = client.head_object(Bucket=bucket, Key=key)
    return h["ObjectLockMode"], h["ObjectLockRetainUntilDate"]


@pytest.mark.parametrize(("extra", "mode", "days"), [
    ("", "COMPLIANCE", 400),
    ('object_lock_mode = "GOVERNANCE"\nretention_days = 7', "GOVERNANCE", 7),
])
def test_blobs_carry_the_configured_retention(s3_config: Callable[..., Config],
                                              moto_endpoint: str, bucket: str,
                                              extra: str, mode: str, days: int) -> None:
    """Each blob is put with the config's lock mode and a retain-until date `days` ahead."""
    blobs = open_blobs(s3_config(extra))
    assert isinstance(blobs, S3BlobStore)
    data = b'{"hello":"world"}'
    sha = sha256_hex(data)
    before = datetime.now(UTC)
    assert blobs.put(sha, data) is True
    after = datetime.now(UTC)
    got_mode, until = _lock(s3_client(moto_endpoint), bucket, f"ev/blobs/sha256/{sha[:2]}/{sha}")
    assert got_mode == mode
    assert before + timedelta(days=days) - timedelta(seconds=2) <= until
    assert until <= after + timedelta(days=days) + timedelta(seconds=2)
    assert blobs.retention_of(sha)[0] == mode
    assert blobs.get(sha) == data
    assert blobs.rehash(sha) == (sha, len(data))


def test_same_content_is_stored_once(s3_config: Callable[..., Config], moto_endpoint: str,
                                     bucket: str) -> None:
    """Putting the same content twice writes one object version, listed once."""
    blobs = open_blobs(s3_config())
    data = b"[1,2,3]"
    sha = sha256_hex(data)
    assert blobs.put(sha, data) is True
    assert blobs.put(sha, data) is False
    versions = s3_client(moto_endpoint).list_object_versions(Bucket=bucket, Prefix="ev/blobs/")
    assert len(versions.get("Versions", [])) == 1
    assert list(blobs.shas()) == [sha]
    assert blobs.size() == len(data)


def test_locked_blob_version_cannot_be_deleted(s3_config: Callable[..., Config],
                                               moto_endpoint: str, bucket: str) -> None:
    """A COMPLIANCE-locked blob version refuses deletion, even by the bucket's owner."""
    blobs = open_blobs(s3_config())
    data = b'"evidence"'
    sha = sha256_hex(data)
    blobs.put(sha, data)
    client = s3_client(moto_endpoint)
    key = f"ev/blobs/sha256/{sha[:2]}/{sha}"
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError) as e:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_bucket_without_object_lock_is_refused_clearly(tmp_path: Path, moto_endpoint: str,
                                                       aws_env: None) -> None:
    """A bucket without Object Lock gives a StorageError that says so, not a traceback."""
    name = f"plain-{secrets.token_hex(4)}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    blobs = open_blobs(load(write_config(tmp_path, s3_section(moto_endpoint, name))))
    data = b"{}"
    with pytest.raises(StorageError, match="Object Lock"):
        blobs.put(sha256_hex(data), data)


def test_seals_are_written_locked(s3_config: Callable[..., Config], moto_endpoint: str,
                                  bucket: str) -> None:
    """Each run's seal lands in the bucket under the lock, and a seal is never overwritten."""
    config = s3_config('object_lock_mode = "GOVERNANCE"\nretention_days = 30')
    store = EvidenceStore.open(config)
    try:
        summary = Collector(config, store).run()
        assert summary.ok and summary.seal_seq
        seals = list(store.blobs.seals())
        assert len(seals) == 1
        name, body = seals[0]
        doc = json.loads(body)
        assert doc["seq"] == summary.seal_seq and doc["type"] == "evidence-agent.seal"
        mode, until = _lock(s3_client(moto_endpoint), bucket, f"ev/seals/{name}")
        assert mode == "GOVERNANCE"
        assert until > datetime.now(UTC) + timedelta(days=29)
        with pytest.raises(StorageError, match="already exists"):
            store.blobs.put_seal(name, b"{}")
    finally:
        store.close()


def _evidence(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVIDENCE, "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=120,
                          env=subprocess_env(**AWS_ENV))


def test_collect_and_verify_over_s3(tmp_path: Path, moto_endpoint: str, bucket: str) -> None:
    """`evidence collect` twice then `verify` over S3: deduplicated, intact, tamper detected."""
    cfg = write_config(tmp_path, s3_section(moto_endpoint, bucket))
    first = _evidence(cfg, "collect", "--json")
    assert first.returncode == 0, first.stderr
    client = s3_client(moto_endpoint)

    def count(prefix: str) -> int:
        return sum(len(p.get("Contents", [])) for p in
                   client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))

    blobs_after_first = count("ev/blobs/")
    second = _evidence(cfg, "collect", "--json")
    assert second.returncode == 0, second.stderr
    # unchanged content (items, settings) is not stored again; only new provenance blobs are
    assert count("ev/blobs/") < 2 * blobs_after_first
    assert count("ev/seals/") == 2
    assert not (tmp_path / "blobs").exists(), "nothing may be written to the local blob_dir"

    ok = _evidence(cfg, "verify", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    rep = json.loads(ok.stdout)
    assert rep["ok"] and rep["records"] >= 4 and rep["seals"] >= 4
    assert rep["blobs"] == count("ev/blobs/")

    # a new version over a blob (Object Lock keeps the old one, but readers see the new one)
    key = client.list_objects_v2(Bucket=bucket, Prefix="ev/blobs/")["Contents"][0]["Key"]
    client.put_object(Bucket=bucket, Key=key, Body=b'{"tampered":true}',
                      ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1))
    bad = _evidence(cfg, "verify")
    assert bad.returncode == 1
    assert f"blob {key.rsplit('/', 1)[-1]}: content changed" in bad.stdout
