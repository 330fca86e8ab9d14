"""The DAG processor: keeps the stored DAGs in step with the DAGs folder.

Each pass lists the folder, hashes its changed files (the folder's snapshot: the bundle of
new versions), imports the new and changed DAG files in forked children (with the file
timeout), rebuilds the parse of the whole folder from those and the cached results of the
others, and syncs it into the store in one transaction: the bundle is stored, a DAG version
only when its content hash or its code (``snapshots.Snapshot.code``) is new, import errors
are recorded and cleared, and DAGs whose file disappeared are deactivated. When that changed
anything, the schedulers are woken at once. A pass in which no file changed writes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from gnomon import settings as settings_module
from gnomon.dag_processor import file_cache, snapshots, stopping
from gnomon.dagfiles import bag, discovery, parser
from gnomon.dagfiles.exceptions import DagFilesError
from gnomon.dagfiles.parser import FileParseResult
from gnomon.events import wakeups
from gnomon.store import bundles, dags, import_errors, jobs
from gnomon.store.columns import utcnow
from gnomon.store.exceptions import StoreError
from gnomon.store.models import JobState, JobType

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Failures a running processor survives: it logs them and tries again on its next pass.
_DB_ERRORS = (StoreError, sa_exc.SQLAlchemyError)
_PASS_ERRORS = (*_DB_ERRORS, DagFilesError, OSError)


@dataclass(frozen=True, slots=True)
class ProcessorReport:
    """What one pass over the DAGs folder found and did."""

    #: How many DAG files the folder holds.
    files: int
    #: Files imported in this pass (relative to the folder); all of them on the first pass.
    reparsed: tuple[str, ...]
    #: Files gone since the previous pass.
    removed: tuple[str, ...]
    #: Every DAG id the folder defines now.
    dags: tuple[str, ...]
    created: tuple[str, ...]
    #: DAGs given a new version (the created ones included).
    new_versions: tuple[str, ...]
    deactivated: tuple[str, ...]
    #: Every file that fails to import now.
    import_errors: tuple[bag.ImportErrorInfo, ...]
    #: Whether the stored import errors changed (one appeared, was fixed, or changed text).
    import_errors_changed: bool
    #: Whether the database was written (False when no file changed since the last pass).
    synced: bool
    #: How many schedulers were woken.
    woken: int

    @property
    def changed(self) -> bool:
        """Whether the stored DAGs, versions or import errors changed."""
        return bool(
            self.created or self.new_versions or self.deactivated or self.import_errors_changed
        )

    def describe(self) -> str:
        """One line for the log, e.g. ``new versions: etl; import errors: 1 (broken.py)``."""
        parts = [
            f"{label}: {', '.join(ids)}"
            for label, ids in (
                ("created", self.created),
                ("new versions", self.new_versions),
                ("deactivated", self.deactivated),
            )
            if ids
        ]
        if self.import_errors_changed:
            files = ", ".join(error.relative_file for error in self.import_errors)
            parts.append(
                f"import errors: {len(self.import_errors)}" + (f" ({files})" if files else "")
            )
        return "; ".join(parts) or "no change"


def team_folder_paths(dags_folder: Path, team_folders: Mapping[str, str]) -> dict[Path, str]:
    """``team_folders`` (settings: relative to the DAGs folder) as absolute folders."""
    return {Path(os.path.abspath(dags_folder / f)): team for f, team in team_folders.items()}


class DagProcessor:
    """Watches one DAGs folder and syncs what its files define into the metadata database."""

    def __init__(
        self,
        dags_folder: Path,
        sessions: Callable[[], Session],
        *,
        home: Path,
        file_timeout: float,
        interval: float,
        paused_on_creation: bool = True,
        concurrency: int | None = None,
        team_folders: Mapping[str, str] | None = None,
    ) -> None:
        """``sessions`` makes the sessions of each transaction; ``home`` is where schedulers
        register for wake-ups; ``interval`` is the seconds between passes of ``run``;
        ``concurrency`` caps the files imported at once (default: the number of CPUs);
        ``team_folders`` maps sub-folders (relative to the DAGs folder) to teams."""
        self.dags_folder = Path(os.path.abspath(dags_folder))
        self._sessions = sessions
        self._home = home
        self._file_timeout = file_timeout
        self._interval = interval
        self._paused_on_creation = paused_on_creation
        self._concurrency = concurrency
        self._team_folders = team_folder_paths(self.dags_folder, team_folders or {})
        self._cache = file_cache.FileCache()
        self._hashes = snapshots.FileHashes()
        self._snapshot: snapshots.Snapshot | None = None
        self._synced = False
        self._problems: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: settings_module.Settings,
        sessions: Callable[[], Session],
        dags_folder: Path | None = None,
    ) -> DagProcessor:
        """A processor of ``dags_folder`` (default: the settings') configured by ``settings``."""
        return cls(
            dags_folder or settings.dags_folder,
            sessions,
            home=settings.home,
            file_timeout=settings.dag_file_timeout,
            interval=settings.dag_dir_list_interval,
            paused_on_creation=settings.dags_are_paused_at_creation,
            team_folders=settings.team_folders,
        )

    def run_once(self) -> ProcessorReport:
        """One pass: reparse new and changed files, sync, wake the schedulers if it changed.

        The first pass parses and syncs every file. Raises ``DagsFolderError`` if the folder
        cannot be read and the store's errors if the sync fails; the files are then parsed
        again on the next pass.
        """
        root = bag.root_of(self.dags_folder)
        listing = discovery.list_folder(self.dags_folder)
        stamps = file_cache.stamps(listing.files)
        scan = self._cache.scan({p: stamps[p] for p in listing.dag_files if p in stamps})
        snapshot = self._hashes.snapshot(root, stamps)
        parsed = self._parse(scan.changed)
        if self._cache.helper_touched(scan, parsed) or self._data_changed(snapshot, listing):
            parsed += self._parse(scan.unchanged)
        cache = self._cache.updated(scan, parsed)
        result = bag.folder_result(self.dags_folder, cache.results())
        synced = not self._synced or bool(parsed or scan.removed)
        sync, errors_changed = dags.SyncReport([], [], []), False
        if synced:
            code = snapshot.code(cache.results())
            sync, errors_changed = self._in_transaction(
                lambda s: self._sync(s, result, snapshot, code)
            )
        # Only now: a pass whose sync failed leaves the caches as they were, to be retried.
        self._cache, self._snapshot, self._synced = cache, snapshot, True
        report = ProcessorReport(
            files=len(scan.stamps),
            reparsed=tuple(r.relative_file for r in sorted(parsed, key=lambda r: r.file)),
            removed=tuple(parser.relative_to(path, root) for path in scan.removed),
            dags=tuple(result.dags),
            created=tuple(sync.created),
            new_versions=tuple(sync.new_versions),
            deactivated=tuple(sync.deactivated),
            import_errors=tuple(result.import_errors),
            import_errors_changed=errors_changed,
            synced=synced,
            woken=0,
        )
        if report.changed:
            report = dataclasses.replace(report, woken=wakeups.notify(self._home))
        return report

    def run(
        self,
        stop: stopping.Stop,
        on_report: Callable[[ProcessorReport], None] | None = None,
    ) -> None:
        """Pass over the folder every ``interval`` seconds until ``stop`` is set.

        Registers a ``dag_processor`` job, heartbeats it after each pass, and marks it
        ``success`` on return (``failed`` if an exception ends the loop). A pass that fails
        (database down, folder unreadable) is logged, once per distinct error, and retried.
        ``on_report`` gets the report of every pass that did not fail.
        """
        job_id = self._in_transaction(
            lambda s: jobs.start(
                s, JobType.DAG_PROCESSOR, socket.gethostname(), os.getpid(), utcnow()
            )
        )
        logger.info(
            "DAG processor (job %d) watching %s every %g s",
            job_id,
            self.dags_folder,
            self._interval,
        )
        try:
            while not stop.is_set():
                report = self._pass()
                beating = self._heartbeat(job_id)
                if report is not None and beating and self._problems:
                    logger.info("DAG processor recovered: the DAGs folder is in sync again")
                    self._problems.clear()
                if report is not None and on_report is not None:
                    on_report(report)
                stop.wait(self._interval)
        except BaseException:
            self._end_job(job_id, JobState.FAILED)
            raise
        self._end_job(job_id, JobState.SUCCESS)
        logger.info("DAG processor (job %d) stopped", job_id)

    def _parse(self, paths: Sequence[Path]) -> list[FileParseResult]:
        if not paths:
            return []
        root = bag.root_of(self.dags_folder)
        return parser.parse_files(paths, self._file_timeout, root, self._concurrency)

    def _data_changed(self, snapshot: snapshots.Snapshot, listing: discovery.FolderFiles) -> bool:
        """Whether a file that is no DAG file (data, SQL, a file a DAG may read while it is
        parsed) was added, changed or removed since the last sync: every file is parsed
        again, as for a helper module."""
        if self._snapshot is None:
            return False
        candidates = {snapshot.relative(path) for path in listing.dag_files}
        candidates.update(snapshot.relative(path) for path in self._cache.files)
        return bool(snapshot.changed_since(self._snapshot) - candidates)

    def _sync(
        self,
        session: Session,
        result: bag.FolderParseResult,
        snapshot: snapshots.Snapshot,
        code: Mapping[Path, dags.FileCode],
    ) -> tuple[dags.SyncReport, bool]:
        before = {error.fileloc: error.error for error in import_errors.list_all(session)}
        # First: the versions refer to it.
        bundles.save(session, bundles.Bundle(snapshot.hash, snapshot.manifest), snapshot.content)
        report = dags.sync_parse_result(
            session,
            result,
            now=utcnow(),
            paused_on_creation=self._paused_on_creation,
            team_folders=self._team_folders,
            code=code,
        )
        after = {str(error.file): error.error for error in result.import_errors}
        if report.created or report.new_versions or report.deactivated:
            wakeups.announce(session)  # schedulers on other machines, at the commit
        return report, before != after

    def _in_transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session, session.begin():
            return work(session)

    def _pass(self) -> ProcessorReport | None:
        try:
            report = self.run_once()
        except _PASS_ERRORS as exc:
            self._problem(f"cannot sync the DAGs folder {self.dags_folder}: {exc}")
            return None
        if report.changed:
            logger.info("DAGs folder synced: %s", report.describe())
        return report

    def _heartbeat(self, job_id: int) -> bool:
        """Record the job's heartbeat; whether it was recorded."""
        try:
            beating = self._in_transaction(lambda s: jobs.heartbeat(s, job_id, utcnow()))
        except _DB_ERRORS as exc:
            self._problem(f"cannot record the heartbeat of job {job_id}: {exc}")
            return False
        if not beating:
            self._problem(f"job {job_id} was marked as ended by another process; still running")
        return beating

    def _end_job(self, job_id: int, state: JobState) -> None:
        try:
            self._in_transaction(lambda s: jobs.end(s, job_id, state, utcnow()))
        except _DB_ERRORS as exc:
            if state is JobState.SUCCESS:
                raise
            logger.error("cannot record that job %d ended: %s", job_id, exc)

    def _problem(self, message: str) -> None:
        """Log ``message`` unless it was logged since the processor last worked fine."""
        if message not in self._problems:
            self._problems.add(message)
            logger.error(message)
