"""DAG bundles: the DAGs folder's files by content hash, and the code of each DAG version.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

``dag_versions`` gains ``relative_fileloc``, ``code_hash`` and ``bundle_hash``, and a version
is now one per (dag_id, version_hash, code_hash). Versions stored before this revision keep
NULLs there, so the DAG processor's first pass after it stores one new version of every DAG
(with its bundle); runs already made keep running their version from its stored source.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copies of gnomon.store.columns as of this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
PATH = sa.String(length=2000)
HASH = sa.String(length=64)
NO_ID_REUSE = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "dag_files",
        sa.Column("sha256", HASH, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_dag_files"),
    )
    op.create_table(
        "dag_bundles",
        sa.Column("hash", HASH, nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_dag_bundles"),
    )
    # On SQLite the batch rebuilds the table: its AUTOINCREMENT must be declared again.
    with op.batch_alter_table("dag_versions", table_kwargs=NO_ID_REUSE) as batch:
        batch.add_column(sa.Column("relative_fileloc", PATH, nullable=True))
        batch.add_column(sa.Column("code_hash", HASH, nullable=True))
        batch.add_column(sa.Column("bundle_hash", HASH, nullable=True))
        batch.create_foreign_key(
            "fk_dag_versions_bundle_hash_dag_bundles", "dag_bundles", ["bundle_hash"], ["hash"]
        )
        batch.drop_constraint("uq_dag_versions_dag_id_version_hash", type_="unique")
        batch.create_unique_constraint(
            "uq_dag_versions_dag_id_version_hash_code_hash",
            ["dag_id", "version_hash", "code_hash"],
        )


def downgrade() -> None:
    # Versions that differ only by their code would break the old unique constraint: keep
    # the first of each (dag_id, version_hash) and point runs and DAGs at it.
    op.execute(
        """
        UPDATE dag_runs SET dag_version_id = (
            SELECT MIN(first.id) FROM dag_versions AS first, dag_versions AS this
            WHERE this.id = dag_runs.dag_version_id
              AND first.dag_id = this.dag_id AND first.version_hash = this.version_hash
        )
        """
    )
    op.execute(
        """
        UPDATE dags SET latest_version_id = (
            SELECT MIN(first.id) FROM dag_versions AS first, dag_versions AS this
            WHERE this.id = dags.latest_version_id
              AND first.dag_id = this.dag_id AND first.version_hash = this.version_hash
        ) WHERE latest_version_id IS NOT NULL
        """
    )
    op.execute(
        """
        DELETE FROM dag_versions WHERE id NOT IN (
            SELECT MIN(id) FROM dag_versions GROUP BY dag_id, version_hash
        )
        """
    )
    with op.batch_alter_table("dag_versions", table_kwargs=NO_ID_REUSE) as batch:
        batch.drop_constraint("uq_dag_versions_dag_id_version_hash_code_hash", type_="unique")
        batch.create_unique_constraint(
            "uq_dag_versions_dag_id_version_hash", ["dag_id", "version_hash"]
        )
        batch.drop_constraint("fk_dag_versions_bundle_hash_dag_bundles", type_="foreignkey")
        batch.drop_column("bundle_hash")
        batch.drop_column("code_hash")
        batch.drop_column("relative_fileloc")
    op.drop_table("dag_bundles")
    op.drop_table("dag_files")
