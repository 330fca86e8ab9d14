"""Executors: where tries run (a local pool of warm processes; Celery workers later)."""
