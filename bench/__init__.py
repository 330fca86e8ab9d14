"""Gnomon's benchmarks: a real scheduler and local executor on SQLite and Postgres.

``python -m bench`` (or ``make bench``) prints one JSON document to stdout; see
``docs/benchmarks.md`` for what each scenario measures and the figures on a 2-core machine.
Not part of the tests.
"""
