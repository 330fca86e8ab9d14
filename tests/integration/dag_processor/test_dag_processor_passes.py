"""``DagProcessor.run_once``: one pass over the DAGs folder, synced into a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from processor_support import dag_source, imports, make_processor, read, version_count, write
from sqlalchemy.orm import Session, sessionmaker

from gnomon.dagfiles.exceptions import DagsFolderError
from gnomon.events import wakeups
from gnomon.store import dags, exceptions, import_errors

Sessions = sessionmaker[Session]


def test_the_first_pass_stores_every_dag_paused_with_its_version(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    write(dags_folder / "team" / "b.py", dag_source("b", task_id="load"))

    report = make_processor(dags_folder, sessions, home).run_once()

    assert (report.created, report.new_versions) == (("a", "b"), ("a", "b"))
    assert report.reparsed == ("a.py", "team/b.py")
    stored = read(sessions, dags.list_dags)
    assert [(d.dag_id, d.is_active, d.is_paused) for d in stored] == [
        ("a", True, True),
        ("b", True, True),
    ]
    version = read(sessions, lambda s: dags.latest_version(s, "b"))
    assert version is not None and version.id == stored[1].latest_version_id
    assert list(version.serialized["tasks"]) == ["load"]


def test_dags_start_unpaused_when_paused_on_creation_is_off(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))

    make_processor(dags_folder, sessions, home, paused_on_creation=False).run_once()

    assert not read(sessions, dags.list_dags)[0].is_paused


def test_an_unchanged_folder_is_neither_imported_nor_synced_again(
    dags_folder: Path, sessions: Sessions, home: Path, tmp_path: Path
) -> None:
    counter = tmp_path / "a.count"
    write(dags_folder / "a.py", dag_source("a", counter=counter))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    report = processor.run_once()

    assert imports(counter) == 1
    assert (report.reparsed, report.synced, report.dags) == ((), False, ("a",))


def test_only_the_changed_file_is_imported_again(
    dags_folder: Path, sessions: Sessions, home: Path, tmp_path: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a", counter=tmp_path / "a.count"))
    write(dags_folder / "b.py", dag_source("b", counter=tmp_path / "b.count"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(dags_folder / "a.py", dag_source("a", "t2", counter=tmp_path / "a.count"))
    report = processor.run_once()

    assert (imports(tmp_path / "a.count"), imports(tmp_path / "b.count")) == (2, 1)
    assert report.reparsed == ("a.py",)
    # The unchanged file's DAG is still part of the picture: not deactivated.
    assert report.dags == ("a", "b") and report.deactivated == ()


def test_changing_a_task_stores_a_new_version_and_points_the_dag_at_it(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a", "first"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(dags_folder / "a.py", dag_source("a", "second"))
    report = processor.run_once()

    assert report.new_versions == ("a",) and report.created == ()
    assert read(sessions, lambda s: version_count(s, "a")) == 2
    latest = read(sessions, lambda s: dags.latest_version(s, "a"))
    assert latest is not None and list(latest.serialized["tasks"]) == ["second"]


def test_a_comment_only_edit_stores_a_new_version_of_that_files_dags_only(
    dags_folder: Path, sessions: Sessions, home: Path, tmp_path: Path
) -> None:
    counter = tmp_path / "a.count"
    path = write(dags_folder / "a.py", dag_source("a", counter=counter))
    write(dags_folder / "b.py", dag_source("b"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()
    first = read(sessions, lambda s: dags.latest_version(s, "a"))

    write(path, "# reformatted by a colleague\n" + dag_source("a", counter=counter))
    report = processor.run_once()

    # The serialized DAG is the same, its code is not: new runs must get the file as it is.
    assert imports(counter) == 2 and report.reparsed == ("a.py",)
    assert report.new_versions == ("a",)
    latest = read(sessions, lambda s: dags.latest_version(s, "a"))
    assert first is not None and latest is not None
    assert latest.version_hash == first.version_hash and latest.code_hash != first.code_hash
    assert read(sessions, lambda s: version_count(s, "b")) == 1


def test_a_syntax_error_records_an_import_error_and_keeps_the_previous_version_active(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    path = write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()
    working = read(sessions, lambda s: dags.latest_version(s, "a"))

    write(path, dag_source("a") + "def broken(:\n")
    report = processor.run_once()

    assert report.import_errors_changed and report.deactivated == ()
    error = read(sessions, lambda s: import_errors.get(s, str(path)))
    assert error is not None and "SyntaxError" in error.error
    [stored] = read(sessions, dags.list_dags)
    assert stored.is_active
    assert read(sessions, lambda s: dags.latest_version(s, "a")) == working


def test_fixing_the_broken_file_clears_its_import_error(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    path = write(dags_folder / "a.py", "def broken(:\n")
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(path, dag_source("a"))
    report = processor.run_once()

    assert report.import_errors_changed and report.import_errors == ()
    assert read(sessions, import_errors.list_all) == []
    assert report.created == ("a",)


def test_deleting_a_file_deactivates_its_dags(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    write(dags_folder / "b.py", dag_source("b"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    (dags_folder / "a.py").unlink()
    report = processor.run_once()

    assert (report.removed, report.deactivated, report.reparsed) == (("a.py",), ("a",), ())
    stored = {d.dag_id: d.is_active for d in read(sessions, dags.list_dags)}
    assert stored == {"a": False, "b": True}


def test_a_new_file_is_picked_up_on_the_next_pass(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(dags_folder / "b.py", dag_source("b"))
    report = processor.run_once()

    assert (report.reparsed, report.created) == (("b.py",), ("b",))
    assert [d.dag_id for d in read(sessions, dags.list_dags)] == ["a", "b"]


def test_a_new_file_defining_a_dag_of_an_unchanged_file_is_an_error_for_both(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("shared"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(dags_folder / "b.py", dag_source("shared"))
    report = processor.run_once()

    assert [e.relative_file for e in report.import_errors] == ["a.py", "b.py"]
    assert report.dags == ()
    stored = read(sessions, import_errors.list_all)
    assert [e.fileloc for e in stored] == [str(dags_folder / "a.py"), str(dags_folder / "b.py")]


def test_editing_a_helper_module_imports_the_dag_files_again(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    helper = write(dags_folder / "naming.py", "TASK_ID = 'extract'\n")
    write(
        dags_folder / "a.py",
        "import naming\n"
        "from gnomon import DAG\n"
        "from gnomon.operators.empty import EmptyOperator\n\n"
        "with DAG('a'):\n"
        "    EmptyOperator(task_id=naming.TASK_ID)\n",
    )
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    write(helper, "TASK_ID = 'extract_orders'\n")
    report = processor.run_once()

    assert report.reparsed == ("a.py", "naming.py")
    assert report.new_versions == ("a",)
    latest = read(sessions, lambda s: dags.latest_version(s, "a"))
    assert latest is not None and list(latest.serialized["tasks"]) == ["extract_orders"]


def test_files_are_parsed_again_after_a_pass_whose_sync_failed(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    failing = {"next": True}

    def flaky_sessions() -> Session:
        if failing.pop("next", False):
            raise exceptions.DatabaseUnavailable("sqlite:///x", "disk I/O error", "Retry.")
        return sessions()

    write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, flaky_sessions, home)
    with pytest.raises(exceptions.DatabaseUnavailable):
        processor.run_once()

    report = processor.run_once()

    assert (report.reparsed, report.created) == (("a.py",), ("a",))


def test_a_missing_dags_folder_is_an_error_naming_it(
    tmp_path: Path, sessions: Sessions, home: Path
) -> None:
    processor = make_processor(tmp_path / "nowhere", sessions, home)

    with pytest.raises(DagsFolderError, match="nowhere"):
        processor.run_once()


def listening(home: Path, check: Callable[[wakeups.Listener], None]) -> None:
    listener = wakeups.Listener(home)
    try:
        check(listener)
    finally:
        listener.close()


def test_a_new_version_wakes_a_registered_scheduler(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, sessions, home)

    def check(listener: wakeups.Listener) -> None:
        report = processor.run_once()
        assert report.woken == 1
        assert listener.drain() == 1

    listening(home, check)


def test_a_pass_that_changed_nothing_wakes_nobody(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    path = write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    def check(listener: wakeups.Listener) -> None:
        write(path, dag_source("a"))  # saved again unchanged: imported, but nothing new
        report = processor.run_once()
        assert report.synced and report.woken == 0
        assert listener.drain() == 0

    listening(home, check)


def test_a_new_import_error_alone_wakes_a_registered_scheduler(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()

    def check(listener: wakeups.Listener) -> None:
        write(dags_folder / "b.py", "raise RuntimeError('half-written')\n")
        report = processor.run_once()
        assert (report.created, report.new_versions, report.deactivated) == ((), (), ())
        assert listener.drain() == 1

    listening(home, check)
