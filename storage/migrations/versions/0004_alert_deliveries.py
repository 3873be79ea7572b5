"""Drift-alert deliveries, newest per sink shown by `evidence status`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.index import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_alert_deliveries_sink_at", "alert_deliveries", ["sink", "at"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_sink_at", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
