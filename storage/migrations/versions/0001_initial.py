"""The initial schema: records, series, ledger head, seals, runs, locks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from storage.index import GENESIS, ledger_head, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ["records", "series", "ledger_head", "seals", "runs", "locks"]


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)
    op.bulk_insert(ledger_head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        metadata.tables[name].drop(bind)
