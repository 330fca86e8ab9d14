"""Alembic environment: runs on the connection that ``gnomon.store.schema`` passes in."""

from __future__ import annotations

from alembic import context

from gnomon.store import models

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Gnomon's migrations run through gnomon.store.schema.migrate(engine), "
        "not the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=models.Base.metadata,
    # SQLite cannot ALTER most things: batch operations copy the table instead.
    render_as_batch=True,
    compare_type=True,
    # DDL runs in the caller's transaction on SQLite too (db.py emits BEGIN itself).
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
