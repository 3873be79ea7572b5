"""The initial schema: records, series, ledger head, seals, runs, locks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.index import GENESIS, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("snapshot", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("principal", sa.Text),
        sa.Column("collected_started_at", UTCDateTime(), nullable=False),
        sa.Column("collected_finished_at", UTCDateTime(), nullable=False),
        sa.Column("effective_at", UTCDateTime()),
        sa.Column("period_start", UTCDateTime()),
        sa.Column("period_end", UTCDateTime()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("api_calls", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("api_totals", sa.JSON, nullable=False),
        sa.Column("content_sha256", sa.String(64)),
        sa.Column("content_size", sa.BigInteger, nullable=False),
        sa.Column("ipe_sha256", sa.String(64), nullable=False),
        sa.Column("findings_sha256", sa.String(64)),
        sa.Column("assessment", sa.JSON, nullable=False),
        sa.Column("controls", sa.JSON, nullable=False),
        sa.Column("max_age_seconds", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("record_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_records_series_time", "records",
                    ["connector", "instance", "snapshot", "collected_finished_at"])
    op.create_index("ix_records_run", "records", ["run_id"])
    op.create_table(
        "series",
        sa.Column("control_id", sa.String(16), primary_key=True),
        sa.Column("connector", sa.String(64), primary_key=True),
        sa.Column("instance", sa.String(128), primary_key=True),
        sa.Column("snapshot", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("trigger", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_index("ix_runs_started", "runs", ["started_at"])
    op.create_table(
        "locks",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    for name in ("locks", "runs", "seals", "ledger_head", "series", "records"):
        op.drop_table(name)
