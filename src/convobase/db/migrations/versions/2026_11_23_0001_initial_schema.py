"""initial schema: users, personas, conversations, messages

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision: a migration must
# not change meaning when application code moves on.
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TEXT_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
UUID = sa.Uuid()


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def timestamps() -> list[sa.Column[datetime]]:
    return [timestamp("created_at"), timestamp("updated_at")]


TOUCHED_TABLES = ("users", "personas", "conversations")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID, nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("goals", TEXT_LIST, nullable=False),
        sa.Column("stage", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("profile", JSONB, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("preferences", JSONB, server_default=sa.text("'{}'"), nullable=False),
        timestamp("last_active"),
        timestamp("graduation_date", nullable=True),
        *timestamps(),
        sa.CheckConstraint("stage BETWEEN 1 AND 3", name=op.f("ck_users_stage_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "personas",
        sa.Column("id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("personality_config", JSONB, nullable=False),
        sa.Column("avatar_url", sa.Text()),
        sa.Column("specialization", sa.Text(), server_default=sa.text("'general'"), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("backstory", sa.Text()),
        sa.Column("skill_level", sa.Text(), server_default=sa.text("'beginner'"), nullable=False),
        sa.Column(
            "conversation_style", sa.Text(), server_default=sa.text("'friendly'"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "skill_level IN ('beginner', 'intermediate', 'advanced', 'expert')",
            name=op.f("ck_personas_skill_level"),
        ),
        sa.CheckConstraint(
            "conversation_style IN "
            "('friendly', 'supportive', 'analytical', 'socratic', 'competitive')",
            name=op.f("ck_personas_conversation_style"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personas")),
        sa.UniqueConstraint("name", name=op.f("uq_personas_name")),
    )
    op.create_index(
        "ix_personas_specialization_skill_level", "personas", ["specialization", "skill_level"]
    )
    op.create_table(
        "conversations",
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID),
        sa.Column("persona_id", UUID),
        sa.Column("session_id", sa.Text()),
        sa.Column(
            "is_guest_session", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("guest_message_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("kind", sa.Text(), server_default=sa.text("'chat'"), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("context_data", JSONB, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        timestamp("started_at"),
        timestamp("last_message_at"),
        timestamp("ended_at", nullable=True),
        *timestamps(),
        sa.CheckConstraint(
            "guest_message_count >= 0",
            name=op.f("ck_conversations_guest_message_count_non_negative"),
        ),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_conversations_last_seq_non_negative")),
        sa.CheckConstraint(
            "kind IN ('chat', 'roleplay', 'onboarding')", name=op.f("ck_conversations_kind")
        ),
        sa.CheckConstraint(
            "(is_guest_session AND session_id IS NOT NULL)"
            " OR (NOT is_guest_session AND user_id IS NOT NULL)",
            name=op.f("ck_conversations_has_owner"),
        ),
        sa.CheckConstraint(
            "is_active = (ended_at IS NULL)", name=op.f("ck_conversations_ended_iff_inactive")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_conversations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"],
            ["personas.id"],
            name=op.f("fk_conversations_persona_id_personas"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "session_id",
            "is_guest_session",
            name=op.f("uq_conversations_session_id_is_guest_session"),
        ),
    )
    op.create_index(op.f("ix_conversations_persona_id"), "conversations", ["persona_id"])
    op.create_index(
        "ix_conversations_user_id_last_message_at",
        "conversations",
        ["user_id", "last_message_at", "id"],
    )
    op.create_table(
        "messages",
        sa.Column("id", UUID, nullable=False),
        sa.Column("conversation_id", UUID, nullable=False),
        sa.Column("user_id", UUID),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", JSONB, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("client_message_id", sa.Text()),
        sa.Column(
            "analysis_included", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        timestamp("created_at"),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_messages_seq_positive")),
        sa.CheckConstraint(
            "role IN ('user', 'assistant', 'system')", name=op.f("ck_messages_role")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_messages_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_messages_conversation_id_seq")),
        sa.UniqueConstraint(
            "conversation_id",
            "client_message_id",
            name=op.f("uq_messages_conversation_id_client_message_id"),
        ),
    )
    op.create_index("ix_messages_user_id_created_at", "messages", ["user_id", "created_at"])
    _create_touch_triggers()


def downgrade() -> None:
    _drop_touch_triggers()
    op.drop_table("messages")
    op.drop_table("conversations")
    op.drop_table("personas")
    op.drop_table("users")


# `updated_at` stays current for every UPDATE, including hand-written SQL that does not
# set it; an UPDATE that sets it itself (as the ORM does) is left alone.


def _create_touch_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION convobase_touch_updated_at() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                    NEW.updated_at := clock_timestamp();
                END IF;
                RETURN NEW;
            END
            $$
            """
        )
        for table in TOUCHED_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_touch_updated_at BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION convobase_touch_updated_at()"
            )
        return
    for table in TOUCHED_TABLES:
        # The stored format is SQLAlchemy's for SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
        op.execute(
            f"""
            CREATE TRIGGER {table}_touch_updated_at AFTER UPDATE ON {table}
            FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
            BEGIN
                UPDATE {table} SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
                WHERE id = NEW.id;
            END
            """
        )


def _drop_touch_triggers() -> None:
    for table in TOUCHED_TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_touch_updated_at ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_touch_updated_at")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION convobase_touch_updated_at()")
