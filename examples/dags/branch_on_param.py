"""Branch on a param: a full reload or an incremental load, then a common publish step."""

from __future__ import annotations

from datetime import datetime

from gnomon import DAG, Param, TaskGroup, task
from gnomon.operators import BashOperator, EmptyOperator

with DAG(
    "branch_on_param",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    tags=["example", "branching"],
    params={
        "mode": Param(
            "incremental",
            type="string",
            enum=["full", "incremental"],
            description="full rebuilds everything; incremental loads since the last run",
        ),
    },
) as dag:

    @task.branch
    def choose(params: dict[str, str] | None = None) -> str:
        assert params is not None
        return "full_reload" if params["mode"] == "full" else "incremental"

    with TaskGroup("full_reload") as full:
        truncate = BashOperator(task_id="truncate", bash_command="echo truncating tables")
        reload = BashOperator(task_id="reload", bash_command="echo reloading everything")
        truncate >> reload

    incremental = BashOperator(
        task_id="incremental", bash_command="echo 'loading changes since {{ ds }}'"
    )
    publish = EmptyOperator(task_id="publish", trigger_rule="none_failed_min_one_success")

    choose() >> [full, incremental]
    [full, incremental] >> publish
