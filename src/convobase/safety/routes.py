import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter

from convobase.conversations.schemas import CrisisSeverity
from convobase.core.deps import CallerDep, PageSize, StaffDep, UnitOfWorkDep
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.core.validation import DateAndTime
from convobase.safety import service
from convobase.safety.detector import Severity
from convobase.safety.models import CrisisEventStatus, StatsPeriod
from convobase.safety.schemas import (
    CrisisEventActionRead,
    CrisisEventDetail,
    CrisisEventRead,
    CrisisEventStats,
    NoteCreate,
    Reopening,
    Resolution,
    StaffCrisisEventRead,
)

router = APIRouter(
    prefix="/v1/crisis-events",
    tags=["crisis events"],
    responses=problem_responses(401, 403),
)
staff_router = APIRouter(
    prefix="/v1/staff/crisis-events",
    tags=["staff"],
    responses=problem_responses(401, 403),
)


@router.get("", responses=problem_responses(422))
async def list_my_crisis_events(
    uow: UnitOfWorkDep,
    principal: CallerDep,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[CrisisEventRead]:
    """Your crisis events, newest first: the help you were shown, and when."""
    page = await uow.read(service.list_own_events, principal, cursor=cursor, limit=limit)
    return page_read(page, CrisisEventRead)


@router.get("/stats", responses=problem_responses(422))
async def crisis_event_stats(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    since: Annotated[datetime, DateAndTime] | None = None,
    until: Annotated[datetime, DateAndTime] | None = None,
    period: StatsPeriod = StatsPeriod.WEEK,
) -> CrisisEventStats:
    """Events, crisis lines shown and time to resolution per period; the last 12 weeks
    unless `since` and `until` say otherwise (staff)."""
    stats = await uow.read(service.event_stats, staff, since=since, until=until, period=period)
    return CrisisEventStats.model_validate(stats, from_attributes=True)


@router.get("/{event_id}", responses=problem_responses(404))
async def read_my_crisis_event(
    uow: UnitOfWorkDep, principal: CallerDep, event_id: uuid.UUID
) -> CrisisEventRead:
    """One of your crisis events."""
    event = await uow.read(service.get_own_event, principal, event_id)
    return CrisisEventRead.model_validate(event)


@router.post("/{event_id}/acknowledge", responses=problem_responses(404))
async def acknowledge_crisis_event(
    uow: UnitOfWorkDep, principal: CallerDep, event_id: uuid.UUID
) -> CrisisEventRead:
    """Say you have seen the help shown with a crisis event; saying it twice is harmless."""
    event = await uow.run(service.acknowledge, principal, event_id)
    return CrisisEventRead.model_validate(event)


@staff_router.get("", responses=problem_responses(422))
async def list_crisis_events(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    status: CrisisEventStatus = CrisisEventStatus.OPEN,
    severity: CrisisSeverity | None = None,
    user_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[StaffCrisisEventRead]:
    """Crisis events, most severe first and, equally severe, oldest first: open ones
    unless `status` says otherwise (staff)."""
    page = await uow.read(
        service.list_events,
        staff,
        status=status,
        severity=Severity.parse(severity) if severity is not None else None,
        user_id=user_id,
        cursor=cursor,
        limit=limit,
    )
    return page_read(page, StaffCrisisEventRead)


@staff_router.get("/{event_id}", responses=problem_responses(404))
async def read_crisis_event(
    uow: UnitOfWorkDep, staff: StaffDep, event_id: uuid.UUID
) -> CrisisEventDetail:
    """A crisis event with the messages around the one that raised it and its audit
    trail; the read itself goes on the trail (staff)."""
    detail = await uow.run(service.read_event, staff, event_id)
    return CrisisEventDetail.model_validate(
        {"event": detail.event, "context": detail.context, "actions": detail.actions},
        from_attributes=True,
    )


@staff_router.post("/{event_id}/notes", status_code=201, responses=problem_responses(404, 422))
async def add_crisis_event_note(
    uow: UnitOfWorkDep, staff: StaffDep, event_id: uuid.UUID, body: NoteCreate
) -> CrisisEventActionRead:
    """Add a note to a crisis event's audit trail (staff)."""
    action = await uow.run(service.add_note, staff, event_id, note=body.note)
    return CrisisEventActionRead.model_validate(action)


@staff_router.post("/{event_id}/resolve", responses=problem_responses(404, 409, 422))
async def resolve_crisis_event(
    uow: UnitOfWorkDep, staff: StaffDep, event_id: uuid.UUID, body: Resolution
) -> StaffCrisisEventRead:
    """Resolve a crisis event with its outcome; when and by whom are recorded (staff)."""
    event = await uow.run(service.resolve, staff, event_id, outcome=body.outcome, note=body.note)
    return StaffCrisisEventRead.model_validate(event)


@staff_router.post("/{event_id}/reopen", responses=problem_responses(404, 409, 422))
async def reopen_crisis_event(
    uow: UnitOfWorkDep, staff: StaffDep, event_id: uuid.UUID, body: Reopening
) -> StaffCrisisEventRead:
    """Open a resolved crisis event again (staff)."""
    event = await uow.run(service.reopen, staff, event_id, note=body.note)
    return StaffCrisisEventRead.model_validate(event)
