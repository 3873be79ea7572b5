"""Alembic environment: runs on the connection `storage.index.migrate` passes in."""

from __future__ import annotations

from alembic import context

from storage.index import metadata

conn = context.config.attributes.get("connection")
if conn is None:
    raise RuntimeError("run migrations through storage.index.migrate()")
context.configure(connection=conn, target_metadata=metadata)
context.run_migrations()
