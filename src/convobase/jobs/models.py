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
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'"))
    priority: Mapped[int] = mapped_column(server_default=text("0"))
    retry_limit: Mapped[int] = mapped_column(server_default=text("3"))
    retry_count: Mapped[int] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime]
    start_after: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(server_default=text("'queued'"))
    dedup_key: Mapped[str | None]
    # Whose data the job works on: deleting the user deletes their jobs. (Not
    # `user_id`: the job is not theirs to read; that name marks rows a user owns.)
    for_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    lease_owner: Mapped[str | None]
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    last_error: Mapped[str | None]


class Worker(Base):
    """A worker process that is running, or was: its heartbeat shows it alive."""

    __tablename__ = "job_workers"

    id: Mapped[str] = mapped_column(primary_key=True)
    hostname: Mapped[str]
    pid: Mapped[int]
    concurrency: Mapped[int]
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class Schedule(Base):
    """The last period a periodic task was queued for: at most once per period,
    however many workers look."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(primary_key=True)
    queued_for: Mapped[datetime]
