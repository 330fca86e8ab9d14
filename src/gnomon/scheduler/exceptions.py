"""Errors the scheduler's entry points (trigger, backfill, clear) raise for bad requests."""

from __future__ import annotations

from gnomon.exceptions import GnomonError


class SchedulerError(GnomonError):
    """A request to the scheduler's functions is invalid; the message says what and why."""


class DagNotFound(SchedulerError):
    """No stored DAG has this id (or it has no version yet)."""


class RunNotFound(SchedulerError):
    """The DAG has no run with this run id."""


class RunExists(SchedulerError):
    """The DAG already has a run with this run id (or of this logical date)."""


class DeclaredDead(GnomonError):
    """Another scheduler ended this scheduler's job (its heartbeat was older than the
    heartbeat timeout) and took over its tries: going on would run them twice."""
