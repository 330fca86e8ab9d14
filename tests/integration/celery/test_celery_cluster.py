"""Production mode end to end: Postgres, the API, schedulers with the Celery executor, and
workers with no database settings, on Redis and on RabbitMQ."""

from __future__ import annotations

import pytest
from support.cluster import Cluster, MakeCluster
from support.processes import session_members

from gnomon.semantics.states import RunState

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres"])]


#: A task whose first try fails, retried at once.
FLAKY = """
from datetime import datetime, timedelta

from gnomon import DAG
from gnomon.operators import PythonOperator


def flaky(ti=None):
    if ti.try_number == 1:
        raise RuntimeError("the first try fails")


with DAG("flaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(
        task_id="flaky",
        python_callable=flaky,
        queue={queue!r},
        retries=1,
        retry_delay=timedelta(0),
    )
"""


def _successful_tries(cluster: Cluster, dag_id: str) -> list[tuple[str, str, int, str]]:
    return [
        (t.run_id, t.task_id, t.try_number, t.worker or "")
        for t in cluster.tries_of(dag_id)
        if t.state == "success"
    ]


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_two_hundred_tasks_on_two_queues_run_on_the_workers_of_their_queue(
    make_cluster: MakeCluster, broker: str
) -> None:
    cluster = make_cluster(broker)
    extract, load = cluster.queue("extract"), cluster.queue("load")
    cluster.write_dag("wide", tasks=200, layers=4, queues=[extract, load], max_active_tasks=200)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    cluster.start_worker("worker-a", [extract], concurrency=2)
    cluster.start_worker("worker-b", [load], concurrency=2)

    [run] = cluster.trigger("wide")
    states = cluster.wait_runs([run], timeout=240)

    assert states[run] is RunState.SUCCESS, cluster.tail()
    tries = _successful_tries(cluster, "wide")
    assert len(tries) == 200
    # The queue routed each task: even-numbered tasks to extract, odd ones to load.
    for _, task_id, _, worker in tries:
        expected = "worker-a" if int(task_id[1:]) % 2 == 0 else "worker-b"
        assert worker.startswith(expected), (task_id, worker)
    effects = cluster.side_effects("wide")
    assert sorted(effects) == sorted((r, t, n) for r, t, n, _ in tries)


def test_two_schedulers_and_two_workers_run_fifty_runs_exactly_once(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster("redis")
    [queue] = cluster.write_dag("twenty", tasks=20, layers=4)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler("scheduler-1")
    cluster.start_scheduler("scheduler-2")
    cluster.start_worker("worker-1", [queue], concurrency=2)
    # The other runs its tries in kept try processes, several tries each.
    cluster.start_worker("worker-2", [queue], concurrency=2, GNOMON_WORKER_TRIES_PER_PROCESS="10")

    runs = cluster.trigger("twenty", count=50)
    states = cluster.wait_runs(runs, timeout=600)

    assert set(states.values()) == {RunState.SUCCESS}, cluster.tail()
    tries = _successful_tries(cluster, "twenty")
    assert len(tries) == 50 * 20
    effects = cluster.side_effects("twenty")
    # One row per successful try, and no row without one: no try ran twice or unrecorded.
    assert sorted(effects) == sorted((r, t, n) for r, t, n, _ in tries)
    # Worker names are "<name>-<test suffix>/<pool process pid>".
    assert {"-".join(w.split("-")[:2]) for *_, w in tries} == {"worker-1", "worker-2"}
    jobs = cluster.sql(
        "SELECT DISTINCT tr.job_id FROM task_tries tr "
        "JOIN task_instances ti ON ti.id = tr.task_instance_id WHERE ti.dag_id = 'twenty'"
    )
    assert len(jobs) == 2, "both schedulers queued tries"


@pytest.mark.parametrize("tries_per_process", ["1", "10"])
def test_a_worker_killed_mid_task_has_its_try_failed_as_a_zombie_and_retried(
    make_cluster: MakeCluster, tries_per_process: str
) -> None:
    cluster = make_cluster(
        "redis",
        GNOMON_TASK_HEARTBEAT_TIMEOUT="4",
        GNOMON_WORKER_TRIES_PER_PROCESS=tries_per_process,
    )
    [queue] = cluster.write_dag("slow", tasks=1, sleep=8)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    doomed = cluster.start_worker("worker-1", [queue], concurrency=1)

    [run] = cluster.trigger("slow")
    cluster.wait_until(lambda: cluster.tries_in(["running"]) == 1, 60, "the try to start")
    # The worker's main process, its pool process and the try's process.
    cluster.wait_until(
        lambda: len(session_members(doomed.pid)) >= 3, 30, "the try's process to start"
    )
    cluster.kill9(doomed)
    # Its pool process and the try (forked, or sent to a kept process) die with it: nothing
    # of it runs on unsupervised, to finish unreported.
    cluster.wait_until(
        lambda: not session_members(doomed.pid), 3, "the killed worker's processes to die"
    )
    cluster.start_worker("worker-2", [queue], concurrency=1)
    states = cluster.wait_runs([run], timeout=120)

    assert states[run] is RunState.SUCCESS, cluster.tail()
    tries = cluster.tries_of("slow")
    assert [(t.try_number, t.state) for t in tries] == [(1, "failed"), (2, "success")], tries
    assert "zombie" in (tries[0].exit_reason or "")
    assert (tries[0].worker or "").startswith("worker-1")
    assert (tries[1].worker or "").startswith("worker-2")


@pytest.mark.parametrize("tries_per_process", ["1", "10"])
def test_a_worker_stopped_mid_task_ends_its_try_as_shut_down_and_it_runs_again_for_free(
    make_cluster: MakeCluster, tries_per_process: str
) -> None:
    cluster = make_cluster("redis", GNOMON_SHUTDOWN_GRACE="1")
    [queue] = cluster.write_dag("long", tasks=1, sleep=60, retries=0)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    stopping = cluster.start_worker(
        "worker-1", [queue], concurrency=1, GNOMON_WORKER_TRIES_PER_PROCESS=tries_per_process
    )

    [run] = cluster.trigger("long")
    cluster.wait_until(lambda: cluster.tries_in(["running"]) == 1, 60, "the try to start")
    # SIGTERM: the try gets the shutdown grace (1 s), then is killed and reported.
    assert cluster.stop(stopping) == 0, stopping.output()

    first = cluster.tries_of("long")[0]
    assert (first.try_number, first.state, first.exit_reason) == (1, "failed", "shutdown")
    assert "Traceback" not in stopping.output()
    # Queued again although the task has no retries: a shutdown uses none.
    cluster.wait_until(
        lambda: (
            [(t.try_number, t.state) for t in cluster.tries_of("long")]
            == [(1, "failed"), (2, "queued")]
        ),
        30,
        "the try to be queued again",
    )
    assert cluster.run_states([run]) == {run: RunState.RUNNING}


def test_a_try_that_failed_on_a_worker_is_retried_without_waiting_for_the_poll(
    make_cluster: MakeCluster,
) -> None:
    # The fallback poll is far off: only the end's NOTIFY can tell the scheduler that a
    # retry is due (nothing else here would look for one for five minutes).
    cluster = make_cluster("redis", GNOMON_SCHEDULER_POLL_INTERVAL="300")
    queue = cluster.queue("default")
    cluster.dags_folder.mkdir(parents=True, exist_ok=True)
    (cluster.dags_folder / "flaky.py").write_text(FLAKY.format(queue=queue))
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    cluster.start_worker("worker-1", [queue], concurrency=1)

    [run] = cluster.trigger("flaky")
    states = cluster.wait_runs([run], timeout=60)

    assert states[run] is RunState.SUCCESS, cluster.tail()
    tries = cluster.tries_of("flaky")
    assert [(t.try_number, t.state) for t in tries] == [(1, "failed"), (2, "success")], tries


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_tries_of_one_message_behind_a_long_one_are_handed_to_free_pool_processes(
    make_cluster: MakeCluster, broker: str
) -> None:
    # Four 3-second tasks queued in one pass travel in one or two messages (up to 16 tries
    # each). Without the hand-back, a pool process would run a message's tries one after
    # another while the other three processes idle.
    cluster = make_cluster(broker, GNOMON_WORKER_HAND_BACK_AFTER="0.5")
    [queue] = cluster.write_dag("four", tasks=4, sleep=3, retries=0)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    cluster.start_worker("worker-1", [queue], concurrency=4)

    [run] = cluster.trigger("four")
    states = cluster.wait_runs([run], timeout=120)

    assert states[run] is RunState.SUCCESS, cluster.tail()
    spans = cluster.sql(
        "SELECT tr.start_date, tr.end_date FROM task_tries tr "
        "JOIN task_instances ti ON ti.id = tr.task_instance_id WHERE ti.dag_id = 'four'"
    )
    assert len(spans) == 4
    # All four ran at once at some moment: the last to start began before the first ended.
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans
    assert len(cluster.side_effects("four")) == 4
