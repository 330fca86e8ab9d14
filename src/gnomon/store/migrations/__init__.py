"""Alembic migrations of the metadata database (run them through ``gnomon.store.schema``).

For authors of a new revision (draft one with ``schema.autogenerate_revision``, then review):

- Spell column types out (``sa.DateTime(timezone=True)``, ``sa.String(20)``); never import
  ``gnomon.store`` here, so that a revision never changes when the models do.
- SQLite cannot ALTER most things: use ``op.batch_alter_table``, and for tables whose ids
  must not be reused pass ``table_kwargs={"sqlite_autoincrement": True}``. Foreign keys are
  off during migrations on SQLite and checked before commit (``schema.migration_transaction``).
- ``tests/integration/store/test_store_schema.py`` proves that the migrated schema equals the
  models on SQLite and Postgres: it fails until the revision and the models agree.
"""
