"""All SQL of onboarding sessions and their event log.

Both tables are user-owned: a user's statements reach their own rows; staff's (the
funnel, the clean-up job) every row, where the service asks for it with `staff=True`.
"""

import typing
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, Text, case, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.db.ownership import owner_parameters, scope_of, scoped, visible
from convobase.onboarding.models import (
    OnboardingEvent,
    OnboardingEventKind,
    OnboardingSession,
    OnboardingStatus,
)

ONE_ACTIVE = "ix_onboarding_sessions_one_active"
_ACTIVE = OnboardingStatus.ACTIVE.value
_ABANDONED = OnboardingStatus.ABANDONED.value


class ActiveSessionExists(Exception):
    """Another transaction started the user's active session first."""


def current(
    session: Session, principal: Principal, *, for_update: bool = False
) -> OnboardingSession | None:
    """The caller's active session; without one, their latest other session."""
    statement = scoped(select(OnboardingSession), OnboardingSession, principal)
    statement = statement.order_by(
        case((OnboardingSession.status == _ACTIVE, 0), else_=1),
        OnboardingSession.last_activity_at.desc(),
        OnboardingSession.id.desc(),
    ).limit(1)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def by_client_session_id(
    session: Session, principal: Principal, client_session_id: str, *, for_update: bool = False
) -> OnboardingSession | None:
    """The caller's session imported from the device session `client_session_id`."""
    statement = scoped(select(OnboardingSession), OnboardingSession, principal).where(
        OnboardingSession.client_session_id == client_session_id
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def all_of(session: Session, principal: Principal) -> Sequence[OnboardingSession]:
    """Every session of the caller, oldest first."""
    statement = scoped(select(OnboardingSession), OnboardingSession, principal)
    order = (OnboardingSession.created_at, OnboardingSession.id)
    return session.scalars(statement.order_by(*order)).all()


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A block whose writes are undone alone if it raises (a SAVEPOINT)."""
    with session.begin_nested():
        yield


@contextmanager
def undone(session: Session) -> Iterator[None]:
    """A block whose writes are all undone when it ends (a dry run)."""
    nested = session.begin_nested()
    try:
        yield
    finally:
        nested.rollback()


def add_active(session: Session, row: OnboardingSession) -> OnboardingSession:
    """Insert a new active session; ActiveSessionExists if its user has one already
    (a request that committed meanwhile made it), and then nothing is written."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as error:
        if not _breaks_one_active(error):
            raise
        raise ActiveSessionExists from error
    return row


def _breaks_one_active(error: IntegrityError) -> bool:
    diagnostics = getattr(error.orig, "diag", None)  # psycopg names the index
    if diagnostics is not None:
        return getattr(diagnostics, "constraint_name", None) == ONE_ACTIVE
    # SQLite names the columns only; its writers take turns, so this is a safety net.
    return str(error.orig) == "UNIQUE constraint failed: onboarding_sessions.user_id"


def save(session: Session) -> None:
    """Write the changes made to loaded sessions."""
    session.flush()


def add_events(session: Session, events: Sequence[OnboardingEvent]) -> None:
    if events:
        session.add_all(events)
        session.flush()


def logged_keys(session: Session, principal: Principal, keys: Sequence[str]) -> set[str]:
    """Which of `keys` the caller's event log already holds."""
    if not keys:
        return set()
    statement = scoped(select(OnboardingEvent.dedup_key), OnboardingEvent, principal)
    found = session.scalars(statement.where(OnboardingEvent.dedup_key.in_(keys))).all()
    return {key for key in found if key is not None}


def session_events(
    session: Session, principal: Principal, session_id: uuid.UUID
) -> Sequence[OnboardingEvent]:
    """The event log of one of the caller's sessions, oldest first."""
    statement = scoped(select(OnboardingEvent), OnboardingEvent, principal)
    statement = statement.where(OnboardingEvent.session_id == session_id)
    order = (OnboardingEvent.session_version, OnboardingEvent.created_at, OnboardingEvent.id)
    return session.scalars(statement.order_by(*order)).all()


# --- staff: the clean-up and the funnel -------------------------------------------------


def idle(
    session: Session, principal: Principal, *, before: datetime, limit: int
) -> Sequence[OnboardingSession]:
    """Active sessions of every user untouched since `before`, locked; on PostgreSQL a
    session being written right now is left for the next run."""
    statement = (
        scoped(select(OnboardingSession), OnboardingSession, principal, staff=True)
        .where(OnboardingSession.status == _ACTIVE, OnboardingSession.last_activity_at < before)
        .order_by(OnboardingSession.last_activity_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(statement).all()


def unpurged(
    session: Session, principal: Principal, *, abandoned_before: datetime, limit: int
) -> Sequence[OnboardingSession]:
    """Abandoned sessions of every user, abandoned before `abandoned_before`, whose
    answers are still kept; locked, as `idle`."""
    statement = (
        scoped(select(OnboardingSession), OnboardingSession, principal, staff=True)
        .where(
            OnboardingSession.status == _ABANDONED,
            OnboardingSession.answers_purged_at.is_(None),
            OnboardingSession.abandoned_at < abandoned_before,
        )
        .order_by(OnboardingSession.abandoned_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(statement).all()


# The events that keep copies of answers or device records.
_HOLDING_ANSWERS = [
    OnboardingEventKind.STARTED.value,
    OnboardingEventKind.ANSWERS_SAVED.value,
    OnboardingEventKind.PHASE_COMPLETED.value,
    OnboardingEventKind.REPAIRED.value,
    OnboardingEventKind.UPGRADED.value,
    OnboardingEventKind.IMPORTED.value,
    OnboardingEventKind.QUARANTINED.value,
]


def forget_event_data(
    session: Session,
    principal: Principal,
    *,
    session_ids: Sequence[uuid.UUID],
    quarantined_before: datetime,
) -> int:
    """Empty the data of the events that keep copies of the answers of `session_ids`,
    and of device records quarantined before `quarantined_before`; how many."""
    kinds = OnboardingEvent.kind.in_(_HOLDING_ANSWERS)
    quarantined = (OnboardingEvent.kind == OnboardingEventKind.QUARANTINED.value) & (
        OnboardingEvent.created_at < quarantined_before
    )
    which = quarantined
    if session_ids:
        which = which | (kinds & OnboardingEvent.session_id.in_(session_ids))
    kept = cast(OnboardingEvent.data, Text) != "{}"
    reach = visible(OnboardingEvent, scope_of(principal, staff=True))
    statement = update(OnboardingEvent).where(reach, which, kept).values(data={})
    result = session.execute(
        statement.execution_options(synchronize_session=False), owner_parameters(principal)
    )
    changed: int = typing.cast(Any, result).rowcount
    return changed


class FunnelCount(NamedTuple):
    """How many sessions of one flow version had an event of one kind at one phase;
    `phase` None: at any phase; `kind` None too: any event at all."""

    flow_key: str
    flow_version: int
    kind: str | None
    phase: str | None
    sessions: int


def funnel(
    session: Session,
    principal: Principal,
    *,
    flow_key: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[FunnelCount]:
    """Distinct sessions in every user's log per flow version, per event kind, and per
    event kind and phase."""
    sessions = func.count(OnboardingEvent.session_id.distinct())
    columns: list[Any] = [
        OnboardingEvent.flow_key,
        OnboardingEvent.flow_version,
        OnboardingEvent.kind,
        OnboardingEvent.phase,
    ]
    counts = []
    for depth in (2, 3, 4):
        keys = columns[:depth]
        statement: Select[Any] = select(*keys, sessions)
        statement = scoped(statement, OnboardingEvent, principal, staff=True)
        statement = statement.where(
            OnboardingEvent.flow_key.is_not(None),
            OnboardingEvent.flow_version.is_not(None),
            OnboardingEvent.session_id.is_not(None),
        )
        if flow_key is not None:
            statement = statement.where(OnboardingEvent.flow_key == flow_key)
        if since is not None:
            statement = statement.where(OnboardingEvent.created_at >= since)
        if until is not None:
            statement = statement.where(OnboardingEvent.created_at < until)
        for row in session.execute(statement.group_by(*keys).order_by(*keys)):
            kind = row[2] if depth > 2 else None
            phase = row[3] if depth > 3 else None
            counts.append(FunnelCount(row[0], row[1], kind, phase, row[depth]))
    return counts
