"""``store.bundles``: the DAGs folder's files stored once by content hash, bundles of them,
and the bundle each DAG version was made from."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from store_seeds import add_dag

from gnomon.store import bundles, db, models, schema

CONTENT = {"dag": b"# the DAG\n", "helper": b"X = 1\n", "other": b"X = 2\n"}
SHA = {name: hashlib.sha256(content).hexdigest() for name, content in CONTENT.items()}
BY_SHA = {SHA[name]: content for name, content in CONTENT.items()}


def _bundle(files: dict[str, str]) -> bundles.Bundle:
    # Any name will do for the store; the DAG processor names bundles by their manifest.
    return bundles.Bundle(hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest(), files)


def _stored_files(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.DagFile)) or 0


def test_a_saved_bundle_is_the_bundle_of_the_versions_made_from_it(session: Session) -> None:
    bundle = _bundle({"etl.py": SHA["dag"], "lib/helper.py": SHA["helper"]})
    assert bundles.save(session, bundle, BY_SHA.__getitem__)
    version_id = add_dag(session)
    assert bundles.of_version(session, version_id) is None
    row = session.get(models.DagVersion, version_id)
    assert row is not None
    row.bundle_hash = bundle.hash
    session.flush()

    assert bundles.of_version(session, version_id) == bundle
    assert bundles.file_content(session, SHA["helper"]) == CONTENT["helper"]
    assert bundles.file_content(session, "0" * 64) is None


def test_files_already_stored_are_neither_read_nor_stored_again(session: Session) -> None:
    read: list[str] = []

    def content(sha256: str) -> bytes:
        read.append(sha256)
        return BY_SHA[sha256]

    first = _bundle({"etl.py": SHA["dag"], "helper.py": SHA["helper"], "copy.py": SHA["dag"]})
    bundles.save(session, first, content)
    second = _bundle({"etl.py": SHA["dag"], "helper.py": SHA["other"]})
    bundles.save(session, second, content)

    assert read == [*sorted([SHA["dag"], SHA["helper"]]), SHA["other"]]
    assert _stored_files(session) == 3
    assert not bundles.save(session, first, content)  # stored already: nothing read
    assert len(read) == 3


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_writers_storing_the_same_files_at_once_both_commit(engine: Engine) -> None:
    """Two DAG processors (or a standalone's first pass and its processor) on one folder."""
    sessions = db.session_factory(engine)
    bundle = _bundle({"etl.py": SHA["dag"], "helper.py": SHA["helper"]})
    errors: list[BaseException] = []
    holding = sessions()
    holding.begin()
    bundles.save(holding, bundle, BY_SHA.__getitem__)  # inserted, not committed yet

    def second() -> None:
        try:
            with sessions.begin() as session:
                bundles.save(session, bundle, BY_SHA.__getitem__)  # waits for the first
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "the second writer should wait for the first one's rows"
    holding.commit()
    holding.close()
    thread.join(30)

    assert errors == []
    with sessions() as session:
        assert _stored_files(session) == 2
        assert session.scalar(select(func.count()).select_from(models.DagBundle)) == 1


def test_versions_made_before_bundles_are_kept_without_code(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    try:
        schema.migrate(engine, "0004")  # the revision before bundles
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO dags (dag_id, fileloc, is_paused, is_active, tags, "
                    "max_active_runs, max_active_tasks, created_at) "
                    "VALUES ('etl', '/dags/etl.py', false, true, '[]', 16, 16, :now)"
                ),
                {"now": "2026-01-01 00:00:00"},
            )
            connection.execute(
                text(
                    "INSERT INTO dag_versions (dag_id, version_hash, serialized, source_code, "
                    "fileloc, created_at) VALUES ('etl', :hash, '{}', '# etl', '/dags/etl.py', "
                    ":now)"
                ),
                {"hash": "a" * 64, "now": "2026-01-01 00:00:00"},
            )

        schema.migrate(engine)

        assert schema.check(engine) == []
        with db.session_factory(engine)() as session:
            [version] = session.scalars(select(models.DagVersion))
            assert (version.version_hash, version.source_code) == ("a" * 64, "# etl")
            assert (version.code_hash, version.bundle_hash, version.relative_fileloc) == (
                None,
                None,
                None,
            )
            assert bundles.of_version(session, version.id) is None
    finally:
        engine.dispose()
