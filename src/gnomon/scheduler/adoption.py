"""Taking over the work of schedulers that are gone.

Any scheduler may adopt another's work; all do it periodically (every zombie check) and at
start. A scheduler (or standalone) job is gone when its heartbeat is older than the heartbeat
timeout, or, on this machine, when its process no longer exists. It is ended ``failed``
(guarded: a job ends once, and a late heartbeat cannot revive it), then its tries are
orphans (``outcomes.reset_orphans``): never-started ones are taken back and queued again;
running ones are failed as zombies and retried under the usual rule, unless the job recorded
that its tries outlive it (remote workers that heartbeat on their own), in which case the
zombie reaper judges them by their own heartbeats.

Every step is a guarded change, so two schedulers adopting the same job at once do each
thing once between them.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from gnomon.scheduler import outcomes
from gnomon.scheduler.versions import VersionCache
from gnomon.store import jobs
from gnomon.store.models import JobState, JobType

log = logging.getLogger(__name__)

#: Jobs whose executors run tries (their tries have their job's id).
SCHEDULING = (JobType.SCHEDULER, JobType.STANDALONE)


def adopt(
    session: Session, cache: VersionCache, heartbeat_timeout: float, now: datetime
) -> list[int]:
    """End the scheduling jobs silent for longer than ``heartbeat_timeout`` seconds, and
    reset the orphaned tries of every ended job; the runs that changed."""
    cutoff = now - timedelta(seconds=heartbeat_timeout)
    for job in jobs.silent(session, SCHEDULING, cutoff):
        if jobs.end(session, job.id, JobState.FAILED, now):
            log.warning(
                "%s job %s (pid %s on %s) sent no heartbeat since %s: taking over its work",
                job.job_type.value,
                job.id,
                job.pid,
                job.hostname,
                job.heartbeat_at.isoformat(),
            )
    return outcomes.reset_orphans(session, cache, now)


def end_dead_local_jobs(session: Session, now: datetime) -> None:
    """Jobs of this host whose process is gone (killed -9) are ended as failed, so their
    tries are recognised as orphans at once instead of after the heartbeat timeout."""
    hostname = socket.gethostname()
    for job_type in JobType:
        for job in jobs.alive(session, job_type, datetime.min.replace(tzinfo=UTC)):
            if job.hostname == hostname and (job.pid == os.getpid() or not _pid_alive(job.pid)):
                jobs.end(session, job.id, JobState.FAILED, now)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
