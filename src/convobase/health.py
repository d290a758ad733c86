"""Liveness and readiness probes."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from convobase.core.deps import AnonymousUnitOfWorkDep
from convobase.core.problems import problem_response
from convobase.db import migrate

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    revision: str | None = None


@router.get("/healthz")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"description": "Not ready"}})
async def readyz(uow: AnonymousUnitOfWorkDep) -> Health | JSONResponse:
    """The database is reachable and its schema is at the latest revision."""
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
    return Health(status="ready", revision=revision)


def _revision(session: Session) -> str | None:
    return migrate.revision_of(session.connection())
