"""Fixtures for production-mode tests: a Postgres database, a broker, and a ``Cluster`` of
Gnomon processes (API, schedulers, workers) around them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cluster import BROKERS, Cluster, MakeCluster, broker_reachable
from support.cluster_dags import create_side_effects

from gnomon.store import db


def require_broker(name: str) -> str:
    url = BROKERS[name]
    problem = broker_reachable(url)
    if problem is not None:
        reason = f"the {name} broker at {url.split('@')[-1]} is unreachable: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def make_cluster(db_url: str, tmp_path: Path) -> Iterator[MakeCluster]:
    """``make_cluster(broker="redis", **env)``: a cluster on this test's Postgres database."""
    made: list[Cluster] = []

    def factory(broker: str = "redis", broker_url: str | None = None, **env: str) -> Cluster:
        url = broker_url or require_broker(broker)
        cluster = Cluster(tmp_path / f"cluster{len(made)}", db_url, url, tmp_path / "dags", env=env)
        cluster.root.mkdir(parents=True)
        made.append(cluster)
        engine = db.make_engine(db_url)
        try:
            create_side_effects(engine)
        finally:
            engine.dispose()
        return cluster

    yield factory
    for cluster in made:
        cluster.close()
