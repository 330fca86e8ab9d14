"""Syncing a parse of the DAGs folder into the database: DAG rows, versions, import errors."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gnomon.dagfiles import bag
from gnomon.store import dags, import_errors, models

NOW = datetime(2024, 1, 1, tzinfo=UTC)
TIMEOUT = 30.0


def dag_file(folder: Path, task_id: str = "hello") -> Path:
    path = folder / "greet.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from gnomon import DAG
            from gnomon.operators.empty import EmptyOperator

            greet = DAG("greet", tags=["demo"], description="Says hello")
            EmptyOperator(task_id={task_id!r}, dag=greet)
            """
        ).lstrip()
    )
    return path


def sync(session: Session, folder: Path) -> dags.SyncReport:
    report = dags.sync_parse_result(session, bag.parse_folder(folder, TIMEOUT), now=NOW)
    session.commit()
    return report


def version_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.DagVersion)) or 0


def test_first_sync_creates_the_dag_paused_with_its_version(
    session: Session, tmp_path: Path
) -> None:
    path = dag_file(tmp_path)

    report = sync(session, tmp_path)

    assert report == dags.SyncReport(created=["greet"], new_versions=["greet"], deactivated=[])
    [stored] = dags.list_dags(session)
    assert (stored.dag_id, stored.fileloc, stored.tags) == ("greet", str(path), ("demo",))
    assert stored.is_paused and stored.is_active
    assert stored.description == "Says hello"
    version = dags.latest_version(session, "greet")
    assert version is not None and version.id == stored.latest_version_id
    assert "EmptyOperator" in version.source_code


def test_syncing_unchanged_files_again_stores_no_new_version(
    session: Session, tmp_path: Path
) -> None:
    dag_file(tmp_path)
    sync(session, tmp_path)
    first = dags.latest_version(session, "greet")

    report = sync(session, tmp_path)

    assert report == dags.SyncReport(created=[], new_versions=[], deactivated=[])
    assert version_count(session) == 1
    assert dags.latest_version(session, "greet") == first


def test_changing_a_task_stores_one_new_version_and_points_the_dag_at_it(
    session: Session, tmp_path: Path
) -> None:
    dag_file(tmp_path)
    sync(session, tmp_path)
    first = dags.latest_version(session, "greet")

    dag_file(tmp_path, task_id="goodbye")
    report = sync(session, tmp_path)

    latest = dags.latest_version(session, "greet")
    assert report.new_versions == ["greet"]
    assert version_count(session) == 2
    assert first is not None and latest is not None and latest.id != first.id
    assert list(latest.serialized["tasks"]) == ["goodbye"]
    assert dags.list_dags(session)[0].latest_version_id == latest.id


def test_deleting_the_file_deactivates_its_dag(session: Session, tmp_path: Path) -> None:
    dag_file(tmp_path)
    sync(session, tmp_path)

    (tmp_path / "greet.py").unlink()
    report = sync(session, tmp_path)

    assert report.deactivated == ["greet"]
    assert not dags.list_dags(session)[0].is_active


def test_a_broken_edit_keeps_the_dag_active_and_records_the_import_error(
    session: Session, tmp_path: Path
) -> None:
    path = dag_file(tmp_path)
    sync(session, tmp_path)
    working = dags.latest_version(session, "greet")

    path.write_text("raise RuntimeError('half-edited')\n")
    report = sync(session, tmp_path)

    assert report.deactivated == []
    assert dags.list_dags(session)[0].is_active
    assert dags.latest_version(session, "greet") == working
    error = import_errors.get(session, str(path))
    assert error is not None and "half-edited" in error.error


def test_fixing_a_broken_file_clears_its_import_error(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "greet.py"
    path.write_text("raise RuntimeError('half-edited')\n")
    sync(session, tmp_path)

    dag_file(tmp_path)
    report = sync(session, tmp_path)

    assert report.created == ["greet"]
    assert import_errors.list_all(session) == []


def test_a_dag_without_a_team_gets_the_team_of_its_deepest_folder(
    session: Session, tmp_path: Path
) -> None:
    for folder, name in (("finance", "ledger"), ("finance/tax", "vat"), ("misc", "other")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / f"{name}.py").write_text(
            "from gnomon import DAG\n"
            "from gnomon.operators.empty import EmptyOperator\n"
            f"d = DAG({name!r}{', team=' + repr('named') if name == 'other' else ''})\n"
            "EmptyOperator(task_id='t', dag=d)\n"
        )
    folders = {tmp_path / "finance": "fin", tmp_path / "finance" / "tax": "tax"}
    dags.sync_parse_result(
        session, bag.parse_folder(tmp_path, TIMEOUT), now=NOW, team_folders=folders
    )
    session.commit()
    assert {d.dag_id: d.team for d in dags.list_dags(session)} == {
        "ledger": "fin",
        "vat": "tax",
        "other": "named",
    }
