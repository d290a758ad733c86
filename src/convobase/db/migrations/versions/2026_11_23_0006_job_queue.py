"""job queue: jobs, the workers that run them, and the periods of periodic tasks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

`job_queue` has the story's columns (name, data, priority, retry_limit, retry_count,
created_at, start_after, completed_at) and what a durable queue needs besides: a
state, a dedup key unique among live jobs, a lease, attempts and the last error. Its
partial indexes serve the claim, the sweep of expired leases and the purge.

On PostgreSQL the queue belongs to a role of its own, `convobase_jobs`, under row
level security: workers act as it, and a caller's transaction switches to it only to
queue a job. No caller's role, and not staff's, can read the queue. A new job
NOTIFYs `convobase_jobs` when its transaction commits, which wakes idle workers.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOBS_ROLE = "convobase_jobs"
CHANNEL = "convobase_jobs"
TABLES = ("job_queue", "job_workers", "job_schedules")
LIVE = "state IN ('queued', 'active')"
FINISHED = "state IN ('completed', 'failed', 'cancelled')"


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _partial(where: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "job_queue",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("retry_limit", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _time("created_at"),
        _time("start_after"),
        _time("completed_at", nullable=True),
        sa.Column("state", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=True),
        sa.Column("for_user_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        _time("lease_expires_at", nullable=True),
        _time("started_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'active', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_job_queue_state"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_job_queue_attempts_range")),
        sa.CheckConstraint("length(dedup_key) <= 500", name=op.f("ck_job_queue_dedup_key_length")),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name=op.f("ck_job_queue_name_length")),
        sa.CheckConstraint(
            "retry_count BETWEEN 0 AND retry_limit", name=op.f("ck_job_queue_retry_count_range")
        ),
        sa.CheckConstraint(
            "retry_limit BETWEEN 0 AND 100", name=op.f("ck_job_queue_retry_limit_range")
        ),
        sa.ForeignKeyConstraint(
            ["for_user_id"],
            ["users.id"],
            name=op.f("fk_job_queue_for_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_queue")),
    )
    op.create_index(
        "uq_job_queue_dedup_key",
        "job_queue",
        ["dedup_key"],
        unique=True,
        **_partial(f"{LIVE} AND dedup_key IS NOT NULL"),
    )
    op.create_index(
        "ix_job_queue_claim",
        "job_queue",
        ["priority", "start_after"],
        **_partial("state = 'queued'"),
    )
    op.create_index(
        "ix_job_queue_lease", "job_queue", ["lease_expires_at"], **_partial("state = 'active'")
    )
    op.create_index("ix_job_queue_finished", "job_queue", ["completed_at"], **_partial(FINISHED))
    op.create_index("ix_job_queue_state_created_at", "job_queue", ["state", "created_at", "id"])
    op.create_index(op.f("ix_job_queue_for_user_id"), "job_queue", ["for_user_id"])
    op.create_table(
        "job_workers",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        _time("started_at"),
        _time("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_workers")),
    )
    op.create_table(
        "job_schedules",
        sa.Column("name", sa.Text(), nullable=False),
        _time("queued_for"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_schedules")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _protect()


def _protect() -> None:
    security.create_role(JOBS_ROLE)
    # The service switches to the queue's role to queue and to run jobs.
    op.execute(f"GRANT {JOBS_ROLE} TO {security.APP_ROLE}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {JOBS_ROLE}")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {JOBS_ROLE}")
        op.execute(f"CREATE POLICY {table}_keeper ON {table} FOR ALL TO {JOBS_ROLE} USING (true)")
        op.execute(
            f"CREATE POLICY {table}_owner_maintenance ON {table} FOR ALL"
            " TO CURRENT_USER USING (true)"
        )
    # Once per statement: PostgreSQL folds a transaction's notifications into one.
    op.execute(
        f"""
        CREATE FUNCTION convobase_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER job_queue_notify AFTER INSERT ON job_queue"
        " FOR EACH STATEMENT EXECUTE FUNCTION convobase_jobs_notify()"
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION convobase_jobs_notify()")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {JOBS_ROLE}")
        op.execute(f"REVOKE {JOBS_ROLE} FROM {security.APP_ROLE}")
        # The role itself is cluster-wide and may serve other databases: it is kept.
