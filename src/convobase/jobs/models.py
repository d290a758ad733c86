import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, one_of


class JobState(StrEnum):
    """Where a job is in its life: queued → active → completed, or back to queued for
    a retry, or failed once its retries are spent; a queued job may be cancelled."""

    QUEUED = "queued"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


LIVE_STATES = (JobState.QUEUED, JobState.ACTIVE)
FINISHED_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

MAX_NAME_LENGTH = 200
MAX_DEDUP_KEY_LENGTH = 500
MAX_ERROR_LENGTH = 4000


def _in(states: tuple[JobState, ...]) -> str:
    return one_of("state", states)


class Job(Base):
    """One unit of background work: the task `name` runs with `data`."""

    __tablename__ = "job_queue"
    __table_args__ = (
        CheckConstraint(_in(tuple(JobState)), name="state"),
        CheckConstraint(f"length(name) BETWEEN 1 AND {MAX_NAME_LENGTH}", name="name_length"),
        CheckConstraint(f"length(dedup_key) <= {MAX_DEDUP_KEY_LENGTH}", name="dedup_key_length"),
        CheckConstraint("retry_limit BETWEEN 0 AND 100", name="retry_limit_range"),
        CheckConstraint("retry_count BETWEEN 0 AND retry_limit", name="retry_count_range"),
        CheckConstraint("attempts >= 0", name="attempts_range"),
        # A job with a dedup key is queued once while it lives; once it has finished,
        # the same key may queue a new one.
        Index(
            "uq_job_queue_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text(f"{_in(LIVE_STATES)} AND dedup_key IS NOT NULL"),
            postgresql_where=text(f"{_in(LIVE_STATES)} AND dedup_key IS NOT NULL"),
        ),
        # The claim: queued jobs only, by urgency.
        Index(
            "ix_job_queue_claim",
            "priority",
            "start_after",
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
        # The sweep: active jobs whose lease ran out.
        Index(
            "ix_job_queue_lease",
            "lease_expires_at",
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        # The purge: finished jobs past their retention.
        Index(
            "ix_job_queue_finished",
            "completed_at",
            sqlite_where=text(_in(FINISHED_STATES)),
            postgresql_where=text(_in(FINISHED_STATES)),
        ),
        # Staff's lists: by state, newest first.
        Index("ix_job_queue_state_created_at", "state", "created_at", "id"),
        {
            "comment": (
                "Story 004's job_queue columns, and what a durable queue needs besides: one "
                "unit of background work, queued in the same transaction as the change that "
                "causes it (docs/operations.md, Background jobs). Not a user's table: no "
                "caller's role can read it. Partial indexes serve the claim (queued), the "
                "sweep of expired leases (active), the purge (finished) and the dedup key "
                "(live jobs)."
            ),
            "info": {"stories": ("004",)},
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, comment="The job's id.")
    name: Mapped[str] = mapped_column(comment="The task that runs it, 1..200 characters.")
    data: Mapped[dict[str, Any]] = mapped_column(
        server_default=text("'{}'"), comment="Its payload, a JSON object."
    )
    priority: Mapped[int] = mapped_column(server_default=text("0"), comment="Higher runs first.")
    retry_limit: Mapped[int] = mapped_column(
        server_default=text("3"), comment="Retries after the first attempt, 0..100 (default 3)."
    )
    retry_count: Mapped[int] = mapped_column(
        server_default=text("0"), comment="Failed attempts retried so far, 0..retry_limit."
    )
    created_at: Mapped[datetime] = mapped_column(comment="When the job was queued.")
    start_after: Mapped[datetime] = mapped_column(comment="Not run before this time.")
    completed_at: Mapped[datetime | None] = mapped_column(
        comment="When it completed, failed or was cancelled."
    )
    state: Mapped[str] = mapped_column(
        server_default=text("'queued'"),
        comment="queued, active, completed, failed or cancelled (CHECK).",
    )
    dedup_key: Mapped[str | None] = mapped_column(
        comment="At most 500 characters; unique among live (queued, active) jobs."
    )
    # Whose data the job works on: deleting the user deletes their jobs. (Not
    # `user_id`: the job is not theirs to read; that name marks rows a user owns.)
    for_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        index=True,
        comment=(
            "Whose data it works on: gone with their account. Not user_id: the job is "
            "not theirs to read."
        ),
    )
    attempts: Mapped[int] = mapped_column(
        server_default=text("0"), comment="Times a worker claimed it."
    )
    lease_owner: Mapped[str | None] = mapped_column(comment="The worker holding it.")
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        comment="Until when the worker holds it: an expired lease is swept."
    )
    started_at: Mapped[datetime | None] = mapped_column(comment="The latest claim.")
    last_error: Mapped[str | None] = mapped_column(comment="The latest failure.")


class Worker(Base):
    """A worker process that is running, or was: its heartbeat shows it alive."""

    __tablename__ = "job_workers"
    __table_args__ = (
        {
            "comment": (
                "Infrastructure (no story: the job queue's own bookkeeping): each worker "
                "process that is running, or was, with its heartbeat; a worker not seen for "
                "long is taken for dead and its row deleted."
            ),
            "info": {"stories": ()},
        },
    )

    id: Mapped[str] = mapped_column(
        primary_key=True, comment="The worker's id: host, process id and a random suffix."
    )
    hostname: Mapped[str] = mapped_column(comment="The machine it runs on.")
    pid: Mapped[int] = mapped_column(comment="Its process id.")
    concurrency: Mapped[int] = mapped_column(comment="How many jobs it runs at a time.")
    started_at: Mapped[datetime] = mapped_column(comment="When it started.")
    last_seen_at: Mapped[datetime] = mapped_column(comment="Its latest heartbeat.")


class Schedule(Base):
    """The last period a periodic task was queued for: at most once per period,
    however many workers look."""

    __tablename__ = "job_schedules"
    __table_args__ = (
        {
            "comment": (
                "Infrastructure (no story: the job queue's own bookkeeping): the last "
                "period each periodic task was queued for, so that it is queued at most "
                "once per period however many workers look."
            ),
            "info": {"stories": ()},
        },
    )

    name: Mapped[str] = mapped_column(primary_key=True, comment="The periodic task's name.")
    queued_for: Mapped[datetime] = mapped_column(comment="The last period it was queued for.")
