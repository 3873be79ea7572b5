"""Alembic migrations produce exactly the schema the table definitions describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.index import make_engine, metadata, migrate


def _drift(url: str) -> list[object]:
    eng = make_engine(url)
    migrate(eng)
    migrate(eng)  # idempotent
    with eng.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    eng.dispose()
    return [d for d in diff if "apscheduler" not in str(d)]


def test_migrations_match_the_models_sqlite(tmp_path: Path) -> None:
    """The migrated SQLite schema has no drift from storage.index."""
    assert _drift(f"sqlite:///{tmp_path}/m.db") == []


@pytest.mark.postgres
def test_migrations_match_the_models_postgres(pg_url: str) -> None:
    """The migrated PostgreSQL schema has no drift from storage.index."""
    assert _drift(pg_url) == []
