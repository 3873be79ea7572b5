"""Runs are ordered by the order they were recorded in (`runs.seq`), not by a clock.

"The newest run" was the one with the latest `started_at`, the collector host's wall clock:
a run made while the clock was two days ahead stayed "newest" after the clock was fixed, so
`evidence runs`, `evidence status` and drift alerts showed stale runs as current. `seq` is
assigned by the database inside the INSERT that records a run (a sequence on PostgreSQL;
one more than the largest on SQLite, whose writers are serialized). Existing runs are
numbered by started_at, ties broken by id: the only order they have.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SEQUENCE = "runs_seq_seq"  # storage.index.RUNS_SEQ_SEQUENCE


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column("runs", sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                    nullable=True))
    op.execute("UPDATE runs SET seq = n.rn FROM (SELECT id, row_number() OVER "
               "(ORDER BY started_at, id) AS rn FROM runs) AS n WHERE runs.id = n.id")
    if pg:
        op.execute(f"CREATE SEQUENCE {SEQUENCE} OWNED BY runs.seq")
        op.execute(f"SELECT setval('{SEQUENCE}', coalesce(max(seq), 0) + 1, false) FROM runs")
        # raw INSERTs that name no seq get one too
        op.execute(f"ALTER TABLE runs ALTER COLUMN seq SET DEFAULT nextval('{SEQUENCE}')")
    with op.batch_alter_table("runs") as b:
        b.alter_column("seq", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                       nullable=False)
    op.create_index("ix_runs_seq", "runs", ["seq"], unique=True)
    op.create_index("ix_runs_trigger_seq", "runs", ["trigger", "seq"])


def downgrade() -> None:
    op.drop_index("ix_runs_trigger_seq", table_name="runs")
    op.drop_index("ix_runs_seq", table_name="runs")
    with op.batch_alter_table("runs") as b:
        b.drop_column("seq")  # on PostgreSQL the sequence it owns goes with it
