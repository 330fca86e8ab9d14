"""Planning: which task instances of a run start now, and what the undecided ones become."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gnomon.semantics import planning
from gnomon.semantics.planning import TIKey, XComLengths
from gnomon.semantics.states import RunState, TaskState
from gnomon.serialization.model import SerializedDag

NONE = TaskState.NONE
SCHEDULED = TaskState.SCHEDULED
RUNNING = TaskState.RUNNING
SUCCESS = TaskState.SUCCESS
FAILED = TaskState.FAILED
SKIPPED = TaskState.SKIPPED
UPSTREAM_FAILED = TaskState.UPSTREAM_FAILED


# -- building serialized DAGs from small literals -------------------------------------------------


def task(
    *upstream: str,
    rule: str = "all_success",
    expand: Mapping[str, Any] | None = None,
    depends_on_past: bool = False,
) -> dict[str, Any]:
    """The parts of a task that matter to planning; ``dag`` fills in the rest."""
    return {
        "upstream": list(upstream),
        "trigger_rule": rule,
        "expand": dict(expand) if expand is not None else None,
        "depends_on_past": depends_on_past,
    }


def literal(values: list[Any] | dict[str, Any]) -> dict[str, Any]:
    return {"literal": values}


def xcom(task_id: str, key: str = "return_value") -> dict[str, Any]:
    return {"xcom": {"task_id": task_id, "key": key}}


def dag(tasks: Mapping[str, Mapping[str, Any]]) -> SerializedDag:
    """A serialized DAG in the shape ``serialization.writer`` emits; ``tasks`` are listed
    upstream before downstream, which becomes the DAG's order."""
    downstream: dict[str, list[str]] = {tid: [] for tid in tasks}
    for tid, spec in tasks.items():
        for up in spec["upstream"]:
            downstream[up].append(tid)
    return SerializedDag.from_json(
        {
            "format": 1,
            "dag_id": "planned",
            "fileloc": "/dags/planned.py",
            "schedule": {"type": "null"},
            "schedule_summary": "None",
            "schedule_description": "never",
            "timezone": "UTC",
            "start_date": None,
            "end_date": None,
            "catchup": False,
            "max_active_runs": 16,
            "max_active_tasks": 16,
            "tags": [],
            "description": None,
            "doc_md": None,
            "team": None,
            "params": {},
            "task_groups": {},
            "tasks": {
                tid: {
                    "operator": "EmptyOperator",
                    "module": "gnomon.operators.empty",
                    "upstream": sorted(spec["upstream"]),
                    "downstream": sorted(downstream[tid]),
                    "trigger_rule": spec["trigger_rule"],
                    "retries": 0,
                    "retry_delay": 300.0,
                    "retry_exponential_backoff": False,
                    "max_retry_delay": None,
                    "execution_timeout": None,
                    "priority_weight": 1,
                    "pool": "default_pool",
                    "pool_slots": 1,
                    "queue": "default",
                    "depends_on_past": spec["depends_on_past"],
                    "group": None,
                    "is_empty": True,
                    "expand": spec["expand"],
                    "fields": {},
                    "doc_md": None,
                }
                for tid, spec in tasks.items()
            },
            "order": list(tasks),
        }
    )


def states(
    serialized: SerializedDag, **overrides: TaskState | list[TaskState]
) -> dict[TIKey, TaskState]:
    """A new run's instances, all ``none``, with the given tasks' states overridden (a list:
    one state per map index 0..n-1)."""
    view = dict.fromkeys(planning.initial_instances(serialized), NONE)
    for task_id, state in overrides.items():
        if isinstance(state, list):
            view = {k: s for k, s in view.items() if k.task_id != task_id}
            view.update({TIKey(task_id, i): s for i, s in enumerate(state)})
        else:
            view[TIKey(task_id)] = state
    return view


def plan(
    serialized: SerializedDag,
    view: Mapping[TIKey, TaskState],
    xcom_lengths: XComLengths | None = None,
    past_allows: Callable[[TIKey], bool] | None = None,
) -> planning.Plan:
    return planning.plan(serialized, view, xcom_lengths or {}, past_allows=past_allows)


CHAIN = dag({"a": task(), "b": task("a"), "c": task("b")})


# -- chains: scheduling and propagation -----------------------------------------------------------


def test_a_new_run_of_a_chain_schedules_only_its_root() -> None:
    result = plan(CHAIN, states(CHAIN))
    assert result.changes == {TIKey("a"): SCHEDULED}


def test_a_task_is_scheduled_once_its_upstream_succeeded() -> None:
    result = plan(CHAIN, states(CHAIN, a=SUCCESS))
    assert result.changes == {TIKey("b"): SCHEDULED}


def test_instances_that_are_no_longer_none_are_left_alone() -> None:
    result = plan(CHAIN, states(CHAIN, a=RUNNING))
    assert result.changes == {}


def test_a_skip_propagates_down_a_whole_chain_in_one_plan() -> None:
    result = plan(CHAIN, states(CHAIN, a=SKIPPED))
    assert result.changes == {TIKey("b"): SKIPPED, TIKey("c"): SKIPPED}


def test_an_upstream_failure_propagates_down_a_whole_chain_in_one_plan() -> None:
    result = plan(CHAIN, states(CHAIN, a=FAILED))
    assert result.changes == {TIKey("b"): UPSTREAM_FAILED, TIKey("c"): UPSTREAM_FAILED}


# -- branching: joins after a branch --------------------------------------------------------------

BRANCHED = dag(
    {
        "branch": task(),
        "taken": task("branch"),
        "not_taken": task("branch"),
        "after_not_taken": task("not_taken"),
        "join": task("taken", "after_not_taken", rule="none_failed_min_one_success"),
    }
)


def test_a_none_failed_min_one_success_join_runs_after_the_branch_skipped_the_other_path() -> None:
    view = states(BRANCHED, branch=SUCCESS, taken=SUCCESS, not_taken=SKIPPED)
    result = plan(BRANCHED, view)
    assert result.changes == {TIKey("after_not_taken"): SKIPPED, TIKey("join"): SCHEDULED}


def test_an_all_success_join_after_a_branch_is_skipped_with_the_path_not_taken() -> None:
    serialized = dag(
        {
            "branch": task(),
            "taken": task("branch"),
            "not_taken": task("branch"),
            "join": task("taken", "not_taken"),
        }
    )
    view = states(serialized, branch=SUCCESS, taken=SUCCESS, not_taken=SKIPPED)
    assert plan(serialized, view).changes == {TIKey("join"): SKIPPED}


def test_a_none_failed_min_one_success_join_is_upstream_failed_when_the_taken_path_failed() -> None:
    view = states(BRANCHED, branch=SUCCESS, taken=FAILED, not_taken=SKIPPED)
    result = plan(BRANCHED, view)
    assert result.changes[TIKey("join")] is UPSTREAM_FAILED


# -- mapping over literals ------------------------------------------------------------------------

LITERAL_MAPPED = dag({"start": task(), "m": task("start", expand={"x": literal([1, 2, 3])})})


def test_mapping_over_a_literal_list_creates_one_instance_per_element_up_front() -> None:
    assert planning.initial_instances(LITERAL_MAPPED) == [
        TIKey("start"),
        TIKey("m", 0),
        TIKey("m", 1),
        TIKey("m", 2),
    ]


def test_mapping_over_literals_creates_the_cross_product_of_their_lengths_up_front() -> None:
    serialized = dag({"m": task(expand={"x": literal([1, 2]), "y": literal({"a": 1, "b": 2})})})
    assert planning.initial_instances(serialized) == [TIKey("m", i) for i in range(4)]


def test_literal_mapped_instances_are_scheduled_without_an_expansion() -> None:
    result = plan(LITERAL_MAPPED, states(LITERAL_MAPPED, start=SUCCESS))
    assert result.expansions == {}
    assert result.changes == {TIKey("m", i): SCHEDULED for i in range(3)}


def test_mapping_over_an_empty_literal_list_gives_one_placeholder_that_is_skipped() -> None:
    serialized = dag({"m": task(expand={"x": literal([])})})
    assert planning.initial_instances(serialized) == [TIKey("m", -1)]
    result = plan(serialized, states(serialized))
    assert result.expansions == {}
    assert result.changes == {TIKey("m", -1): SKIPPED}


# -- mapping over an upstream's XCom --------------------------------------------------------------

XCOM_MAPPED = dag(
    {
        "source": task(),
        "m": task("source", expand={"item": xcom("source")}),
        "after": task("m"),
    }
)


def test_a_task_mapped_over_an_xcom_starts_as_one_placeholder() -> None:
    assert planning.initial_instances(XCOM_MAPPED) == [
        TIKey("source"),
        TIKey("m", -1),
        TIKey("after"),
    ]


def test_a_placeholder_waits_while_its_upstream_runs() -> None:
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=RUNNING))
    assert result.expansions == {}
    assert result.changes == {}


def test_a_placeholder_expands_to_scheduled_instances_once_the_upstream_length_is_known() -> None:
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), {("source", "return_value"): 3})
    assert result.expansions == {"m": 3}
    assert TIKey("m", -1) not in result.changes


def test_a_placeholder_expands_over_the_xcom_key_it_names() -> None:
    serialized = dag(
        {"source": task(), "m": task("source", expand={"item": xcom("source", "rows")})}
    )
    lengths = {("source", "return_value"): 5, ("source", "rows"): 2}
    result = plan(serialized, states(serialized, source=SUCCESS), lengths)
    assert result.expansions == {"m": 2}


def test_the_downstream_of_a_placeholder_expanded_in_the_same_plan_waits() -> None:
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), {("source", "return_value"): 3})
    assert TIKey("after") not in result.changes


def test_an_xcom_that_is_not_a_list_fails_the_placeholder() -> None:
    lengths = {("source", "return_value"): None}
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), lengths)
    assert result.expansions == {}
    assert result.changes[TIKey("m", -1)] is FAILED


def test_a_placeholder_failed_by_a_non_list_xcom_has_a_reason_naming_argument_and_upstream() -> (
    None
):
    lengths = {("source", "return_value"): None}
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), lengths)
    reason = result.reasons[TIKey("m", -1)]
    assert "'item'" in reason
    assert "'source'" in reason


def test_the_failure_of_a_placeholder_propagates_to_its_downstream_in_the_same_plan() -> None:
    lengths = {("source", "return_value"): None}
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), lengths)
    assert result.changes[TIKey("after")] is UPSTREAM_FAILED


def test_a_zero_length_xcom_skips_the_placeholder() -> None:
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=SUCCESS), {("source", "return_value"): 0})
    assert result.expansions == {}
    assert result.changes == {TIKey("m", -1): SKIPPED, TIKey("after"): SKIPPED}


def test_a_placeholder_whose_upstream_failed_is_upstream_failed_without_expanding() -> None:
    result = plan(XCOM_MAPPED, states(XCOM_MAPPED, source=FAILED), {("source", "return_value"): 3})
    assert result.expansions == {}
    assert result.changes[TIKey("m", -1)] is UPSTREAM_FAILED


# -- downstream of a mapped task ------------------------------------------------------------------

MAPPED_THEN_JOIN = dag(
    {
        "m": task(expand={"x": literal([1, 2, 3])}),
        "after": task("m"),
    }
)


def test_a_downstream_of_a_mapped_task_waits_until_every_instance_finished() -> None:
    view = states(MAPPED_THEN_JOIN, m=[SUCCESS, SUCCESS, RUNNING])
    assert plan(MAPPED_THEN_JOIN, view).changes == {}


def test_a_downstream_of_a_mapped_task_runs_once_every_instance_succeeded() -> None:
    view = states(MAPPED_THEN_JOIN, m=[SUCCESS, SUCCESS, SUCCESS])
    assert plan(MAPPED_THEN_JOIN, view).changes == {TIKey("after"): SCHEDULED}


def test_one_failed_mapped_instance_fails_its_downstream_at_once() -> None:
    view = states(MAPPED_THEN_JOIN, m=[FAILED, RUNNING, RUNNING])
    assert plan(MAPPED_THEN_JOIN, view).changes == {TIKey("after"): UPSTREAM_FAILED}


def test_a_task_mapped_over_a_mapped_task_expands_to_one_instance_per_upstream_instance() -> None:
    serialized = dag(
        {
            "first": task(expand={"x": literal([1, 2, 3])}),
            "second": task("first", expand={"y": xcom("first")}),
        }
    )
    view = states(serialized, first=[SUCCESS, SUCCESS, SUCCESS])
    assert plan(serialized, view).expansions == {"second": 3}


def test_a_task_mapped_over_a_mapped_task_counts_only_instances_that_succeeded() -> None:
    # Only instances that succeeded pushed a value: the list each try pulls has their count.
    serialized = dag(
        {
            "first": task(expand={"x": literal([1, 2, 3])}),
            "second": task("first", rule="all_done", expand={"y": xcom("first")}),
        }
    )
    view = states(serialized, first=[SUCCESS, FAILED, SUCCESS])
    assert plan(serialized, view).expansions == {"second": 2}


def test_a_task_mapped_over_a_skipped_zero_length_mapped_task_is_skipped() -> None:
    serialized = dag(
        {
            "first": task(expand={"x": literal([])}),
            "second": task("first", rule="none_failed", expand={"y": xcom("first")}),
        }
    )
    result = plan(serialized, states(serialized))
    assert result.expansions == {}
    assert result.changes == {TIKey("first"): SKIPPED, TIKey("second"): SKIPPED}


# -- depends_on_past ------------------------------------------------------------------------------

PAST_DEPENDENT = dag({"a": task(), "b": task("a", depends_on_past=True)})


def test_depends_on_past_holds_back_a_task_the_previous_run_does_not_allow() -> None:
    result = plan(PAST_DEPENDENT, states(PAST_DEPENDENT, a=SUCCESS), past_allows=lambda _: False)
    assert result.changes == {}


def test_depends_on_past_lets_a_task_run_when_the_previous_run_allows_it() -> None:
    result = plan(PAST_DEPENDENT, states(PAST_DEPENDENT, a=SUCCESS), past_allows=lambda _: True)
    assert result.changes == {TIKey("b"): SCHEDULED}


def test_depends_on_past_holds_nothing_back_without_a_past_allows_answer() -> None:
    result = plan(PAST_DEPENDENT, states(PAST_DEPENDENT, a=SUCCESS))
    assert result.changes == {TIKey("b"): SCHEDULED}


def test_past_allows_is_asked_about_the_task_instance_that_would_run() -> None:
    asked: list[TIKey] = []

    def past_allows(key: TIKey) -> bool:
        asked.append(key)
        return True

    plan(PAST_DEPENDENT, states(PAST_DEPENDENT, a=SUCCESS), past_allows=past_allows)
    assert asked == [TIKey("b")]


def test_depends_on_past_does_not_hold_back_a_skip_propagating_from_upstream() -> None:
    result = plan(PAST_DEPENDENT, states(PAST_DEPENDENT, a=SKIPPED), past_allows=lambda _: False)
    assert result.changes == {TIKey("b"): SKIPPED}


# -- the run's state ------------------------------------------------------------------------------


def test_the_run_keeps_running_while_tasks_remain() -> None:
    assert plan(CHAIN, states(CHAIN, a=SUCCESS)).run_state is RunState.RUNNING


def test_the_run_succeeds_when_every_leaf_succeeded() -> None:
    view = states(CHAIN, a=SUCCESS, b=SUCCESS, c=SUCCESS)
    assert plan(CHAIN, view).run_state is RunState.SUCCESS


def test_the_run_fails_when_a_leaf_failed() -> None:
    view = states(CHAIN, a=SUCCESS, b=SUCCESS, c=FAILED)
    assert plan(CHAIN, view).run_state is RunState.FAILED


def test_the_run_fails_when_a_failure_upstream_leaves_a_leaf_upstream_failed() -> None:
    assert plan(CHAIN, states(CHAIN, a=FAILED)).run_state is RunState.FAILED


def test_the_run_succeeds_when_its_leaves_were_skipped() -> None:
    assert plan(CHAIN, states(CHAIN, a=SKIPPED)).run_state is RunState.SUCCESS


def test_an_unfinished_all_done_teardown_keeps_a_run_with_a_failed_leaf_running() -> None:
    serialized = dag(
        {
            "setup": task(),
            "work": task("setup"),
            "teardown": task("setup", rule="all_done"),
        }
    )
    result = plan(serialized, states(serialized, setup=SUCCESS, work=FAILED))
    assert result.changes == {TIKey("teardown"): SCHEDULED}
    assert result.run_state is RunState.RUNNING


def test_the_run_fails_when_one_instance_of_a_mapped_leaf_failed() -> None:
    serialized = dag({"m": task(expand={"x": literal([1, 2, 3])})})
    view = states(serialized, m=[SUCCESS, FAILED, SUCCESS])
    assert plan(serialized, view).run_state is RunState.FAILED
