"""Every operation of the OpenAPI schema, called with generated data (as admin): no 5xx, and
every response matches the schema declared for its status code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance
from support.api import ApiHarness
from support.module_api import sqlite_api

from gnomon.api.app import API_PREFIX
from gnomon.store import connections, db, pools, tokens, users, variables
from gnomon.store.models import Role, TokenKind

DAG = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

with DAG("example", schedule="@daily", start_date=datetime(2026, 1, 1), team="team-a"):
    EmptyOperator(task_id="start") >> EmptyOperator(task_id="end")
"""


#: Path parameters that name seeded objects: each case is also sent with these, so that the
#: endpoints answer with data (generated ids are nearly always unknown: 404).
REAL_IDS: dict[str, object] = {
    "dag_id": "example",
    "version_id": 1,
    "username": "viewer",
    "conn_id": "wh",
    "key": "target",
    "name": "etl",
}


@pytest.fixture(scope="module")
def harness(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiHarness]:
    with sqlite_api(sqlite_template, tmp_path_factory.mktemp("schemathesis")) as (
        orchestrator,
        api,
    ):
        orchestrator.write_dag("example", DAG)
        orchestrator.sync()
        run_id = orchestrator.trigger("example")
        with db.session_factory(api.engine).begin() as session:
            pools.upsert(session, "etl", 4)
            variables.upsert(session, api.config.cipher, "target", "s3://bucket")
            connection = connections.Connection(
                "wh", "postgres", host="db", password="hunter22", extra={"sslmode": "require"}
            )
            connections.upsert(session, api.config.cipher, connection)
        REAL_IDS["run_id"] = run_id
        yield api


def test_every_operation_answers_without_5xx_as_its_schema_says(harness: ApiHarness) -> None:
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", harness.client.app)
    with db.session_factory(harness.engine).begin() as session:
        caller = users.create(session, "schemathesis-admin", "password-schemathesis", Role.ADMIN)

    def headers() -> dict[str, str]:
        # A new token per call: a generated DELETE /tokens/{id} may revoke any token.
        with db.session_factory(harness.engine).begin() as session:
            secret, _ = tokens.issue(session, caller.id, TokenKind.API, expires_at=None)
        return {"Authorization": f"Bearer {secret}"}

    checks = [not_a_server_error, response_schema_conformance]
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            # No shrinking: a failure is reported as found, within the time budget.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers(), checks=checks)
            real = {k: REAL_IDS[k] for k in case.path_parameters or {} if k in REAL_IDS}
            if real:
                case.path_parameters = {**(case.path_parameters or {}), **real}
                case.call_and_validate(headers=headers(), checks=checks)

        try:
            call()
        except Exception as e:  # one report of every operation's failures, not the first only
            failures[operation.label] = str(e)
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())
