"""The series index ends with seq, so point-in-time queries need no sort.

Measured on 1M records (bench/README.md): PostgreSQL's as-of statement went from 86 ms (a
backward scan of the series' whole history plus a top-N sort) to 0.1 ms.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ["connector", "instance", "snapshot", "collected_finished_at"]


def upgrade() -> None:
    op.create_index("ix_records_series_time_seq", "records", [*COLUMNS, "seq"])
    op.drop_index("ix_records_series_time", table_name="records")


def downgrade() -> None:
    op.create_index("ix_records_series_time", "records", COLUMNS)
    op.drop_index("ix_records_series_time_seq", table_name="records")
