from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response

from convobase.core.deps import LimitsDep, StaffDep, UnitOfWorkDep, UserDep
from convobase.core.problems import problem_responses
from convobase.core.validation import DateAndTime
from convobase.onboarding import service
from convobase.onboarding.schemas import (
    AnswersPatch,
    DeviceExport,
    Funnel,
    ImportReport,
    OnboardingRead,
)

router = APIRouter(
    prefix="/v1/onboarding",
    tags=["onboarding"],
    responses=problem_responses(401, 403),
)
staff_router = APIRouter(
    prefix="/v1/staff/onboarding",
    tags=["staff"],
    responses=problem_responses(401, 403),
)

MERGE_PATCH = "application/merge-patch+json"
IfMatch = Annotated[
    str | None,
    Header(
        max_length=1024,
        description="The session's ETag, as the last answer gave it: the write is refused "
        "(412) if the session changed since, and must carry it (428).",
    ),
]
# The answer of every read and write: the session, and its version as an ETag.
SESSION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The onboarding session.",
        "headers": {
            "ETag": {
                "description": "The session's version: send it as If-Match to change it.",
                "schema": {"type": "string"},
            }
        },
    }
}
WRITE_ERRORS = problem_responses(409, 412, 422, 428)


def _answer(response: Response, view: service.OnboardingView) -> OnboardingRead:
    response.headers["ETag"] = view.etag
    return OnboardingRead.model_validate(view)


@router.get("/current", responses={**SESSION, **problem_responses(409)})
async def read_onboarding(
    uow: UnitOfWorkDep, principal: UserDep, response: Response
) -> OnboardingRead:
    """Your onboarding, where you left off; a new one of the default flow if you have none."""
    view = await uow.read(service.peek, principal)
    if view is None:  # to be started, resumed, repaired or upgraded first
        view = await uow.run(service.current, principal)
    return _answer(response, view)


@router.patch("/current/answers", responses={**SESSION, **WRITE_ERRORS})
async def save_onboarding_answers(
    uow: UnitOfWorkDep,
    principal: UserDep,
    response: Response,
    patch: Annotated[AnswersPatch, Body(media_type=MERGE_PATCH)],
    if_match: IfMatch = None,
) -> OnboardingRead:
    """Save answers to the current phase: a JSON merge patch of them (RFC 7396)."""
    view = await uow.run(service.save_answers, principal, patch=patch, if_match=if_match)
    return _answer(response, view)


@router.post("/current/advance", responses={**SESSION, **WRITE_ERRORS})
async def advance_onboarding(
    uow: UnitOfWorkDep, principal: UserDep, response: Response, if_match: IfMatch = None
) -> OnboardingRead:
    """Move on to the next phase; the current one's required questions must be answered."""
    view = await uow.run(service.advance, principal, if_match=if_match)
    return _answer(response, view)


@router.post("/current/back", responses={**SESSION, **WRITE_ERRORS})
async def go_back_in_onboarding(
    uow: UnitOfWorkDep, principal: UserDep, response: Response, if_match: IfMatch = None
) -> OnboardingRead:
    """Go back to the phase before the current one; answers are kept."""
    view = await uow.run(service.back, principal, if_match=if_match)
    return _answer(response, view)


@router.post("/current/complete", responses={**SESSION, **WRITE_ERRORS})
async def complete_onboarding(
    uow: UnitOfWorkDep, principal: UserDep, response: Response, if_match: IfMatch = None
) -> OnboardingRead:
    """Complete your onboarding: your answers set your goals, profile and preferences, once."""
    view = await uow.run(service.complete, principal, if_match=if_match)
    return _answer(response, view)


@router.post("/import", responses=problem_responses(409, 422))
async def import_onboarding(
    uow: UnitOfWorkDep,
    principal: UserDep,
    limits: LimitsDep,
    export: DeviceExport,
    dry_run: bool = False,
) -> ImportReport:
    """Import a device's onboarding, once: each record's outcome; `dry_run` writes nothing."""
    result = await uow.run(
        service.import_device_export,
        principal,
        sessions=export.sessions,
        messages=export.messages,
        dry_run=dry_run,
        limits=limits,
    )
    return ImportReport.model_validate(result)


@staff_router.get("/funnel", responses=problem_responses(422))
async def onboarding_funnel(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    flow: Annotated[
        str | None, Query(max_length=63, pattern=r"^[a-z][a-z0-9-]*$", description="A flow's key.")
    ] = None,
    since: Annotated[datetime, DateAndTime] | None = None,
    until: Annotated[datetime, DateAndTime] | None = None,
) -> Funnel:
    """Onboarding sessions per phase reached, completed and abandoned, per flow version (staff)."""
    funnel = await uow.read(service.funnel, staff, flow=flow, since=since, until=until)
    return Funnel.model_validate(funnel)
