"""Initial schema, and the default pool (128 slots).

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Drafted by alembic autogenerate from gnomon.store.models, then reviewed: column types are
spelled out here (not imported from the models) so that this revision never changes when the
models do, and the dags <-> dag_versions foreign-key cycle is closed after both tables exist.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of gnomon.store.columns as of this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
STATE = sa.String(length=20)
ID = sa.String(length=250)
PATH = sa.String(length=2000)
NO_ID_REUSE = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "dags",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("fileloc", PATH, nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("team", ID, nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("latest_version_id", BIG_ID, nullable=True),
        sa.Column("schedule_summary", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_active_runs", sa.Integer(), nullable=False),
        sa.Column("max_active_tasks", sa.Integer(), nullable=False),
        sa.Column("next_dagrun_logical_date", TIMESTAMP, nullable=True),
        sa.Column("next_dagrun_data_interval_start", TIMESTAMP, nullable=True),
        sa.Column("next_dagrun_data_interval_end", TIMESTAMP, nullable=True),
        sa.Column("next_dagrun_create_after", TIMESTAMP, nullable=True),
        sa.Column("last_parsed_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name="pk_dags"),
    )
    op.create_index("ix_dags_fileloc", "dags", ["fileloc"])
    op.create_index(
        "ix_dags_is_paused_is_active_next_dagrun_create_after",
        "dags",
        ["is_paused", "is_active", "next_dagrun_create_after"],
    )

    op.create_table(
        "dag_versions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("serialized", sa.JSON(), nullable=False),
        sa.Column("source_code", sa.Text(), nullable=False),
        sa.Column("fileloc", PATH, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dags.dag_id"], name="fk_dag_versions_dag_id_dags", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dag_versions"),
        sa.UniqueConstraint("dag_id", "version_hash", name="uq_dag_versions_dag_id_version_hash"),
        **NO_ID_REUSE,
    )
    # Close the cycle (on SQLite, batch mode rebuilds the still-empty table).
    with op.batch_alter_table("dags") as batch:
        batch.create_foreign_key(
            "fk_dags_latest_version_id_dag_versions", "dag_versions", ["latest_version_id"], ["id"]
        )

    op.create_table(
        "dag_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("dag_version_id", BIG_ID, nullable=False),
        sa.Column("run_type", STATE, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("logical_date", TIMESTAMP, nullable=True),
        sa.Column("data_interval_start", TIMESTAMP, nullable=True),
        sa.Column("data_interval_end", TIMESTAMP, nullable=True),
        sa.Column("run_after", TIMESTAMP, nullable=False),
        sa.Column("conf", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("queued_at", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dags.dag_id"], name="fk_dag_runs_dag_id_dags", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dag_version_id"], ["dag_versions.id"], name="fk_dag_runs_dag_version_id_dag_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dag_runs"),
        sa.UniqueConstraint("dag_id", "run_id", name="uq_dag_runs_dag_id_run_id"),
        **NO_ID_REUSE,
    )
    op.create_index("ix_dag_runs_dag_id_logical_date", "dag_runs", ["dag_id", "logical_date"])
    op.create_index("ix_dag_runs_state_dag_id", "dag_runs", ["state", "dag_id"])

    op.create_table(
        "task_instances",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("dag_run_id", BIG_ID, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=256), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("retry_at", TIMESTAMP, nullable=True),
        sa.Column("queued_at", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_runs.id"],
            name="fk_task_instances_dag_run_id_dag_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_instances"),
        sa.UniqueConstraint(
            "dag_run_id",
            "task_id",
            "map_index",
            name="uq_task_instances_dag_run_id_task_id_map_index",
        ),
        **NO_ID_REUSE,
    )
    op.create_index("ix_task_instances_dag_id_state", "task_instances", ["dag_id", "state"])
    op.create_index(
        "ix_task_instances_state_pool_priority_weight",
        "task_instances",
        ["state", "pool", "priority_weight"],
    )

    op.create_table(
        "task_tries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("task_instance_id", BIG_ID, nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=1000), nullable=True),
        sa.Column("job_id", BIG_ID, nullable=True),
        sa.Column("queue", sa.String(length=256), nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("exit_reason", sa.String(length=1000), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_location", PATH, nullable=True),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instances.id"],
            name="fk_task_tries_task_instance_id_task_instances",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_tries"),
        sa.UniqueConstraint(
            "task_instance_id", "try_number", name="uq_task_tries_task_instance_id_try_number"
        ),
        **NO_ID_REUSE,
    )
    op.create_index("ix_task_tries_state_heartbeat_at", "task_tries", ["state", "heartbeat_at"])

    op.create_table(
        "xcoms",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("dag_run_id", BIG_ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dag_run_id"], ["dag_runs.id"], name="fk_xcoms_dag_run_id_dag_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_xcoms"),
        sa.UniqueConstraint(
            "dag_run_id",
            "task_id",
            "map_index",
            "key",
            name="uq_xcoms_dag_run_id_task_id_map_index_key",
        ),
        **NO_ID_REUSE,
    )

    op.create_table(
        "task_maps",
        sa.Column("dag_run_id", BIG_ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_runs.id"],
            name="fk_task_maps_dag_run_id_dag_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dag_run_id", "task_id", "key", name="pk_task_maps"),
    )

    pools = op.create_table(
        "pools",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_pools"),
    )
    op.bulk_insert(pools, [{"name": "default_pool", "slots": 128, "description": "Default pool"}])

    op.create_table(
        "variables",
        sa.Column("key", ID, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_variables"),
    )

    op.create_table(
        "connections",
        sa.Column("conn_id", ID, nullable=False),
        sa.Column("conn_type", sa.String(length=500), nullable=False),
        sa.Column("host", sa.String(length=500), nullable=True),
        sa.Column("schema", sa.String(length=500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("conn_id", name="pk_connections"),
    )

    op.create_table(
        "import_errors",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("fileloc", PATH, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_errors"),
        sa.UniqueConstraint("fileloc", name="uq_import_errors_fileloc"),
        **NO_ID_REUSE,
    )

    op.create_table(
        "jobs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job_type", sa.String(length=30), nullable=False),
        sa.Column("hostname", sa.String(length=1000), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        **NO_ID_REUSE,
    )
    op.create_index(
        "ix_jobs_job_type_state_heartbeat_at", "jobs", ["job_type", "state", "heartbeat_at"]
    )


def downgrade() -> None:
    with op.batch_alter_table("dags") as batch:
        batch.drop_constraint("fk_dags_latest_version_id_dag_versions", type_="foreignkey")
    for table in (
        "jobs",
        "import_errors",
        "connections",
        "variables",
        "pools",
        "task_maps",
        "xcoms",
        "task_tries",
        "task_instances",
        "dag_runs",
        "dag_versions",
        "dags",
    ):
        op.drop_table(table)
