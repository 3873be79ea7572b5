"""What the store reads from the configuration, as protocols: `storage/` imports nothing from
`collector/`, and `collector.config.Config` satisfies these structurally."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class S3Settings(Protocol):
    """An S3 bucket with Object Lock holding blobs and seals."""

    @property
    def bucket(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def endpoint_url(self) -> str | None: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def object_lock_mode(self) -> str: ...
    @property
    def retention_days(self) -> int: ...


class StoreSection(Protocol):
    """The `[store]` table."""

    @property
    def index_url(self) -> str: ...
    @property
    def blob_dir(self) -> str: ...
    @property
    def seal_dir(self) -> str | None: ...
    @property
    def s3(self) -> S3Settings | None: ...


class SigningSection(Protocol):
    """The `[signing]` table."""

    @property
    def key_file(self) -> str: ...


class StoreSettings(Protocol):
    """The parts of the configuration the store needs."""

    @property
    def store(self) -> StoreSection: ...
    @property
    def signing(self) -> SigningSection: ...
    def index_url(self) -> str: ...
    def resolve_path(self, p: str) -> Path: ...
