import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from convobase.core.validation import RequestModel, Text, json_document
from convobase.onboarding.models import OnboardingStatus

MAX_PHASE_ANSWERS_BYTES: Final = 16 * 1024
MAX_IMPORT_SESSIONS: Final = 10
MAX_IMPORT_MESSAGES: Final = 100

AnswersPatch = Annotated[
    dict[str, Any],
    json_document(MAX_PHASE_ANSWERS_BYTES, "answers"),
    Field(
        description="A JSON merge patch (RFC 7396) of the current phase's answers: a field "
        "set to null is removed, an object merges into an object, anything else replaces.",
        examples=[{"distance": "half marathon", "has_race": True}],
    ),
]


class PhaseState(StrEnum):
    """Where a phase stands: answered, being answered, still to come, or skipped by the
    answers so far."""

    DONE = "done"
    CURRENT = "current"
    TODO = "todo"
    SKIPPED = "skipped"


class PhaseSummary(BaseModel):
    """One phase of the flow, and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    required: bool
    state: PhaseState


class PhaseRead(BaseModel):
    """The phase to answer now: its questions, as a JSON Schema, and the answers so far."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    prompt: str | None
    required: bool = Field(description="A required phase cannot be passed without answers.")
    answers_schema: dict[str, Any] = Field(
        description="The JSON Schema (Draft 2020-12) the phase's answers must fit."
    )
    answers: dict[str, Any]


class OnboardingRead(BaseModel):
    """An onboarding session, as its user resumes it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    flow: str = Field(examples=["running-coach"])
    flow_version: int
    flow_title: str
    status: OnboardingStatus
    phase: PhaseRead
    next_phase: str | None = Field(description="Where advancing leads; null at the last phase.")
    previous_phase: str | None = Field(description="Where going back leads; null at the first.")
    phases: list[PhaseSummary]
    answers: dict[str, dict[str, Any]] = Field(description="Every phase's answers so far.")
    progress: int = Field(
        ge=0, le=100, description="Phases done of those that apply; 100 once completed."
    )
    can_complete: bool = Field(description="Whether every question that must be answered is.")
    goals: list[str]
    context: dict[str, Any]
    conversation_id: uuid.UUID | None = Field(description="The onboarding conversation.")
    client_session_id: str | None = Field(description="The device session imported into it.")
    version: int = Field(description="Grows with every change.")
    etag: str = Field(description="The session's version as an entity tag: send it as If-Match.")
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class OnboardingSessionExport(BaseModel):
    """An onboarding session as stored, for the account export."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    flow_key: str
    flow_version: int
    current_phase: str
    status: OnboardingStatus
    progress: int
    answers: Any = Field(description="{phase: {field: answer}}, as stored.")
    goals: Any
    context: Any
    conversation_id: uuid.UUID | None
    client_session_id: str | None
    version: int
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    abandoned_at: datetime | None
    answers_purged_at: datetime | None


class DeviceExport(RequestModel):
    """A device's onboarding data (`device_export.schema.json` in the package publishes
    its records' format). Each record is checked on its own: one that does not fit is
    quarantined and reported, and the rest imported."""

    format_version: int = Field(ge=1, le=1)
    exported_at: Annotated[Text, Field(max_length=64)] | None = Field(
        default=None, description="When the device made the export: kept for people, not read."
    )
    sessions: list[Any] = Field(
        default_factory=list,
        max_length=MAX_IMPORT_SESSIONS,
        description="OnboardingSession records.",
    )
    messages: list[Any] = Field(
        default_factory=list,
        max_length=MAX_IMPORT_MESSAGES,
        description="ConversationMessage records, any order: they are stored by their time.",
    )


class ImportOutcome(StrEnum):
    """What importing one record did."""

    CREATED = "created"  # a session that started on the server from it
    MERGED = "merged"  # merged into the user's session, which changed
    UNCHANGED = "unchanged"  # imported before, or the server already had it all
    KEPT_SERVER = "kept_server"  # the server's completed session wins
    APPENDED = "appended"  # a message added to the onboarding conversation
    DUPLICATE = "duplicate"  # its id came earlier in the same export
    QUARANTINED = "quarantined"  # not imported: kept aside, with the reason


class RecordReport(BaseModel):
    """The outcome of one record, by its place in the export."""

    model_config = ConfigDict(from_attributes=True)

    index: int
    client_id: str | None = Field(description="Its client_session_id or client_message_id.")
    outcome: ImportOutcome
    reason: str | None = None


class ImportReport(BaseModel):
    """What an import did (or, for a dry run, would do) with each record."""

    model_config = ConfigDict(from_attributes=True)

    dry_run: bool
    received_at: datetime = Field(description="Device times later than this were clamped to it.")
    sessions: list[RecordReport]
    messages: list[RecordReport]
    onboarding: OnboardingRead | None = Field(description="The onboarding as it stands after it.")


class FunnelPhase(BaseModel):
    """How many sessions reached a phase, got past it, and were abandoned at it."""

    model_config = ConfigDict(from_attributes=True)

    phase: str
    reached: int
    completed: int
    abandoned: int


class FunnelFlow(BaseModel):
    """The funnel of one flow version."""

    model_config = ConfigDict(from_attributes=True)

    flow: str
    version: int
    sessions: int = Field(description="Sessions that followed this version at some point.")
    completed: int
    abandoned: int
    phases: list[FunnelPhase]


class Funnel(BaseModel):
    """Sessions per phase reached, completed and abandoned, per flow version, from the
    onboarding event log."""

    model_config = ConfigDict(from_attributes=True)

    since: datetime | None
    until: datetime | None
    flows: list[FunnelFlow]
