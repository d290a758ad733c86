"""crisis events: what screening found in users' messages, and staff's actions on it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

`crisis_events` has story 004's columns and CHECKs, plus the conversation, the
category, the detector's version, when the user acknowledged it and staff were
notified, and who resolved it how. `message_id` is null only for a guest's message
refused at the cap (never stored), whose content `refused_content` keeps. Staff's
actions (read, note, resolve, reopen) go to `crisis_event_actions`, an audit trail
staff may add to and read, but neither change nor delete.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OPEN = "resolution_timestamp IS NULL"


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "crisis_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("refused_content", sa.Text(), nullable=True),
        sa.Column("trigger_type", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("severity_level", sa.Text(), nullable=False),
        sa.Column("keywords_detected", TEXT_LIST, nullable=False),
        sa.Column("resources_shown", DOCUMENT, nullable=False),
        sa.Column("detector_version", sa.Text(), nullable=False),
        sa.Column(
            "user_acknowledged", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        _time("acknowledged_at"),
        sa.Column(
            "followup_required", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        _time("staff_notified_at"),
        _time("resolution_timestamp"),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution_outcome", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        sa.CheckConstraint(
            "severity_level IN ('low', 'moderate', 'high', 'critical')",
            name=op.f("ck_crisis_events_severity_level"),
        ),
        sa.CheckConstraint(
            "trigger_type IN ('keyword', 'classifier')", name=op.f("ck_crisis_events_trigger_type")
        ),
        sa.CheckConstraint(
            "category IN ('suicide', 'self_harm', 'abuse', 'eating_disorder', 'substance',"
            " 'harm_to_others', 'third_party')",
            name=op.f("ck_crisis_events_category"),
        ),
        sa.CheckConstraint(
            "resolution_outcome IS NULL OR resolution_outcome IN ('supported', 'referred',"
            " 'emergency_services', 'no_contact', 'false_positive')",
            name=op.f("ck_crisis_events_resolution_outcome"),
        ),
        sa.CheckConstraint(
            "(resolution_timestamp IS NULL) = (resolution_outcome IS NULL)",
            name=op.f("ck_crisis_events_resolution"),
        ),
        sa.CheckConstraint(
            "(message_id IS NULL) <> (refused_content IS NULL)",
            name=op.f("ck_crisis_events_message_or_refused"),
        ),
        sa.CheckConstraint(
            "length(detector_version) <= 200",
            name=op.f("ck_crisis_events_detector_version_length"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_crisis_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_crisis_events_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_crisis_events_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_events")),
        sa.UniqueConstraint("message_id", name=op.f("uq_crisis_events_message_id")),
    )
    op.create_index(
        "ix_crisis_events_conversation_id", "crisis_events", ["conversation_id"], unique=False
    )
    op.create_index(
        "ix_crisis_events_user_id_severity_level", "crisis_events", ["user_id", "severity_level"]
    )
    op.create_index(
        "ix_crisis_events_user_id_created_at", "crisis_events", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "ix_crisis_events_open",
        "crisis_events",
        ["created_at", "id"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_table(
        "crisis_event_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        sa.CheckConstraint(
            "action IN ('viewed', 'note', 'resolved', 'reopened')",
            name=op.f("ck_crisis_event_actions_action"),
        ),
        sa.CheckConstraint(
            "length(note) <= 4000", name=op.f("ck_crisis_event_actions_note_length")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["crisis_events.id"],
            name=op.f("fk_crisis_event_actions_event_id_crisis_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_event_actions")),
    )
    op.create_index(
        "ix_crisis_event_actions_event_id_created_at",
        "crisis_event_actions",
        ["event_id", "created_at", "id"],
    )
    security.protect_user_table("crisis_events", staff_access=True)
    _protect_audit_trail()


def _protect_audit_trail() -> None:
    """Staff add to and read the audit trail; nobody else reaches it, and nobody through
    the service changes or deletes a line of it."""
    security.force_row_level_security("crisis_event_actions")
    security.create_staff_policy("crisis_event_actions", commands="SELECT, INSERT")


def downgrade() -> None:
    op.drop_table("crisis_event_actions")
    op.drop_table("crisis_events")
