"""Which task instances of a run may start now, and what the rest become.

``plan`` is the one implementation of dependency resolution: ``gnomon dags test`` and the
scheduler both call it with the run's task-instance states and apply what it returns (the
scheduler through its guarded transition function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gnomon.semantics import mapping
from gnomon.semantics.run_state import run_state
from gnomon.semantics.states import FINISHED, RunState, TaskState
from gnomon.semantics.trigger_rules import Decision, UpstreamCounts, evaluate
from gnomon.serialization.model import SerializedDag, SerializedTask


@dataclass(frozen=True, slots=True, order=True)
class TIKey:
    task_id: str
    map_index: int = -1


#: ``(task_id, key) -> length`` of XCom values that mapped tasks expand over (None: the value
#: was not a list or dict).
XComLengths = Mapping[tuple[str, str], int | None]


@dataclass(slots=True)
class Plan:
    """What the caller must apply, in this order."""

    #: Unmapped placeholders (map index -1) to replace by instances 0..n-1 in ``scheduled``.
    expansions: dict[str, int] = field(default_factory=dict)
    #: New states for task instances that were ``none``.
    changes: dict[TIKey, TaskState] = field(default_factory=dict)
    #: Why an instance failed without running (a mapped input that is not a list).
    reasons: dict[TIKey, str] = field(default_factory=dict)
    #: The run's state once everything above is applied.
    run_state: RunState = RunState.RUNNING


def initial_instances(dag: SerializedDag) -> list[TIKey]:
    """The task instances a new run starts with: one per task, and for a task mapped over
    literals only, one per element (an unexpanded placeholder otherwise)."""
    keys: list[TIKey] = []
    for task_id in dag.order:
        task = dag.tasks[task_id]
        n = literal_length(task)
        if n is None or n == 0:
            keys.append(TIKey(task_id))
        else:
            keys.extend(TIKey(task_id, i) for i in range(n))
    return keys


def literal_length(task: SerializedTask) -> int | None:
    """The instance count of a task mapped only over literals; None otherwise."""
    if not task.is_mapped or any(arg.literal is None for arg in task.expand):
        return None
    return mapping.total_length([len(arg.literal or ()) for arg in task.expand])


def _expansion_length(
    task: SerializedTask,
    xcom_lengths: XComLengths,
    instances: Mapping[str, list[TIKey]],
    view: Mapping[TIKey, TaskState],
    dag: SerializedDag,
) -> int:
    lengths: list[int] = []
    for arg in task.expand:
        if arg.literal is not None:
            lengths.append(len(arg.literal))
            continue
        assert arg.xcom_task_id is not None
        if dag.tasks[arg.xcom_task_id].is_mapped and arg.xcom_key == "return_value":
            # Only instances that succeeded pushed a value, so the list a try pulls has their
            # count (a skipped zero-length placeholder or a failed instance adds nothing).
            upstream = instances.get(arg.xcom_task_id, ())
            lengths.append(sum(1 for k in upstream if view[k] is TaskState.SUCCESS))
            continue
        source = (arg.xcom_task_id, arg.xcom_key)
        if source not in xcom_lengths:
            raise mapping.MappingError(
                f"expand argument {arg.name!r} comes from task {arg.xcom_task_id!r} "
                f"(key {arg.xcom_key!r}), which pushed no value to map over"
            )
        length = xcom_lengths[source]
        if length is None:
            raise mapping.MappingError(
                f"expand argument {arg.name!r} comes from task {arg.xcom_task_id!r} "
                f"(key {arg.xcom_key!r}), whose value is not a list or a dict"
            )
        lengths.append(length)
    return mapping.total_length(lengths)


def plan(
    dag: SerializedDag,
    states: Mapping[TIKey, TaskState],
    xcom_lengths: XComLengths,
    *,
    past_allows: Callable[[TIKey], bool] | None = None,
) -> Plan:
    """Decide every undecided (``none``) task instance whose upstreams allow it.

    Skips and upstream failures propagate through the whole run in one call. A mapped
    placeholder whose upstreams allow it is expanded (zero elements: it is skipped).
    ``past_allows(key)`` answers ``depends_on_past`` (the same instance in the previous run
    succeeded or was skipped); without it, ``depends_on_past`` does not hold anything back.
    """
    view: dict[TIKey, TaskState] = dict(states)
    instances: dict[str, list[TIKey]] = {}
    for key in view:
        instances.setdefault(key.task_id, []).append(key)
    result = Plan()

    for task_id in dag.order:
        task = dag.tasks[task_id]
        for key in list(instances.get(task_id, ())):
            if view[key] is not TaskState.NONE:
                continue
            counts = UpstreamCounts.of(
                view[up_key] for up in task.upstream for up_key in instances.get(up, ())
            )
            decision = evaluate(task.trigger_rule, counts)
            if decision is Decision.WAIT:
                continue
            if decision is Decision.SKIP:
                new_state = TaskState.SKIPPED
            elif decision is Decision.UPSTREAM_FAILED:
                new_state = TaskState.UPSTREAM_FAILED
            elif task.depends_on_past and past_allows is not None and not past_allows(key):
                continue
            elif task.is_mapped and key.map_index == -1:
                try:
                    n = _expansion_length(task, xcom_lengths, instances, view, dag)
                except mapping.MappingError as exc:
                    result.reasons[key] = str(exc)
                    new_state = TaskState.FAILED
                else:
                    if n > 0:
                        result.expansions[task_id] = n
                        del view[key]
                        expanded = [TIKey(task_id, i) for i in range(n)]
                        instances[task_id] = expanded
                        view.update(dict.fromkeys(expanded, TaskState.SCHEDULED))
                        continue
                    new_state = TaskState.SKIPPED
            else:
                new_state = TaskState.SCHEDULED
            view[key] = new_state
            result.changes[key] = new_state

    leaves = [k for tid in dag.leaves for k in instances.get(tid, ())]
    result.run_state = run_state(
        (view[k] for k in leaves), all(s in FINISHED for s in view.values())
    )
    return result
