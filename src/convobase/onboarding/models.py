import json
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import JSON, CheckConstraint, Dialect, ForeignKey, Index, TypeDecorator, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from convobase.db.base import Base, IdMixin, TimestampsMixin, one_of
from convobase.db.ownership import UserOwned

MAX_KEY_LENGTH: Final = 63
MAX_CLIENT_ID_LENGTH: Final = 64
# Bounds on what a session stores, in characters of its JSON text: the service keeps
# what it writes within the smaller bounds of onboarding/schemas.py.
MAX_STORED_ANSWERS: Final = 256 * 1024
MAX_STORED_GOALS: Final = 16 * 1024
MAX_STORED_CONTEXT: Final = 64 * 1024
MAX_STORED_EVENT_DATA: Final = 256 * 1024
MAX_DEDUP_KEY_LENGTH: Final = 200


class OnboardingStatus(StrEnum):
    """Where a session stands: being answered, finished, or left idle so long that it
    was marked abandoned (its user resumes it while its answers are kept)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class OnboardingEventKind(StrEnum):
    """What happened to a session, as its event log records it."""

    STARTED = "started"
    PHASE_ENTERED = "phase_entered"
    PHASE_COMPLETED = "phase_completed"  # advanced past, or completed at
    ANSWERS_SAVED = "answers_saved"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    RESUMED = "resumed"
    UPGRADED = "upgraded"  # to a newer version of its flow
    REPAIRED = "repaired"  # the stored session did not validate: the original is kept
    IMPORTED = "imported"  # a device's copy merged into it
    QUARANTINED = "quarantined"  # a device record that could not be imported
    PURGED = "purged"  # an abandoned session's answers deleted after the retention


class Unreadable(str):
    """A stored JSON value that is not JSON at all (SQLite stores JSON as text, which
    can be damaged), as the text it is: the service repairs the session holding it."""


class TolerantJSON(TypeDecorator[Any]):
    """JSON, JSONB on PostgreSQL, that loads whatever is stored: on SQLite, text that
    does not parse loads as `Unreadable` instead of failing the whole read."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            if not isinstance(value, str | bytes):
                return value  # NULL, or a number SQLite's numeric affinity kept as one
            try:
                return json.loads(value)
            except ValueError:
                raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                return Unreadable(raw)

        return process


class OnboardingSession(IdMixin, UserOwned, TimestampsMixin, Base):
    """One user's way through an onboarding flow: the flow version it follows, the
    phase it is at, its answers per phase, the goals and context gathered, and its
    onboarding conversation. `version` grows with every change, for If-Match."""

    user_id_indexed = False  # led by user_id: the indexes below

    __tablename__ = "onboarding_sessions"
    __table_args__ = (
        CheckConstraint(one_of("status", OnboardingStatus), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("flow_version >= 1", name="flow_version_positive"),
        CheckConstraint(f"length(flow_key) BETWEEN 1 AND {MAX_KEY_LENGTH}", name="flow_key_length"),
        CheckConstraint(f"length(current_phase) <= {MAX_KEY_LENGTH}", name="current_phase_length"),
        CheckConstraint(
            f"length(client_session_id) BETWEEN 1 AND {MAX_CLIENT_ID_LENGTH}",
            name="client_session_id_length",
        ),
        CheckConstraint(
            f"length(CAST(answers AS TEXT)) <= {MAX_STORED_ANSWERS}", name="answers_size"
        ),
        CheckConstraint(f"length(CAST(goals AS TEXT)) <= {MAX_STORED_GOALS}", name="goals_size"),
        CheckConstraint(
            f"length(CAST(context AS TEXT)) <= {MAX_STORED_CONTEXT}", name="context_size"
        ),
        CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL)", name="completed_at_iff_completed"
        ),
        CheckConstraint(
            "(status = 'abandoned') = (abandoned_at IS NOT NULL)", name="abandoned_at_iff_abandoned"
        ),
        CheckConstraint(
            "answers_purged_at IS NULL OR status = 'abandoned'", name="purged_only_abandoned"
        ),
        # A device's session is imported once per user.
        Index(
            "uq_onboarding_sessions_user_id_client_session_id",
            "user_id",
            "client_session_id",
            unique=True,
        ),
        # The user's sessions, latest activity first.
        Index(
            "ix_onboarding_sessions_user_id_last_activity_at", "user_id", "last_activity_at", "id"
        ),
        # At most one active session per user.
        Index(
            "ix_onboarding_sessions_one_active",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # The clean-up job's two reads.
        Index(
            "ix_onboarding_sessions_idle",
            "last_activity_at",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "ix_onboarding_sessions_unpurged",
            "abandoned_at",
            sqlite_where=text("status = 'abandoned' AND answers_purged_at IS NULL"),
            postgresql_where=text("status = 'abandoned' AND answers_purged_at IS NULL"),
        ),
        {
            "comment": (
                "Story 003's OnboardingSession, kept on the server: one user's way through "
                "a versioned onboarding flow (docs/onboarding.md): the phase it is at, its "
                "answers per phase, the goals and context gathered, and its onboarding "
                "conversation. version grows with every change (the ETag writes name in "
                "If-Match). At most one active session per user "
                "(ix_onboarding_sessions_one_active); a device's session is imported once "
                "per user; the clean-up job abandons idle sessions and later purges their "
                "answers."
            ),
            "info": {"stories": ("003",)},
        },
    )

    flow_key: Mapped[str] = mapped_column(
        comment="The flow followed, 1..63 characters: running-coach of running-coach@2."
    )
    flow_version: Mapped[int] = mapped_column(comment="The version of the flow followed, from 1.")
    current_phase: Mapped[str] = mapped_column(
        comment="The phase the session is at, at most 63 characters."
    )
    progress: Mapped[int] = mapped_column(
        server_default=text("0"),
        comment=(
            "0..100 (CHECK), derived: the phases done of those that apply; 100 once completed."
        ),
    )
    status: Mapped[str] = mapped_column(comment="active, completed or abandoned (CHECK).")
    # {phase: {field: value}}; `goals` a list of text; `context` an object.
    answers: Mapped[Any] = mapped_column(
        TolerantJSON(),
        server_default=text("'{}'"),
        comment=(
            "The answers, as {phase: {field: answer}}; at most 256 KiB as text (CHECK), "
            "and the service keeps it within 64 KiB, 16 KiB per phase."
        ),
    )
    goals: Mapped[Any] = mapped_column(
        TolerantJSON(),
        server_default=text("'[]'"),
        comment=("The goals the answers name, and a device's; at most 16 KiB as text (CHECK)."),
    )
    context: Mapped[Any] = mapped_column(
        TolerantJSON(),
        server_default=text("'{}'"),
        comment=(
            "The conversation's context (a device's coachingStyle...); at most 64 KiB "
            "as text (CHECK)."
        ),
    )
    # SET NULL: the user may delete the conversation; the session gets a new one.
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"),
        index=True,
        comment=(
            "The onboarding conversation (kind onboarding); SET NULL: a new one is "
            "started if its user deletes it."
        ),
    )
    client_session_id: Mapped[str | None] = mapped_column(
        comment=("The device session it was imported from, 1..64 characters; unique per user.")
    )
    version: Mapped[int] = mapped_column(
        server_default=text("1"),
        comment="Grows with every change, from 1: the ETag writes name in If-Match.",
    )
    last_activity_at: Mapped[datetime] = mapped_column(
        comment="The user's last change: a session idle too long is abandoned."
    )
    completed_at: Mapped[datetime | None] = mapped_column(
        comment="When it was completed; set exactly when status is completed (CHECK)."
    )
    abandoned_at: Mapped[datetime | None] = mapped_column(
        comment="When it was abandoned; set exactly when status is abandoned (CHECK)."
    )
    answers_purged_at: Mapped[datetime | None] = mapped_column(
        comment=(
            "When an abandoned session's answers were purged; only on abandoned sessions (CHECK)."
        )
    )


class OnboardingEvent(IdMixin, UserOwned, Base):
    """One thing that happened to a user's onboarding: the append-only log the staff
    funnel counts, which keeps the original of whatever was repaired, upgraded or
    quarantined. `session_id` is null only for a quarantined device record that named
    no session."""

    user_id_indexed = False  # led by user_id: ix_onboarding_events_user_id_created_at

    __tablename__ = "onboarding_events"
    __table_args__ = (
        CheckConstraint(one_of("kind", OnboardingEventKind), name="kind"),
        CheckConstraint(f"length(flow_key) <= {MAX_KEY_LENGTH}", name="flow_key_length"),
        CheckConstraint("flow_version >= 1", name="flow_version_positive"),
        CheckConstraint("session_version >= 1", name="session_version_positive"),
        CheckConstraint(f"length(phase) <= {MAX_KEY_LENGTH}", name="phase_length"),
        CheckConstraint(
            f"length(dedup_key) BETWEEN 1 AND {MAX_DEDUP_KEY_LENGTH}", name="dedup_key_length"
        ),
        CheckConstraint(f"length(CAST(data AS TEXT)) <= {MAX_STORED_EVENT_DATA}", name="data_size"),
        # A record imported or quarantined once is not logged again.
        Index("uq_onboarding_events_user_id_dedup_key", "user_id", "dedup_key", unique=True),
        Index("ix_onboarding_events_user_id_created_at", "user_id", "created_at", "id"),
        Index("ix_onboarding_events_session_id", "session_id", "session_version"),
        # The funnel: per flow version, kind and phase.
        Index("ix_onboarding_events_funnel", "flow_key", "flow_version", "kind", "phase"),
        {
            "comment": (
                "Each onboarding session's append-only log: what the staff funnel counts, "
                "keeping the original of whatever was repaired, upgraded or quarantined. "
                "UNIQUE (user_id, dedup_key): a device record quarantined once is not "
                "logged again. On PostgreSQL a user's role may read and add to their own "
                "log only (SELECT, INSERT); staff may also change a row (the clean-up "
                "empties the copies of purged answers); no service role deletes one."
            ),
            "info": {"stories": ("003",)},
        },
    )

    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("onboarding_sessions.id", ondelete="CASCADE"),
        comment=(
            "The session it happened to; null only for a quarantined device record that named none."
        ),
    )
    # The session's version after what the event records: a session's events in order.
    session_version: Mapped[int | None] = mapped_column(
        comment=("The session's version after what the event records: a session's events in order.")
    )
    kind: Mapped[str] = mapped_column(
        comment=(
            "started, phase_entered, phase_completed, answers_saved, completed, "
            "abandoned, resumed, upgraded, repaired, imported, quarantined or purged "
            "(CHECK)."
        )
    )
    flow_key: Mapped[str | None] = mapped_column(
        comment="The session's flow, at most 63 characters."
    )
    flow_version: Mapped[int | None] = mapped_column(
        comment="The version of the session's flow, from 1."
    )
    phase: Mapped[str | None] = mapped_column(
        comment="The phase it concerns, at most 63 characters."
    )
    data: Mapped[dict[str, Any]] = mapped_column(
        server_default=text("'{}'"),
        comment=(
            "What the event records (the original of what was repaired, upgraded or "
            "quarantined...); at most 256 KiB as text (CHECK)."
        ),
    )
    dedup_key: Mapped[str | None] = mapped_column(
        comment=(
            "Set for a device record imported or quarantined, 1..200 characters: unique "
            "per user, so it is logged once."
        )
    )
    created_at: Mapped[datetime] = mapped_column(comment="When it happened.")
