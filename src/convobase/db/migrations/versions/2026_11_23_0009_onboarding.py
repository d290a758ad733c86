"""onboarding: resumable sessions of versioned flows, and their event log

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

`onboarding_sessions` holds each user's way through an onboarding flow (story 003's
OnboardingSession, kept on the server): the flow version, the phase, the answers per
phase, goals and context, the onboarding conversation, the device session it was
imported from, and a version number for If-Match. A user has at most one active
session (a partial unique index). `onboarding_events` is its append-only log, which
the staff funnel counts and which keeps the original of whatever was repaired,
upgraded or quarantined: callers may read it and add to it; only staff (the clean-up
job, which empties the copies of purged answers) may change a row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security, triggers
from convobase.db.migrations.security import APP_ROLE

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ACTIVE = "status = 'active'"
UNPURGED = "status = 'abandoned' AND answers_purged_at IS NULL"
EVENT_KINDS = (
    "started",
    "phase_entered",
    "phase_completed",
    "answers_saved",
    "completed",
    "abandoned",
    "resumed",
    "upgraded",
    "repaired",
    "imported",
    "quarantined",
    "purged",
)


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(expression: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    table = "onboarding_sessions"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("flow_key", sa.Text(), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("current_phase", sa.Text(), nullable=False),
        sa.Column("progress", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("answers", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("goals", DOCUMENT, server_default=sa.text("'[]'"), nullable=False),
        sa.Column("context", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("client_session_id", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _time("last_activity_at", nullable=False),
        _time("completed_at"),
        _time("abandoned_at"),
        _time("answers_purged_at"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check("status IN ('active', 'completed', 'abandoned')", table, "status"),
        _check("progress BETWEEN 0 AND 100", table, "progress_range"),
        _check("version >= 1", table, "version_positive"),
        _check("flow_version >= 1", table, "flow_version_positive"),
        _check("length(flow_key) BETWEEN 1 AND 63", table, "flow_key_length"),
        _check("length(current_phase) <= 63", table, "current_phase_length"),
        _check("length(client_session_id) BETWEEN 1 AND 64", table, "client_session_id_length"),
        _check("length(CAST(answers AS TEXT)) <= 262144", table, "answers_size"),
        _check("length(CAST(goals AS TEXT)) <= 16384", table, "goals_size"),
        _check("length(CAST(context AS TEXT)) <= 65536", table, "context_size"),
        _check(
            "(status = 'completed') = (completed_at IS NOT NULL)",
            table,
            "completed_at_iff_completed",
        ),
        _check(
            "(status = 'abandoned') = (abandoned_at IS NOT NULL)",
            table,
            "abandoned_at_iff_abandoned",
        ),
        _check("answers_purged_at IS NULL OR status = 'abandoned'", table, "purged_only_abandoned"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f(f"fk_{table}_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(
        "uq_onboarding_sessions_user_id_client_session_id",
        table,
        ["user_id", "client_session_id"],
        unique=True,
    )
    op.create_index(
        "ix_onboarding_sessions_user_id_last_activity_at",
        table,
        ["user_id", "last_activity_at", "id"],
    )
    op.create_index(
        "ix_onboarding_sessions_one_active",
        table,
        ["user_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_index(
        "ix_onboarding_sessions_idle",
        table,
        ["last_activity_at"],
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_index(
        "ix_onboarding_sessions_unpurged",
        table,
        ["abandoned_at"],
        sqlite_where=sa.text(UNPURGED),
        postgresql_where=sa.text(UNPURGED),
    )
    op.create_index("ix_onboarding_sessions_conversation_id", table, ["conversation_id"])
    triggers.touch_updated_at(table)

    table = "onboarding_events"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("flow_key", sa.Text(), nullable=True),
        sa.Column("flow_version", sa.Integer(), nullable=True),
        sa.Column("phase", sa.Text(), nullable=True),
        sa.Column("data", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        _check(f"kind IN ({', '.join(repr(kind) for kind in EVENT_KINDS)})", table, "kind"),
        _check("length(flow_key) <= 63", table, "flow_key_length"),
        _check("flow_version >= 1", table, "flow_version_positive"),
        _check("session_version >= 1", table, "session_version_positive"),
        _check("length(phase) <= 63", table, "phase_length"),
        _check("length(dedup_key) BETWEEN 1 AND 200", table, "dedup_key_length"),
        _check("length(CAST(data AS TEXT)) <= 262144", table, "data_size"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["onboarding_sessions.id"],
            name=op.f(f"fk_{table}_session_id_onboarding_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(
        "uq_onboarding_events_user_id_dedup_key", table, ["user_id", "dedup_key"], unique=True
    )
    op.create_index(
        "ix_onboarding_events_user_id_created_at", table, ["user_id", "created_at", "id"]
    )
    op.create_index("ix_onboarding_events_session_id", table, ["session_id", "session_version"])
    op.create_index(
        "ix_onboarding_events_funnel", table, ["flow_key", "flow_version", "kind", "phase"]
    )

    security.protect_user_table("onboarding_sessions", staff_access=True)
    _protect_event_log()


def _protect_event_log() -> None:
    """A caller reads and adds to their own log; staff read, add to and change every
    user's (the clean-up empties copies of purged answers); no service role deletes a
    row (they go with their user or session)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    table = "onboarding_events"
    security.force_row_level_security(table)
    op.execute(f"GRANT SELECT, INSERT ON {table} TO {APP_ROLE}")
    security.create_owner_policy(table)
    security.create_staff_policy(table, commands="SELECT, INSERT, UPDATE")


def downgrade() -> None:
    # Their policies, indexes and triggers go with them.
    op.drop_table("onboarding_events")
    op.drop_table("onboarding_sessions")
