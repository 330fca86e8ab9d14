"""Concurrency in a local run: independent tries run side by side, up to ``parallelism``."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from gnomon import DAG, task
from gnomon.runtime import local_run
from gnomon.semantics.states import TaskState


def _rendezvous_dag(folder: Path) -> DAG:
    """Two independent tasks that each wait (up to 2 s) for the other to have started."""
    with DAG("parallel_rendezvous") as built:

        @task
        def meet(me: str, other: str) -> bool:
            (folder / me).touch()
            deadline = time.monotonic() + 2
            while not (folder / other).exists():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
            return True

        @task
        def record(met: bool, name: str) -> None:
            (folder / f"{name}-met").write_text(str(met))

        record(meet.override(task_id="a")("a", "b"), "a")
        record(meet.override(task_id="b")("b", "a"), "b")
    return built


def test_independent_tasks_run_at_the_same_time(tmp_path: Path) -> None:
    report = local_run.test_dag(_rendezvous_dag(tmp_path), echo=None, parallelism=2, kill_grace=1)

    assert all(t.state is TaskState.SUCCESS for t in report.tasks)
    assert (tmp_path / "a-met").read_text() == "True"
    assert (tmp_path / "b-met").read_text() == "True"


def test_parallelism_one_runs_a_single_try_at_a_time(tmp_path: Path) -> None:
    with DAG("parallel_one") as dag:

        @task
        def work(n: int) -> int:
            return n

        work.expand(n=[1, 2, 3, 4])

    report = local_run.test_dag(dag, echo=None, parallelism=1, kill_grace=1)

    tries = sorted((t.tries[0] for t in report.tasks), key=lambda attempt: attempt.start_date)
    assert len(tries) == 4
    for earlier, later in itertools.pairwise(tries):
        assert later.start_date >= earlier.end_date
