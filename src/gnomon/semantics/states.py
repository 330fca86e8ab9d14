"""Task-instance and run states, with Airflow's lowercase values."""

from __future__ import annotations

import enum


class TaskState(enum.StrEnum):
    """The state of one task instance (one task x map index x run)."""

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    DEFERRED = "deferred"
    REMOVED = "removed"


class RunState(enum.StrEnum):
    """The state of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


#: States after which a task instance never changes again on its own.
FINISHED: frozenset[TaskState] = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.FAILED,
        TaskState.SKIPPED,
        TaskState.UPSTREAM_FAILED,
        TaskState.REMOVED,
    }
)

#: States in which a try is in flight.
IN_FLIGHT: frozenset[TaskState] = frozenset(
    {TaskState.QUEUED, TaskState.RUNNING, TaskState.DEFERRED}
)

#: Queued or running: the instance (or its try) has, or is about to have, a process, and
#: holds its pool slot, a place under max_active_tasks and one of the executor's slots.
HOLDS_SLOT: frozenset[TaskState] = frozenset({TaskState.QUEUED, TaskState.RUNNING})

FAILED_STATES: frozenset[TaskState] = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})

FINISHED_RUN: frozenset[RunState] = frozenset({RunState.SUCCESS, RunState.FAILED})
