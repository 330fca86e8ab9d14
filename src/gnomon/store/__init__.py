"""The metadata database, Gnomon's one source of truth: models, migrations, transitions, queries.

Import the modules and qualify names (``db.make_engine``, ``transitions.set_ti_state``);
every query function takes its session as first argument.
"""
