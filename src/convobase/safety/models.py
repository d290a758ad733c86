import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, one_of
from convobase.db.ownership import UserOwned
from convobase.safety.detector import Category, Severity

SEVERITY_LEVELS = tuple(severity.label for severity in Severity)
MAX_NOTE_LENGTH = 4000
MAX_DETECTOR_VERSION_LENGTH = 200

# The list of resources shown, as stored: JSONB on PostgreSQL, as in story 004.
ResourceList = JSON().with_variant(postgresql.JSONB(), "postgresql")


class CrisisTrigger(StrEnum):
    """What raised an event: the rule-based detector's lexicon, or a plugged-in
    classifier that found more than the rules did."""

    KEYWORD = "keyword"
    CLASSIFIER = "classifier"


class CrisisOutcome(StrEnum):
    """How staff closed an event."""

    SUPPORTED = "supported"  # staff reached out, the user is being supported
    REFERRED = "referred"  # passed on to a professional service
    EMERGENCY_SERVICES = "emergency_services"
    NO_CONTACT = "no_contact"  # could not reach the user
    FALSE_POSITIVE = "false_positive"


class CrisisActionKind(StrEnum):
    """What a staff member did with an event (the audit trail)."""

    VIEWED = "viewed"
    NOTE = "note"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class CrisisEventStatus(StrEnum):
    """Which events a staff list shows."""

    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


class StatsPeriod(StrEnum):
    """What statistics are counted per; weeks start on Monday."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class CrisisEvent(IdMixin, UserOwned, Base):
    """A user message in which screening found a sign of crisis, with story 004's
    columns and CHECKs, plus the conversation, the category and the detector's version.

    `message_id` is null only for a guest's message refused at the cap, which is not
    stored: its content is kept in `refused_content` for staff to read.
    """

    user_id_indexed = False  # led by user_id: the two indexes below

    __tablename__ = "crisis_events"
    __table_args__ = (
        CheckConstraint(one_of("severity_level", SEVERITY_LEVELS), name="severity_level"),
        CheckConstraint(one_of("trigger_type", CrisisTrigger), name="trigger_type"),
        CheckConstraint(one_of("category", Category), name="category"),
        CheckConstraint(
            f"resolution_outcome IS NULL OR {one_of('resolution_outcome', CrisisOutcome)}",
            name="resolution_outcome",
        ),
        CheckConstraint(
            "(resolution_timestamp IS NULL) = (resolution_outcome IS NULL)", name="resolution"
        ),
        CheckConstraint(
            "(message_id IS NULL) <> (refused_content IS NULL)", name="message_or_refused"
        ),
        CheckConstraint(
            f"length(detector_version) <= {MAX_DETECTOR_VERSION_LENGTH}",
            name="detector_version_length",
        ),
        # The story's index, and the user's own list, newest first.
        Index("ix_crisis_events_user_id_severity_level", "user_id", "severity_level"),
        Index("ix_crisis_events_user_id_created_at", "user_id", "created_at", "id"),
        # Staff work from the open events; resolved ones drop out of this index.
        Index(
            "ix_crisis_events_open",
            "created_at",
            "id",
            sqlite_where=text("resolution_timestamp IS NULL"),
            postgresql_where=text("resolution_timestamp IS NULL"),
        ),
        {
            "comment": (
                "What screening found in a user message (story 004's table, with its "
                "columns and CHECKs, plus the conversation, the category and the detector's "
                "version; docs/safety.md). Recorded in the transaction of the message's "
                "append. message_id is null only for a guest's message refused at the "
                "message cap, which is not stored: its text is kept in refused_content "
                "instead. Indexes: the story's (user_id, severity_level); (user_id, "
                "created_at, id) for a user's list; (created_at, id) WHERE "
                "resolution_timestamp IS NULL for staff's open events."
            ),
            "info": {"stories": ("004",)},
        },
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"),
        index=True,
        comment="The conversation of the message screened.",
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"),
        unique=True,
        comment=(
            "The message screened, unique; null only for a guest's message refused at the cap."
        ),
    )
    refused_content: Mapped[str | None] = mapped_column(
        comment="That refused message's text; set exactly when message_id is null (CHECK)."
    )
    trigger_type: Mapped[str] = mapped_column(
        comment="keyword (the rules) or classifier (a plugged-in model escalated) (CHECK)."
    )
    category: Mapped[str] = mapped_column(
        comment=(
            "suicide, self_harm, abuse, eating_disorder, substance, harm_to_others or "
            "third_party (CHECK)."
        )
    )
    severity_level: Mapped[str] = mapped_column(comment="low, moderate, high or critical (CHECK).")
    keywords_detected: Mapped[list[str]] = mapped_column(
        comment="The lexicon phrases that matched."
    )
    resources_shown: Mapped[list[dict[str, Any]]] = mapped_column(
        ResourceList,
        comment=("The crisis lines shown to the user, exactly as shown, for counting referrals."),
    )
    detector_version: Mapped[str] = mapped_column(
        comment="What screened it, at most 200 characters: rules 2026.11.1; acme-model 3."
    )
    user_acknowledged: Mapped[bool] = mapped_column(
        server_default=text("false"),
        comment="Whether the user acknowledged the help they were shown.",
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(
        comment="When the user acknowledged it."
    )
    followup_required: Mapped[bool] = mapped_column(
        server_default=text("false"),
        comment="Whether staff must follow up: high and critical events.",
    )
    staff_notified_at: Mapped[datetime | None] = mapped_column(
        comment="When the staff webhook took the notice."
    )
    resolution_timestamp: Mapped[datetime | None] = mapped_column(
        comment=("When staff resolved the event; set together with resolution_outcome (CHECK).")
    )
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        comment=("The staff member who resolved it; null for a service key that names no user.")
    )
    resolution_outcome: Mapped[str | None] = mapped_column(
        comment=(
            "supported, referred, emergency_services, no_contact or false_positive "
            "(CHECK); set exactly with resolution_timestamp."
        )
    )
    created_at: Mapped[datetime] = mapped_column(comment="When the message was screened.")


class CrisisEventAction(IdMixin, Base):
    """One staff action on a crisis event: read, noted, resolved or reopened.

    Not owned by the event's user: only staff reach these rows (row level security on
    PostgreSQL has no owner policy for them), and they go when the event goes.
    """

    __tablename__ = "crisis_event_actions"
    __table_args__ = (
        CheckConstraint(one_of("action", CrisisActionKind), name="action"),
        CheckConstraint(f"length(note) <= {MAX_NOTE_LENGTH}", name="note_length"),
        Index("ix_crisis_event_actions_event_id_created_at", "event_id", "created_at", "id"),
        {
            "comment": (
                "The audit trail of staff's follow-up of crisis events: viewed, noted, "
                "resolved, reopened. Not a user's table: on PostgreSQL only convobase_staff "
                "may read it and add to it (SELECT, INSERT), and no service role may change "
                "or delete a row; rows go with their event."
            ),
            "info": {"stories": ("004",)},
        },
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("crisis_events.id", ondelete="CASCADE"),
        comment="The crisis event acted on; the action goes with it.",
    )
    # The staff member's user id; None for a service key that names no user.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="The staff member's user id; null for a service key that names no user."
    )
    action: Mapped[str] = mapped_column(comment="viewed, note, resolved or reopened (CHECK).")
    note: Mapped[str | None] = mapped_column(comment="Staff's note, at most 4000 characters.")
    outcome: Mapped[str | None] = mapped_column(comment="The outcome a resolution recorded.")
    created_at: Mapped[datetime] = mapped_column(comment="When staff acted.")
