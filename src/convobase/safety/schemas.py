import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from convobase.conversations.schemas import (
    CrisisCategory,
    CrisisResource,
    CrisisSeverity,
    MessageRead,
)
from convobase.core.validation import FromString, RequestModel, Text
from convobase.safety.models import (
    MAX_NOTE_LENGTH,
    CrisisActionKind,
    CrisisOutcome,
    CrisisTrigger,
    StatsPeriod,
)

Note = Annotated[Text, Field(min_length=1, max_length=MAX_NOTE_LENGTH)]


class CrisisEventRead(BaseModel):
    """A crisis event, as its user sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None = Field(
        description="The message that raised it; null for a guest's message refused at the cap."
    )
    trigger_type: CrisisTrigger
    category: CrisisCategory
    severity_level: CrisisSeverity
    keywords_detected: list[str]
    resources_shown: list[CrisisResource] = Field(description="The crisis lines shown.")
    detector_version: str
    user_acknowledged: bool
    acknowledged_at: datetime | None
    followup_required: bool = Field(description="High and critical events: staff follow up.")
    resolution_timestamp: datetime | None
    created_at: datetime


class StaffCrisisEventRead(CrisisEventRead):
    """A crisis event, as staff see it."""

    user_id: uuid.UUID
    refused_content: str | None = Field(
        description="The text of a guest's message refused at the cap (never stored)."
    )
    staff_notified_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_outcome: CrisisOutcome | None


class CrisisEventActionRead(BaseModel):
    """One staff action on an event: the audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: CrisisActionKind
    note: str | None
    outcome: CrisisOutcome | None
    created_at: datetime


class CrisisEventDetail(BaseModel):
    """An event with the messages around the one that raised it, and its audit trail."""

    event: StaffCrisisEventRead
    context: list[MessageRead] = Field(
        description="Up to 10 messages before the triggering one, it, and up to 5 after."
    )
    actions: list[CrisisEventActionRead]


class NoteCreate(RequestModel):
    note: Note


class Resolution(RequestModel):
    outcome: Annotated[CrisisOutcome, FromString]
    note: Note | None = None


class Reopening(RequestModel):
    note: Note | None = None


class PeriodStats(BaseModel):
    """What the events created in one period add up to."""

    period_start: date = Field(description="The period's first day (UTC; weeks start Monday).")
    events: int
    by_severity: dict[CrisisSeverity, int]
    referrals_shown: int = Field(description="Crisis lines shown, counted once per line.")
    acknowledged: int = Field(description="Events the user acknowledged.")
    followups_required: int
    resolved: int
    mean_seconds_to_resolution: float | None = Field(
        description="Over the resolved events; null when none is."
    )


class CrisisEventStats(BaseModel):
    """Crisis events per period, for follow-up and for reporting referrals."""

    since: datetime
    until: datetime
    period: StatsPeriod
    periods: list[PeriodStats]
