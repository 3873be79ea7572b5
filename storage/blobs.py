"""Content-addressed blob stores: each blob lives under its SHA-256 and is never overwritten.

`FileBlobStore` (default) writes to a temporary file, fsyncs it and links it to its final
name, so a crash leaves no half-written blob under a final name. `S3BlobStore` puts each
blob with an Object Lock retention, so not even the store's operator can rewrite it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from connectors.errors import StorageError

_SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class BlobStore(Protocol):
    """What the store needs from a blob backend."""

    def put(self, sha: str, data: bytes) -> bool:
        """Store `data` under `sha` unless present; True when bytes were written."""

    def exists(self, sha: str) -> bool: ...

    def get(self, sha: str) -> bytes: ...

    def rehash(self, sha: str) -> tuple[str, int] | None:
        """(SHA-256, size) of the stored bytes, streamed; None when the blob is missing."""

    def shas(self) -> Iterator[str]: ...

    def put_seal(self, name: str, data: bytes) -> None: ...

    def seals(self) -> Iterator[tuple[str, bytes]]: ...

    def size(self) -> int: ...


def _check(sha: str) -> None:
    if not _SHA.match(sha):
        raise StorageError(f"not a SHA-256 hex digest: {sha!r}")


def _read_regular(path: str) -> bytes | None:
    """The bytes of the regular file at `path` (symlinks followed); None when it is gone or
    anything else (a folder, or a FIFO, which is opened without blocking and never read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, IsADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        parts = []
        while block := os.read(fd, max(st.st_size + 1, 4096)):
            parts.append(block)
        return b"".join(parts)
    finally:
        os.close(fd)


class FileBlobStore:
    """Blobs as read-only files under `root/sha256/ab/cd/<sha>`; seals under `seal_dir`."""

    def __init__(self, root: Path, seal_dir: Path | None = None) -> None:
        self.root = root
        self.seal_dir = seal_dir or root.parent / "seals"
        self._tmp = root / "tmp"
        self._base = str(root / "sha256")
        self._made: set[Path] = set()

    def sweep_tmp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files a crashed writer left behind; returns how many."""
        import time

        n = 0
        cutoff = time.time() - older_than
        for d, pick in ((self._tmp, lambda name: True),
                        (self.seal_dir, lambda name: name.startswith(".") and
                         name.endswith(".tmp"))):
            if not d.is_dir():
                continue
            for f in d.iterdir():
                try:
                    if pick(f.name) and f.stat().st_mtime < cutoff:
                        f.unlink()
                        n += 1
                except FileNotFoundError:
                    continue
        return n

    def path(self, sha: str) -> Path:
        _check(sha)
        return self.root / "sha256" / sha[:2] / sha[2:4] / sha

    def _mkdir(self, d: Path) -> None:
        if d not in self._made:
            d.mkdir(parents=True, exist_ok=True)
            self._made.add(d)

    def _atomic(self, final: Path, data: bytes, mode: int, tmp_dir: Path | None = None) -> bool:
        # the temporary file sits on the final name's file system (os.link cannot cross one)
        tmp_dir = tmp_dir or self._tmp
        self._mkdir(tmp_dir)
        self._mkdir(final.parent)
        tmp = tmp_dir / f".{final.name[:16]}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            dfd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, sha: str, data: bytes) -> bool:
        final = self.path(sha)
        if final.exists():
            return False
        try:
            return self._atomic(final, data, 0o444)
        except OSError as e:  # read-only or full: one line, the caller records the failure
            raise StorageError(f"cannot write blob {sha[:12]} under {self.root}: "
                               f"{e.strerror or e}") from None

    def exists(self, sha: str) -> bool:
        return self.path(sha).exists()

    def get(self, sha: str) -> bytes:
        try:
            return self.path(sha).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"blob {sha} is missing from {self.root}") from None

    def rehash(self, sha: str) -> tuple[str, int] | None:
        # plain file descriptor and string paths: per-file overhead is what a large verify
        # pays (372,000 files at 1M records), a third of what buffered Path I/O costs
        _check(sha)
        try:
            # without blocking: a FIFO in a blob's place reads as empty (a changed blob)
            fd = os.open(os.path.join(self._base, sha[:2], sha[2:4], sha),
                         os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        try:
            h = hashlib.sha256()
            size = 0
            while block := os.read(fd, CHUNK):
                h.update(block)
                size += len(block)
            return h.hexdigest(), size
        finally:
            os.close(fd)

    def shas(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for a in sorted(os.scandir(base), key=lambda e: e.name):
            for b in sorted(os.scandir(a.path), key=lambda e: e.name):
                for f in sorted(os.scandir(b.path), key=lambda e: e.name):
                    if _SHA.match(f.name):
                        yield f.name

    def put_seal(self, name: str, data: bytes) -> None:
        self._mkdir(self.seal_dir)
        if not self._atomic(self.seal_dir / name, data, 0o444, self.seal_dir):
            raise StorageError(f"seal {name} already exists in {self.seal_dir}")

    def seals(self) -> Iterator[tuple[str, bytes]]:
        if not self.seal_dir.is_dir():
            return
        # plain names and file descriptors, not Path objects: this list grows by one per run
        # (20,000 seal files at 1M records), and verify reads every one
        d = str(self.seal_dir)
        for name in sorted(n for n in os.listdir(d) if n.endswith(".json")):
            data = _read_regular(os.path.join(d, name))
            if data is not None:
                yield name, data

    def size(self) -> int:
        total = 0
        for sha in self.shas():
            total += self.path(sha).stat().st_size
        return total


class S3BlobStore:
    """Blobs and seals in an S3 bucket with Object Lock: each object gets a retention date."""

    def __init__(self, client: Any, bucket: str, prefix: str, mode: str, retention_days: int,
                 clock: Any = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.mode = mode
        self.retention = timedelta(days=retention_days)
        self._clock = clock or (lambda: datetime.now(UTC))

    def key(self, sha: str) -> str:
        _check(sha)
        return f"{self.prefix}blobs/sha256/{sha[:2]}/{sha}"

    def _lock_args(self) -> dict[str, Any]:
        return {"ObjectLockMode": self.mode,
                "ObjectLockRetainUntilDate": self._clock() + self.retention}

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
            return out
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"s3://{self.bucket}/{key}: {e}") from None
        except BotoCoreError as e:
            raise StorageError(f"s3://{self.bucket}/{key}: {e}") from None

    def put(self, sha: str, data: bytes) -> bool:
        key = self.key(sha)
        if self._head(key) is not None:
            return False
        import base64

        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        # If-None-Match: another writer that stored the same blob since our HEAD wins the
        # race, and no second locked version of identical bytes is kept.
        return self._put(key, data, ContentMD5=md5, IfNoneMatch="*",
                         ChecksumSHA256=base64.b64encode(bytes.fromhex(sha)).decode())

    def _put(self, key: str, data: bytes, **extra: Any) -> bool:
        """PutObject with the lock; False when a conditional put found the key present.

        S3's refusal becomes a StorageError naming the cause."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra,
                                   **self._lock_args())
            return True
        except ClientError as e:
            err = e.response.get("Error", {})
            code, msg = err.get("Code", "?"), err.get("Message", "")
            if "IfNoneMatch" in extra and code in ("PreconditionFailed",
                                                   "ConditionalRequestConflict"):
                return False
            hint = ""
            if "ObjectLock" in msg or "Object Lock" in msg:
                hint = " (create the bucket with Object Lock enabled: it cannot hold evidence " \
                       "without it)"
            raise StorageError(f"s3://{self.bucket}/{key}: cannot write: {code}: {msg}"
                               f"{hint}") from None
        except BotoCoreError as e:
            raise StorageError(f"s3://{self.bucket}/{key}: cannot write: {e}") from None

    def exists(self, sha: str) -> bool:
        return self._head(self.key(sha)) is not None

    def retention_of(self, sha: str) -> tuple[str | None, datetime | None]:
        """The Object Lock mode and retain-until date of a blob (read with HeadObject)."""
        h = self._head(self.key(sha)) or {}
        return h.get("ObjectLockMode"), h.get("ObjectLockRetainUntilDate")

    def get(self, sha: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(sha))
            body: bytes = obj["Body"].read()
        except ClientError as e:
            raise StorageError(f"blob {sha} cannot be read from s3://{self.bucket}: {e}") from None
        return body

    def rehash(self, sha: str) -> tuple[str, int] | None:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha))["Body"]
        except ClientError:
            return None
        h = hashlib.sha256()
        size = 0
        for chunk in iter(lambda: body.read(CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def _list(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def shas(self) -> Iterator[str]:
        for key in self._list(f"{self.prefix}blobs/sha256/"):
            name = key.rsplit("/", 1)[-1]
            if _SHA.match(name):
                yield name

    def put_seal(self, name: str, data: bytes) -> None:
        key = f"{self.prefix}seals/{name}"
        if self._head(key) is not None:
            raise StorageError(f"seal {name} already exists in s3://{self.bucket}")
        import base64

        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if not self._put(key, data, ContentMD5=md5, IfNoneMatch="*"):
            raise StorageError(f"seal {name} already exists in s3://{self.bucket}")

    def seals(self) -> Iterator[tuple[str, bytes]]:
        for key in self._list(f"{self.prefix}seals/"):
            if key.endswith(".json"):
                yield key.rsplit("/", 1)[-1], \
                    self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def size(self) -> int:
        total = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}blobs/")
        for page in pages:
            total += sum(int(o["Size"]) for o in page.get("Contents", []))
        return total
