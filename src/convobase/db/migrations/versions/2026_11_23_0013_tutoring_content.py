"""tutoring content: library texts, lesson dialogs, and tutor sessions as before story 000

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

The content learners practise: `library_texts` (reading practice) and
`lesson_dialogs` with their roles (`lesson_dialog_roles`) and ordered lines
(`lesson_dialog_lines`, each said by a role of its dialog). Nobody owns them: every
caller may read them (the service shows learners published dialogs and texts not
archived), only staff change them.

`tutor_sessions` is created as it stood before story 000 ("Database Schema
Extensions" of the Dialog Roleplay Tutor): id, user_id, text_id, level with its A1..C2
CHECK, created_at (DEFAULT now()), completed_at. Revision 0014 is the story itself.
The table is user-owned: each learner reaches their own sessions, staff every one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security, triggers

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
LEVELS = "level IN ('A1', 'A2', 'B1', 'B2', 'C1', 'C2')"
CATALOG_TABLES = ("library_texts", "lesson_dialogs", "lesson_dialog_roles", "lesson_dialog_lines")
TOUCHED_TABLES = ("library_texts", "lesson_dialogs")


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(expression: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=op.f(f"ck_{table}_{name}"))


def _length(table: str, column: str, maximum: int, *, minimum: int = 1) -> sa.CheckConstraint:
    return _check(
        f"{column} IS NULL OR length({column}) BETWEEN {minimum} AND {maximum}",
        table,
        f"{column}_length",
    )


def upgrade() -> None:
    table = "library_texts"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _time("archived_at"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check(LEVELS, table, "level"),
        _length(table, "key", 100),
        _length(table, "title", 200),
        _length(table, "language", 35, minimum=2),
        _length(table, "body", 20000),
        _check("version >= 1", table, "version_positive"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("key", name=op.f(f"uq_{table}_key")),
    )
    op.create_index(
        "ix_library_texts_available",
        table,
        ["language", "level", "title", "id"],
        sqlite_where=sa.text("archived_at IS NULL"),
        postgresql_where=sa.text("archived_at IS NULL"),
    )

    table = "lesson_dialogs"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check(LEVELS, table, "level"),
        _check("status IN ('draft', 'published', 'archived')", table, "status"),
        _length(table, "key", 100),
        _length(table, "title", 200),
        _length(table, "language", 35, minimum=2),
        _length(table, "description", 4000, minimum=0),
        _check("version >= 1", table, "version_positive"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("key", name=op.f(f"uq_{table}_key")),
    )
    op.create_index(
        "ix_lesson_dialogs_published",
        table,
        ["language", "level", "title", "id"],
        sqlite_where=sa.text("status = 'published'"),
        postgresql_where=sa.text("status = 'published'"),
    )

    table = "lesson_dialog_roles"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dialog_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("playable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _length(table, "name", 60),
        _length(table, "description", 4000, minimum=0),
        _check("position >= 1", table, "position_positive"),
        sa.ForeignKeyConstraint(
            ["dialog_id"],
            ["lesson_dialogs.id"],
            name=op.f(f"fk_{table}_dialog_id_lesson_dialogs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("dialog_id", "name", name=op.f(f"uq_{table}_dialog_id_name")),
        sa.UniqueConstraint("dialog_id", "position", name=op.f(f"uq_{table}_dialog_id_position")),
    )

    table = "lesson_dialog_lines"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dialog_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("translation", sa.Text(), nullable=False),
        sa.Column("variants", TEXT_LIST, nullable=False),
        sa.Column("target_words", TEXT_LIST, nullable=False),
        _check("seq >= 1", table, "seq_positive"),
        _length(table, "text", 1000),
        _length(table, "translation", 1000),
        sa.ForeignKeyConstraint(
            ["dialog_id"],
            ["lesson_dialogs.id"],
            name=op.f(f"fk_{table}_dialog_id_lesson_dialogs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dialog_id", "role"],
            ["lesson_dialog_roles.dialog_id", "lesson_dialog_roles.name"],
            name=op.f("fk_lesson_dialog_lines_role_lesson_dialog_roles"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("dialog_id", "seq", name=op.f(f"uq_{table}_dialog_id_seq")),
    )
    for touched in TOUCHED_TABLES:
        triggers.touch_updated_at(touched)
    for catalog in CATALOG_TABLES:
        security.protect_catalog_table(catalog)

    table = "tutor_sessions"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("text_id", sa.Uuid(), nullable=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _time("completed_at"),
        _check(LEVELS, table, "level"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["text_id"], ["library_texts.id"], name=op.f(f"fk_{table}_text_id_library_texts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index("ix_tutor_sessions_user_id_created_at", table, ["user_id", "created_at", "id"])
    op.create_index("ix_tutor_sessions_text_id", table, ["text_id"])
    security.protect_user_table(table, staff_access=True)


def downgrade() -> None:
    # Their policies, grants, indexes and triggers go with them.
    op.drop_table("tutor_sessions")
    for table in reversed(CATALOG_TABLES):
        op.drop_table(table)
