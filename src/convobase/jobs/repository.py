"""All SQL of the job queue.

Every statement here runs as the queue's keeper (`convobase_jobs` on PostgreSQL): a
worker's own transactions act as it, and a caller's transaction that queues a job
switches to it for that statement only (`identity.keeping_jobs`). No caller's role
can read the queue. Times are bind parameters from the worker's clock, never the
database's `now()`, so that tests can move time.
"""

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import psycopg
from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from convobase.db import dialect, identity
from convobase.db.base import UTCDateTime, one_of
from convobase.db.keyset import seek
from convobase.jobs.models import FINISHED_STATES, LIVE_STATES, Job, JobState, Schedule, Worker

jobs = cast(Table, Job.__table__)
workers = cast(Table, Worker.__table__)
schedules = cast(Table, Schedule.__table__)

_NOW = bindparam("now", type_=UTCDateTime())
_LIVE = jobs.c.state.in_([state.value for state in LIVE_STATES])
# The predicate of the partial unique index, spelled as in the schema: PostgreSQL
# matches ON CONFLICT to the index by it, and cannot with bind parameters in it.
_LIVE_DEDUP_KEY = text(f"{one_of('state', LIVE_STATES)} AND dedup_key IS NOT NULL")


@dataclass(frozen=True, slots=True)
class NewJob:
    id: uuid.UUID
    name: str
    data: dict[str, Any]
    priority: int
    retry_limit: int
    created_at: datetime
    start_after: datetime
    dedup_key: str | None
    for_user_id: uuid.UUID | None


def insert(session: Session, job: NewJob) -> tuple[uuid.UUID, bool]:
    """Queue `job`, or find the live job with its dedup key: (the job's id, whether
    it was queued now)."""
    with identity.keeping_jobs(session):
        while True:
            statement = (
                dialect.insert(session, Job)
                .values(
                    id=job.id,
                    name=job.name,
                    data=job.data,
                    priority=job.priority,
                    retry_limit=job.retry_limit,
                    retry_count=0,
                    created_at=job.created_at,
                    start_after=job.start_after,
                    state=JobState.QUEUED.value,
                    dedup_key=job.dedup_key,
                    for_user_id=job.for_user_id,
                    attempts=0,
                )
                .on_conflict_do_nothing(
                    index_elements=[jobs.c.dedup_key], index_where=_LIVE_DEDUP_KEY
                )
                .returning(jobs.c.id)
            )
            if session.execute(statement).first() is not None:
                return job.id, True
            existing = session.execute(
                select(jobs.c.id).where(jobs.c.dedup_key == job.dedup_key, _LIVE)
            ).scalar_one_or_none()
            if existing is not None:
                return existing, False
            # The live duplicate finished between the two statements: queue it again.


class ClaimedJob(NamedTuple):
    """A job a worker holds under lease."""

    id: uuid.UUID
    name: str
    data: dict[str, Any]
    attempts: int
    retry_count: int
    retry_limit: int


def claim(
    session: Session,
    *,
    names: Sequence[str],
    worker: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs among `names` to `worker`, most urgent first.

    One statement. PostgreSQL skips rows other workers are claiming (FOR UPDATE SKIP
    LOCKED); SQLite runs it under its write lock, which workers take in turn.
    """
    parameters = {
        "names": list(names),
        "worker": worker,
        "now": now,
        "lease_until": lease_until,
        "limit": limit,
    }
    rows = session.connection().execute(_CLAIM, parameters).all()
    return [ClaimedJob(*row) for row in rows]


def complete(
    session: Session, job_id: uuid.UUID, *, worker: str, attempt: int, now: datetime
) -> bool:
    """Mark the job completed if `worker` still holds its lease for `attempt`; False if
    not (the lease ran out, and the job went to another worker or another attempt)."""
    parameters = {"job_id": job_id, "worker": worker, "attempt": attempt, "now": now}
    with identity.keeping_jobs(session):
        return bool(_changed(session, _COMPLETE, parameters))


def fail(
    session: Session,
    job_id: uuid.UUID,
    *,
    worker: str,
    attempt: int,
    now: datetime,
    error: str,
    retry_at: datetime | None,
    counts_as_retry: bool = True,
) -> bool:
    """Record a failed attempt: queued again at `retry_at` (a retry, unless
    `counts_as_retry` is false), or, with None, failed for good (the dead letter).
    False if `worker` no longer holds the lease for `attempt`."""
    retrying = retry_at is not None
    values: dict[str, Any] = {
        "state": JobState.QUEUED.value if retrying else JobState.FAILED.value,
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": error,
        "retry_count": jobs.c.retry_count + (1 if retrying and counts_as_retry else 0),
        "start_after": retry_at if retrying else jobs.c.start_after,
        "completed_at": None if retrying else now,
    }
    statement = update(jobs).where(*_held_by(job_id, worker, attempt)).values(values)
    with identity.keeping_jobs(session):
        return bool(_changed(session, statement))


def release(session: Session, worker: str) -> int:
    """Queue again every job `worker` holds (it is stopping before it ran them)."""
    statement = (
        update(jobs)
        .where(jobs.c.state == JobState.ACTIVE.value, jobs.c.lease_owner == worker)
        .values(
            state=JobState.QUEUED.value,
            lease_owner=None,
            lease_expires_at=None,
            attempts=jobs.c.attempts - 1,
        )
    )
    return _changed(session, statement)


def renew_leases(
    session: Session, worker: str, job_ids: Sequence[uuid.UUID], *, lease_until: datetime
) -> int:
    """Extend the leases `worker` holds on `job_ids`, the jobs it is running."""
    if not job_ids:
        return 0
    statement = (
        update(jobs)
        .where(
            jobs.c.state == JobState.ACTIVE.value,
            jobs.c.lease_owner == worker,
            jobs.c.id.in_(job_ids),
        )
        .values(lease_expires_at=lease_until)
    )
    return _changed(session, statement)


def sweep(session: Session, *, now: datetime, error: str) -> int:
    """Queue again the active jobs whose lease ran out (their worker died), or fail
    those that have already used every attempt their retry limit allows."""
    spent = jobs.c.attempts > jobs.c.retry_limit
    statement = (
        update(jobs)
        .where(jobs.c.state == JobState.ACTIVE.value, jobs.c.lease_expires_at < now)
        .values(
            state=case((spent, JobState.FAILED.value), else_=JobState.QUEUED.value),
            completed_at=case((spent, literal(now, UTCDateTime())), else_=None),
            lease_owner=None,
            lease_expires_at=None,
            last_error=error,
        )
    )
    return _changed(session, statement)


def purge(session: Session, *, finished_before: datetime) -> int:
    """Delete the finished jobs that finished before `finished_before`."""
    statement = delete(jobs).where(
        jobs.c.state.in_([state.value for state in FINISHED_STATES]),
        jobs.c.completed_at < finished_before,
    )
    return _changed(session, statement)


def claim_period(session: Session, name: str, period: datetime) -> bool:
    """Record that the periodic task `name` is queued for `period`; False if it was
    already queued for it or a later one (by this worker or another)."""
    statement = (
        dialect.insert(session, Schedule)
        .values(name=name, queued_for=period)
        .on_conflict_do_update(
            index_elements=[schedules.c.name],
            set_={"queued_for": period},
            where=schedules.c.queued_for < period,
        )
        .returning(schedules.c.name)
    )
    return session.execute(statement).first() is not None


# --- workers -------------------------------------------------------------------------


def register_worker(session: Session, worker: Worker) -> None:
    """Add the worker's row, or, if it has one already, mark it seen now."""
    values = {column.key: getattr(worker, column.key) for column in workers.c}
    statement = (
        dialect.insert(session, Worker)
        .values(values)
        .on_conflict_do_update(
            index_elements=[workers.c.id], set_={"last_seen_at": worker.last_seen_at}
        )
    )
    session.execute(statement)


def beat(session: Session, worker: str, now: datetime) -> bool:
    """Record that `worker` is alive; False if its row is gone (it was taken for dead)."""
    statement = update(workers).where(workers.c.id == worker).values(last_seen_at=now)
    return bool(_changed(session, statement))


def unregister_worker(session: Session, worker: str) -> None:
    session.execute(delete(workers).where(workers.c.id == worker))


def last_worker_seen(session: Session) -> datetime | None:
    """When any worker was last seen alive."""
    with identity.keeping_jobs(session):
        seen: datetime | None = session.execute(
            select(func.max(workers.c.last_seen_at))
        ).scalar_one_or_none()
    return seen


def forget_workers(session: Session, *, seen_before: datetime) -> int:
    """Delete the rows of workers not seen since `seen_before`."""
    return _changed(session, delete(workers).where(workers.c.last_seen_at < seen_before))


# --- waking workers ------------------------------------------------------------------

# The channel a new job's transaction NOTIFYs on commit (migration 0006's trigger).
CHANNEL = "convobase_jobs"


def new_job_notices(engine: Engine, stopping: threading.Event) -> Iterator[None]:
    """Yield each time jobs were queued (PostgreSQL's NOTIFY), until `stopping` is
    set; on SQLite, nothing. Listens on a connection of its own."""
    if engine.dialect.name != "postgresql":
        return
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        while not stopping.is_set():
            for _ in connection.notifies(timeout=1.0, stop_after=1):
                yield


# --- staff ---------------------------------------------------------------------------


def get(session: Session, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
    statement = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    with identity.keeping_jobs(session):
        return session.scalars(statement.with_for_update() if lock else statement).one_or_none()


def list_page(
    session: Session,
    *,
    state: JobState | None,
    name: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Job]:
    """Jobs newest first, strictly after the cursor, optionally of one state and name."""
    statement = select(Job)
    if state is not None:
        statement = statement.where(Job.state == state.value)
    if name is not None:
        statement = statement.where(Job.name == name)
    statement = seek(statement, (Job.created_at, Job.id), before, descending=True)
    with identity.keeping_jobs(session):
        return session.scalars(statement.limit(limit)).all()


def count_by_state(session: Session) -> dict[str, int]:
    statement = select(jobs.c.state, func.count()).group_by(jobs.c.state)
    with identity.keeping_jobs(session):
        return {state: count for state, count in session.execute(statement).all()}


def save(session: Session) -> None:
    """Write the changes made to jobs read with `get`."""
    with identity.keeping_jobs(session):
        session.flush()


# --- statements, built once ----------------------------------------------------------


def _changed(session: Session, statement: Any, parameters: dict[str, Any] | None = None) -> int:
    """Run a statement that changes rows; how many it changed."""
    return session.connection().execute(statement, parameters).rowcount


def _held_by(job_id: uuid.UUID, worker: str, attempt: int) -> tuple[Any, ...]:
    return (
        jobs.c.id == job_id,
        jobs.c.state == JobState.ACTIVE.value,
        jobs.c.lease_owner == worker,
        jobs.c.attempts == attempt,
    )


# MATERIALIZED: the due jobs are picked (and locked) once, whatever plan PostgreSQL
# chooses for the UPDATE; evaluated twice, one statement could lock rows it then skips.
_DUE = (
    select(jobs.c.id)
    .where(
        jobs.c.state == JobState.QUEUED.value,
        jobs.c.start_after <= _NOW,
        jobs.c.name.in_(bindparam("names", expanding=True)),
    )
    .order_by(jobs.c.priority.desc(), jobs.c.start_after, jobs.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
    .cte("due")
    .prefix_with("MATERIALIZED", dialect="postgresql")
)

_CLAIM = (
    update(jobs)
    .where(jobs.c.id.in_(select(_DUE.c.id)))
    .values(
        state=JobState.ACTIVE.value,
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("lease_until", type_=UTCDateTime()),
        started_at=_NOW,
        attempts=jobs.c.attempts + 1,
    )
    .returning(
        jobs.c.id,
        jobs.c.name,
        jobs.c.data,
        jobs.c.attempts,
        jobs.c.retry_count,
        jobs.c.retry_limit,
    )
)

_COMPLETE = (
    update(jobs)
    .where(
        jobs.c.id == bindparam("job_id"),
        jobs.c.state == JobState.ACTIVE.value,
        jobs.c.lease_owner == bindparam("worker"),
        jobs.c.attempts == bindparam("attempt"),
    )
    .values(
        state=JobState.COMPLETED.value,
        completed_at=_NOW,
        lease_owner=None,
        lease_expires_at=None,
    )
)
