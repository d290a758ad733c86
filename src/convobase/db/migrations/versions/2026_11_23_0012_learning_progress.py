"""learning progress: each learner's progress through courses, and attempts at assessments

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

`user_progress` is story 001's row per learner and course (UNIQUE (user_id,
course_id)): the completion rate as NUMERIC(5,2), the next section and assessment, the
scores per assessment, study time and when the course was completed, all derived by
the service. `section_completions` records each section a learner completed, once.
`assessment_attempts` is one attempt at an assessment, pinned to the version it
started on (a foreign key to `assessment_versions`), with its server-side deadline
and, once closed, how and with what grade; `attempt_answers` holds the answer saved to
each question of an attempt, one row per question. The catalog rows they refer to are
withdrawn, never deleted, once a learner's rows refer to them (RESTRICT). Every table
is user-owned: callers reach their own rows, staff every row (the overdue job, and
staff's read of a learner's progress).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security, triggers

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
IN_PROGRESS = "status = 'in_progress'"
USER_TABLES = ("user_progress", "section_completions", "assessment_attempts", "attempt_answers")


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(expression: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=op.f(f"ck_{table}_{name}"))


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _refers(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    table = "user_progress"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("completion_rate", sa.Numeric(5, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("current_section_id", sa.Uuid(), nullable=True),
        sa.Column("next_assessment_id", sa.Uuid(), nullable=True),
        sa.Column("test_scores", DOCUMENT, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("study_time_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("study_seconds_carry", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _time("last_accessed", nullable=False),
        _time("last_heartbeat_at"),
        _time("completed_at"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _check("completion_rate BETWEEN 0 AND 100", table, "completion_rate_range"),
        _check("study_time_minutes BETWEEN 0 AND 10000000", table, "study_time_range"),
        _check("study_seconds_carry BETWEEN 0 AND 59", table, "study_seconds_carry_range"),
        _check("length(CAST(test_scores AS TEXT)) <= 262144", table, "test_scores_size"),
        _owner(table),
        _refers(table, "course_id", "courses", "RESTRICT"),
        _refers(table, "current_section_id", "course_sections", "SET NULL"),
        _refers(table, "next_assessment_id", "assessments", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("user_id", "course_id", name=op.f(f"uq_{table}_user_id_course_id")),
    )
    op.create_index(
        "ix_user_progress_user_id_last_accessed", table, ["user_id", "last_accessed", "id"]
    )
    op.create_index("ix_user_progress_course_id", table, ["course_id"])
    op.create_index("ix_user_progress_current_section_id", table, ["current_section_id"])
    op.create_index("ix_user_progress_next_assessment_id", table, ["next_assessment_id"])
    triggers.touch_updated_at(table)

    table = "section_completions"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("section_id", sa.Uuid(), nullable=False),
        _time("completed_at", nullable=False),
        _owner(table),
        _refers(table, "course_id", "courses", "RESTRICT"),
        _refers(table, "section_id", "course_sections", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("user_id", "section_id", name=op.f(f"uq_{table}_user_id_section_id")),
    )
    op.create_index("ix_section_completions_user_id_course_id", table, ["user_id", "course_id"])
    op.create_index("ix_section_completions_course_id", table, ["course_id"])
    op.create_index("ix_section_completions_section_id", table, ["section_id"])

    table = "assessment_attempts"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("assessment_version", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("client_attempt_id", sa.Text(), nullable=True),
        _time("started_at", nullable=False),
        _time("deadline_at"),
        _time("submitted_at"),
        _time("abandoned_at"),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column("score", sa.Numeric(5, 2), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("results", DOCUMENT, nullable=True),
        _check("status IN ('in_progress', 'submitted', 'abandoned')", table, "status"),
        _check("closed_by IN ('learner', 'deadline')", table, "closed_by"),
        _check("(status = 'in_progress') = (closed_by IS NULL)", table, "closed_by_iff_closed"),
        _check(
            "(status = 'submitted') = (submitted_at IS NOT NULL)",
            table,
            "submitted_at_iff_submitted",
        ),
        _check(
            "(status = 'abandoned') = (abandoned_at IS NOT NULL)",
            table,
            "abandoned_at_iff_abandoned",
        ),
        _check(
            "(status = 'submitted') = (score IS NOT NULL AND passed IS NOT NULL "
            "AND results IS NOT NULL)",
            table,
            "graded_iff_submitted",
        ),
        _check("attempt_number BETWEEN 1 AND 10000", table, "attempt_number_range"),
        _check("assessment_version >= 1", table, "assessment_version_positive"),
        _check("score BETWEEN 0 AND 100", table, "score_range"),
        _check("deadline_at > started_at", table, "deadline_after_start"),
        _check("length(client_attempt_id) BETWEEN 1 AND 64", table, "client_attempt_id_length"),
        _check("length(CAST(results AS TEXT)) <= 131072", table, "results_size"),
        _owner(table),
        _refers(table, "assessment_id", "assessments", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["assessment_id", "assessment_version"],
            ["assessment_versions.assessment_id", "assessment_versions.version"],
            name=op.f(f"fk_{table}_assessment_id_assessment_versions"),
            ondelete="RESTRICT",
        ),
        _refers(table, "course_id", "courses", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "user_id",
            "assessment_id",
            "attempt_number",
            name=op.f(f"uq_{table}_user_id_assessment_id_attempt_number"),
        ),
        sa.UniqueConstraint(
            "user_id", "client_attempt_id", name=op.f(f"uq_{table}_user_id_client_attempt_id")
        ),
    )
    op.create_index(
        "ix_assessment_attempts_user_id_started_at", table, ["user_id", "started_at", "id"]
    )
    op.create_index(
        "ix_assessment_attempts_overdue",
        table,
        ["deadline_at"],
        sqlite_where=sa.text(IN_PROGRESS),
        postgresql_where=sa.text(IN_PROGRESS),
    )
    op.create_index(
        "ix_assessment_attempts_assessment_id_assessment_version",
        table,
        ["assessment_id", "assessment_version"],
    )
    op.create_index("ix_assessment_attempts_course_id", table, ["course_id"])

    table = "attempt_answers"
    op.create_table(
        table,
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("answer", DOCUMENT, nullable=False),
        _time("saved_at", nullable=False),
        _check("length(question_id) BETWEEN 1 AND 64", table, "question_id_length"),
        _check("length(CAST(answer AS TEXT)) <= 16384", table, "answer_size"),
        _owner(table),
        _refers(table, "attempt_id", "assessment_attempts", "CASCADE"),
        sa.PrimaryKeyConstraint("attempt_id", "question_id", name=op.f(f"pk_{table}")),
    )
    op.create_index("ix_attempt_answers_user_id_attempt_id", table, ["user_id", "attempt_id"])

    for table in USER_TABLES:
        security.protect_user_table(table, staff_access=True)


def downgrade() -> None:
    for table in reversed(USER_TABLES):
        security.unprotect_user_table(table, staff_access=True)
    # Their indexes and triggers go with them.
    for table in reversed(USER_TABLES):
        op.drop_table(table)
