"""analysis: per-user message tallies, analysis results, and the unanalysed-messages index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

`message_tallies` counts each signed-in user's `user` messages; the statement that
stores a message counts it, so every 25th queues one analysis job. The tallies start
from the messages already stored, and the batches they already fill are queued here.
`analysis_results` has the story's columns and CHECKs, plus the batch each result was
made for, unique per type, so that a repeated run writes nothing twice.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_SIZE = 25
ANALYSIS_TASK = "analysis"
UNANALYSED = "role = 'user' AND NOT analysis_included"
TEXT_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# The shapes this revision reads and writes, frozen as they are here.
messages = sa.table(
    "messages",
    sa.column("user_id", sa.Uuid()),
    sa.column("role", sa.Text()),
    sa.column("analysis_included", sa.Boolean()),
)
users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("is_anonymous", sa.Boolean()))
tallies = sa.table(
    "message_tallies", sa.column("user_id", sa.Uuid()), sa.column("user_messages", sa.Integer())
)
jobs = sa.table(
    "job_queue",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.Text()),
    sa.column("data", DOCUMENT),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("start_after", sa.DateTime(timezone=True)),
    sa.column("dedup_key", sa.Text()),
    sa.column("for_user_id", sa.Uuid()),
)

# One analysis job per batch each new tally fills, as `_count_stored_messages` queues
# them one by one.
QUEUE_FILLED_BATCHES_OFFLINE = f"""
    INSERT INTO job_queue (id, name, data, created_at, start_after, dedup_key, for_user_id)
    SELECT gen_random_uuid(), '{ANALYSIS_TASK}',
           jsonb_build_object('user_id', CAST(user_id AS text), 'batch', batch), now(), now(),
           'analysis:' || CAST(user_id AS text) || ':' || CAST(batch AS text), user_id
    FROM message_tallies, generate_series(1, user_messages / {BATCH_SIZE}) AS batch
    """


def upgrade() -> None:
    op.create_table(
        "message_tallies",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("user_messages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "user_messages >= 0", name=op.f("ck_message_tallies_user_messages_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_message_tallies_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_message_tallies")),
    )
    op.create_table(
        "analysis_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("chat_score", sa.Numeric(3, 1), nullable=False),
        sa.Column("analysis_type", sa.Text(), nullable=False),
        sa.Column("message_range", DOCUMENT, nullable=False),
        sa.Column("insights", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("improvement_areas", TEXT_LIST, nullable=False),
        sa.Column("strengths_identified", TEXT_LIST, nullable=False),
        sa.Column(
            "triggered_milestone", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("analyzer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "analysis_type IN ('chat_scoring', 'milestone_check', 'graduation_assessment',"
            " 'crisis_review')",
            name=op.f("ck_analysis_results_analysis_type"),
        ),
        sa.CheckConstraint("batch >= 1", name=op.f("ck_analysis_results_batch_positive")),
        sa.CheckConstraint(
            "chat_score >= 0 AND chat_score <= 14",
            name=op.f("ck_analysis_results_chat_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_analysis_results_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_results")),
        sa.UniqueConstraint(
            "user_id",
            "batch",
            "analysis_type",
            name=op.f("uq_analysis_results_user_id_batch_analysis_type"),
        ),
    )
    op.create_index(
        "ix_analysis_results_user_id_created_at",
        "analysis_results",
        ["user_id", "created_at", "id"],
    )
    op.create_index(
        "ix_messages_unanalysed",
        "messages",
        ["user_id", "created_at", "id"],
        sqlite_where=sa.text(UNANALYSED),
        postgresql_where=sa.text(UNANALYSED),
    )
    security.protect_user_table("message_tallies", staff_access=True)
    security.protect_user_table("analysis_results", staff_access=True)
    _count_stored_messages()


def _count_stored_messages() -> None:
    """Start each signed-in user's tally from their unanalysed messages, and queue the
    analyses of the batches those fill already."""
    unanalysed = (
        sa.select(messages.c.user_id, sa.func.count().label("count"))
        .join(users, users.c.id == messages.c.user_id)
        .where(
            messages.c.role == "user",
            sa.not_(messages.c.analysis_included),
            sa.not_(users.c.is_anonymous),
        )
        .group_by(messages.c.user_id)
    )
    if context.is_offline_mode():
        # Writing SQL without a database to read (`alembic upgrade --sql`, PostgreSQL
        # only): the same rows from set-based statements.
        op.execute(sa.insert(tallies).from_select(["user_id", "user_messages"], unanalysed))
        op.execute(QUEUE_FILLED_BATCHES_OFFLINE)
        return
    connection = op.get_bind()
    now = datetime.now(UTC)
    for user_id, count in connection.execute(unanalysed).all():
        connection.execute(sa.insert(tallies).values(user_id=user_id, user_messages=count))
        for batch in range(1, count // BATCH_SIZE + 1):
            payload = {"user_id": str(user_id), "batch": batch}
            connection.execute(
                sa.insert(jobs).values(
                    id=uuid.uuid4(),
                    name=ANALYSIS_TASK,
                    data=payload,
                    created_at=now,
                    start_after=now,
                    dedup_key=f"analysis:{user_id}:{batch}",
                    for_user_id=user_id,
                )
            )


def downgrade() -> None:
    op.execute(sa.delete(jobs).where(jobs.c.name == ANALYSIS_TASK))
    op.drop_index("ix_messages_unanalysed", table_name="messages")
    op.drop_table("analysis_results")
    op.drop_table("message_tallies")
