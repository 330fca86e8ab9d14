"""A whole DAG run in this process tree, in memory: the engine of ``gnomon dags test``.

It applies exactly the scheduler's semantics (``semantics.planning`` for dependencies and
mapping, ``semantics.retries`` for retries) and runs each try through the same supervisor and
task runner as the executors, with XComs and states held in memory instead of the database.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gnomon.authoring import params as params_module
from gnomon.authoring.dag import DAG
from gnomon.runtime import supervisor, task_runner
from gnomon.runtime.protocol import TryOutcome, TryRequest
from gnomon.runtime.reports import RunReport, TaskInstanceRecord, TryRecord
from gnomon.semantics import planning, retries, timetables
from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import FINISHED, RunState, TaskState
from gnomon.serialization import writer
from gnomon.serialization.model import SerializedDag

DEFAULT_XCOM_MAX_BYTES = 1_048_576


class _MemoryXComs:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[int, Any]] = {}
        self.lengths: dict[tuple[str, str], int | None] = {}

    def pull(self, task_id: str, key: str) -> Mapping[int, Any]:
        return self.values.get((task_id, key), {})

    def store(self, ti: TIKey, outcome: TryOutcome) -> None:
        for key, value in outcome.xcoms.items():
            self.values.setdefault((ti.task_id, key), {})[ti.map_index] = value
        for key, length in outcome.xcom_lengths.items():
            self.lengths[(ti.task_id, key)] = length


class LocalRun:
    """One DAG run driven to its end in memory."""

    def __init__(
        self,
        dag: DAG,
        *,
        logical_date: datetime | None = None,
        conf: Mapping[str, Any] | None = None,
        echo: TextIO | None = None,
        log_dir: Path | None = None,
        parallelism: int | None = None,
        max_xcom_bytes: int = DEFAULT_XCOM_MAX_BYTES,
        kill_grace: float = supervisor.DEFAULT_KILL_GRACE,
        only_task: str | None = None,
    ) -> None:
        self.dag = dag
        self.serialized = SerializedDag.from_json(writer.serialize_dag(dag))
        self.conf = dict(conf or {})
        # Bad conf is refused here, before anything runs.
        self.params = params_module.resolve(self.serialized.params, self.conf)
        self.logical_date = timetables.utc(logical_date or datetime.now(UTC))
        interval = dag.timetable.infer_manual_data_interval(run_after=self.logical_date)
        self.interval = interval
        self.run_id = f"manual__{self.logical_date.isoformat()}"
        self.echo = echo
        self.log_dir = log_dir
        self.parallelism = parallelism or os.cpu_count() or 1
        self.max_xcom_bytes = max_xcom_bytes
        self.supervisor = supervisor.Supervisor(kill_grace=kill_grace)
        self.xcoms = _MemoryXComs()
        self.only_task = only_task
        keys = (
            [TIKey(only_task)]
            if only_task is not None
            else planning.initial_instances(self.serialized)
        )
        self.tis: dict[TIKey, TaskInstanceRecord] = {k: TaskInstanceRecord(k) for k in keys}

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> RunReport:
        try:
            return self._run()
        except BaseException:
            # Tries run in their own process groups, out of reach of the terminal's Ctrl-C:
            # whatever ends the run early must not leave them (and what they started) running.
            self.supervisor.shutdown()
            raise

    def _run(self) -> RunReport:
        state = RunState.RUNNING
        while True:
            if self.only_task is None:
                state = self._apply_plan()
            elif self.tis[TIKey(self.only_task)].state is TaskState.NONE:
                self.tis[TIKey(self.only_task)].state = TaskState.SCHEDULED
            self._start_ready()
            if self.supervisor.running == 0:
                wait = self._until_next_retry()
                if wait is None:
                    break
                time.sleep(wait)
                continue
            for finished in self.supervisor.poll(self._until_next_retry()):
                self._finish(finished)
        if self.only_task is not None:
            only = self.tis[TIKey(self.only_task)].state
            state = (
                RunState.SUCCESS
                if only in (TaskState.SUCCESS, TaskState.SKIPPED)
                else RunState.FAILED
            )
        elif state is RunState.RUNNING:  # nothing can progress any more: a deadlock
            state = RunState.FAILED
        order = {tid: i for i, tid in enumerate(self.serialized.order)}
        tasks = sorted(self.tis.values(), key=lambda r: (order[r.key.task_id], r.key.map_index))
        return RunReport(self.dag.dag_id, self.run_id, state, self.logical_date, tasks)

    def _apply_plan(self) -> RunState:
        states = {k: r.state for k, r in self.tis.items()}
        plan = planning.plan(self.serialized, states, self.xcoms.lengths)
        for task_id, n in plan.expansions.items():
            del self.tis[TIKey(task_id)]
            for i in range(n):
                self.tis[TIKey(task_id, i)] = TaskInstanceRecord(
                    TIKey(task_id, i), TaskState.SCHEDULED
                )
        for key, new_state in plan.changes.items():
            record = self.tis[key]
            record.state = new_state
            record.note = plan.reasons.get(key)
            if new_state in FINISHED:
                self._say(key, f"{new_state.value}" + (f": {record.note}" if record.note else ""))
        return plan.run_state

    def _ready(self) -> list[TaskInstanceRecord]:
        now = datetime.now(UTC)
        ready = [
            r
            for r in self.tis.values()
            if r.state is TaskState.SCHEDULED
            or (r.state is TaskState.UP_FOR_RETRY and r.retry_at is not None and r.retry_at <= now)
        ]
        weight = {tid: t.priority_weight for tid, t in self.serialized.tasks.items()}
        return sorted(ready, key=lambda r: -weight[r.key.task_id])

    def _start_ready(self) -> None:
        for record in self._ready():
            if self.supervisor.running >= self.parallelism:
                return
            self._start(record)

    def _until_next_retry(self) -> float | None:
        pending = [
            r.retry_at
            for r in self.tis.values()
            if r.state is TaskState.UP_FOR_RETRY and r.retry_at
        ]
        if not pending:
            return None
        return max(0.0, (min(pending) - datetime.now(UTC)).total_seconds())

    def _start(self, record: TaskInstanceRecord) -> None:
        key = record.key
        task = self.serialized.tasks[key.task_id]
        record.try_number += 1
        record.state = TaskState.RUNNING
        request = TryRequest(
            dag_id=self.dag.dag_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=record.try_number,
            run_id=self.run_id,
            logical_date=self.logical_date,
            data_interval_start=self.interval.start,
            data_interval_end=self.interval.end,
            conf=self.conf,
            params=self.params,
            max_tries=task.retries + 1,
        )
        log_path = None
        if self.log_dir is not None:
            log_path = self.log_dir / try_log_path(
                self.dag.dag_id, self.run_id, key, record.try_number
            )
        timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None

        def target() -> TryOutcome:
            return task_runner.execute_try(
                self.dag, request, self.xcoms, max_xcom_bytes=self.max_xcom_bytes
            )

        self.supervisor.start(
            key,
            target,
            label=_label(key, record.try_number),
            timeout=timeout,
            log_path=log_path,
            echo=self.echo,
        )
        record.tries.append(
            TryRecord(
                record.try_number,
                TaskState.RUNNING,
                datetime.now(UTC),
                datetime.now(UTC),
                "",
                None,
                0,
                str(log_path) if log_path else None,
            )
        )
        if record.start_date is None:
            record.start_date = datetime.now(UTC)

    def _finish(self, finished: supervisor.FinishedTry) -> None:
        key: TIKey = finished.key
        record = self.tis[key]
        outcome = finished.outcome
        task = self.serialized.tasks[key.task_id]
        state = outcome.state
        if state is TaskState.FAILED:
            decided = retries.after_failure(
                retries.policy_of(task),
                record.try_number,
                finished.ended_at,
                retryable=outcome.retryable,
            )
            state, record.retry_at = decided.state, decided.retry_at
        elif state is TaskState.SUCCESS:
            self.xcoms.store(key, outcome)
            for skipped in outcome.skip:
                for other in self.tis.values():
                    if other.key.task_id == skipped and other.state is TaskState.NONE:
                        other.state = TaskState.SKIPPED
                        self._say(other.key, "skipped by " + key.task_id)
        record.state = state
        record.end_date = finished.ended_at
        record.note = outcome.error
        attempt = record.tries[-1]
        attempt.state = state if state is not TaskState.UP_FOR_RETRY else TaskState.FAILED
        attempt.start_date = finished.started_at
        attempt.end_date = finished.ended_at
        attempt.exit_reason = outcome.exit_reason
        attempt.error = outcome.error
        attempt.pid = finished.pid
        suffix = (
            f", retry at {record.retry_at.isoformat()}"
            if record.retry_at and state is TaskState.UP_FOR_RETRY
            else ""
        )
        self._say(key, f"{state.value} after try {record.try_number}{suffix}")

    def _say(self, key: TIKey, message: str) -> None:
        if self.echo is not None:
            self.echo.write(f"{_label(key, None)} | {message}\n")


def _label(key: TIKey, try_number: int | None) -> str:
    text = key.task_id + (f"[{key.map_index}]" if key.map_index >= 0 else "")
    return text + (f"#{try_number}" if try_number else "")


def try_log_path(dag_id: str, run_id: str, key: TIKey, try_number: int) -> Path:
    """``<dag_id>/<run_id>/<task_id>[/<map_index>]/try-<n>.log`` (relative to the log root)."""
    safe_run = run_id.replace(":", "_").replace("+", "_")
    path = Path(dag_id) / safe_run / key.task_id
    if key.map_index >= 0:
        path = path / str(key.map_index)
    return path / f"try-{try_number}.log"


class _Stderr:
    """The default echo: ``sys.stderr`` as it is when the run starts, not at import time
    (pytest's capsys and click's CliRunner replace it)."""

    def __repr__(self) -> str:
        return "sys.stderr"


_STDERR: Any = _Stderr()


def _echo(echo: TextIO | None) -> TextIO | None:
    return sys.stderr if echo is _STDERR else echo


def test_dag(
    dag: DAG,
    *,
    logical_date: datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    echo: TextIO | None = _STDERR,
    **options: Any,
) -> RunReport:
    """Run ``dag`` once, whole, with the real semantics; returns what happened.

    Progress and the tries' output are echoed to ``echo`` (``sys.stderr`` by default; None
    for silence).
    """
    return LocalRun(dag, logical_date=logical_date, conf=conf, echo=_echo(echo), **options).run()


def test_task(
    dag: DAG,
    task_id: str,
    *,
    logical_date: datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    echo: TextIO | None = _STDERR,
    **options: Any,
) -> RunReport:
    """Run one task of ``dag`` alone, ignoring its dependencies (upstream XComs are absent)."""
    dag.get_task(task_id)
    return LocalRun(
        dag, logical_date=logical_date, conf=conf, echo=_echo(echo), only_task=task_id, **options
    ).run()


test_dag.__test__ = False  # type: ignore[attr-defined]
test_task.__test__ = False  # type: ignore[attr-defined]
