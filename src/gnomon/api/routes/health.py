"""``GET /health`` (no auth): is the database reachable, and how old are the heartbeats of
the scheduler and the DAG processor."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from gnomon.api.deps import Config
from gnomon.store import exceptions, jobs
from gnomon.store.columns import utcnow
from gnomon.store.models import JobType

router = APIRouter(tags=["health"])

#: A component whose last heartbeat is older than this is reported ``unhealthy``.
STALE_AFTER_SECONDS = 60.0


class ComponentHealth(BaseModel):
    status: Literal["healthy", "unhealthy", "unknown"]
    latest_heartbeat: datetime | None = None
    heartbeat_age_seconds: float | None = None


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    database: ComponentHealth
    scheduler: ComponentHealth
    dag_processor: ComponentHealth


def _component(latest: datetime | None, now: datetime) -> ComponentHealth:
    if latest is None:
        return ComponentHealth(status="unhealthy")
    age = max(0.0, (now - latest).total_seconds())
    return ComponentHealth(
        status="healthy" if age <= STALE_AFTER_SECONDS else "unhealthy",
        latest_heartbeat=latest,
        heartbeat_age_seconds=round(age, 3),
    )


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(cfg: Config, response: Response) -> Health:
    """200 when the database answers (the components' ages say the rest), else 503."""
    now = utcnow()
    try:
        with cfg.read() as session:
            scheduler = jobs.latest_heartbeat(session, (JobType.SCHEDULER, JobType.STANDALONE))
            processor = jobs.latest_heartbeat(session, (JobType.DAG_PROCESSOR,))
    except exceptions.StoreError:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        unknown = ComponentHealth(status="unknown")
        return Health(
            status="unhealthy",
            database=ComponentHealth(status="unhealthy"),
            scheduler=unknown,
            dag_processor=unknown,
        )
    return Health(
        status="healthy",
        database=ComponentHealth(status="healthy"),
        scheduler=_component(scheduler, now),
        dag_processor=_component(processor, now),
    )
