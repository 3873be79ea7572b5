"""Run-scoped seals: a seal names the records its signer vouches for.

Version 1 seals vouched for the whole chain up to their head, so a record someone inserted
without the key was sealed by the next run. A version 2 seal lists the records its run wrote
(or an operator adopted); verify reports every record no seal covers.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seals") as b:
        b.add_column(sa.Column("v", sa.Integer(), nullable=False, server_default="1"))
        b.add_column(sa.Column("covers", sa.JSON()))
        b.add_column(sa.Column("purpose", sa.String(16)))
        b.add_column(sa.Column("note", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("seals") as b:
        for c in ("note", "purpose", "covers", "v"):
            b.drop_column(c)
