"""All SQL of crisis events and staff's actions on them.

Events are user-owned: a user's statements reach their own rows; staff's (the staff
routes) every row, through the kernel's owner rule. The audit trail is staff's alone.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, case, extract, func, select, update
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.db.keyset import seek
from convobase.db.ownership import Scope, owner_parameters, scoped, visible
from convobase.safety.models import CrisisEvent, CrisisEventAction, CrisisEventStatus, StatsPeriod

events = cast(Table, CrisisEvent.__table__)

# Most urgent first: the order staff work in.
URGENCY = case(
    {"critical": 0, "high": 1, "moderate": 2, "low": 3},
    value=CrisisEvent.severity_level,
    else_=4,
)


def add(session: Session, event: CrisisEvent) -> CrisisEvent:
    session.add(event)
    session.flush()
    return event


def add_action(session: Session, action: CrisisEventAction) -> CrisisEventAction:
    session.add(action)
    session.flush()
    return action


def get(
    session: Session,
    principal: Principal,
    event_id: uuid.UUID,
    *,
    staff: bool = False,
    for_update: bool = False,
) -> CrisisEvent | None:
    """The event, if the caller may reach it (every event, with `staff`)."""
    statement = scoped(select(CrisisEvent), CrisisEvent, principal, staff=staff)
    statement = statement.where(CrisisEvent.id == event_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def of_message(session: Session, principal: Principal, message_id: uuid.UUID) -> CrisisEvent | None:
    """The event recorded for one of the caller's messages, if any."""
    statement = scoped(select(CrisisEvent), CrisisEvent, principal)
    return session.scalars(statement.where(CrisisEvent.message_id == message_id)).one_or_none()


def list_own(
    session: Session,
    principal: Principal,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[CrisisEvent]:
    """The caller's events, newest first, strictly after the cursor."""
    statement = scoped(select(CrisisEvent), CrisisEvent, principal)
    key = (CrisisEvent.created_at, CrisisEvent.id)
    return session.scalars(seek(statement, key, before, descending=True).limit(limit)).all()


def list_for_staff(
    session: Session,
    principal: Principal,
    *,
    status: CrisisEventStatus,
    severity: str | None,
    user_id: uuid.UUID | None,
    after: tuple[int, datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[CrisisEvent]:
    """Every user's events, most urgent first and, equally urgent, oldest first,
    strictly after the cursor."""
    statement = scoped(select(CrisisEvent), CrisisEvent, principal, staff=True)
    if status is CrisisEventStatus.OPEN:
        statement = statement.where(CrisisEvent.resolution_timestamp.is_(None))
    elif status is CrisisEventStatus.RESOLVED:
        statement = statement.where(CrisisEvent.resolution_timestamp.is_not(None))
    if severity is not None:
        statement = statement.where(CrisisEvent.severity_level == severity)
    if user_id is not None:
        statement = statement.where(CrisisEvent.user_id == user_id)
    key = (URGENCY, CrisisEvent.created_at, CrisisEvent.id)
    return session.scalars(seek(statement, key, after).limit(limit)).all()


def actions_of(session: Session, event_id: uuid.UUID) -> Sequence[CrisisEventAction]:
    """The audit trail of an event, oldest first (staff only)."""
    statement = select(CrisisEventAction).where(CrisisEventAction.event_id == event_id)
    order = (CrisisEventAction.created_at, CrisisEventAction.id)
    return session.scalars(statement.order_by(*order)).all()


def mark_notified(
    session: Session, principal: Principal, event_id: uuid.UUID, at: datetime
) -> bool:
    """Note when staff were notified of the caller's event, unless noted already;
    whether this call noted it."""
    statement = (
        update(CrisisEvent)
        .where(
            visible(CrisisEvent, Scope.OWN_ROWS),
            CrisisEvent.id == event_id,
            CrisisEvent.staff_notified_at.is_(None),
        )
        .values(staff_notified_at=at)
    )
    result = session.execute(statement, owner_parameters(principal))
    changed: int = cast(Any, result).rowcount
    return changed == 1


class PeriodCounts(NamedTuple):
    """What one period's events add up to."""

    period: str
    severity_level: str
    events: int
    referrals: int
    resolved: int
    followups_required: int
    acknowledged: int
    resolution_seconds: float | None


def stats(
    session: Session,
    principal: Principal,
    *,
    since: datetime,
    until: datetime,
    period: StatsPeriod,
) -> list[PeriodCounts]:
    """Every user's events created in [since, until), counted per period (its first day,
    YYYY-MM-DD, UTC) and severity."""
    dialect = session.get_bind().dialect.name
    bucket = _period_start(dialect, period)
    resolution = CrisisEvent.resolution_timestamp.is_not(None)
    statement = (
        scoped(
            select(
                bucket,
                CrisisEvent.severity_level,
                func.count(),
                func.coalesce(func.sum(_array_length(dialect)), 0),
                func.count(CrisisEvent.resolution_timestamp),
                func.count(case((CrisisEvent.followup_required, 1))),
                func.count(case((CrisisEvent.user_acknowledged, 1))),
                func.avg(case((resolution, _seconds_to_resolution(dialect)))),
            ),
            CrisisEvent,
            principal,
            staff=True,
        )
        .where(CrisisEvent.created_at >= since, CrisisEvent.created_at < until)
        .group_by(bucket, CrisisEvent.severity_level)
        .order_by(bucket, URGENCY)
    )
    return [
        PeriodCounts(
            period=str(start),
            severity_level=severity,
            events=int(count),
            referrals=int(referrals),
            resolved=int(resolved),
            followups_required=int(followups),
            acknowledged=int(acknowledged),
            resolution_seconds=None if seconds is None else float(seconds),
        )
        for start, severity, count, referrals, resolved, followups, acknowledged, seconds in (
            session.execute(statement).all()
        )
    ]


def _period_start(dialect: str, period: StatsPeriod) -> ColumnElement[str]:
    """The first day of the period an event was created in, as YYYY-MM-DD (UTC)."""
    created = CrisisEvent.created_at
    if dialect == "postgresql":
        truncated = func.date_trunc(period.value, func.timezone("UTC", created))
        return func.to_char(truncated, "YYYY-MM-DD")
    # SQLite stores UTC; weeks start on Monday, as PostgreSQL's date_trunc has them.
    if period is StatsPeriod.DAY:
        return func.date(created)
    if period is StatsPeriod.WEEK:
        return func.date(created, "weekday 0", "-6 days")
    return func.date(created, "start of month")


def _array_length(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return func.jsonb_array_length(CrisisEvent.resources_shown)
    return func.json_array_length(CrisisEvent.resources_shown)


def _seconds_to_resolution(dialect: str) -> ColumnElement[Any]:
    resolved, created = CrisisEvent.resolution_timestamp, CrisisEvent.created_at
    if dialect == "postgresql":
        return extract("epoch", resolved - created)
    return (func.julianday(resolved) - func.julianday(created)) * 86400.0
