"""Crisis safety: every user message is screened as it is stored; what is found becomes
a crisis event the user is shown help for and staff follow up (docs/safety.md)."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.events import SafetyNotice, ScreenUserMessage
from convobase.core.ids import new_id
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidCursor,
    Page,
    cursor_time,
    cursor_uuid,
    decode_cursor,
    every,
    paginate,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.jobs import service as job_service
from convobase.safety import repository
from convobase.safety.classifier import Screener
from convobase.safety.detector import Category, Severity
from convobase.safety.errors import CrisisEventNotFound, EventAlreadyResolved, EventNotResolved
from convobase.safety.models import (
    CrisisActionKind,
    CrisisEvent,
    CrisisEventAction,
    CrisisEventStatus,
    CrisisOutcome,
    CrisisTrigger,
    StatsPeriod,
)
from convobase.safety.repository import PeriodCounts
from convobase.safety.resources import CrisisDirectory, Referral, parse_accept_language
from convobase.users import service as user_service

NOTIFY_TASK = "crisis_notification"
# With the worker's backoff (10 s doubled per retry, at most an hour) a receiver may be
# down for about two and a half hours before a notification is given up as failed.
NOTIFY_RETRIES = 10
# Ahead of analyses and clean-ups in the queue.
NOTIFY_PRIORITY = 10
# Staff read the triggering message with this many messages before it, and after it
# (the assistant's answer, and what the user said next).
CONTEXT_BEFORE = 10
CONTEXT_AFTER = 5


@dataclass(frozen=True, slots=True)
class CrisisScreen:
    """Answers `ScreenUserMessage` for the conversation store: screens the message,
    records a crisis event for what is found, and says what to show the writer.

    Built once by the composition root from the settings: which classifiers run, which
    crisis lines are shown, and whether staff are notified by webhook.
    """

    screener: Screener
    directory: CrisisDirectory
    notifies_staff: bool = False

    def __call__(self, session: Session, query: ScreenUserMessage) -> SafetyNotice | None:
        """Screen one `user` message in the transaction that stores (or refuses) it."""
        if query.replayed:
            assert query.message_id is not None
            recorded = repository.of_message(session, _owner(query), query.message_id)
            return None if recorded is None else self._shown_again(session, recorded, query)
        verdict = self.screener.screen(query.content, query.recent)
        if verdict is None:
            return None
        screening = verdict.screening
        referral = self._referral(
            session,
            query,
            screening.concern,
            screening.severity,
            about_someone_else=screening.about_someone_else,
        )
        event = repository.add(
            session,
            CrisisEvent(
                id=new_id(),
                user_id=query.user_id,
                conversation_id=query.conversation_id,
                message_id=query.message_id,
                refused_content=query.content if query.message_id is None else None,
                trigger_type=(
                    CrisisTrigger.KEYWORD if verdict.source == "rules" else CrisisTrigger.CLASSIFIER
                ).value,
                category=screening.category.value,
                severity_level=screening.severity.label,
                keywords_detected=list(screening.keywords),
                resources_shown=[resource.to_dict() for resource in referral.resources],
                detector_version=verdict.detector_version,
                followup_required=screening.severity >= Severity.HIGH,
                created_at=utc_now(),
            ),
        )
        if event.followup_required and self.notifies_staff:
            job_service.enqueue(
                session,
                NOTIFY_TASK,
                {"event_id": str(event.id), "user_id": str(event.user_id)},
                dedup_key=f"crisis-notification:{event.id}",
                priority=NOTIFY_PRIORITY,
                retry_limit=NOTIFY_RETRIES,
                for_user_id=event.user_id,
            )
        return _notice(event, referral.message)

    def _referral(
        self,
        session: Session,
        query: ScreenUserMessage,
        concern: Category,
        severity: Severity,
        *,
        about_someone_else: bool,
    ) -> Referral:
        """What to show: in the writer's language, the crisis lines of their country for
        this kind of risk (a helper's, when the risk is someone else's)."""
        preferences = user_service.preferences_of(session, query.user_id)
        languages = _preferred_languages(preferences, query.accept_language)
        country = preferences.get("country")
        return self.directory.referral(
            concern,
            severity,
            about_someone_else=about_someone_else,
            country=country if isinstance(country, str) else None,
            languages=languages,
        )

    def _shown_again(
        self, session: Session, event: CrisisEvent, query: ScreenUserMessage
    ) -> SafetyNotice:
        """The notice a recorded event was shown with: the same resources, the message
        written again for them."""
        category, severity = Category(event.category), Severity.parse(event.severity_level)
        about_someone_else = category is Category.THIRD_PARTY
        referral = self._referral(
            session, query, category, severity, about_someone_else=about_someone_else
        )
        return _notice(event, referral.message)


def _notice(event: CrisisEvent, message: str) -> SafetyNotice:
    """What the writer of `event`'s message is shown: `message` and the lines recorded."""
    return SafetyNotice(
        event_id=event.id,
        severity=event.severity_level,
        category=event.category,
        message=message,
        resources=tuple(event.resources_shown),
    )


def _owner(query: ScreenUserMessage) -> Principal:
    return Principal.user(query.user_id)


def _preferred_languages(preferences: dict[str, Any], accept_language: str | None) -> list[str]:
    """The user's preferred language first, then those their client asks for."""
    languages = parse_accept_language(accept_language)
    preferred = preferences.get("language")
    if isinstance(preferred, str):
        languages.insert(0, preferred)
    return languages


# --- the user's side -------------------------------------------------------------------


def list_own_events(
    session: Session,
    principal: Principal,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[CrisisEvent]:
    """The caller's crisis events, newest first."""
    before = time_position(cursor)
    rows = repository.list_own(session, principal, before=before, limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.created_at, last.id))


def all_own_events(session: Session, principal: Principal) -> list[CrisisEvent]:
    """Every crisis event of the caller, newest first."""
    return every(
        lambda cursor: list_own_events(session, principal, cursor=cursor, limit=MAX_PAGE_SIZE)
    )


def get_own_event(session: Session, principal: Principal, event_id: uuid.UUID) -> CrisisEvent:
    """One of the caller's crisis events."""
    event = repository.get(session, principal, event_id)
    if event is None:
        raise CrisisEventNotFound
    return event


def acknowledge(session: Session, principal: Principal, event_id: uuid.UUID) -> CrisisEvent:
    """The caller has seen the help they were shown; acknowledging twice is harmless."""
    event = repository.get(session, principal, event_id, for_update=True)
    if event is None:
        raise CrisisEventNotFound
    if not event.user_acknowledged:
        event.user_acknowledged = True
        event.acknowledged_at = utc_now()
        session.flush()
    return event


# --- staff's side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventDetail:
    """An event as staff read it: with the messages around the one that raised it, and
    every staff action taken on it so far."""

    event: CrisisEvent
    context: list[conversation_service.StoredMessage]
    actions: Sequence[CrisisEventAction]


def list_events(
    session: Session,
    principal: Principal,
    *,
    status: CrisisEventStatus = CrisisEventStatus.OPEN,
    severity: Severity | None = None,
    user_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[CrisisEvent]:
    """Every user's crisis events, most severe first, then oldest first (staff)."""
    require_staff(principal, "read every user's crisis events")
    after = None
    if cursor is not None:
        urgency, created_at, event_id = decode_cursor(cursor, int, str, str)
        if not 0 <= urgency <= len(Severity):
            raise InvalidCursor("The cursor is not a crisis event cursor.")
        after = (urgency, cursor_time(created_at), cursor_uuid(event_id))
    rows = repository.list_for_staff(
        session,
        principal,
        status=status,
        severity=severity.label if severity is not None else None,
        user_id=user_id,
        after=after,
        limit=limit + 1,
    )
    return paginate(
        rows,
        limit,
        lambda last: (
            int(Severity.CRITICAL) - int(Severity.parse(last.severity_level)),
            last.created_at.isoformat(),
            str(last.id),
        ),
    )


def read_event(session: Session, principal: Principal, event_id: uuid.UUID) -> EventDetail:
    """An event with its message in context and its audit trail; the read is audited
    too (staff)."""
    require_staff(principal, "read crisis events")
    event = _staff_event(session, principal, event_id)
    _audit(session, principal, event, CrisisActionKind.VIEWED)
    context = conversation_service.message_context(
        session,
        principal,
        event.conversation_id,
        event.message_id,
        earlier=CONTEXT_BEFORE,
        later=CONTEXT_AFTER,
        as_staff=True,
    )
    return EventDetail(event, context, repository.actions_of(session, event.id))


def add_note(
    session: Session, principal: Principal, event_id: uuid.UUID, *, note: str
) -> CrisisEventAction:
    """Add a note to an event's audit trail (staff)."""
    require_staff(principal, "add notes to crisis events")
    event = _staff_event(session, principal, event_id)
    return _audit(session, principal, event, CrisisActionKind.NOTE, note=note)


def resolve(
    session: Session,
    principal: Principal,
    event_id: uuid.UUID,
    *,
    outcome: CrisisOutcome,
    note: str | None = None,
) -> CrisisEvent:
    """Close an event with its outcome; when and by whom is recorded (staff)."""
    require_staff(principal, "resolve crisis events")
    event = _staff_event(session, principal, event_id, for_update=True)
    if event.resolution_timestamp is not None:
        raise EventAlreadyResolved
    event.resolution_timestamp = utc_now()
    event.resolution_outcome = outcome.value
    event.resolved_by = principal.user_id
    _audit(session, principal, event, CrisisActionKind.RESOLVED, note=note, outcome=outcome)
    return event


def reopen(
    session: Session, principal: Principal, event_id: uuid.UUID, *, note: str | None = None
) -> CrisisEvent:
    """Open a resolved event again, for more follow-up (staff)."""
    require_staff(principal, "reopen crisis events")
    event = _staff_event(session, principal, event_id, for_update=True)
    if event.resolution_timestamp is None:
        raise EventNotResolved
    event.resolution_timestamp = None
    event.resolution_outcome = None
    event.resolved_by = None
    _audit(session, principal, event, CrisisActionKind.REOPENED, note=note)
    return event


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """What the events created in one period add up to."""

    period_start: date
    events: int
    by_severity: dict[str, int]
    referrals_shown: int
    acknowledged: int
    followups_required: int
    resolved: int
    mean_seconds_to_resolution: float | None


@dataclass(frozen=True, slots=True)
class EventStats:
    """Crisis events of a time range, per period."""

    since: datetime
    until: datetime
    period: StatsPeriod
    periods: list[PeriodSummary]


def event_stats(
    session: Session,
    principal: Principal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    period: StatsPeriod = StatsPeriod.WEEK,
) -> EventStats:
    """Events, referrals shown and time to resolution per period (staff); the last 12
    weeks unless a range is given."""
    require_staff(principal, "read crisis event statistics")
    until = until or utc_now()
    since = since or until - timedelta(weeks=12)
    # A period with no events has no row, so the answer grows with the events found,
    # however long the range; a range that ends before it starts finds none.
    rows = repository.stats(session, principal, since=since, until=until, period=period)
    return EventStats(since, until, period, _summaries(rows))


def _summaries(rows: Sequence[PeriodCounts]) -> list[PeriodSummary]:
    """Each period's per-severity counts, added up."""
    by_period: defaultdict[str, list[PeriodCounts]] = defaultdict(list)
    for row in rows:
        by_period[row.period].append(row)
    summaries = []
    for start, counts in sorted(by_period.items()):
        resolved = sum(row.resolved for row in counts)
        seconds = sum((row.resolution_seconds or 0.0) * row.resolved for row in counts)
        summaries.append(
            PeriodSummary(
                period_start=date.fromisoformat(start),
                events=sum(row.events for row in counts),
                by_severity={row.severity_level: row.events for row in counts},
                referrals_shown=sum(row.referrals for row in counts),
                acknowledged=sum(row.acknowledged for row in counts),
                followups_required=sum(row.followups_required for row in counts),
                resolved=resolved,
                mean_seconds_to_resolution=seconds / resolved if resolved else None,
            )
        )
    return summaries


def _staff_event(
    session: Session, principal: Principal, event_id: uuid.UUID, *, for_update: bool = False
) -> CrisisEvent:
    event = repository.get(session, principal, event_id, staff=True, for_update=for_update)
    if event is None:
        raise CrisisEventNotFound
    return event


def _audit(
    session: Session,
    principal: Principal,
    event: CrisisEvent,
    action: CrisisActionKind,
    *,
    note: str | None = None,
    outcome: CrisisOutcome | None = None,
) -> CrisisEventAction:
    return repository.add_action(
        session,
        CrisisEventAction(
            id=new_id(),
            event_id=event.id,
            actor_id=principal.user_id,
            action=action.value,
            note=note,
            outcome=outcome.value if outcome is not None else None,
            created_at=utc_now(),
        ),
    )


# --- notifying staff -------------------------------------------------------------------


def notification_of(
    session: Session, principal: Principal, event_id: uuid.UUID
) -> CrisisEvent | None:
    """The caller's event to notify staff of; None if it is gone, or notified already."""
    event = repository.get(session, principal, event_id)
    if event is None or event.staff_notified_at is not None:
        return None
    return event


def mark_notified(session: Session, principal: Principal, event_id: uuid.UUID) -> bool:
    """Note that staff were notified of the caller's event; False if noted already."""
    return repository.mark_notified(session, principal, event_id, utc_now())
