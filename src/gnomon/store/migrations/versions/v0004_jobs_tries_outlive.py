"""jobs.tries_outlive: whether a scheduler's running tries go on without it.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01

There is no 0003: that number went to DAG bundles while both were written in parallel, and
they landed as 0005 after this one, so that no database already at 0004 misses them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills existing rows (every job so far ran a local executor), then
    # goes: the models declare no server default, and inserts always name the column.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("tries_outlive", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("tries_outlive", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("tries_outlive")
