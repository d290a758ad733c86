"""roleplay practice: each session's transcript and progress, turn evaluations, word mistakes

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23

What convobase keeps beside story 000's columns to run the practice loop:

- `tutor_sessions` gains its transcript conversation (`conversation_id`, SET NULL: the
  learner may delete it), the version of the dialog or text it follows
  (`content_version`), the seq of the line expected next (`expected_seq`, null once
  completed), how many turns were taken (`turns`) and the summary score (`score`,
  0..100), with CHECKs that a session practises a dialog (with a role) or a text, not
  both.
- `turn_evaluations`: one row per turn, what was said and how it was evaluated
  (score, pass or retry, the words missing, extra and misspelled, the target words
  used), unique per session and turn number, and per session and client turn id (a
  retried turn answers the first).
- `word_mistakes`: the words each learner missed or misspelled, once per language and
  word, with counts.

Both new tables are user-owned. Staff's role has the same grants and a policy that
reaches every row, as for review cards: a staff caller's transactions act as it, and
staff practise too. No route asks for other learners' rows (the service scopes staff
to their own); a dialog's purge removes its sessions' evaluations by the cascade.
Downgrading drops both tables and the session columns; the sessions stay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SESSION_CHECKS = {
    "selected_role_length": "selected_role IS NULL OR length(selected_role) BETWEEN 1 AND 60",
    "role_iff_dialog": "(dialog_id IS NULL) = (selected_role IS NULL)",
    "dialog_or_text": "dialog_id IS NULL OR text_id IS NULL",
    "content_version": "content_version IS NULL OR content_version >= 1",
    "expected_seq_positive": "expected_seq IS NULL OR expected_seq >= 1",
    "completed_expects_nothing": "completed_at IS NULL OR expected_seq IS NULL",
    "turns_non_negative": "turns >= 0",
    "score_range": "score IS NULL OR score BETWEEN 0 AND 100",
}
USER_TABLES = ("turn_evaluations", "word_mistakes")


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


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    table = "tutor_sessions"
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("conversation_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("content_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expected_seq", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("turns", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("score", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tutor_sessions_conversation_id_conversations"),
            "conversations",
            ["conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        for name, expression in SESSION_CHECKS.items():
            batch.create_check_constraint(op.f(f"ck_{table}_{name}"), expression)
    op.create_index("ix_tutor_sessions_conversation_id", table, ["conversation_id"])

    table = "turn_evaluations"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("line_seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("client_turn_id", sa.Text(), nullable=True),
        sa.Column("said", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("moved_on", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("details", DOCUMENT, nullable=False),
        sa.Column("evaluator", sa.Text(), nullable=False),
        _time("created_at", nullable=False),
        _check("turn >= 1", table, "turn_positive"),
        _check("line_seq >= 1", table, "line_seq_positive"),
        _check("attempt >= 1", table, "attempt_positive"),
        _check("score BETWEEN 0 AND 100", table, "score_range"),
        _check("verdict IN ('pass', 'retry')", table, "verdict"),
        _check("NOT moved_on OR verdict = 'retry'", table, "moved_on_after_retry"),
        _length(table, "said", 2000),
        _length(table, "expected", 1000),
        _length(table, "client_turn_id", 100),
        _length(table, "evaluator", 200),
        _check("length(CAST(details AS TEXT)) <= 65536", table, "details_size"),
        _owner(table),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["tutor_sessions.id"],
            name=op.f(f"fk_{table}_session_id_tutor_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f(f"fk_{table}_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("session_id", "turn", name=op.f(f"uq_{table}_session_id_turn")),
        sa.UniqueConstraint(
            "session_id", "client_turn_id", name=op.f(f"uq_{table}_session_id_client_turn_id")
        ),
    )
    op.create_index("ix_turn_evaluations_user_id", table, ["user_id"])
    op.create_index("ix_turn_evaluations_message_id", table, ["message_id"])
    op.create_index("ix_turn_evaluations_session_id_line_seq", table, ["session_id", "line_seq"])

    table = "word_mistakes"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("display", sa.Text(), nullable=False),
        sa.Column("missed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("misspelled", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_said", sa.Text(), nullable=True),
        sa.Column("example", sa.Text(), nullable=True),
        sa.Column("example_translation", sa.Text(), nullable=True),
        _time("first_seen_at", nullable=False),
        _time("last_seen_at", nullable=False),
        _length(table, "language", 35, minimum=2),
        _length(table, "word", 100),
        _length(table, "display", 100),
        _length(table, "last_said", 100),
        _length(table, "example", 1000),
        _length(table, "example_translation", 1000),
        _check("missed >= 0", table, "missed_non_negative"),
        _check("misspelled >= 0", table, "misspelled_non_negative"),
        _check("missed + misspelled >= 1", table, "counted"),
        _owner(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(
        "uq_word_mistakes_user_id_language_word",
        table,
        ["user_id", "language", "word"],
        unique=True,
    )
    op.create_index(
        "ix_word_mistakes_user_id_last_seen_at", table, ["user_id", "last_seen_at", "id"]
    )
    for user_table in USER_TABLES:
        security.protect_user_table(user_table, staff_access=True)


def downgrade() -> None:
    # Their policies, grants and indexes go with them.
    for user_table in reversed(USER_TABLES):
        op.drop_table(user_table)
    table = "tutor_sessions"
    op.drop_index("ix_tutor_sessions_conversation_id", table_name=table)
    with op.batch_alter_table(table) as batch:
        for name in reversed(SESSION_CHECKS):
            batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch.drop_constraint(
            op.f("fk_tutor_sessions_conversation_id_conversations"), type_="foreignkey"
        )
        for column in ("score", "turns", "expected_seq", "content_version", "conversation_id"):
            batch.drop_column(column)
