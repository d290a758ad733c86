"""reviews: cards scheduled for spaced review with FSRS, and their review history

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

`review_cards` holds what each learner is to recall (a question they got wrong in an
assessment, or a card of their own) with its FSRS schedule: state, step, stability,
difficulty, when it is due and when it was last reviewed. A source adds its card once
per learner (UNIQUE (user_id, source_kind, source_key)). `review_logs` is each card's
append-only history: a review per row, with the rating, the client's key for it
(UNIQUE (user_id, client_review_id): a retry finds the review made first) and the
schedule after it. On PostgreSQL a caller's role (convobase_app) reaches their own
rows only; staff's role (convobase_staff) has a policy of USING (true) on both tables,
so a staff transaction can reach every learner's cards and history at the database
level. The service never passes staff=True on these tables, so through the routes
staff act on their own cards only. Neither role may change or delete a line of the
history, which goes only with its card or user.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security, triggers
from convobase.db.migrations.security import APP_ROLE, STAFF_ROLE

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATES = "state IN ('learning', 'review', 'relearning')"
ACTIVE_ON_POSTGRESQL = "NOT suspended"
ACTIVE_ON_SQLITE = "suspended = 0"


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(expression: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=op.f(f"ck_{table}_{name}"))


def _schedule_checks(table: str) -> list[sa.CheckConstraint]:
    """The CHECKs of an FSRS schedule, the same on a card and on a review of it."""
    return [
        _check(STATES, table, "state"),
        _check("step BETWEEN 0 AND 100", table, "step_range"),
        _check("(state = 'review') = (step IS NULL)", table, "step_iff_learning"),
        _check("stability > 0 AND stability < 1000000000", table, "stability"),
        _check("difficulty BETWEEN 1 AND 10", table, "difficulty_range"),
    ]


def upgrade() -> None:
    table = "review_cards"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("source_kind", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("context", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("stability", sa.Double(), nullable=True),
        sa.Column("difficulty", sa.Double(), nullable=True),
        _time("due_at", nullable=False),
        _time("last_reviewed_at"),
        sa.Column("suspended", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check("length(source_kind) BETWEEN 1 AND 40", table, "source_kind_length"),
        _check("length(source_key) BETWEEN 1 AND 200", table, "source_key_length"),
        _check("length(prompt) BETWEEN 1 AND 4000", table, "prompt_length"),
        _check("length(answer) BETWEEN 1 AND 4000", table, "answer_length"),
        _check("length(CAST(context AS TEXT)) <= 65536", table, "context_size"),
        *_schedule_checks(table),
        _check("(last_reviewed_at IS NULL) = (stability IS NULL)", table, "stability_iff_reviewed"),
        _check(
            "(last_reviewed_at IS NULL) = (difficulty IS NULL)", table, "difficulty_iff_reviewed"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "user_id",
            "source_kind",
            "source_key",
            name=op.f(f"uq_{table}_user_id_source_kind_source_key"),
        ),
    )
    op.create_index(
        "ix_review_cards_due",
        table,
        ["user_id", "due_at", "id"],
        postgresql_where=sa.text(ACTIVE_ON_POSTGRESQL),
        sqlite_where=sa.text(ACTIVE_ON_SQLITE),
    )
    op.create_index("ix_review_cards_user_id_created_at", table, ["user_id", "created_at", "id"])
    triggers.touch_updated_at(table)

    table = "review_logs"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("client_review_id", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        _time("reviewed_at", nullable=False),
        sa.Column("review_duration_ms", sa.Integer(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("stability", sa.Double(), nullable=False),
        sa.Column("difficulty", sa.Double(), nullable=False),
        _time("due_at", nullable=False),
        _check("rating BETWEEN 1 AND 4", table, "rating_range"),
        _check("length(client_review_id) BETWEEN 1 AND 128", table, "client_review_id_length"),
        _check("review_duration_ms BETWEEN 0 AND 86400000", table, "review_duration_range"),
        *_schedule_checks(table),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["review_cards.id"],
            name=op.f(f"fk_{table}_card_id_review_cards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "user_id", "client_review_id", name=op.f(f"uq_{table}_user_id_client_review_id")
        ),
    )
    op.create_index("ix_review_logs_user_id_reviewed_at", table, ["user_id", "reviewed_at", "id"])
    op.create_index("ix_review_logs_card_id_reviewed_at", table, ["card_id", "reviewed_at", "id"])

    # Staff's role needs the grants too: a staff caller's transactions act as it, and
    # staff have cards of their own. No route passes staff=True: they see only theirs.
    security.protect_user_table("review_cards", staff_access=True)
    security.protect_user_table("review_logs", staff_access=True)
    _keep_history_append_only()


def _keep_history_append_only() -> None:
    """Callers read and add to the history; no service role changes or deletes a line
    of it (a line goes with its card or its user, which the database's foreign keys
    cascade to as the tables' owner)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE, DELETE ON review_logs FROM {APP_ROLE}, {STAFF_ROLE}")


def downgrade() -> None:
    security.unprotect_user_table("review_logs", staff_access=True)
    security.unprotect_user_table("review_cards", staff_access=True)
    # Their indexes and triggers go with them.
    op.drop_table("review_logs")
    op.drop_table("review_cards")
