"""Each pass snapshots the DAGs folder as a bundle; a DAG version is one per serialized DAG
and code (its DAG file, and the folder's files that are no DAG files), with its bundle."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from processor_support import dag_source, make_processor, read, version_count, write
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gnomon.dag_processor.processor import DagProcessor
from gnomon.dagfiles import bag
from gnomon.dagfiles.bundles import MAX_FILE_BYTES
from gnomon.store import bundles, dags, models

Sessions = sessionmaker[Session]

HELPER = "TASK_ID = 'extract'\n"
USES_HELPER = (
    "import helper\n"
    "from gnomon import DAG\n"
    "from gnomon.operators.empty import EmptyOperator\n\n"
    "with DAG('a'):\n"
    "    EmptyOperator(task_id=helper.TASK_ID)\n"
)


def _sha(content: str | bytes) -> str:
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def _folder(dags_folder: Path) -> None:
    """Two DAG files (one in a team folder), a helper module and a SQL file."""
    write(dags_folder / "a.py", USES_HELPER)
    write(dags_folder / "helper.py", HELPER)
    write(dags_folder / "team" / "b.py", dag_source("b"))
    write(dags_folder / "sql" / "query.sql", "SELECT 1\n")


def _latest(sessions: Sessions, dag_id: str) -> dags.DagVersion:
    version = read(sessions, lambda s: dags.latest_version(s, dag_id))
    assert version is not None
    return version


def _count(sessions: Sessions, model: type[models.Base]) -> int:
    return read(sessions, lambda s: s.scalar(select(func.count()).select_from(model)) or 0)


def _processed(dags_folder: Path, sessions: Sessions, home: Path) -> DagProcessor:
    _folder(dags_folder)
    processor = make_processor(dags_folder, sessions, home)
    processor.run_once()
    return processor


def test_a_pass_stores_the_folders_files_as_the_bundle_of_its_versions(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    _folder(dags_folder)
    write(dags_folder / ".gnomonignore", "scratch/\n")
    write(dags_folder / "scratch" / "notes.txt", "not shipped\n")
    write(dags_folder / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(dags_folder / "__pycache__" / "helper.cpython-311.pyc", "compiled")
    write(dags_folder / "stray.pyc", "compiled")

    make_processor(dags_folder, sessions, home).run_once()

    a, b = _latest(sessions, "a"), _latest(sessions, "b")
    assert (a.relative_fileloc, b.relative_fileloc) == ("a.py", "team/b.py")
    assert a.bundle_hash is not None and a.bundle_hash == b.bundle_hash
    bundle = read(sessions, lambda s: bundles.of_version(s, a.id))
    assert bundle is not None and bundle.hash == a.bundle_hash
    assert bundle.files == {
        "a.py": _sha(USES_HELPER),
        "helper.py": _sha(HELPER),
        "sql/query.sql": _sha("SELECT 1\n"),
        "team/b.py": _sha(dag_source("b")),
    }
    stored = read(sessions, lambda s: bundles.file_content(s, bundle.files["helper.py"]))
    assert stored == HELPER.encode()


@pytest.mark.parametrize("support_file", ["helper.py", "sql/query.sql"])
def test_editing_a_file_that_is_no_dag_file_gives_every_dag_a_new_version(
    dags_folder: Path, sessions: Sessions, home: Path, support_file: str
) -> None:
    processor = _processed(dags_folder, sessions, home)
    before = _latest(sessions, "a").bundle_hash

    write(dags_folder / support_file, "# edited\n" + (dags_folder / support_file).read_text())
    report = processor.run_once()

    # Every file is parsed again: a DAG file may read it while it is parsed.
    assert report.reparsed == ("a.py", "helper.py", "team/b.py")
    assert report.new_versions == ("a", "b")
    a, b = _latest(sessions, "a"), _latest(sessions, "b")
    assert a.bundle_hash == b.bundle_hash != before
    bundle = read(sessions, lambda s: bundles.of_version(s, b.id))
    assert bundle is not None
    assert bundle.files[support_file] == _sha((dags_folder / support_file).read_bytes())


def test_editing_a_dag_file_gives_only_its_dags_a_new_version(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    processor = _processed(dags_folder, sessions, home)
    b_before = _latest(sessions, "b")

    write(dags_folder / "a.py", "# a comment\n" + USES_HELPER)
    report = processor.run_once()

    assert (report.reparsed, report.new_versions) == (("a.py",), ("a",))
    assert _latest(sessions, "b") == b_before  # its bundle is the folder as it was then
    a = _latest(sessions, "a")
    assert a.bundle_hash != b_before.bundle_hash
    bundle = read(sessions, lambda s: bundles.of_version(s, a.id))
    assert bundle is not None and bundle.files["a.py"] == _sha("# a comment\n" + USES_HELPER)


def test_a_pass_over_an_unchanged_folder_stores_no_version_and_no_bundle(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    processor = _processed(dags_folder, sessions, home)
    counts = (_count(sessions, models.DagVersion), _count(sessions, models.DagBundle))

    untouched = processor.run_once()
    write(dags_folder / "helper.py", HELPER)  # saved again as it was
    resaved = processor.run_once()

    assert not untouched.synced and resaved.synced
    assert resaved.new_versions == ()
    assert (_count(sessions, models.DagVersion), _count(sessions, models.DagBundle)) == counts


def test_each_content_is_stored_once_whichever_bundles_hold_it(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    processor = _processed(dags_folder, sessions, home)
    write(dags_folder / "copy_of_helper.py", HELPER)
    processor.run_once()
    write(dags_folder / "helper.py", "TASK_ID = 'load'\n")
    processor.run_once()
    write(dags_folder / "helper.py", HELPER)  # back as it was: the first bundle again
    processor.run_once()

    contents = {HELPER, USES_HELPER, dag_source("b"), "SELECT 1\n", "TASK_ID = 'load'\n"}
    assert _count(sessions, models.DagFile) == len(contents)
    assert _count(sessions, models.DagBundle) == 3
    assert read(sessions, lambda s: version_count(s, "a")) == 3


def test_a_file_above_the_size_limit_is_left_out_with_one_warning(
    dags_folder: Path, sessions: Sessions, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _folder(dags_folder)
    big = dags_folder / "data" / "big.bin"
    big.parent.mkdir()
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written
    processor = make_processor(dags_folder, sessions, home)

    with caplog.at_level(logging.WARNING, logger="gnomon.dag_processor"):
        processor.run_once()
        write(dags_folder / "a.py", "# another pass that syncs\n" + USES_HELPER)
        processor.run_once()

    warnings = [r.getMessage() for r in caplog.records if "big.bin" in r.getMessage()]
    assert len(warnings) == 1 and f"{MAX_FILE_BYTES + 1} bytes" in warnings[0]
    a = _latest(sessions, "a")
    bundle = read(sessions, lambda s: bundles.of_version(s, a.id))
    assert bundle is not None and "data/big.bin" not in bundle.files
    assert "helper.py" in bundle.files


def test_versions_synced_without_a_bundle_get_one_new_version_from_the_processor(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    """As after the migration that brought bundles: the old versions have no code hash."""
    _folder(dags_folder)
    result = bag.parse_folder(dags_folder, 30)
    with sessions.begin() as session:
        dags.sync_parse_result(session, result, now=datetime.now(UTC))
    processor = make_processor(dags_folder, sessions, home)

    first = processor.run_once()
    second = processor.run_once()

    assert first.new_versions == ("a", "b") and second.new_versions == ()
    assert read(sessions, lambda s: version_count(s, "a")) == 2
    assert _latest(sessions, "a").bundle_hash is not None
