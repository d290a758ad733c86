"""Liveness and readiness probes."""

from datetime import datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from convobase.config import Settings
from convobase.core.deps import AnonymousUnitOfWorkDep, SettingsDep
from convobase.core.problems import problem_response
from convobase.core.time import utc_now
from convobase.db import migrate
from convobase.jobs import service as job_service

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    revision: str | None = None


@router.get("/healthz")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"description": "Not ready"}})
async def readyz(uow: AnonymousUnitOfWorkDep, settings: SettingsDep) -> Health | JSONResponse:
    """The database is reachable, its schema is at the latest revision, and, where a job
    worker is expected, one has been seen within its lease."""
    try:
        revision = await uow.read(_revision)
    except SQLAlchemyError:
        return problem_response(503, "database_unreachable", "The database is not reachable.")
    if revision != migrate.head_revision():
        return problem_response(
            503,
            "schema_out_of_date",
            f"The schema is at {revision or 'no revision'}; run `convobase db upgrade`.",
        )
    if _expects_worker(settings):
        seen = await uow.read(job_service.last_worker_seen)
        lease = timedelta(seconds=settings.job_lease_seconds)
        if seen is None or utc_now() - seen > lease:
            return problem_response(503, "worker_stale", _stale(seen))
    return Health(status="ready", revision=revision)


def _expects_worker(settings: Settings) -> bool:
    if settings.worker_expected is not None:
        return settings.worker_expected
    return settings.runs_in_process_worker


def _stale(seen: datetime | None) -> str:
    if seen is None:
        return "No job worker has started; run `convobase worker`."
    return f"No job worker has been seen since {seen.isoformat()}; run `convobase worker`."


def _revision(session: Session) -> str | None:
    return migrate.revision_of(session.connection())
