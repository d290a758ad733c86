"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from convobase.core.problems import problem_response
from convobase.db import migrate
from convobase.db.session import Database

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    revision: str | None = None


@router.get("/healthz")
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"description": "Not ready"}})
def readyz(request: Request) -> Health | JSONResponse:
    """The database is reachable and its schema is at the latest revision."""
    database: Database = request.app.state.database
    try:
        revision = migrate.current_revision(database.engine)
    except SQLAlchemyError:
        return problem_response(503, "database_unreachable", "The database is not reachable.")
    if revision != migrate.head_revision():
        return problem_response(
            503,
            "schema_out_of_date",
            f"The schema is at {revision or 'no revision'}; run `convobase db upgrade`.",
        )
    return Health(status="ready", revision=revision)
