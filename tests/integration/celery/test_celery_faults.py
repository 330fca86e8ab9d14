"""Faults in production mode: a scheduler killed, the broker or Postgres restarted mid-run, a
task outliving the broker's visibility timeout. Each ends with every run finished, each try's
side effect recorded exactly once, and no try left queued or running.

The brokers and Postgres that these tests restart are private servers of their own
(``support.services``); the shared ones are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

import pytest
from support.cluster import Cluster, Component, MakeCluster
from support.processes import eventually
from support.services import PrivatePostgres, PrivateRabbitMQ, PrivateRedis

from gnomon.semantics.states import RunState

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres"])]


def _assert_every_run_succeeded_once(cluster: Cluster, dag_id: str, runs: list[int]) -> None:
    """Every run succeeded; each successful try recorded its side effect once, and no side
    effect was recorded by a try that does not exist; nothing is left queued or running."""
    states = cluster.run_states(runs)
    assert set(states.values()) == {RunState.SUCCESS}, cluster.tail()
    tries = cluster.tries_of(dag_id)
    succeeded = sorted((t.run_id, t.task_id, t.try_number) for t in tries if t.state == "success")
    assert len(succeeded) == len({(t.run_id, t.task_id) for t in tries})
    effects = cluster.side_effects(dag_id)
    assert sorted(effects) == succeeded, "a try ran twice, or ran unrecorded"
    assert cluster.tries_in(["queued", "running"]) == 0


def _all_alive(components: Iterable[Component]) -> bool:
    return all(component.alive() for component in components)


def _heartbeats(cluster: Cluster, component: Component, count: int, within: float) -> bool:
    """Whether the component's job records ``count`` new heartbeats ``within`` seconds."""
    seen: set[datetime] = set()

    def beats() -> bool:
        job = cluster.job_of(component)
        assert job is not None
        seen.add(job.heartbeat_at)
        return len(seen) > count

    return eventually(beats, within)


Broker = PrivateRedis | PrivateRabbitMQ


def _through_a_broker_restart(
    broker: Broker, make_cluster: MakeCluster, *, kill: bool, **env: str
) -> tuple[Component, list[Component]]:
    """Forty-eight tries of one second on two workers (2 slots each); the broker stopped
    while tries run and others wait in it, started again once the workers and the scheduler
    found it gone; every run succeeds once and every component is alive. The scheduler and
    the workers."""
    cluster = make_cluster(broker_url=broker.url, **env)
    # More than the workers run and prefetch (2 + 2 each): some tries wait in the broker.
    [queue] = cluster.write_dag("restarts", tasks=8, layers=2, sleep=1.0, max_active_tasks=12)
    cluster.sync_dags()
    components = [
        cluster.start_api(),
        scheduler := cluster.start_scheduler(),
        *(workers := [cluster.start_worker(f"worker-{i}", [queue]) for i in (1, 2)]),
    ]
    runs = cluster.trigger("restarts", count=6)
    cluster.wait_until(
        lambda: cluster.tries_in(["running"]) >= 3 and broker.queued(queue) >= 1,
        60,
        "tries running, and messages waiting in the broker",
    )

    broker.stop(kill=kill)
    cluster.wait_until(
        lambda: (
            all("Cannot connect to" in w.output() for w in workers)
            and "cannot send try" in scheduler.output()
        ),
        60,
        "the workers and the scheduler to find the broker gone",
    )
    broker.start()
    cluster.wait_runs(runs, timeout=150)

    _assert_every_run_succeeded_once(cluster, "restarts", runs)
    assert _all_alive(components), cluster.tail()
    assert "the broker is back" in scheduler.output()
    return scheduler, workers


def test_a_redis_restart_mid_run_loses_queued_messages_whose_tries_are_queued_again(
    private_redis: PrivateRedis, make_cluster: MakeCluster
) -> None:
    # Killed, and keeping nothing across a restart: the messages queued in it are lost, and
    # only task_queued_timeout brings their tries back.
    scheduler, _ = _through_a_broker_restart(
        private_redis, make_cluster, kill=True, GNOMON_TASK_QUEUED_TIMEOUT="10"
    )
    assert "queued for longer than" in scheduler.output(), "lost messages were queued again"


def test_a_rabbitmq_restart_mid_run_loses_no_message_and_runs_no_try_twice(
    private_rabbitmq: PrivateRabbitMQ, make_cluster: MakeCluster
) -> None:
    # RabbitMQ keeps its durable queues and persistent messages across a restart, and gives
    # back the unacknowledged ones (those of running tries) when their connection closes: no
    # try needs task_queued_timeout (left at its 600 s), and none may run twice.
    scheduler, workers = _through_a_broker_restart(private_rabbitmq, make_cluster, kill=False)
    assert "queued for longer than" not in scheduler.output(), "no message was lost"
    # The running tries' messages came back with the broker, and were refused.
    assert any("not run: already started" in w.output() for w in workers)


def test_a_broker_that_is_down_holds_up_neither_the_scheduler_nor_its_tries(
    private_redis: PrivateRedis, make_cluster: MakeCluster
) -> None:
    cluster = make_cluster(broker_url=private_redis.url)
    [queue] = cluster.write_dag("waiting", tasks=20)
    cluster.sync_dags()
    cluster.start_api()
    scheduler = cluster.start_scheduler()
    cluster.wait_until(lambda: cluster.job_of(scheduler) is not None, 30, "the scheduler's job")
    private_redis.stop(kill=True)

    [run] = cluster.trigger("waiting")
    cluster.wait_until(lambda: cluster.tries_in(["queued"]) == 20, 60, "the tries to be queued")
    cluster.wait_until(
        lambda: "cannot send try" in scheduler.output(), 30, "a message to fail to be sent"
    )
    # The scheduler goes on with its passes: its heartbeat (every 1.5 s here) keeps coming
    # while twenty messages wait to be sent, instead of stopping for each send that fails.
    assert _heartbeats(cluster, scheduler, 2, within=6), cluster.tail()

    private_redis.start()
    cluster.start_worker("worker", [queue], concurrency=2)
    cluster.wait_runs([run], timeout=90)

    _assert_every_run_succeeded_once(cluster, "waiting", [run])
    assert "the broker is back" in scheduler.output()


def test_when_one_of_two_schedulers_is_killed_the_other_carries_on(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster("redis", GNOMON_TASK_HEARTBEAT_TIMEOUT="4")
    # Tasks longer than it takes to find the killed scheduler dead (4 to 6 s): its tries are
    # still running then, and others still wait in the broker behind the workers' 4 slots.
    [queue] = cluster.write_dag("carried", tasks=2, sleep=9)
    cluster.sync_dags()
    cluster.start_api()
    schedulers = [cluster.start_scheduler(f"scheduler-{i}") for i in (1, 2)]
    workers = [cluster.start_worker(f"worker-{i}", [queue], concurrency=2) for i in (1, 2)]
    cluster.wait_until(
        lambda: None not in [cluster.job_of(s) for s in schedulers], 30, "the schedulers' jobs"
    )
    jobs = {s.name: cluster.job_of(s) for s in schedulers}
    runs = cluster.trigger("carried", count=6)

    def holds(scheduler: Component, state: str) -> set[tuple[str, str, int]]:
        job = jobs[scheduler.name]
        assert job is not None
        return {
            (t.run_id, t.task_id, t.try_number)
            for t in cluster.tries_of("carried")
            if t.job_id == job.id and t.state == state
        }

    def holding_both() -> Component | None:
        """A scheduler with tries running and others queued (the one to kill)."""
        return next((s for s in schedulers if holds(s, "running") and holds(s, "queued")), None)

    cluster.wait_until(
        lambda: holding_both() is not None, 60, "a scheduler with tries running and queued"
    )
    victim = holding_both()
    assert victim is not None
    [survivor] = [s for s in schedulers if s is not victim]
    running_at_the_kill = holds(victim, "running")
    cluster.kill9(victim)
    cluster.wait_runs(runs, timeout=120)

    _assert_every_run_succeeded_once(cluster, "carried", runs)
    assert survivor.alive(), cluster.tail()
    # The survivor declared the killed scheduler dead...
    ended = cluster.job_of(victim)
    assert ended is not None and ended.state == "failed"
    assert "taking over its work" in survivor.output()
    # ...left its running tries to their workers, where they ended as they were...
    tries = {(t.run_id, t.task_id, t.try_number): t for t in cluster.tries_of("carried")}
    assert {tries[key].state for key in running_at_the_kill} == {"success"}
    # ...and took back its queued ones, whose messages were refused when they came.
    assert any("not run: already started" in w.output() for w in workers)


def test_a_postgres_restart_mid_run_is_survived_by_every_component(
    private_postgres: PrivatePostgres,
    private_metadata_url: str,
    make_cluster: MakeCluster,
) -> None:
    # The metadata database is the private one; the tasks' side effects go to the test's
    # database on the shared server, so the tasks themselves do not see the restart.
    cluster = make_cluster("redis", metadata_url=private_metadata_url)
    # Tries that run through the outage, and two more waiting for a slot meanwhile.
    [queue] = cluster.write_dag("restarts", tasks=2, sleep=10)
    cluster.sync_dags()
    components = [
        processor := cluster.start_dag_processor(),
        cluster.start_api(),
        # No fallback poll within the test: what wakes it comes through its LISTEN connection.
        scheduler := cluster.start_scheduler(GNOMON_SCHEDULER_POLL_INTERVAL="600"),
        *(workers := [cluster.start_worker(f"worker-{i}", [queue]) for i in (1, 2)]),
    ]
    runs = cluster.trigger("restarts", count=3)
    cluster.wait_until(
        # Under way (each records its side effect first), so each heartbeats through the outage.
        lambda: len(cluster.side_effects("restarts")) == 4 and cluster.tries_in(["queued"]) == 2,
        60,
        "four tries under way and two queued",
    )

    private_postgres.stop()
    stopped = time.monotonic()
    # Down for longer than the heartbeat timeout (6 s): the running tries' heartbeats are
    # late through no fault of theirs.
    cluster.wait_until(
        lambda: (
            "scheduler pass failed" in scheduler.output()
            and "cannot record the heartbeat" in processor.output()
            and any("heartbeat not delivered" in w.output() for w in workers)
            and time.monotonic() - stopped > 8
        ),
        60,
        "the scheduler, the DAG processor and a worker to lose the database for 8 s",
    )
    private_postgres.start()
    cluster.wait_runs(runs, timeout=120)

    _assert_every_run_succeeded_once(cluster, "restarts", runs)
    assert _all_alive(components), cluster.tail()
    # No try was given up for heartbeats the outage held back: one try per task.
    assert {t.try_number for t in cluster.tries_of("restarts")} == {1}
    # Each component still does its work: the API answers /health (it reads the database),
    # the DAG processor stores a new DAG, and the scheduler, woken by the trigger's NOTIFY on
    # the connection it opened again, runs it.
    cluster.wait_until(cluster.api_healthy, 30, "the API to answer /health")
    cluster.write_dag("after", tasks=1, queues=[queue])
    cluster.wait_until(
        lambda: cluster.sql("SELECT 1 FROM dags WHERE dag_id = 'after'"),
        60,
        "the DAG processor to store a new DAG",
    )
    after = cluster.trigger("after")
    cluster.wait_runs(after, timeout=60)
    _assert_every_run_succeeded_once(cluster, "after", after)


VISIBILITY_TIMEOUT = 2.0


def test_a_task_running_past_the_visibility_timeout_is_not_delivered_again(
    private_redis: PrivateRedis, make_cluster: MakeCluster
) -> None:
    cluster = make_cluster(
        broker_url=private_redis.url, GNOMON_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT)
    )
    [queue] = cluster.write_dag("long", tasks=1, sleep=10)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    # A free slot, where a second delivery would be taken at once.
    worker = cluster.start_worker("worker", [queue], concurrency=2)

    [run] = cluster.trigger("long")
    cluster.wait_until(lambda: cluster.tries_in(["running"]) == 1, 60, "the try to start")

    def swept_until_it_ended() -> bool:
        # Sweeps like any consumer's, five times the visibility timeout past the start.
        private_redis.sweep_unacked(VISIBILITY_TIMEOUT)
        return cluster.run_states([run])[run] is not RunState.RUNNING

    cluster.wait_until(swept_until_it_ended, 60, "the run to end, swept meanwhile")

    _assert_every_run_succeeded_once(cluster, "long", [run])
    assert [t.try_number for t in cluster.tries_of("long")] == [1]
    assert "not run" not in worker.output(), "the running try's message was delivered again"
    assert worker.output().count("received") == 1


def test_the_message_of_a_worker_killed_mid_task_comes_back_and_is_refused(
    private_redis: PrivateRedis, make_cluster: MakeCluster
) -> None:
    # Its lease is no longer renewed: past the visibility timeout, a sweep gives the message
    # back and another worker takes it; the try, claimed by the dead worker, is not run again
    # from it, but failed as a zombie and retried as a new try.
    cluster = make_cluster(
        broker_url=private_redis.url,
        GNOMON_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        GNOMON_TASK_HEARTBEAT_TIMEOUT="4",
    )
    [queue] = cluster.write_dag("slow", tasks=1, sleep=3)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    doomed = cluster.start_worker("worker-1", [queue], concurrency=1)
    [run] = cluster.trigger("slow")
    cluster.wait_until(lambda: cluster.side_effects("slow"), 60, "the try to be under way")
    cluster.kill9(doomed)
    survivor = cluster.start_worker("worker-2", [queue], concurrency=2)

    def swept_until_refused() -> bool:
        private_redis.sweep_unacked(VISIBILITY_TIMEOUT)
        return "try 1 not run: already started" in survivor.output()

    cluster.wait_until(swept_until_refused, 60, "the first try's message to come back")
    cluster.wait_runs([run], timeout=60)

    assert cluster.run_states([run]) == {run: RunState.SUCCESS}, cluster.tail()
    tries = cluster.tries_of("slow")
    assert [(t.try_number, t.state) for t in tries] == [(1, "failed"), (2, "success")]
    assert "zombie" in (tries[0].exit_reason or "")
    # The first try ran once (on the killed worker), the second once: nothing ran twice.
    assert sorted(n for *_, n in cluster.side_effects("slow")) == [1, 2]
    assert cluster.tries_in(["queued", "running"]) == 0
